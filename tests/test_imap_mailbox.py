"""ImapMailbox against a real, throwaway Dovecot (no mocks)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import tenacity
from dovecot import Dovecot

from mailintake.mailbox.base import FOLDER_FILED, FOLDER_REJECTED, MailboxError
from mailintake.mailbox.imap import (
    PIECE_BYTES,
    ImapMailbox,
    call_with_reconnect,
    reconnect_with_backoff,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_mail(n: int, body: str = "") -> bytes:
    """A small CRLF mail with 8-bit UTF-8 text, so byte-exactness is tested too."""
    text = body or f"第{n}篇稿件：校园新闻。\r\n" * n
    return (
        f"From: teacher{n}@example.test\r\n"
        f"To: office@example.test\r\n"
        f"Subject: =?UTF-8?B?5paw6Ze7?= {n}\r\n"
        f"Message-ID: <mail-{n}@example.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{text}\r\n"
    ).encode()


def make_mailbox(d: Dovecot, **overrides: Any) -> ImapMailbox:
    params: dict[str, Any] = {
        "host": d.host,
        "port": d.port,
        "security": "none",
        "username": d.user,
        "password": d.password,
        "connect_timeout": 5.0,
        "read_timeout": 10.0,
    }
    params.update(overrides)
    return ImapMailbox(**params)


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with Dovecot() as d:
        yield d


@pytest.fixture
def dovecot(server: Dovecot) -> Dovecot:
    server.start()  # in case a previous test left it stopped
    server.reset()
    return server


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A private server for tests that stop, kill or reconfigure it."""
    with Dovecot() as d:
        yield d


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[ImapMailbox]:
    mb = make_mailbox(dovecot)
    yield mb
    mb.close()


def test_list_new_reports_uid_size_date_and_uidvalidity(
    dovecot: Dovecot, mailbox: ImapMailbox
) -> None:
    """list_new sees every appended mail, oldest UID first, with size, date and UIDVALIDITY."""
    raws = [make_mail(n) for n in (1, 2, 3)]
    arrived = [datetime(2026, 11, 17 + n, 9, 30, tzinfo=SHANGHAI) for n in range(3)]
    uids = [dovecot.append(raw, msg_time=when) for raw, when in zip(raws, arrived, strict=True)]
    uidvalidity = dovecot.uidvalidity("INBOX")

    refs = mailbox.list_new()

    assert [r.uid for r in refs] == sorted(uids)
    assert [r.size for r in refs] == [len(raw) for raw in raws]
    assert [r.internaldate for r in refs] == arrived
    for ref in refs:
        assert ref.folder == "INBOX"
        assert ref.uidvalidity == uidvalidity
        assert ref.source_key == f"INBOX;{uidvalidity};{ref.uid}"
        # The same instants; the offset is the server's (Maildir keeps a timestamp only).
        assert ref.internaldate is not None and ref.internaldate.tzinfo is not None


def test_list_new_on_empty_folder(mailbox: ImapMailbox) -> None:
    """An empty intake folder lists as an empty list, not an error."""
    assert mailbox.list_new() == []


def test_fetch_returns_exact_bytes_in_batches_without_setting_seen(
    dovecot: Dovecot,
) -> None:
    """fetch yields each mail's exact raw bytes, in order across batches, leaving \\Seen unset."""
    raws = {dovecot.append(make_mail(n)): make_mail(n) for n in range(1, 6)}
    with make_mailbox(dovecot, batch_size=2) as mb:
        refs = mb.list_new()
        fetched = list(mb.fetch(refs))

    assert [ref.uid for ref, _ in fetched] == [ref.uid for ref in refs]
    for ref, raw in fetched:
        assert ref.uid is not None
        assert raw == raws[ref.uid]
        assert b"\\Seen" not in dovecot.flags(ref.uid)


def test_a_big_mail_is_fetched_in_pieces_byte_for_byte(
    dovecot: Dovecot, mailbox: ImapMailbox
) -> None:
    """A mail over PIECE_BYTES comes in several partial FETCHes, reassembled exactly,
    between two small mails that keep their order."""
    big = make_mail(2, body="大" * (PIECE_BYTES // 3 * 2 + 12345))  # 3 bytes each in UTF-8
    for raw in (make_mail(1), big, make_mail(3)):
        dovecot.append(raw)
    refs = mailbox.list_new()
    assert refs[1].size > 2 * PIECE_BYTES
    assert [raw for _ref, raw in mailbox.fetch(refs)] == [make_mail(1), big, make_mail(3)]
    assert b"\\Seen" not in dovecot.flags(refs[1].uid or 0)


def test_fetch_skips_a_mail_deleted_meanwhile(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    """A mail expunged by someone else between listing and fetching is skipped silently."""
    uids = [dovecot.append(make_mail(n)) for n in (1, 2, 3)]
    refs = mailbox.list_new()
    with dovecot.client() as other:
        other.select_folder("INBOX")
        other.delete_messages([uids[1]])
        other.uid_expunge([uids[1]])

    assert [ref.uid for ref, _ in mailbox.fetch(refs)] == [uids[0], uids[2]]


def test_move_creates_outcome_folder_and_twice_is_harmless(
    dovecot: Dovecot, mailbox: ImapMailbox
) -> None:
    """Moving to 已处理 creates the folder, leaves other mail alone; a second move is a no-op."""
    first, second = (dovecot.append(make_mail(n)) for n in (1, 2))
    ref = next(r for r in mailbox.list_new() if r.uid == first)

    mailbox.move(ref, FOLDER_FILED)
    assert FOLDER_FILED in dovecot.folders()
    assert dovecot.folder_uids("INBOX") == [second]
    assert len(dovecot.folder_uids(FOLDER_FILED)) == 1

    mailbox.move(ref, FOLDER_FILED)  # the crash-repair path: already moved
    assert dovecot.folder_uids("INBOX") == [second]
    assert len(dovecot.folder_uids(FOLDER_FILED)) == 1


def test_move_many_groups_by_folder(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    """move_many sends each mail to its own outcome folder."""
    for n in range(1, 5):
        dovecot.append(make_mail(n))
    refs = mailbox.list_new()

    mailbox.move_many(
        [(refs[0], FOLDER_FILED), (refs[1], FOLDER_REJECTED), (refs[2], FOLDER_FILED)]
    )

    assert dovecot.folder_uids("INBOX") == [refs[3].uid]
    assert len(dovecot.folder_uids(FOLDER_FILED)) == 2
    assert len(dovecot.folder_uids(FOLDER_REJECTED)) == 1


def test_move_many_survives_a_mail_expunged_by_another_session(
    dovecot: Dovecot, mailbox: ImapMailbox
) -> None:
    """When one UID of a batch was expunged elsewhere (EXPUNGEISSUED), the others still move."""
    uids = [dovecot.append(make_mail(n)) for n in (1, 2)]
    refs = mailbox.list_new()
    with dovecot.client() as other:
        other.select_folder("INBOX")
        other.delete_messages([uids[1]])
        other.uid_expunge([uids[1]])

    mailbox.move_many([(ref, FOLDER_FILED) for ref in refs])

    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.folder_uids(FOLDER_FILED)) == 1


def test_move_recreates_an_outcome_folder_deleted_meanwhile(
    dovecot: Dovecot, mailbox: ImapMailbox
) -> None:
    """If a clerk deletes an outcome folder the mailbox has cached, the next move recreates it."""
    for n in (1, 2):
        dovecot.append(make_mail(n))
    refs = mailbox.list_new()
    mailbox.move(refs[0], FOLDER_FILED)
    dovecot.delete_folder(FOLDER_FILED)

    mailbox.move(refs[1], FOLDER_FILED)

    assert len(dovecot.folder_uids(FOLDER_FILED)) == 1


def test_copy_expunge_fallback_moves_only_that_uid() -> None:
    """Without MOVE the mail is copied, flagged and UID-expunged; a clerk's \\Deleted mail stays."""
    with Dovecot(drop_capabilities=["MOVE"]) as d:
        assert "MOVE" not in d.capabilities()
        clerks = d.append(make_mail(1), flags=[r"\Deleted"])
        ours = d.append(make_mail(2))
        with make_mailbox(d) as mb:
            ref = next(r for r in mb.list_new() if r.uid == ours)
            mb.move(ref, FOLDER_FILED)
            mb.move(ref, FOLDER_FILED)  # again: harmless

        assert d.folder_uids("INBOX") == [clerks]
        assert len(d.folder_uids(FOLDER_FILED)) == 1
        with d.client() as c:
            c.select_folder(FOLDER_FILED, readonly=True)
            [uid] = c.search(["ALL"])
            assert c.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == make_mail(2)


def test_client_sends_imap_id(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    """The client sends IMAP ID after LOGIN, which Dovecot logs with imap_id_log = *."""
    mailbox.list_new()
    deadline = time.monotonic() + 5
    while "ID sent: name=mailintake" not in dovecot.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(ln for ln in dovecot.log_text().splitlines() if "ID sent: name=mailintake" in ln)
    assert "vendor=mailintake" in line
    assert "support-email=postmaster@localhost" in line


def test_tls_with_the_fixture_ca(dovecot: Dovecot) -> None:
    """Implicit TLS on the TLS port works when the fixture's CA is trusted."""
    dovecot.append(make_mail(1))
    with make_mailbox(
        dovecot, port=dovecot.tls_port, security="tls", ca_file=dovecot.ca_file
    ) as mb:
        assert len(mb.list_new()) == 1


def test_starttls_with_the_fixture_ca(dovecot: Dovecot) -> None:
    """STARTTLS on the plain port works when the fixture's CA is trusted."""
    dovecot.append(make_mail(1))
    with make_mailbox(dovecot, security="starttls", ca_file=dovecot.ca_file) as mb:
        assert len(mb.list_new()) == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_without_the_ca_fails_certificate_verification(dovecot: Dovecot, security: str) -> None:
    """Without the CA the self-signed chain is rejected: certificate checks are on."""
    port = dovecot.tls_port if security == "tls" else dovecot.port
    with (
        make_mailbox(dovecot, port=port, security=security) as mb,
        pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        mb.list_new()


@pytest.mark.parametrize("host", ["192.0.2.10", "mail.example.com", "10.0.0.1", "::2"])
def test_plain_to_a_non_loopback_host_is_refused(host: str) -> None:
    """security="none" is refused for anything but loopback, before any connection."""
    with pytest.raises(MailboxError, match="plain"):
        ImapMailbox(host=host, port=143, security="none", username="u", password="p")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"])
def test_plain_to_loopback_is_allowed(host: str) -> None:
    """Loopback addresses may use plain IMAP (a local relay or a test server)."""
    ImapMailbox(host=host, port=143, security="none", username="u", password="p")


def test_wrong_password_error_is_one_line_without_the_password(dovecot: Dovecot) -> None:
    """A failed login raises MailboxError naming host and cause, never the password."""
    secret = "wrong-Passw0rd-42"
    with make_mailbox(dovecot, password=secret) as mb, pytest.raises(MailboxError) as info:
        mb.list_new()
    message = str(info.value)
    assert "AUTHENTICATIONFAILED" in message and "b'" not in message
    assert secret not in message
    assert f"{dovecot.host}:{dovecot.port}" in message
    assert "\n" not in message


def test_wait_for_mail_wakes_when_mail_arrives(dovecot: Dovecot, mailbox: ImapMailbox) -> None:
    """wait_for_mail returns True within seconds when another connection appends during IDLE."""
    assert mailbox.supports_idle
    mailbox.list_new()
    timer = threading.Timer(0.5, dovecot.append, args=(make_mail(1),))
    timer.start()
    started = time.monotonic()
    try:
        assert mailbox.wait_for_mail(20) is True
    finally:
        timer.join()
    assert time.monotonic() - started < 5
    assert len(mailbox.list_new()) == 1  # the connection is usable after IDLE


def test_wait_for_mail_times_out_without_mail(mailbox: ImapMailbox) -> None:
    """wait_for_mail returns False once the timeout passes with no new mail."""
    mailbox.list_new()
    started = time.monotonic()
    assert mailbox.wait_for_mail(1.0) is False
    assert 0.9 <= time.monotonic() - started < 5
    assert mailbox.list_new() == []


def test_wait_for_mail_returns_at_once_for_mail_since_listing(
    dovecot: Dovecot, mailbox: ImapMailbox
) -> None:
    """Mail delivered between list_new and wait_for_mail is not slept through."""
    mailbox.list_new()
    dovecot.append(make_mail(1))
    started = time.monotonic()
    assert mailbox.wait_for_mail(20) is True
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_wait_for_mail_hears_of_mail_that_came_just_before_idle(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, tls: bool
) -> None:
    """A mail appended after the wait's SELECT and before its IDLE is announced with the
    server's go-ahead, in the same packet: it wakes the wait at once, not 25 min later."""
    secure = {"port": dovecot.tls_port, "security": "tls", "ca_file": dovecot.ca_file}
    with make_mailbox(dovecot, **(secure if tls else {})) as mb:
        mb.list_new()
        select = mb._select

        def select_then_deliver(conn: object, folder: str) -> tuple[int, int]:
            found = select(conn, folder)
            dovecot.append(make_mail(1))
            time.sleep(0.2)  # the server has it before IDLE is asked for
            return found

        monkeypatch.setattr(mb, "_select", select_then_deliver)
        started = time.monotonic()
        assert mb.wait_for_mail(20, interrupted=lambda: False) is True
        assert time.monotonic() - started < 5
        monkeypatch.setattr(mb, "_select", select)
        assert len(mb.list_new()) == 1  # the connection is usable after IDLE


def test_wait_for_mail_without_idle_sleeps_and_returns_true() -> None:
    """A server without IDLE makes wait_for_mail sleep the timeout and ask for a poll."""
    with Dovecot(drop_capabilities=["IDLE"]) as d, make_mailbox(d) as mb:
        assert mb.supports_idle is False
        started = time.monotonic()
        assert mb.wait_for_mail(0.5) is True
        assert time.monotonic() - started >= 0.5


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_operations_fail_while_down_and_reconnect_after_restart(
    own_dovecot: Dovecot, how: str
) -> None:
    """While Dovecot is down operations raise MailboxError; reconnect() works after restart."""
    own_dovecot.append(make_mail(1))
    with make_mailbox(own_dovecot) as mb:
        refs = mb.list_new()
        getattr(own_dovecot, how)()

        with pytest.raises(MailboxError) as info:
            mb.list_new()
        assert own_dovecot.password not in str(info.value)
        with pytest.raises(MailboxError):
            list(mb.fetch(refs))
        with pytest.raises(MailboxError, match="Connection refused"):
            mb.reconnect()

        own_dovecot.start()
        mb.reconnect()
        assert [r.source_key for r in mb.list_new()] == [r.source_key for r in refs]


def test_reconnect_with_backoff_logs_one_line_per_failure_and_recovers(
    own_dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    """reconnect_with_backoff retries while the server is down, logging one line each time."""
    caplog.set_level(logging.WARNING, logger="mailintake.imap")
    own_dovecot.append(make_mail(1))
    with make_mailbox(own_dovecot) as mb:
        mb.list_new()
        own_dovecot.stop()

        with pytest.raises(MailboxError):
            reconnect_with_backoff(
                mb, retry_wait=tenacity.wait_none(), stop=tenacity.stop_after_attempt(3)
            )
        retries = [r.getMessage() for r in caplog.records if r.name == "mailintake.imap"]
        assert len(retries) == 2
        for line in retries:
            assert "\n" not in line
            assert line.startswith(f"IMAP connection to {own_dovecot.host}:{own_dovecot.port} ")
            assert "Connection refused" in line and "retrying in 0 s" in line

        timer = threading.Timer(0.5, own_dovecot.start)
        timer.start()
        try:
            refs = call_with_reconnect(
                mb,
                mb.list_new,
                retry_wait=tenacity.wait_fixed(0.1),
                stop=tenacity.stop_after_delay(30),
            )
        finally:
            timer.join()
        assert len(refs) == 1


def test_recreated_intake_folder_changes_uidvalidity_and_source_key(dovecot: Dovecot) -> None:
    """A deleted and recreated intake folder gets a new UIDVALIDITY, so keys change and
    stale refs are refused instead of touching the new mail that reuses their UID."""
    dovecot.create_folder("Intake")
    dovecot.append(make_mail(1), folder="Intake")
    with make_mailbox(dovecot, folder="Intake") as mb:
        [old] = mb.list_new()

        dovecot.delete_folder("Intake")
        dovecot.create_folder("Intake")
        dovecot.append(make_mail(2), folder="Intake")

        with pytest.raises(MailboxError, match="UIDVALIDITY"):
            list(mb.fetch([old]))
        with pytest.raises(MailboxError, match="UIDVALIDITY"):
            mb.move(old, FOLDER_FILED)
        [new] = mb.list_new()

    assert new.uid == old.uid
    assert new.uidvalidity != old.uidvalidity
    assert new.source_key != old.source_key
    assert new.source_key == f"Intake;{new.uidvalidity};{new.uid}"
    assert dovecot.folder_uids("Intake") == [new.uid]
