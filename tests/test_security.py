"""What an attacker or a leak could reach: passwords and mail text never in the
logs, no file outside the storage folder, no formula in the Excel report from
a subject, and a forged sender never filed as the unit's piece.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import SHANGHAI, deliver
from smtp_server import Smtpd
from sqlmodel import select
from tenacity import wait_none
from test_reading_hostile import DOCX, good_docx, mail
from test_replies import OFFICE, PASSWORD_ENV, cycle, over_smtp

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.replies import smtp
from mailintake.store.database import session
from mailintake.store.models import Attachment, InboundMessage, OutboxMessage, Submission

SECRET = "S3cretAuthCode7731"
# A sentence from the mail body and one from the Word file: mail text, not log text.
BODY_LINE = "附件为组织部报送的网站信息"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp, "default_retry_wait", wait_none)
    monkeypatch.setenv(PASSWORD_ENV, SECRET)


def test_logs_never_hold_the_password_nor_the_mail_text(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """A cycle with SMTP login refused, then the server gone, logs neither secret nor mail text."""
    caplog.set_level(logging.DEBUG)
    deliver(app.config, mail(("稿件.docx", DOCX, good_docx()), tag="logs"))
    with Smtpd(users={OFFICE: "another-password"}) as server:  # our password is refused
        over_smtp(app, server)
        cycle(app)
    cycle(app)  # the server is gone now: connection refused
    with session(app.engine) as db:
        pending = db.exec(select(OutboxMessage)).all()
    assert pending and all(item.sent_at is None for item in pending)
    assert caplog.records, "the cycle logged nothing at all"
    # Ours and the libraries' records; "mail.log" is the test server's own debug log.
    ours = [r for r in caplog.records if r.name != "mail.log"]
    text = "\n".join(logging.Formatter().format(r) for r in ours)  # tracebacks included
    assert SECRET not in text
    assert BODY_LINE not in text
    document = good_docx()
    from mailintake.reading.mime import parse_mail

    assert parse_mail(mail(("稿件.docx", DOCX, document))).parts  # the file was there to leak


def test_hostile_file_names_are_stored_inside_the_storage_folder(app: App, tmp_path: Path) -> None:
    """Names like ../../etc/passwd, /etc/cron.d/x, NUL and 300 characters stay in [storage] dir."""
    names = ["../../etc/passwd", "/etc/cron.d/mailintake", "..\\..\\boot.ini", "a\x00b.docx",
             "图" * 300 + ".jpg", "../" * 40 + "x.docx", "~/.ssh/authorized_keys"]
    files = [(name, "application/octet-stream", b"owned") for name in names]
    deliver(app.config, mail(("稿件.docx", DOCX, good_docx()), *files, tag="names"))
    before = set(Path("/").glob("*"))
    cycle(app)
    root = app.storage.root.resolve()
    with session(app.engine) as db:
        stored = [a.stored_path for a in db.exec(select(Attachment)).all()]
    assert len(stored) == len(names) + 1
    for path in stored:
        assert (root / path).resolve().is_relative_to(root), path
    # Every file written during the cycle lies in the storage folder or the mail folders.
    allowed = [root, tmp_path / "Maildir", tmp_path / "outbox"]
    for written in tmp_path.rglob("*"):
        if written.is_file() and not written.name.startswith("mailintake."):
            assert any(written.resolve().is_relative_to(a.resolve()) for a in allowed), written
    assert set(Path("/").glob("*")) == before
    assert b"owned" not in Path("/etc/passwd").read_bytes()


@pytest.mark.parametrize("lead", ["=", "+", "-", "@"])
def test_excel_report_cells_from_subjects_are_never_formulas(
    app: App, tmp_path: Path, lead: str
) -> None:
    """A subject whose title starts with = + - @ is text in `report --xlsx`, never a formula."""
    title = f"{lead}cmd|' /C calc'!A0我校多措并举扎实推进党的建设"
    subject = f"组织部信息（2026.11.18）{title}"
    deliver(app.config, mail(("稿件.docx", DOCX, good_docx()), subject=subject, tag=f"x{lead}"))
    cycle(app)
    assert app.config.source is not None
    now = datetime.combine(date(2026, 11, 20), time(10), tzinfo=SHANGHAI)
    target = tmp_path / "report.xlsx"
    result = CliRunner().invoke(main, ["--config", str(app.config.source), "--now",
                                       now.isoformat(), "report", "--period", "2026-11",
                                       "--xlsx", str(target)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(target)
    seen = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                    assert cell.data_type == "s", (sheet.title, cell.coordinate, cell.value)
                    seen.append(cell.value)
    assert any(title in value for value in seen), "the title did not reach the workbook"


def test_a_forged_sender_is_never_filed_as_the_unit(app: App) -> None:
    """A perfect piece in 刘晓燕's name that fails DMARC is set aside: no submission, no reply."""
    raw = mail(("稿件.docx", DOCX, good_docx()), tag="forged")
    raw = (b"Authentication-Results: mx.126.com; spf=fail smtp.mailfrom=liuxy@163.com;\n"
           b" dkim=none; dmarc=fail (p=reject dis=none) header.from=163.com\n") + raw
    deliver(app.config, raw)
    cycle(app)
    with session(app.engine) as db:
        [message] = db.exec(select(InboundMessage)).all()
        assert (message.outcome, message.reasons) == ("quarantined", ["sender.auth_failed"])
        assert db.exec(select(Submission)).all() == []
        assert db.exec(select(OutboxMessage)).all() == []
