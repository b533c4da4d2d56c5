"""Replies people trust, end to end: the pipeline files the fixture mails and
delivers its receipts and rejections over SMTP to aiosmtpd on loopback."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, NOW, deliver, fixture_mail, write_config
from smtp_server import Smtpd
from tenacity import wait_none

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.cli.views import message_rows, submission_rows
from mailintake.config.settings import SmtpConfig, load_config
from mailintake.intake import pipeline
from mailintake.office.registry import import_rows, read_rows
from mailintake.replies import smtp
from mailintake.replies.outbox import FlushReport
from mailintake.store.database import upgrade

OFFICE = "xxbs@126.com"
PASSWORD = "auth-code-123"
PASSWORD_ENV = "MAILINTAKE_TEST_SMTP_PASSWORD"


@pytest.fixture(autouse=True)
def no_sleeping_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection retries happen at once in tests."""
    monkeypatch.setattr(smtp, "default_retry_wait", wait_none)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


class Clock:
    """The app's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def over_smtp(app: App, server: Smtpd, sender: str = f"教育信息报送 <{OFFICE}>") -> App:
    """Point the app's replies at ``server``, logging in as its office address."""
    address = email.utils.parseaddr(sender)[1]
    config = SmtpConfig.model_validate({
        "kind": "smtp", "host": "127.0.0.1", "port": server.port, "security": "none",
        "username": address, "password_env": PASSWORD_ENV, "from": sender,
    })
    app.config = app.config.model_copy(update={"smtp": config})
    return app


def cycle(app: App) -> pipeline.CycleReport:
    box = app.open_mailbox()
    try:
        return pipeline.run_cycle(app, box)
    finally:
        box.close()


@pytest.fixture
def server() -> Iterator[Smtpd]:
    with Smtpd(users={OFFICE: PASSWORD}) as smtpd:
        yield smtpd


def test_receipt_and_rejection_arrive_with_headers_recipients_and_chinese_text(
    app: App, server: Smtpd
) -> None:
    """Each correspondent gets one reply, threaded under their mail, marked automatic, Chinese."""
    deliver(app.config, fixture_mail("01_foxmail_gbk_weekly.eml"),
            fixture_mail("07_reject_bad_subject.eml"))
    report = cycle(over_smtp(app, server))
    assert report.replies is not None and report.replies.sent == 2
    by_rcpt = {r.rcpt_tos[0]: r for r in server.received}
    assert sorted(by_rcpt) == ["chenpei@126.com", "liuxy@163.com"]
    assert {r.mail_from for r in server.received} == {OFFICE}
    [filed] = submission_rows(app)[:1]
    originals = {"chenpei@126.com": fixture_mail("01_foxmail_gbk_weekly.eml"),
                 "liuxy@163.com": fixture_mail("07_reject_bad_subject.eml")}
    for rcpt, received in by_rcpt.items():
        reply = received.message
        original = email.message_from_bytes(originals[rcpt])
        assert reply["To"] == rcpt
        assert email.utils.parseaddr(reply["From"])[1] == OFFICE
        assert reply["Message-ID"].endswith("@126.com>")
        assert reply["In-Reply-To"] == original["Message-ID"]
        assert original["Message-ID"] in reply["References"]
        assert reply["Auto-Submitted"] == "auto-replied"
        assert reply["X-Auto-Response-Suppress"] == "All"
        assert reply["X-Mailintake-Loop"] == OFFICE
        assert reply.get_content_charset() == "utf-8"

    receipt = by_rcpt["chenpei@126.com"]
    assert receipt.message["Subject"].startswith("【回执】")
    assert filed["tracking_no"] in receipt.message["Subject"]
    for text in (filed["tracking_no"], "党政办公室", "每周动态", "陈佩老师：您好！",
                 f"字数：{filed['word_count']} 字", "本月已登记稿件 1 篇"):
        assert text in receipt.text
    rejection = by_rcpt["liuxy@163.com"]
    assert rejection.message["Subject"].startswith("【退回】")
    for text in ("未能登记", "不符合任何栏目的格式", "组织部第十一周工作动态信息"):
        assert text in rejection.text


def test_smtp_down_for_an_hour_then_back_delivers_every_reply_once(app: App) -> None:
    """Replies queued while the server is down all arrive once it is back, none twice."""
    clock = Clock()
    app.clock = clock
    server = Smtpd(users={OFFICE: PASSWORD})  # not listening yet
    over_smtp(app, server)
    for path in sorted((FIXTURES / "mail").glob("*.eml")):
        deliver(app.config, path.read_bytes())
    report = cycle(app)
    assert report.replies is not None
    assert (report.replies.sent, report.replies.failed, report.replies.deferred) == (0, 0, 8)
    for minutes in (10, 30, 59):
        clock.now = NOW + timedelta(minutes=minutes)
        assert pipeline.deliver(app).sent == 0
    with server:
        clock.now = NOW + timedelta(minutes=61)
        assert pipeline.deliver(app).sent == 8
        clock.now = NOW + timedelta(minutes=62)
        assert cycle(app).replies == FlushReport()
    assert len(server.received) == 8
    answered = [r.message["In-Reply-To"] for r in server.received]
    assert len(set(answered)) == 8
    assert len({r.message["Message-ID"] for r in server.received}) == 8


def _second_office(tmp_path: Path, db_url: str, address: str, clock: Clock) -> App:
    """Another mailintake, on its own database and Maildir, answering from ``address``."""
    folder = tmp_path / "other"
    folder.mkdir()
    path = write_config(folder, db_url)
    path.write_text(path.read_text(encoding="utf-8").replace(
        f"教育信息报送 <{OFFICE}>", f"另一个收稿系统 <{address}>"), encoding="utf-8")
    other = App.from_config(load_config(path), clock)
    upgrade(other.engine)
    units = folder / "units.csv"
    units.write_text("单位名称,简称,单位类别,信息员姓名,职务,邮箱,联系电话\n"
                     f"党政办公室,,部门,收稿机器人,,{OFFICE},0\n", encoding="utf-8")
    import_rows(other.engine, read_rows(units))
    return other


def test_two_instances_pointed_at_each_other_exchange_at_most_one_reply_each(
    app: App, tmp_path: Path
) -> None:
    """Two mailintakes that write to each other's intake answer one mail each, then stop."""
    clock = Clock()
    app.clock = clock
    other_address = "chenpei@126.com"  # a correspondent of ours, and the other's office
    other = _second_office(tmp_path, "sqlite:///" + str(tmp_path / "other.db"), other_address,
                           clock)
    assert app.config.mailbox.path is not None and other.config.mailbox.path is not None
    mailboxes = {other_address: other.config.mailbox.path, OFFICE: app.config.mailbox.path}
    with Smtpd(users={OFFICE: PASSWORD, other_address: PASSWORD}, mailboxes=mailboxes) as server:
        over_smtp(app, server)
        over_smtp(other, server, f"另一个收稿系统 <{other_address}>")
        # Each gets one mail from the other's address: a piece for us, a bad one for them.
        deliver(app.config, fixture_mail("01_foxmail_gbk_weekly.eml"))
        deliver(other.config, b"From: <xxbs@126.com>\nTo: <chenpei@126.com>\n"
                b"Subject: =?utf-8?b?5L+h5oGv?=\nMessage-ID: <start@126.com>\n\nhello\n")
        for minute in range(6):
            clock.now = NOW + timedelta(minutes=minute)
            cycle(app)
            cycle(other)
        senders = sorted(r.mail_from for r in server.received)
    assert senders == [other_address, OFFICE]
    for instance in (app, other):
        answers = [r for r in message_rows(instance) if r["outcome"] == "ignored"]
        assert [r["reasons"] for r in answers] == [["loop.own_header"]]
    other.engine.dispose()


def test_poll_once_from_the_command_line_replies_over_smtp(
    tmp_path: Path, db_url: str, server: Smtpd
) -> None:
    """`mailintake poll --once` with `[smtp] kind = "smtp"` logs in and delivers the receipt."""
    path = write_config(tmp_path, db_url)
    path.write_text(path.read_text(encoding="utf-8").replace(
        'kind = "folder"\npath = "outbox"',
        f'kind = "smtp"\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        f'username = "{OFFICE}"\npassword_env = "{PASSWORD_ENV}"',
    ), encoding="utf-8")
    config = load_config(path)
    deliver(config, fixture_mail("04_general_piece.eml"))
    runner = CliRunner()
    base = ["--config", str(path), "--now", NOW.isoformat()]
    assert runner.invoke(main, [*base, "db", "upgrade"]).exit_code == 0
    imported = runner.invoke(main, [*base, "units", "import", str(FIXTURES / "units.csv")])
    assert imported.exit_code == 0
    result = runner.invoke(main, [*base, "poll", "--once"])
    assert result.exit_code == 0, result.output
    assert "发出回复 1 封" in result.output
    [received] = server.received
    assert received.rcpt_tos == ["lina@foxmail.com"] and server.logins == [OFFICE]
    assert received.message["Subject"].startswith("【回执】")
