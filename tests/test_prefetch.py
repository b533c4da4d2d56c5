"""Fetching a group ahead on a thread, against a real Dovecot (no mocks)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dovecot import Dovecot
from test_imap_mailbox import make_mailbox

from mailintake.intake import prefetch
from mailintake.intake.prefetch import Prefetch
from mailintake.mailbox.base import FOLDER_FILED, MailboxError


def mail(n: int, size: int = 200_000) -> bytes:
    """A CRLF mail of about ``size`` bytes, different from every other."""
    line = os.urandom(38).hex()  # 76 characters, like base64 lines
    body = "\r\n".join(line for _ in range(size // 78))
    return (f"From: teacher{n}@example.test\r\nSubject: piece {n}\r\n"
            f"Message-ID: <ahead-{n}@example.test>\r\n\r\n{body}\r\n").encode()


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups of about two mails, so a few mails make several FETCHes."""
    monkeypatch.setattr(prefetch, "FETCH_BYTES", 450_000)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with Dovecot() as d:
        yield d


def test_mails_come_in_order_whole_while_the_caller_moves_on_the_same_connection(
    dovecot: Dovecot, small_groups: None
) -> None:
    """The thread fetches while the caller moves each mail it got: IMAP takes one
    operation at a time, and every mail comes out once, byte for byte, in order."""
    raws = [mail(n) for n in range(12)]
    dovecot.append_many(raws)
    with make_mailbox(dovecot) as box:
        refs = box.list_new()
        assert len(list(prefetch.groups(refs))) >= 6
        got = []
        ahead = Prefetch(box, refs)
        try:
            for ref, raw in ahead:
                got.append((ref.uid, raw))
                box.move_many([(ref, FOLDER_FILED)])
        finally:
            ahead.close()
    assert [uid for uid, _raw in got] == [ref.uid for ref in refs]
    assert [raw for _uid, raw in got] == raws
    assert dovecot.folder_uids("INBOX") == []


def test_an_error_comes_after_the_mails_fetched_before_it(
    dovecot: Dovecot, small_groups: None
) -> None:
    """The server goes away mid-way: the mails already fetched are handed out, then
    the iteration raises the thread's MailboxError."""
    dovecot.append_many([mail(n) for n in range(10)])
    with make_mailbox(dovecot, read_timeout=5.0) as box:
        refs = box.list_new()
        ahead = Prefetch(box, refs)
        got = []
        try:
            with pytest.raises(MailboxError):
                for ref, _raw in ahead:
                    got.append(ref)
                    if len(got) == 1:
                        dovecot.stop()
        finally:
            ahead.close()
    assert 1 <= len(got) < len(refs)
    assert got == refs[:len(got)]


def test_closing_early_stops_the_thread_and_lets_go_of_the_mails(
    dovecot: Dovecot, small_groups: None
) -> None:
    """A stop after the first mail: the thread ends after its FETCH in flight, and
    nothing fetched ahead is kept."""
    dovecot.append_many([mail(n) for n in range(12)])
    with make_mailbox(dovecot) as box:
        ahead = Prefetch(box, box.list_new())
        first = next(iter(ahead))
        ahead.close()
        assert first[0].uid is not None
        assert not ahead._thread.is_alive()
        assert not ahead._ready
        assert box.list_new()  # the connection is still fine for the caller
