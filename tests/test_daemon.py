"""`mailintake run` as systemd runs it: a real subprocess against Dovecot, aiosmtpd and
each database; receipts go out over SMTP, logs are one logfmt line per event on stdout."""

from __future__ import annotations

import email
import email.policy
import io
import logging
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import fixture_mail
from dovecot import Dovecot
from smtp_server import Smtpd
from sqlmodel import select
from test_imap_intake import (
    CLI,
    NOW_ARG,
    PASSWORD_ENV,
    make_app,
    start,
    wait_until,
    with_message_id,
    write_imap_config,
)

from mailintake import logs
from mailintake.service.daemon import JOBS, make_scheduler
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage

SMTP_USER = "xxbs@126.com"
SMTP_PASSWORD = "smtp-Secret-42"
SMTP_PASSWORD_ENV = "MAILINTAKE_TEST_SMTP_PASSWORD"


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both passwords come from the environment, as LoadCredential= would give files."""
    monkeypatch.setenv(PASSWORD_ENV, Dovecot.password)
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SMTP_PASSWORD)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with Dovecot() as d:
        yield d


@pytest.fixture
def smtpd() -> Iterator[Smtpd]:
    with Smtpd(users={SMTP_USER: SMTP_PASSWORD}) as server:
        yield server


def smtp_config(config: Path, smtpd: Smtpd) -> None:
    """Send replies through the test SMTP server instead of a folder."""
    text = config.read_text(encoding="utf-8").replace(
        'kind = "folder"\npath = "outbox"',
        f'kind = "smtp"\nhost = "127.0.0.1"\nport = {smtpd.port}\nsecurity = "none"\n'
        f'username = "{SMTP_USER}"\npassword_env = "{SMTP_PASSWORD_ENV}"',
    )
    config.write_text(text, encoding="utf-8")


def body_text(raw: bytes) -> str:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    part = mail.get_body(("plain", "html"))
    assert part is not None
    return str(part.get_content())


def receipts_to(smtpd: Smtpd, address: str) -> list[str]:
    return [r.message["Subject"] for r in smtpd.received
            if address in r.rcpt_tos and "回执" in str(r.message["Subject"])]


def test_run_files_mail_sends_receipts_over_smtp_and_exits_0_on_sigterm(
    dovecot: Dovecot, smtpd: Smtpd, tmp_path: Path, db_url: str
) -> None:
    """Two mails appended under a running daemon each get exactly one receipt by SMTP;
    SIGTERM ends it with status 0, and its log names each mail's Message-ID in a
    key=value line without any password or any text of the mail's body."""
    dovecot.start()
    dovecot.reset()
    config = write_imap_config(tmp_path, dovecot, db_url, mailbox="poll_interval = 600")
    smtp_config(config, smtpd)
    make_app(config).engine.dispose()
    raw = fixture_mail("04_general_piece.eml")
    proc = start(config, "run")
    try:
        dovecot.append(with_message_id(raw, "daemon-1@x"))
        wait_until(lambda: len(receipts_to(smtpd, "lina@foxmail.com")) == 1, 60,
                   "the first receipt sent")
        dovecot.append(with_message_id(raw, "daemon-2@x"))
        try:
            wait_until(lambda: len(receipts_to(smtpd, "lina@foxmail.com")) == 2, 60,
                       "the second receipt sent")
        except AssertionError as exc:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            raise AssertionError(f"{exc}; the daemon said:\n{(out + err)[-6000:]}") from None
        time.sleep(1.0)  # a double would have gone out by now
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, (out + err)[-3000:]
    assert len(receipts_to(smtpd, "lina@foxmail.com")) == 2
    assert dovecot.folder_uids("已处理") and not dovecot.folder_uids("INBOX")
    lines = out.splitlines()
    for mid in ("daemon-1@x", "daemon-2@x"):
        filed = [ln for ln in lines if mid in ln and " filed as " in ln]
        assert len(filed) == 1, out[-3000:]
        assert filed[0].startswith("level=info logger=mailintake.intake.pipeline msg=")
    assert any("sent to lina@foxmail.com" in ln for ln in lines)
    assert "SIGTERM received" in out and "mailintake stopped" in out
    assert Dovecot.password not in out + err and SMTP_PASSWORD not in out + err
    body = " ".join(body_text(raw).split())
    snippets = [body[i:i + 12] for i in range(0, min(len(body), 240), 12) if body[i:i + 12]]
    assert snippets and not any(s in out + err for s in snippets)


def test_every_job_is_scheduled_once_in_the_office_time_zone(
    dovecot: Dovecot, tmp_path: Path, db_url: str
) -> None:
    """The scheduler holds delivery, reminders, the digest and points, one instance
    each, coalesced, on the office's clock (Asia/Shanghai)."""
    config = write_imap_config(tmp_path, dovecot, db_url)
    app = make_app(config)
    try:
        scheduler = make_scheduler(app)
        assert str(scheduler.timezone) == "Asia/Shanghai"
        scheduler.start(paused=True)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        scheduler.shutdown(wait=False)
    finally:
        app.engine.dispose()
    assert set(jobs) == set(JOBS) == {"deliver", "reminders", "digest", "points",
                                       "calendar"}
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())


def test_log_lines_are_one_logfmt_line_per_event() -> None:
    """A logged event with spaces, quotes, a line break and an error becomes one
    key=value line that a journal reader can split."""
    stream = io.StringIO()
    logs.setup(logging.INFO, stream)
    try:
        log = logging.getLogger("mailintake.test")
        log.info('mail %s rejected ("%s")', "<a b@x>", "two\nlines", extra={"unit": "实验小学"})
        try:
            raise OSError("disk full")
        except OSError:
            log.exception("cannot store")
    finally:
        logging.getLogger().handlers.clear()
    lines = stream.getvalue().splitlines()
    assert lines == [
        'level=info logger=mailintake.test msg="mail <a b@x> rejected (\\"two lines\\")" '
        "unit=实验小学",
        'level=error logger=mailintake.test msg="cannot store" error="OSError: disk full"',
    ]
    assert os.linesep not in lines[0]


def log_has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_instances_on_one_postgresql_never_do_the_same_work_twice(
    dovecot: Dovecot, smtpd: Smtpd, tmp_path: Path, db_url: str
) -> None:
    """Two `mailintake run` on one PostgreSQL and one mailbox: one takes in the mail while
    the other waits; when the first stops the second takes over; every mail is recorded
    once and answered at most once."""
    dovecot.start()
    dovecot.reset()
    config = write_imap_config(tmp_path, dovecot, db_url, mailbox="poll_interval = 600")
    smtp_config(config, smtpd)
    app = make_app(config)
    raw = fixture_mail("04_general_piece.eml")
    logs_of = [tmp_path / "a.log", tmp_path / "b.log"]
    procs: list[subprocess.Popen[bytes]] = []

    def launch(log_file: Path) -> subprocess.Popen[bytes]:
        with log_file.open("wb") as out:
            proc = subprocess.Popen([*CLI, "--config", str(config), NOW_ARG, "run"],
                                    stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    def recorded() -> int:
        with session(app.engine) as db:
            rows = db.exec(select(InboundMessage).where(InboundMessage.moved_at != None))  # noqa: E711
            return len(rows.all())

    try:
        first = launch(logs_of[0])
        wait_until(lambda: log_has(logs_of[0], "intake lock taken"), 60, "A takes the lock")
        second = launch(logs_of[1])
        wait_until(lambda: log_has(logs_of[1], "waiting to take over"), 60, "B waits")
        dovecot.append_many(with_message_id(raw, f"pair-{i}@x") for i in range(6))
        wait_until(lambda: recorded() == 6, 60, "six mails recorded")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
        wait_until(lambda: log_has(logs_of[1], "intake lock taken"), 30, "B takes over")
        dovecot.append_many(with_message_id(raw, f"later-{i}@x") for i in range(3))
        wait_until(lambda: recorded() == 9, 60, "three more recorded by B")
        time.sleep(1.0)  # a double would have been recorded or sent by now
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    with session(app.engine) as db:
        mails = db.exec(select(InboundMessage)).all()
        replies = db.exec(select(OutboxMessage)).all()
    app.engine.dispose()
    assert sorted(m.message_id for m in mails) == sorted(
        [f"pair-{i}@x" for i in range(6)] + [f"later-{i}@x" for i in range(3)])
    answered = Counter(str(r.message["In-Reply-To"]) for r in smtpd.received
                       if r.message["In-Reply-To"])
    assert answered and max(answered.values()) == 1
    assert len(smtpd.received) == len({r.dedup_key for r in replies})
    assert sum(len(dovecot.folder_uids(f)) for f in ("已处理", "已退回", "待人工")) == 9
    assert not dovecot.folder_uids("INBOX")
    text_b = logs_of[1].read_text(encoding="utf-8")
    assert " filed as " in text_b or " rejected as " in text_b
