"""约稿 (requests for pieces), as a clerk drives them from the command line and as the
units answer them through the real pipeline, on SQLite and PostgreSQL: the request
mails to each asked unit's correspondents, a reply to the request with a Word file
and a piece with the marker in its subject both linked (receipt and points say so),
a unit not asked or a closed request filed as usual and not linked, the reminder
once only to the unit that has not answered, and that unit overdue after the
deadline."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHANGHAI
from office_pieces import make_app, outbox, parsed, send, text_of
from pieces import LI, LIU, WANG, ZHANG, ZHAO, chinese, mail, word_file
from sqlmodel import select

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.config.settings import default_columns
from mailintake.office.digest import build_digest
from mailintake.office.periods import period_of
from mailintake.office.reports import build_report
from mailintake.rules import answers
from mailintake.rules.columns import SubjectMatcher
from mailintake.rules.values import UnitRef
from mailintake.store.database import session
from mailintake.store.models import (
    OutboxMessage,
    PointEntry,
    SolicitationUnit,
    Status,
    Submission,
)

CREATED = datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI)
ANSWERED = datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI)
# Within two days of the deadline (2026-12-10 17:00), and after it.
REMINDED = datetime(2026, 12, 9, 9, 0, tzinfo=SHANGHAI)
LATE = datetime(2026, 12, 11, 9, 0, tzinfo=SHANGHAI)
TOPIC = "课后服务经验做法"


def cli(app: App, now: datetime, *args: str) -> str:
    assert app.config.source is not None
    result = CliRunner().invoke(main, ["--config", str(app.config.source),
                                       "--now", now.isoformat(), *args])
    assert result.exit_code == 0, result.output
    return result.output


def piece(sender: str, subject: str, seed: int, day: datetime,
          in_reply_to: str = "") -> bytes:
    """A piece of about 260 characters with a captioned photo, sent on ``day``."""
    document = word_file("", [chinese(260, seed)], ((1600, 1200, "图为课后服务现场"),))
    raw = mail(sender, subject, (f"{subject[-20:]}.docx", document))
    message = email.message_from_bytes(raw, policy=email.policy.SMTP)
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    del message["Date"]
    message["Date"] = email.utils.format_datetime(day)
    return message.as_bytes(policy=email.policy.SMTP)


def filed(app: App, title: str) -> Submission:
    with session(app.engine) as db:
        return db.exec(select(Submission).where(Submission.title == title)).one()


def receipt_for(app: App, piece: Submission) -> str:
    with session(app.engine) as db:
        row = db.exec(select(OutboxMessage).where(
            OutboxMessage.inbound_id == piece.message_id)).one()
    assert row.kind == "receipt"
    return text_of(parsed(row))


def test_solicitation_from_request_to_overdue(tmp_path: Path, db_url: str) -> None:
    app = make_app(tmp_path / "office", db_url, "[solicitations]\nremind_days_before = 2\n",
                   lambda: CREATED)
    try:
        out = cli(app, CREATED, "solicit", "new", "--topic", TOPIC, "--deadline", "2026-12-10",
                  "--unit", "实验小学", "--unit", "一幼", "--unit", "人文学院", "--points", "5",
                  "--request", "请围绕课后服务写一篇 300 字以内的稿件，附照片。")
        assert "已建约稿 2026-001" in out and "发出约稿邮件 3 封" in out

        # One request to each asked unit's correspondent, saying what, by when and how.
        requests = outbox(app, "solicitation")
        assert sorted(r.recipient for r in requests) == sorted([LI, ZHAO, ZHANG])
        request = next(r for r in requests if r.recipient == LI)
        assert request.message_id and request.subject.startswith("【约稿2026-001】")
        text = text_of(parsed(request))
        assert "李娜老师" in text and "向实验小学约稿" in text and TOPIC in text
        assert "2026年12月10日（周四）17:00" in text and "另计 5 分" in text
        assert "请围绕课后服务写一篇" in text
        assert "【约稿2026-001】实验小学（李娜）稿件标题" in text
        assert "仍须符合本办公室的报送格式" in text
        assert "人文学院" not in text  # each correspondent hears of their own units

        # 实验小学 answers by replying to the request with its piece.
        answer = "回复：【约稿2026-001】实验小学（李娜）课后服务让学生成长更快乐"
        send(app, ANSWERED, piece(LI, answer, 1, ANSWERED, in_reply_to=request.message_id))
        first = filed(app, "课后服务让学生成长更快乐")
        assert first.status == Status.ACCEPTED
        assert f"本稿是对约稿 2026-001（{TOPIC}）的交稿" in receipt_for(app, first)

        # 人文学院 writes a new mail with the marker (half-width brackets) in its subject;
        # 组织部 was not asked: its piece with the marker is filed, not linked.
        send(app, ANSWERED,
             piece(ZHANG, "[约稿2026-1]人文学院（张堃）课后服务进社区", 2, ANSWERED),
             piece(LIU, "【约稿2026-001】组织部（刘晓燕）党员志愿者参与课后服务", 3, ANSWERED))
        second = filed(app, "课后服务进社区")
        assert second.status == Status.ACCEPTED
        assert "约稿 2026-001" in receipt_for(app, second)
        stranger = filed(app, "党员志愿者参与课后服务")
        assert stranger.status == Status.ACCEPTED
        assert "约稿" not in receipt_for(app, stranger).split("如需更正")[0]
        with session(app.engine) as db:
            linked = {u.submission_id for u in db.exec(select(SolicitationUnit)).all()}
            lines = db.exec(select(PointEntry).where(PointEntry.kind == "solicited")).all()
        assert linked == {first.id, second.id, None}
        assert sorted((line.submission_id, line.points) for line in lines) == [
            (first.id, 5), (second.id, 5)]
        report = build_report(app.engine, app.config, period_of("month", ANSWERED.date()),
                              "unit", ANSWERED)
        ranked = next(r for r in report.rows if r["unit"] == "实验小学")
        assert ranked["points_solicited"] == 5
        assert ranked["points"] == ranked["points_submission"] + ranked["points_adoption"] + 5

        # Two days before the deadline: one reminder, to the unit that has not answered.
        assert "约稿提醒邮件 1 封" in cli(app, REMINDED, "remind")
        assert "约稿提醒" not in cli(app, REMINDED, "remind")
        reminders = outbox(app, "solicit_remind")
        assert [r.recipient for r in reminders] == [ZHAO]
        assert reminders[0].subject.startswith("【约稿2026-001】提醒")
        assert "第一幼儿园" in text_of(parsed(reminders[0]))

        # Before the deadline the silent unit is waiting; after it, overdue.
        shown = cli(app, REMINDED, "solicit", "show", "2026-001")
        assert "已交稿 2，已逾期 0，未交 1" in shown
        shown = cli(app, LATE, "solicit", "show", "2026-001")
        assert "已交稿 2，已逾期 1，未交 0" in shown
        assert first.tracking_no is not None and first.tracking_no in shown
        silent = next(line for line in shown.splitlines() if "第一幼儿园" in line)
        assert "已逾期" in silent
        listed = cli(app, LATE, "solicit", "list")
        assert "2026-001" in listed and "2/3" in listed
        assert "进行中的约稿：1 项，逾期未交稿 1 个单位" in cli(app, LATE, "status")
        # The office's weekly digest of the deadline's week says the same.
        digest = build_digest(app, period_of("week", LATE.date()), LATE).body
        line = next(x for x in digest.splitlines() if "【约稿2026-001】" in x)
        assert TOPIC in line and "3 个单位已回稿 2 个" in line and "逾期未回稿：第一幼儿园" in line

        # Closed: a late piece from the silent unit is filed as usual, and not linked.
        assert "已结束" in cli(app, LATE, "solicit", "close", "2026-001")
        assert "进行中的约稿：0 项\n" in cli(app, LATE, "status")
        send(app, LATE, piece(ZHAO, "【约稿2026-001】第一幼儿园（赵镕）幼儿园课后游戏", 4, LATE))
        late = filed(app, "幼儿园课后游戏")
        assert late.status == Status.ACCEPTED
        assert "约稿 2026-001" not in receipt_for(app, late)
        assert "已逾期" in cli(app, LATE, "solicit", "show", "2026-001")
    finally:
        app.engine.dispose()


def test_a_request_made_close_to_its_deadline_gets_no_reminder_on_its_heels(tmp_path: Path
                                                                          ) -> None:
    """Asked on 9 December for the 10th with reminders 2 days before: the request
    itself is the notice; no reminder follows it."""
    app = make_app(tmp_path / "office", f"sqlite:///{tmp_path / 'db.sqlite'}",
                   "[solicitations]\nremind_days_before = 2\n", lambda: REMINDED)
    try:
        out = cli(app, REMINDED, "solicit", "new", "--topic", TOPIC, "--deadline", "2026-12-10",
                  "--unit", "实验小学")
        assert "发出约稿邮件 1 封" in out
        assert "约稿提醒" not in cli(app, REMINDED, "remind")
        assert outbox(app, "solicit_remind") == []
    finally:
        app.engine.dispose()


def test_a_kind_is_asked_and_each_address_gets_one_mail_naming_its_units(tmp_path: Path
                                                                        ) -> None:
    """``--kind 学校`` asks every school; 王喆, correspondent of two of them, gets one
    request naming both, under a key of its own."""
    app = make_app(tmp_path / "office", f"sqlite:///{tmp_path / 'db.sqlite'}", "",
                   lambda: CREATED)
    try:
        out = cli(app, CREATED, "solicit", "new", "--topic", TOPIC, "--deadline", "2026-12-10",
                  "--kind", "学校")
        assert "约稿单位 3 个，发出约稿邮件 2 封" in out
        mails = {r.recipient: r for r in outbox(app, "solicitation")}
        assert sorted(mails) == sorted([LI, WANG])
        text = text_of(parsed(mails[WANG]))
        assert "向城关镇东街小学、城关镇中心校约稿" in text and "实验小学" not in text
        assert len({r.dedup_key for r in mails.values()}) == 2
    finally:
        app.engine.dispose()


def test_solicit_errors_are_chinese_lines(tmp_path: Path) -> None:
    """A unit that does not exist, a deadline passed, an unknown number: one Chinese line."""
    app = make_app(tmp_path / "office", f"sqlite:///{tmp_path / 'db.sqlite'}", "",
                   lambda: CREATED)
    assert app.config.source is not None
    base = ["--config", str(app.config.source), "--now", CREATED.isoformat(), "solicit"]
    try:
        for args, said in (
            (["new", "--topic", TOPIC, "--deadline", "2026-12-10", "--unit", "火星小学"],
             "没有这些单位"),
            (["new", "--topic", TOPIC, "--deadline", "2026-12-01", "--unit", "实验小学"],
             "已过"),
            (["new", "--topic", TOPIC, "--deadline", "12/10", "--unit", "实验小学"], "无法识别"),
            (["show", "2026-009"], "没有编号为 2026-009 的约稿"),
        ):
            result = CliRunner().invoke(main, [*base, *args])
            assert result.exit_code == 1 and said in result.output, result.output
            assert "Traceback" not in result.output
    finally:
        app.engine.dispose()


@pytest.mark.parametrize(("subject", "number", "title"), [
    ("【约稿2026-003】实验小学（李娜）课后服务显成效", "2026-003", "课后服务显成效"),
    ("回复：[约稿2026-3]实验小学（李娜）课后服务显成效", "2026-003", "课后服务显成效"),
    ("实验小学（李娜）课后服务显成效（约稿 2026－012）", "2026-012", "课后服务显成效"),
    ("实验小学（李娜）课后服务显成效", "", "课后服务显成效"),
])
def test_the_marker_names_the_request_and_the_subject_keeps_its_format(
    subject: str, number: str, title: str
) -> None:
    """The marker, in any bracket and place, names the request and is no part of the
    subject the columns match."""
    matcher = SubjectMatcher(default_columns(), {"实验小学": UnitRef(1, "实验小学")})
    assert answers.solicitation_number(subject) == number
    found = matcher.match(subject)
    assert found is not None and found.column.key == "general" and found.title == title
    assert found.unit is not None and found.author == "李娜"
