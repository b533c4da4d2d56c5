"""The 通报 (issue 20): a month's ranking published to every unit, once.

A week of real mails goes through the pipeline, the office records an
adoption, and the clerk previews and sends November's 通报 from the command
line. Each address gets one mail saying its own units' places and counts,
naming each kind's last place, with the Excel ranking attached; a second send
is refused and queues nothing; a resend is explicit and goes out again.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
from office_pieces import body_text, make_app, sheet_rows
from office_pieces import outbox as outbox_of
from pieces import CHEN, LI, LIU, WANG
from smtp_server import Smtpd
from test_notices_points import at, ok, run, send_a_week, tracking

from mailintake.store import accounts

EXTRA = "leader@example.test"


def test_the_november_bulletin_tells_each_unit_its_place_once(tmp_path: Path, db_url: str
                                                               ) -> None:
    app = make_app(tmp_path, db_url, f'[bulletin]\nextra = ["{EXTRA}"]\n',
                   lambda: at(date(2026, 12, 1)))
    source = app.config.source
    assert source is not None  # the command line reads it: whom to call, as replies say
    server = Smtpd()
    # The command line sends over SMTP; the week's receipts went to the reply folder.
    source.write_text(source.read_text(encoding="utf-8").replace(
        "[office]\n", '[office]\ncontact = "王老师"\nphone = "0571-86000000"\n').replace(
        'kind = "folder"\npath = "outbox"',
        f'kind = "smtp"\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"'),
        encoding="utf-8")
    send_a_week(app)
    now = at(date(2026, 12, 1), 9)
    ok(app, at(date(2026, 11, 20)), "adopt", tracking(app, "举行读书节"), "--channel", "headline")
    ok(app, now, "units", "set", "第一幼儿园", "--inactive")  # closed: told nothing
    ok(app, now, "units", "person", "人文学院", "张堃", "--remove")  # nobody to tell

    preview = ok(app, now, "bulletin", "--period", "2026-11", "--preface",
                 "各单位要高度重视信息报送工作。")
    assert "【通报】2026年11月信息报送和采用情况" in preview
    assert "各单位要高度重视信息报送工作。" in preview
    assert "学校：城关镇东街小学" in preview and "部门：组织部" in preview
    assert "李娜（实验小学）" in preview  # the outstanding correspondent
    assert "实验小学《举行读书节启动仪式》：教育厅头条" in preview
    assert outbox_of(app, "bulletin") == []  # a preview sends nothing

    with server:
        said = ok(app, now, "bulletin", "--period", "2026-11", "--send")
    assert "已发出2026年11月的通报，共 6 个邮箱" in said
    assert "以下单位没有登记信息员邮箱，未收到通报：人文学院" in said
    queued = outbox_of(app, "bulletin")
    assert all(m.dedup_key == f"bulletin:2026-11:1:{m.recipient}" for m in queued)
    assert all(m.status == "sent" for m in queued)
    mails = {r.rcpt_tos[0]: r.message for r in server.received}
    # 组织部 has two addresses; 王喆 sends for two schools and gets one mail.
    assert sorted(mails) == sorted([CHEN, LIU, "zzb_xx@126.com", LI, WANG, EXTRA])
    assert len(server.received) == 6
    texts = {address: body_text(message) for address, message in mails.items()}
    for text in texts.values():
        assert "各单位要高度重视信息报送工作。" in text
        assert "学校：城关镇东街小学" in text and "部门：组织部" in text
        assert "王老师（电话 0571-86000000）" in text
    assert ("实验小学：本期投稿 2 篇，登记 2 篇，退回 0 篇，被采用 1 篇，积分 32；"
            "在全部 6 个单位中排第 1 名，在学校类 3 个单位中排第 1 名。") in texts[LI]
    assert "城关镇中心校：本期投稿 1 篇" in texts[WANG]
    assert "在学校类 3 个单位中排第 2 名。" in texts[WANG]
    assert ("在学校类 3 个单位中排第 3 名，为本类末位；本期零报送，不参加评优。"
            in texts[WANG])
    assert "城关镇东街小学" not in texts[LI].split("全部单位本期")[0]
    assert "在部门类 2 个单位中排第 1 名。" in texts[CHEN]
    for address in (LIU, "zzb_xx@126.com"):
        assert "组织部：本期投稿 1 篇" in texts[address]
        assert "在部门类 2 个单位中排第 2 名，为本类末位。" in texts[address]
    assert texts[EXTRA].startswith("各单位：") and "贵单位" not in texts[EXTRA]
    assert "第一幼儿园" not in texts[EXTRA] and "人文学院" in texts[EXTRA]
    for message in mails.values():
        assert message["Subject"] == "【通报】2026年11月信息报送和采用情况"
        assert message["Auto-Submitted"] == "auto-generated"
        [sheet] = [part for part in message.iter_attachments()
                   if part.get_filename() == "通报-2026-11.xlsx"]
        book = openpyxl.load_workbook(io.BytesIO(sheet.get_content()))
        units = {row["单位"]: row for row in sheet_rows(book["排名"])}
        assert set(units) >= {"实验小学", "城关镇东街小学", "组织部"}

    again = run(app, at(date(2026, 12, 2)), "bulletin", "--period", "2026-11", "--send")
    assert again.exit_code == 1
    assert "2026年11月的通报已于 2026-12-01 09:00" in again.output
    assert "同一统计期不重复发送" in again.output and "--resend" in again.output
    assert len(outbox_of(app, "bulletin")) == 6

    with server:
        resent = ok(app, at(date(2026, 12, 2)), "bulletin", "--period", "2026-11",
                    "--resend")
    assert "已再次发出2026年11月的通报，共 6 个邮箱" in resent
    second = [m for m in outbox_of(app, "bulletin") if ":2:" in m.dedup_key]
    assert len(second) == 6 and len(outbox_of(app, "bulletin")) == 12
    assert len(server.received) == 12
    trail = [line.action for line in accounts.trail(app.engine, "bulletin:2026-11")]
    assert trail == ["bulletin.resend", "bulletin.send", "bulletin.preface"]
    app.engine.dispose()
