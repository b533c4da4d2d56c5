"""`mailintake status` and `mailintake messages retry`, on SQLite and PostgreSQL: what the
clerk sees after a cycle, and a quarantined mail filed once its sender is registered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, NOW, deliver, fixture_mail
from dovecot import Dovecot
from sqlmodel import select
from test_imap_intake import PASSWORD_ENV, make_app, write_imap_config

from mailintake.app import App
from mailintake.intake.loop import Intake
from mailintake.intake.retry import retry
from mailintake.office.registry import import_rows, read_rows
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage

CLI = [sys.executable, "-m", "mailintake"]


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--config", str(config), "--now", NOW.isoformat(), *args],
                          capture_output=True, text=True, check=False, timeout=120)


def register_stranger(app: App, folder: Path) -> None:
    """Add the fixture's unknown sender to 实验小学, as the clerk would."""
    units = folder / "units.csv"
    added = "实验小学,实小、县实验小学,学校,某某,教师,stranger@example.com,13700000009\n"
    units.write_text((FIXTURES / "units.csv").read_text(encoding="utf-8-sig") + added,
                     encoding="utf-8")
    import_rows(app.engine, read_rows(units))


def test_status_shows_the_last_cycle_waiting_mails_and_replies(app: App, tmp_path: Path) -> None:
    """After one cycle over the fixture mails, status names its time and figures, the one
    mail waiting for a person (with its sender), and no reminder or digest yet."""
    deliver(app.config, *(p.read_bytes() for p in sorted((FIXTURES / "mail").glob("*.eml"))))
    intake = Intake(app)
    intake.cycle()
    intake.close()
    done = cli(tmp_path / "mailintake.toml", "status")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "上次成功收取：2026-11-19 10:00" in out
    assert "登记 5，退回 3，待人工 1" in out
    assert "待人工处理的邮件：1 封" in out
    assert "待发回复：0 封；发送失败：0 封" in out
    assert "最近一次催报：从未" in out and "最近一次周报：从未" in out
    # Thursday 19 November 10:00: Thursday's reminder is past, Monday's digest next.
    assert "下次催报：11月26日（周四）09:00" in out and "下次周报：11月23日（周一）08:00" in out
    assert "stranger@example.com" in out and "发件人未登记为信息员" in out


def test_retry_files_a_quarantined_mail_once_its_sender_is_registered(
    app: App, tmp_path: Path
) -> None:
    """A mail from an unregistered sender waits in 待人工; once the sender is added to
    实验小学, `messages retry` files it from the archive and queues one receipt; a second
    retry is refused."""
    deliver(app.config, fixture_mail("08_unknown_sender.eml"))
    Intake(app).cycle()
    with session(app.engine) as db:
        waiting = db.exec(select(InboundMessage)).one()
    assert waiting.outcome == "quarantined"
    register_stranger(app, tmp_path)
    config = tmp_path / "mailintake.toml"
    done = cli(config, "messages", "retry", str(waiting.id))
    assert done.returncode == 0, done.stderr
    assert "已登记" in done.stdout
    with session(app.engine) as db:
        rows = {m.id: m for m in db.exec(select(InboundMessage)).all()}
        receipts = db.exec(select(OutboxMessage)
                           .where(OutboxMessage.recipient == "stranger@example.com")).all()
    old = rows[waiting.id]
    new = rows[old.duplicate_of_id or 0]
    assert (old.outcome, old.reasons) == ("ignored", ["retried"])
    assert new.outcome == "filed" and new.message_id == waiting.message_id
    assert [r.kind for r in receipts] == ["receipt"]
    again = cli(config, "messages", "retry", str(waiting.id))
    assert again.returncode == 1 and "不在待人工状态" in again.stderr
    status = cli(config, "status")
    assert "待人工处理的邮件：0 封" in status.stdout


def test_retry_on_imap_moves_the_mail_out_of_the_review_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On IMAP, a retried mail is found in 待人工 by its Message-ID and moved to 已处理."""
    monkeypatch.setenv(PASSWORD_ENV, Dovecot.password)
    with Dovecot() as server:
        config = write_imap_config(tmp_path, server, f"sqlite:///{tmp_path / 'm.db'}")
        app = make_app(config)
        server.append(fixture_mail("08_unknown_sender.eml"))
        intake = Intake(app)
        intake.cycle()
        intake.close()
        assert len(server.folder_uids("待人工")) == 1
        register_stranger(app, tmp_path)
        with session(app.engine) as db:
            waiting = db.exec(select(InboundMessage)).one()
        assert waiting.id is not None
        done = retry(app, waiting.id)
        app.engine.dispose()
        assert done.moved and done.new.outcome == "filed"
        assert not server.folder_uids("待人工")
        assert len(server.folder_uids("已处理")) == 1
