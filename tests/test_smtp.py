"""The outbox over SMTP, against aiosmtpd on loopback: login, TLS, outages,
refusals, bounces and the per-address rate limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import NOW, write_config
from smtp_server import Smtpd, make_certificate
from sqlmodel import col, select
from tenacity import wait_none

from mailintake.app import App
from mailintake.config.settings import (
    ConfigError,
    RateLimit,
    RepliesConfig,
    SmtpConfig,
    load_config,
)
from mailintake.replies.outbox import FlushReport, FolderSender, flush
from mailintake.replies.smtp import SmtpSender
from mailintake.store.bounces import bouncing_addresses
from mailintake.store.database import session
from mailintake.store.models import OutboxMessage, OutboxStatus
from mailintake.store.outbox import failed_replies

OFFICE = "xxbs@126.com"
PASSWORD = "auth-code-123"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server() -> Iterator[Smtpd]:
    with Smtpd(users={OFFICE: PASSWORD}) as smtpd:
        yield smtpd


def sender(server: Smtpd, *, password: str = PASSWORD, security: str = "none",
           ca_file: Path | None = None) -> SmtpSender:
    config = SmtpConfig.model_validate({
        "kind": "smtp", "host": "127.0.0.1", "port": server.port, "security": security,
        "username": OFFICE, "from": f"教育信息报送 <{OFFICE}>", "ca_file": ca_file,
    })
    return SmtpSender(config, password, retry_wait=wait_none())


def queue(app: App, to: str, count: int = 1) -> None:
    with session(app.engine) as db:
        for _ in range(count):
            raw = app.replies.plain(to=to, subject="【回执】稿件已登记", body="稿件已登记。\n",
                                    now=NOW)
            db.add(OutboxMessage(
                dedup_key=f"test:{uuid.uuid4()}", kind="receipt", recipient=to,
                subject="【回执】稿件已登记", raw=raw, created_at=NOW, next_attempt_at=NOW,
            ))
        db.commit()


def rows(app: App) -> list[OutboxMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def send_all(app: App, smtp: SmtpSender, minutes: float = 0, **kw: object) -> FlushReport:
    try:
        return flush(app.engine, smtp, NOW + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]
    finally:
        smtp.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_one_login_delivers_every_reply_over_plain_loopback(app: App, server: Smtpd) -> None:
    """Over plain SMTP on 127.0.0.1 mailintake logs in once and delivers each reply once."""
    queue(app, "chenpei@126.com")
    queue(app, "liuxy@163.com")
    report = send_all(app, sender(server))
    assert (report.sent, report.failed) == (2, 0)
    assert server.logins == [OFFICE]
    assert [(r.mail_from, r.rcpt_tos) for r in server.received] == [
        (OFFICE, ["chenpei@126.com"]), (OFFICE, ["liuxy@163.com"]),
    ]
    assert "稿件已登记" in server.received[0].text
    assert [row.status for row in rows(app)] == [OutboxStatus.SENT] * 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_refused_login_keeps_every_reply_waiting(app: App, server: Smtpd) -> None:
    """A wrong password fails no reply: they all go out once the password is right."""
    queue(app, "chenpei@126.com", 2)
    report = send_all(app, sender(server, password="wrong"))
    assert (report.sent, report.failed, report.deferred) == (0, 0, 2)
    assert all(r.status == OutboxStatus.PENDING and r.attempts == 0 for r in rows(app))
    assert "login" in rows(app)[0].last_error
    assert send_all(app, sender(server), minutes=1).sent == 2


@pytest.mark.parametrize("security", ["tls", "starttls"])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_tls_and_starttls_deliver_with_a_private_ca(
    app: App, certificate: tuple[Path, Path], security: str
) -> None:
    """Implicit TLS (465) and STARTTLS (587) both deliver, checking the server's certificate."""
    with Smtpd(users={OFFICE: PASSWORD}, tls=security, certificate=certificate) as server:
        queue(app, "chenpei@126.com")
        report = send_all(app, sender(server, security=security, ca_file=certificate[0]))
    assert report.sent == 1 and server.logins == [OFFICE]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_tls_to_an_untrusted_certificate_sends_nothing(
    app: App, certificate: tuple[Path, Path]
) -> None:
    """A certificate nobody vouches for stops delivery; the reply waits, it is not failed."""
    with Smtpd(users={OFFICE: PASSWORD}, tls="tls", certificate=certificate) as server:
        queue(app, "chenpei@126.com")
        report = send_all(app, sender(server, security="tls"))
    assert (report.sent, report.deferred) == (0, 1) and server.received == []
    assert "CERTIFICATE_VERIFY_FAILED" in rows(app)[0].last_error


def test_plain_smtp_to_a_remote_server_is_refused_at_start(tmp_path: Path) -> None:
    """security = "none" is for a server on this machine only; elsewhere the config is refused."""
    path = write_config(tmp_path, "sqlite:///x.db")
    text = path.read_text(encoding="utf-8").replace(
        'kind = "folder"\npath = "outbox"',
        'kind = "smtp"\nhost = "smtp.126.com"\nport = 25\nsecurity = "none"',
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="只能用于本机"):
        load_config(path)


def test_server_down_for_an_hour_then_back_loses_nothing(app: App) -> None:
    """While the server is down every reply waits uncounted; when it returns each goes once."""
    server = Smtpd(users={OFFICE: PASSWORD})  # not started: connections are refused
    queue(app, "chenpei@126.com", 3)
    for minutes in (0, 15, 30, 45, 60):
        report = send_all(app, sender(server), minutes=minutes)
        assert (report.sent, report.failed, report.deferred) == (0, 0, 3)
    assert all(r.status == OutboxStatus.PENDING and r.attempts == 0 for r in rows(app))
    with server:
        assert send_all(app, sender(server), minutes=61).sent == 3
        assert send_all(app, sender(server), minutes=62).sent == 0
    ids = [r.message["Message-ID"] for r in server.received]
    assert len(ids) == len(set(ids)) == 3


def test_4xx_is_retried_later_and_5xx_fails_and_marks_the_address(
    app: App, server: Smtpd
) -> None:
    """A 451 is retried after a pause; a 550 5.1.1 fails the reply, and the address is held."""
    server.refusals = ["451 4.3.0 Mailbox busy, try later",
                       "550 5.1.1 <gone@126.com>: Recipient address rejected: User unknown"]
    queue(app, "gone@126.com")
    first = send_all(app, sender(server))
    [row] = rows(app)
    assert (first.retrying, row.attempts, row.status) == (1, 1, OutboxStatus.PENDING)
    assert "451" in row.last_error and row.next_attempt_at == NOW + timedelta(minutes=1)
    assert send_all(app, sender(server), minutes=0.5).sent == 0  # not due yet
    second = send_all(app, sender(server), minutes=1)
    [row] = rows(app)
    assert (second.failed, row.attempts, row.status) == (1, 2, OutboxStatus.FAILED)
    assert "550 5.1.1" in row.last_error
    assert [r.recipient for r in failed_replies(app.engine, NOW - timedelta(days=7))] == [
        "gone@126.com"
    ]
    [bounce] = bouncing_addresses(app.engine, NOW + timedelta(days=1))
    assert (bounce.address, bounce.status) == ("gone@126.com", "5.1.1")
    assert bounce.until == NOW + timedelta(minutes=1, days=60)

    queue(app, "gone@126.com")
    held = send_all(app, sender(server), minutes=2)
    assert (held.held, held.sent) == (1, 0) and server.received == []
    assert rows(app)[-1].status == OutboxStatus.HELD
    assert bouncing_addresses(app.engine, NOW + timedelta(days=61)) == []


def test_rate_limit_defers_replies_to_one_address_never_drops_them(
    app: App, server: Smtpd
) -> None:
    """Over the limit a reply waits for its window; other addresses are not held up."""
    rules = RepliesConfig(rate_limits=[RateLimit(minutes=10, max=2)])
    queue(app, "robot@example.test", 5)
    queue(app, "chenpei@126.com")
    report = send_all(app, sender(server), rules=rules)
    assert (report.sent, report.deferred) == (3, 3)
    assert sorted(r.rcpt_tos[0] for r in server.received) == [
        "chenpei@126.com", "robot@example.test", "robot@example.test"]
    waiting = [r for r in rows(app) if r.status == OutboxStatus.PENDING]
    assert {r.next_attempt_at for r in waiting} == {NOW + timedelta(minutes=10)}
    assert send_all(app, sender(server), minutes=5, rules=rules).sent == 0
    assert send_all(app, sender(server), minutes=10, rules=rules).sent == 2
    assert send_all(app, sender(server), minutes=20, rules=rules).sent == 1
    assert len(server.received) == 6


def test_two_flushes_at_once_send_each_reply_once(app: App, tmp_path: Path) -> None:
    """A reply being sent by one process is not sent again by another flushing meanwhile."""
    queue(app, "chenpei@126.com", 2)
    inner: list[FlushReport] = []

    class Racing(FolderSender):
        def send(self, item: OutboxMessage) -> None:
            if not inner:  # the other process flushes while this one is sending
                inner.append(flush(app.engine, FolderSender(tmp_path / "b"), NOW))
            super().send(item)

    outer = flush(app.engine, Racing(tmp_path / "a"), NOW)
    sent = sorted(p.name for p in tmp_path.glob("*/*.eml"))
    assert outer.sent + inner[0].sent == 2 and len(sent) == 2
