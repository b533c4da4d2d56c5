"""`messages retry` as a clerk uses it, on SQLite and PostgreSQL: a held mail decided again
weeks later keeps the moment it arrived; a sender the clerk vouches for is no longer held for
a failed DMARC check; a mail that is not held gets a plain Chinese answer."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from conftest import NOW, deliver, fixture_mail
from sqlmodel import select
from test_status import register_stranger

from mailintake.app import App
from mailintake.intake.loop import Intake
from mailintake.intake.retry import retry
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage, Submission

CLI = [sys.executable, "-m", "mailintake"]
LATER = NOW + timedelta(days=14)
DMARC_FAIL = (b"Authentication-Results: mx.126.com; spf=fail smtp.mailfrom=163.com;\r\n"
              b" dkim=none; dmarc=fail (p=none dis=none) header.from=163.com\r\n")


def cli(folder: Path, now: datetime, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--config", str(folder / "mailintake.toml"),
                           "--now", now.isoformat(), *args],
                          capture_output=True, text=True, check=False, timeout=120)


def held(app: App) -> InboundMessage:
    with session(app.engine) as db:
        return db.exec(select(InboundMessage)
                       .where(InboundMessage.outcome == "quarantined")).one()


def test_a_mail_retried_two_weeks_later_keeps_its_arrival(app: App, tmp_path: Path) -> None:
    """实验小学's piece of 18 November arrives from an unregistered address on the 19th and
    waits in 待人工. The clerk registers the address two weeks later and retries it: the
    piece is filed as of the 19th (arrival time, tracking number's day, no lateness), and
    the correspondent gets one receipt."""
    deliver(app.config, fixture_mail("08_unknown_sender.eml"))
    Intake(app).cycle()
    waiting = held(app)
    assert waiting.reasons == ["sender.unregistered"]
    register_stranger(app, tmp_path)

    later = App(config=app.config, engine=app.engine, storage=app.storage,
                replies=app.replies, clock=lambda: LATER)
    assert waiting.id is not None
    done = retry(later, waiting.id)

    assert done.new.outcome == "filed", done.new.reasons
    assert done.new.received_at == waiting.received_at
    with session(app.engine) as db:
        piece = db.exec(select(Submission)).one()
        receipts = db.exec(select(OutboxMessage)
                           .where(OutboxMessage.recipient == "stranger@example.com")).all()
    assert piece.received_at == waiting.received_at
    assert (piece.tracking_no or "").startswith("20261119-")
    assert not any(f.startswith("subject.date") for f in done.new.reasons)
    assert [r.kind for r in receipts] == ["receipt"]
    body = message_from_bytes(receipts[0].raw, policy=policy.default)
    text = body.get_body(("plain",))
    assert text is not None and (piece.tracking_no or "?") in text.get_content()


def test_a_vouched_sender_is_filed_despite_failed_dmarc(app: App, tmp_path: Path) -> None:
    """组织部's registered correspondent writes through a relay that fails DMARC: the piece
    waits in 待人工. A plain retry holds it again and says why in Chinese; a retry with
    --trust (the clerk phoned and checked) files it, once."""
    raw = DMARC_FAIL + fixture_mail("02_outlook_rfc2231_website.eml")
    deliver(app.config, raw)
    Intake(app).cycle()
    first = held(app)
    assert first.reasons == ["sender.auth_failed"]

    again = cli(tmp_path, LATER, "messages", "retry", str(first.id))
    assert again.returncode == 0, again.stderr
    assert "仍待人工（发件人未通过域名验证（SPF/DMARC））" in again.stdout
    second = held(app)
    assert second.id != first.id

    trusted = cli(tmp_path, LATER, "messages", "retry", "--trust", str(second.id))
    assert trusted.returncode == 0, trusted.stderr
    assert "已登记" in trusted.stdout
    with session(app.engine) as db:
        pieces = db.exec(select(Submission)).all()
    assert len(pieces) == 1 and pieces[0].received_at == first.received_at
    assert (pieces[0].tracking_no or "").startswith("20261119-")


def test_retrying_a_filed_mail_is_a_clear_chinese_error(app: App, tmp_path: Path) -> None:
    """A clerk who retries a mail that was filed, or a number that does not exist, reads one
    Chinese line saying why, and nothing changes."""
    deliver(app.config, fixture_mail("02_outlook_rfc2231_website.eml"))
    Intake(app).cycle()
    with session(app.engine) as db:
        filed = db.exec(select(InboundMessage)).one()
    assert filed.outcome == "filed"

    done = cli(tmp_path, LATER, "messages", "retry", str(filed.id))
    assert done.returncode == 1
    assert done.stderr.strip() == f"错误：邮件 {filed.id} 不在待人工状态（已登记），无需重新处理"
    assert "Traceback" not in done.stderr and "filed" not in done.stderr

    missing = cli(tmp_path, LATER, "messages", "retry", "999")
    assert missing.returncode == 1 and "没有编号为 999 的邮件" in missing.stderr
    with session(app.engine) as db:
        assert len(db.exec(select(InboundMessage)).all()) == 1


def test_status_and_the_mail_list_say_why_in_chinese(app: App, tmp_path: Path) -> None:
    """What a clerk reads of a held mail names the reason in words, never the code."""
    deliver(app.config, fixture_mail("08_unknown_sender.eml"))
    Intake(app).cycle()
    status = cli(tmp_path, NOW, "status")
    assert "发件人未登记为信息员" in status.stdout
    assert "sender.unregistered" not in status.stdout
    listed = cli(tmp_path, NOW, "messages", "list")
    assert listed.returncode == 0, listed.stderr
    assert "发件人未登记为信息员" in listed.stdout and "sender." not in listed.stdout


def test_the_clerk_registers_the_sender_and_files_the_mail(app: App, tmp_path: Path) -> None:
    """The unknown sender is 实验小学's new correspondent: one command registers the address
    under her name and files the held mail for the school, as of its arrival; her next
    piece needs nobody."""
    deliver(app.config, fixture_mail("08_unknown_sender.eml"))
    Intake(app).cycle()
    waiting = held(app)

    done = cli(tmp_path, LATER, "messages", "retry", str(waiting.id),
               "--unit", "实验小学", "--register", "周敏")
    assert done.returncode == 0, done.stderr
    assert "已登记" in done.stdout
    listed = cli(tmp_path, LATER, "units", "list", "--format", "json")
    assert "stranger@example.com" in listed.stdout and "周敏" in listed.stdout
    with session(app.engine) as db:
        piece = db.exec(select(Submission)).one()
    assert piece.received_at == waiting.received_at and piece.correspondent_id is not None

    wrong = cli(tmp_path, LATER, "messages", "retry", str(waiting.id), "--unit", "不存在的学校")
    assert wrong.returncode == 1 and "没有名为「不存在的学校」的在用单位" in wrong.stderr


def test_the_clerk_files_a_mail_for_a_unit_without_registering(
    app: App, tmp_path: Path
) -> None:
    """A head teacher writes once from a private address: the clerk files the piece for
    实验小学 without registering the address. It counts for the school; the address
    stays unregistered, so its next mail waits for a person again."""
    deliver(app.config, fixture_mail("08_unknown_sender.eml"))
    Intake(app).cycle()
    waiting = held(app)

    done = cli(tmp_path, LATER, "messages", "retry", str(waiting.id), "--unit", "实验小学")
    assert done.returncode == 0, done.stderr
    with session(app.engine) as db:
        piece = db.exec(select(Submission)).one()
        receipts = db.exec(select(OutboxMessage)
                           .where(OutboxMessage.recipient == "stranger@example.com")).all()
    assert piece.correspondent_id is None and piece.unit_id is not None
    assert [r.kind for r in receipts] == ["receipt"]
    report = cli(tmp_path, LATER, "report", "--period", "2026-11", "--format", "json")
    rows = {row["unit"]: row for row in json.loads(report.stdout)["rows"]}
    assert rows["实验小学"]["accepted"] == 1
    listed = cli(tmp_path, LATER, "units", "list", "--format", "json")
    assert "stranger@example.com" not in listed.stdout


def test_a_held_mail_whose_archive_is_gone_is_one_chinese_line(
    app: App, tmp_path: Path
) -> None:
    """The archived copy was deleted by hand: the clerk reads why in Chinese, without the
    server's paths (those go to the log), and the mail stays held for the administrator."""
    deliver(app.config, fixture_mail("08_unknown_sender.eml"))
    Intake(app).cycle()
    waiting = held(app)
    (app.storage.root / app.storage.raw_path(waiting.raw_sha256)).unlink()
    done = cli(tmp_path, LATER, "messages", "retry", str(waiting.id), "--unit", "实验小学")
    assert done.returncode == 1
    # The log (on standard error too) keeps the path for the administrator.
    assert done.stderr.strip().splitlines()[-1] == (
        f"错误：找不到邮件 {waiting.id} 的存档文件，无法重新处理；请管理员查看日志中的存档位置")
    assert held(app).id == waiting.id
    # Registering the sender with it changes nothing either: the retry could not happen.
    again = cli(tmp_path, LATER, "messages", "retry", str(waiting.id), "--unit", "实验小学",
                "--register", "周敏")
    assert again.returncode == 1
    assert "stranger@example.com" not in cli(tmp_path, LATER, "units", "list").stdout
