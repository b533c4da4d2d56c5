"""What a clerk decides for a held mail that is no piece to file, on SQLite and PostgreSQL:
sent back with a reason the sender reads, or set aside (a question answered, spam) with
no reply; either way once, and the mail's record keeps why."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from conftest import NOW, SHANGHAI, deliver, fixture_mail
from office_pieces import body_text, parsed
from sqlmodel import col, select

from mailintake.app import App
from mailintake.intake.loop import Intake
from mailintake.office.digest import queue_digest
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage, Submission

CLI = [sys.executable, "-m", "mailintake"]
LATER = NOW + timedelta(days=2)
STRANGER = "stranger@example.com"


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--config", str(folder / "mailintake.toml"),
                           "--now", LATER.isoformat(), *args],
                          capture_output=True, text=True, check=False, timeout=120)


def hold(app: App) -> InboundMessage:
    deliver(app.config, fixture_mail("08_unknown_sender.eml"))
    Intake(app).cycle()
    with session(app.engine) as db:
        return db.exec(select(InboundMessage)).one()


def replies_to(app: App, address: str) -> list[OutboxMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(OutboxMessage).where(OutboxMessage.recipient == address)
                            .order_by(col(OutboxMessage.id))).all())


def text_of(reply: OutboxMessage) -> str:
    body = message_from_bytes(reply.raw, policy=policy.default).get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_held_mail_sent_back_with_the_clerks_reason(app: App, tmp_path: Path) -> None:
    """The stranger's mail is not a school's piece: the clerk sends it back saying why. The
    sender gets one rejection quoting the reason; the mail is 已退回 with the reason kept;
    nothing is filed; a second decision on it is refused."""
    held = hold(app)
    notes = replies_to(app, STRANGER)
    done = cli(tmp_path, "messages", "reject", str(held.id), "--reason", "稿件内容与教育工作无关")
    assert done.returncode == 0, done.stderr
    assert f"邮件 {held.id} 已退回（已回复发件人）" in done.stdout

    replies = replies_to(app, STRANGER)
    assert len(replies) == len(notes) + 1
    rejection = replies[-1]
    assert rejection.subject.startswith("【退回】邮件经人工核对未能登记：")
    text = text_of(rejection)
    assert "原因：稿件内容与教育工作无关" in text and "经办公室人工核对，未能登记" in text
    with session(app.engine) as db:
        row = db.get(InboundMessage, held.id)
        assert db.exec(select(Submission)).all() == []
    assert row is not None and row.outcome == "rejected"
    assert row.reasons == ["sender.unregistered", "clerk.rejected", "稿件内容与教育工作无关"]
    assert row.received_at == held.received_at

    listed = cli(tmp_path, "messages", "list")
    assert "工作人员退回" in listed.stdout and "clerk." not in listed.stdout
    again = cli(tmp_path, "messages", "reject", str(held.id), "--reason", "再退一次")
    assert again.returncode == 1 and "已不在待人工状态" in again.stderr
    assert len(replies_to(app, STRANGER)) == len(replies)
    empty = cli(tmp_path, "messages", "reject", str(held.id), "--reason", "  ")
    assert empty.returncode == 1 and "请填写退回原因" in empty.stderr


def test_a_held_mail_set_aside_gets_no_reply(app: App, tmp_path: Path) -> None:
    """Spam, or a question the clerk answered by phone: set aside with no reply, out of
    待人工 in status, the record saying which."""
    held = hold(app)
    before = len(replies_to(app, STRANGER))
    done = cli(tmp_path, "messages", "dismiss", str(held.id), "--spam")
    assert done.returncode == 0, done.stderr
    assert "已标为垃圾邮件，未回复发件人" in done.stdout
    assert len(replies_to(app, STRANGER)) == before
    with session(app.engine) as db:
        row = db.get(InboundMessage, held.id)
    assert row is not None and (row.outcome, row.reasons[-1]) == ("ignored", "clerk.spam")
    status = cli(tmp_path, "status")
    assert "待人工处理的邮件：0 封" in status.stdout

    neither = cli(tmp_path, "messages", "dismiss", str(held.id))
    assert neither.returncode == 1 and "--answered" in neither.stderr


def test_the_digest_links_each_held_mail_to_the_console(app: App) -> None:
    """With the console's address in [web] url, the office's weekly digest lists the held
    mail with a link to its page, where the clerk decides it."""
    held = hold(app)
    web = app.config.web.model_copy(update={"url": "https://xxbs.example.edu.cn/"})
    office = App(config=app.config.model_copy(update={"web": web}), engine=app.engine,
                 storage=app.storage, replies=app.replies, clock=app.clock)
    assert queue_digest(office, datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI))
    [digest] = [m for m in replies_to(app, "office@example.test") if m.kind == "digest"]
    text = body_text(parsed(digest))
    assert ("等待人工处理的邮件（待人工，1 封），请在管理页面处理："
            "https://xxbs.example.edu.cn/held") in text
    assert f"https://xxbs.example.edu.cn/held/{held.id}" in text
    assert "发件人未登记为信息员" in text
