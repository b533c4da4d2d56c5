"""Replies that fit the office (issue 18, point 10), through the real pipeline
and the command line, on SQLite and PostgreSQL: what a county kindergarten's
correspondent reads in a rejection, the office's contact in every reply, the
reminder's deadline as the column's notice says it, one reminder per address
for all of its units, and `remind` on a day with nothing due."""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import compat32
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, SHANGHAI, deliver, write_config
from office_pieces import make_app, text_of, unit_id
from pieces import mail, news
from sqlmodel import select

from mailintake.cli.main import main
from mailintake.config.settings import load_config
from mailintake.office.reminders import queue_reminders
from mailintake.store import sent
from mailintake.store.database import session
from mailintake.store.models import OutboxMessage, OutboxStatus

OFFICE = """
contact = "王老师"
phone = "0571-86000000"
"""
# The spring semester of 2027, and May Day 2027 as the State Council's notice
# would list it: the chinese_calendar package knows years up to 2026 only.
SPRING_2027 = """
[[calendar.semesters]]
name = "2027春"
week1_monday = 2027-03-01

[[calendar.holidays]]
name = "劳动节"
start = 2027-05-01
end = 2027-05-05
"""
CONTACT = "请勿直接回复；如有疑问，请联系王老师（电话 0571-86000000）。"


def office_config(folder: Path, db_url: str, extra: str = "") -> Path:
    """The test config with the office's contact and the 2027 spring semester."""
    path = write_config(folder, db_url, SPRING_2027 + extra)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('addresses = ["office@example.test"]\n',
                                 'addresses = ["office@example.test"]\n' + OFFICE),
                    encoding="utf-8")
    return path


def cli(config: Path, now: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), "--now", now, *args])
    assert result.exit_code == 0, result.output
    return result.output


def set_up(config: Path) -> None:
    cli(config, "2026-11-16T08:00:00+08:00", "db", "upgrade")
    cli(config, "2026-11-16T08:00:00+08:00", "units", "import", str(FIXTURES / "units.csv"))


def foxmail(name: str, address: str, subject: str, document: bytes | None, sent_at: str
            ) -> bytes:
    """A mail as Foxmail sends it: GBK subject and display name, the Word file attached
    (``None``: forgotten)."""
    files = [("稿件.docx", document)] if document is not None else []
    message = email.message_from_bytes(mail(address, "piece", *files), policy=compat32)
    del message["From"], message["Subject"], message["Date"]
    message["From"] = f'"{Header(name, "gbk").encode()}" <{address}>'
    message["Subject"] = Header(subject, "gbk").encode()
    message["Date"] = sent_at
    message["X-Mailer"] = "Foxmail 7.2.25.228[cn]"
    return message.as_bytes()


def received(config: Path) -> list[EmailMessage]:
    """Every reply written to the outbox folder, oldest first."""
    folder = load_config(config).smtp.path or Path()
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in paths]



def to(config: Path, address: str) -> list[EmailMessage]:
    return [r for r in received(config) if r["To"].endswith(f"<{address}>")
            or r["To"] == address]


NOTICE_EXAMPLES = ("2019", "西安工程大学", "党政办公室", "人文学院", "组织部")


@pytest.mark.parametrize(
    ("now", "sent_at", "week", "day"),
    [
        ("2026-11-19T10:00:00+08:00", "Thu, 19 Nov 2026 09:00:00 +0800", "十一", "2026.11.19"),
        ("2027-03-10T10:00:00+08:00", "Wed, 10 Mar 2027 09:00:00 +0800", "二", "2027.03.10"),
    ],
)
def test_a_kindergarten_rejection_shows_its_own_examples_and_the_contact(
    tmp_path: Path, db_url: str, now: str, sent_at: str, week: str, day: str
) -> None:
    """赵镕 of 第一幼儿园 sends from Foxmail a subject that fits no column, then a piece
    without its Word file: both rejections show subjects of 第一幼儿园 for today and this teaching
    week, never the notice's 2019 university examples, and name 王老师's phone."""
    config = office_config(tmp_path, db_url)
    set_up(config)
    deliver(load_config(config),
            foxmail("赵镕", "zhaorong@126.com", "第一幼儿园开展秋季趣味运动会", news(200, 1),
                    sent_at))
    cli(config, now, "poll", "--once")
    deliver(load_config(config),
            foxmail("赵镕", "zhaorong@126.com", "第一幼儿园（赵镕）开展秋季趣味运动会",
                    None, sent_at))
    cli(config, now, "poll", "--once")
    first, second = to(config, "zhaorong@126.com")
    assert first["Subject"].startswith("【退回】") and second["Subject"].startswith("【退回】")
    body = text_of(first)
    assert "赵镕老师：您好！" in body
    assert f"「第一幼儿园第{week}周工作动态信息」" in body
    assert f"「第一幼儿园信息（{day}）稿件标题」" in body
    assert f"「第一幼儿园微博信息（{day}）稿件标题」" in body
    assert "「第一幼儿园（赵镕）稿件标题」" in body
    # The column it matched, filled with its own subject.
    own = "「教育信息」栏目的正确主题示例：\n  第一幼儿园（赵镕）开展秋季趣味运动会"
    assert own in text_of(second)
    for reply in (first, second):
        assert CONTACT in text_of(reply)
        assert not any(word in text_of(reply) for word in NOTICE_EXAMPLES)


def test_the_receipt_and_the_note_to_a_stranger_name_the_contact(
    tmp_path: Path, db_url: str
) -> None:
    """A filed piece's receipt and the note to an unregistered address (one the
    office's provider vouches for) both say whom to call, beside 请勿直接回复."""
    config = office_config(tmp_path, db_url, '[auth]\ntrusted_authserv_ids = ["mx.126.com"]\n')
    set_up(config)
    now, sent_at = "2026-11-19T10:00:00+08:00", "Thu, 19 Nov 2026 09:00:00 +0800"
    stranger = foxmail("孙老师", "sun@school.example", "实验小学（孙丽）开展读书节活动",
                       news(200, 4), sent_at)
    vouched = (b"Authentication-Results: mx.126.com; dmarc=pass header.from=school.example\r\n"
               + stranger)
    deliver(load_config(config),
            foxmail("李娜", "lina@foxmail.com", "实验小学（李娜）开展秋季趣味运动会",
                    news(200, 3), sent_at), vouched)
    cli(config, now, "poll", "--once")
    [receipt] = to(config, "lina@foxmail.com")
    [note] = to(config, "sun@school.example")
    assert receipt["Subject"].startswith("【回执】") and note["Subject"].startswith("【提示】")
    assert CONTACT in text_of(receipt) and CONTACT in text_of(note)


def test_without_a_contact_the_replies_read_as_before(tmp_path: Path, db_url: str) -> None:
    """No [office] contact or phone: the line ends at 请勿直接回复 as it always did."""
    config = write_config(tmp_path, db_url)
    set_up(config)
    deliver(load_config(config),
            foxmail("李娜", "lina@foxmail.com", "实验小学（李娜）开展秋季趣味运动会",
                    news(200, 5), "Thu, 19 Nov 2026 09:00:00 +0800"))
    cli(config, "2026-11-19T10:00:00+08:00", "poll", "--once")
    [receipt] = to(config, "lina@foxmail.com")
    assert "（本邮件由系统自动发送，请勿直接回复。）" in text_of(receipt)


def test_reminders_one_per_address_with_the_columns_deadline(
    tmp_path: Path, db_url: str
) -> None:
    """Teaching week 12: 王喆 writes for 城关镇中心校 and 城关镇东街小学, both silent, and
    gets one reminder naming both, due 本周五（11月27日）24:00 as the weekly column's
    每周五 24:00 says; 李娜 gets one for 实验小学; a second `remind` sends nothing and says
    when the next is due."""
    config = office_config(tmp_path, db_url)
    set_up(config)
    # Wednesday: nothing due yet, and remind says when.
    out = cli(config, "2026-11-25T15:00:00+08:00", "remind")
    assert out.strip() == "目前没有需要催报的单位；下次催报：11月26日（周四）09:00。"
    out = cli(config, "2026-11-26T09:00:00+08:00", "remind")
    assert out.startswith("已发出催报邮件")
    [wang] = to(config, "wangzhe@126.com")
    assert wang["Subject"] == "【催报】城关镇东街小学、城关镇中心校尚缺信息"
    body = text_of(wang)
    assert "您负责报送的以下 2 个单位尚未完成报送任务" in body
    for unit in ("城关镇东街小学", "城关镇中心校"):
        assert (f"{unit}：第12教学周（2026年11月23日—11月29日）应报送 1 篇，已登记 0 篇，"
                "尚缺 1 篇，请于 本周五（11月27日）24:00 前报送。") in body
    assert "城关镇东街小学第十二周工作动态信息" in body and "王喆" in body
    assert CONTACT in body
    [lina] = to(config, "lina@foxmail.com")
    assert lina["Subject"] == "【催报】实验小学第12教学周（2026年11月23日—11月29日）尚缺 1 篇信息"
    assert "请于 本周五（11月27日）24:00 前报送。" in text_of(lina)
    assert "星期日" not in text_of(lina)
    # Departments owe a piece a month; this is the month's last week, so they are due
    # by its last day.
    [chen] = to(config, "chenpei@126.com")
    assert "请于 11月30日（星期一） 前报送" in text_of(chen)
    count = len(received(config))
    # Friday: the round was sent; nothing twice; the next round is next Thursday.
    out = cli(config, "2026-11-27T10:00:00+08:00", "remind")
    assert out.strip() == "目前没有需要催报的单位；下次催报：12月3日（周四）09:00。"
    assert len(received(config)) == count


def test_an_upgrade_does_not_resend_what_the_old_keys_recorded(
    tmp_path: Path, db_url: str
) -> None:
    """Reminders queued by the older version (one key per unit and address) count as
    sent: after the upgrade the round goes out only to whom it had not reached."""
    config = office_config(tmp_path, db_url)
    set_up(config)
    app = make_app(tmp_path, db_url, SPRING_2027, lambda: datetime(2026, 11, 26, 9,
                                                                    tzinfo=SHANGHAI))
    school = unit_id(app, "实验小学")
    with session(app.engine) as db:
        db.add(OutboxMessage(dedup_key=f"reminder:{school}:2026-W48:1", kind="reminder",
                             recipient="lina@foxmail.com", subject="【催报】实验小学",
                             raw=b"", status=OutboxStatus.SENT,
                             created_at=datetime(2026, 11, 26, 9, tzinfo=SHANGHAI),
                             next_attempt_at=datetime(2026, 11, 26, 9, tzinfo=SHANGHAI)))
        db.commit()
    assert (school, "2026-W48") in sent.reminded(app.engine, {"2026-W48"})
    app.engine.dispose()
    cli(config, "2026-11-26T10:00:00+08:00", "remind")
    assert to(config, "lina@foxmail.com") == []
    assert len(to(config, "wangzhe@126.com")) == 1


def test_two_processes_send_one_round_once(tmp_path: Path, db_url: str) -> None:
    """Two processes queue the same round at the same moment: each mail once."""
    when = datetime(2026, 11, 26, 9, 30, tzinfo=SHANGHAI)
    apps = [make_app(tmp_path, db_url, SPRING_2027, lambda: when) for _ in range(2)]
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def queue(index: int) -> None:
        barrier.wait()
        counts.append(queue_reminders(apps[index], when))

    threads = [threading.Thread(target=queue, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session(apps[0].engine) as db:
        keys = list(db.exec(select(OutboxMessage.dedup_key)).all())
    for app in apps:
        app.engine.dispose()
    assert sorted(counts)[0] == 0 and sorted(counts)[1] == len(keys) > 0
    recipients = [k.rsplit(":", 1)[1] for k in keys]
    assert len(recipients) == len(set(recipients))  # one mail per address


def test_may_day_week_2027_asks_nothing_when_config_lists_the_holiday(
    tmp_path: Path, db_url: str
) -> None:
    """May Day 2027 (Saturday 1 to Wednesday 5 May, from config): the week of 3 May
    carries no quota, so Thursday 6 May reminds nobody and remind names 13 May."""
    config = office_config(tmp_path, db_url)
    set_up(config)
    out = cli(config, "2027-05-06T09:30:00+08:00", "remind")
    assert out.strip() == "目前没有需要催报的单位；下次催报：5月13日（周四）09:00。"
    assert received(config) == []


def test_without_the_2027_holidays_remind_says_the_calendar_runs_out(
    tmp_path: Path, db_url: str
) -> None:
    """Without May Day 2027 in config the week is a working week: the reminders go
    out, and remind says no holiday data for 2027 is known."""
    no_holidays = SPRING_2027.split("[[calendar.holidays]]", maxsplit=1)[0]
    config = write_config(tmp_path, db_url, no_holidays)
    set_up(config)
    out = cli(config, "2027-05-06T09:30:00+08:00", "remind")
    assert out.startswith("已发出催报邮件")
    assert "提示：没有 2027 年的节假日数据" in out
    assert to(config, "lina@foxmail.com")


def test_after_the_last_semester_remind_says_reminders_have_stopped(
    tmp_path: Path, db_url: str
) -> None:
    """The 2027 spring semester ends on 18 July 2027: on 20 July remind says no reminder
    comes any more, and why."""
    config = office_config(tmp_path, db_url)
    set_up(config)
    out = cli(config, "2027-07-20T10:00:00+08:00", "remind")
    lines = out.strip().splitlines()
    assert lines[0] == "目前没有需要催报的单位；已配置的学期内不再有催报。"
    assert lines[1].startswith("提示：已配置的学期已于 2027年7月18日 全部结束")


def test_a_two_week_quota_is_due_at_the_deadline_of_its_last_week(
    tmp_path: Path, db_url: str
) -> None:
    """Seed 001's every two weeks: departments owe one piece in teaching weeks 11–12,
    reminded on Thursday of week 12 and due that Friday at 24:00."""
    extra = SPRING_2027 + '[quotas.kinds."部门"]\ncount = 1\nperiod = "two_weeks"\n'
    config = office_config(tmp_path, db_url, extra.removeprefix(SPRING_2027))
    set_up(config)
    cli(config, "2026-11-26T09:05:00+08:00", "remind")
    [chen] = to(config, "chenpei@126.com")
    assert chen["Subject"] == ("【催报】党政办公室第11—12教学周（2026年11月16日—11月29日）"
                               "尚缺 1 篇信息")
    assert "请于 本周五（11月27日）24:00 前报送。" in text_of(chen)


def test_a_title_too_long_is_not_repeated_in_the_example(tmp_path: Path, db_url: str) -> None:
    """A rejection for the subject itself shows the form with 稿件标题, not the title
    that was at fault."""
    config = office_config(tmp_path, db_url)
    set_up(config)
    title = "实验小学开展" + "秋季趣味运动会暨家校共育亲子活动" * 3
    deliver(load_config(config),
            foxmail("李娜", "lina@foxmail.com", f"实验小学（李娜）{title}", news(200, 6),
                    "Thu, 19 Nov 2026 09:00:00 +0800"))
    cli(config, "2026-11-19T10:00:00+08:00", "poll", "--once")
    [reply] = to(config, "lina@foxmail.com")
    body = text_of(reply)
    assert reply["Subject"].startswith("【退回】") and "超过教育信息栏目 40 个字的上限" in body
    assert "「教育信息」栏目的正确主题示例：\n  实验小学（李娜）稿件标题" in body
