r"""The intake mailbox over IMAP, on top of imapclient.

Why it looks the way it does (see /work/shared/FIELD-NOTES.md): mails are
addressed by UID and keyed on (folder, UIDVALIDITY, UID), and every fetch and
move checks UIDVALIDITY first, because a recreated folder reuses UIDs and a
stale UID must never touch somebody else's mail. Bodies are read with
BODY.PEEK[] and processed mail is moved, never marked read. IMAP ID is sent
after LOGIN on every connection (NetEase refuses SELECT without it). Searches
are ASCII-only. Every network call has a timeout and every failure becomes one
English ``MailboxError`` line (host, operation, cause; never the password) so
the daemon can log it and reconnect with backoff.

Servers differ in three ways that matter here:

- **Where folders live.** Cyrus and Courier keep personal folders under
  ``INBOX.`` and refuse 已处理 at the top level. The prefix comes from
  NAMESPACE when the server offers it; otherwise a refused CREATE is tried
  again as a child of INBOX, with the delimiter LIST shows for INBOX.
- **How a mail is moved.** MOVE where offered; else COPY, flag \Deleted and
  UID EXPUNGE of exactly our UIDs (UIDPLUS). Without UIDPLUS only a plain
  EXPUNGE exists, and it removes every \Deleted mail of the folder, a
  clerk's too: it is sent only when every \Deleted mail there is one this
  mailbox flagged itself. Otherwise ours stay flagged (already copied, and
  no longer listed) until the clerk's own client expunges the folder.
- **Mail a clerk deleted.** A mail flagged \Deleted is not listed: the
  clerk meant it gone, and it may vanish at any moment.
"""

from __future__ import annotations

import imaplib
import logging
import re
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import Any

from mailintake.mailbox.base import MailRef
from mailintake.mailbox.imap_connection import (
    ImapError,
    Security,
    call_with_reconnect,
    default_retry_wait,
    reconnect_with_backoff,
)
from mailintake.mailbox.imap_folders import (
    FolderTrial,
    ImapFolders,
    ServerFacts,
    chunks,
    retry_expunged,
)

__all__ = [
    "HEADER_BYTES", "MAX_IDLE_SECONDS", "PIECE_BYTES", "FolderTrial", "ImapError", "ImapMailbox",
    "ServerFacts", "call_with_reconnect", "default_retry_wait", "reconnect_with_backoff",
]

log = logging.getLogger("mailintake.imap")

#: Servers drop an IDLE after 30 minutes (RFC 2177: re-issue within 29).
MAX_IDLE_SECONDS = 25 * 60
#: A mail bigger than this is fetched in pieces of this size.
PIECE_BYTES = 4 * 1024 * 1024
#: The most of an oversized mail ever downloaded: its header section, cut here.
HEADER_BYTES = 256 * 1024
#: How long one idle_check may block when the caller may interrupt the wait.
_IDLE_SLICE = 1.0
#: Size and date are small, so listing uses bigger batches than bodies do.
_LIST_BATCH = 500


def _batches(refs: list[MailRef], size: int) -> Iterator[list[MailRef]]:
    """Up to ``size`` mails per FETCH, in order; a mail over PIECE_BYTES on its own."""
    batch: list[MailRef] = []
    for ref in refs:
        if ref.size > PIECE_BYTES:
            if batch:
                yield batch
                batch = []
            yield [ref]
            continue
        batch.append(ref)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _aware(value: object) -> datetime | None:
    """INTERNALDATE with a plain ``datetime.timezone`` instead of imapclient's FixedOffset."""
    if not isinstance(value, datetime) or (offset := value.utcoffset()) is None:
        return None
    return value.replace(tzinfo=timezone(offset))


class ImapMailbox(ImapFolders):
    """One IMAP account and intake folder, implementing the ``Mailbox`` protocol.

    Listing, fetching and waiting for mail are here; the connection is
    ``ImapConnection``'s (``imap_connection``), the folders and moving mail
    ``ImapFolders``' (``imap_folders``).
    """

    fetch_on_thread = True

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security,
        username: str,
        password: str,
        folder: str = "INBOX",
        ca_file: str | None = None,
        connect_timeout: float = 15.0,
        read_timeout: float = 120.0,
        batch_size: int = 50,
        client_id: dict[str, str] | None = None,
        support_email: str = "postmaster@localhost",
    ) -> None:
        super().__init__(
            host=host, port=port, security=security, username=username, password=password,
            folder=folder, ca_file=ca_file, connect_timeout=connect_timeout,
            read_timeout=read_timeout, batch_size=batch_size, client_id=client_id,
            support_email=support_email,
        )
        self.name = f"imap://{username}@{host}:{port}/{folder}"
        # (UIDVALIDITY, UIDNEXT) at the last list_new(): higher UIDs are new mail.
        self._listed: tuple[int, int] | None = None

    def list_new(self) -> list[MailRef]:
        """Every mail in the intake folder with size and arrival time, lowest UID first."""
        refs: list[MailRef] = []
        with self._guard(f"list {self.folder}"):
            conn = self._client()
            uidvalidity, uidnext = self._select(conn, self.folder)
            # A mail a clerk flagged \Deleted is theirs to expunge, not ours to file.
            uids = sorted(int(uid) for uid in conn.search(["UNDELETED"]))
            for batch in chunks(uids, max(self.batch_size, _LIST_BATCH)):
                data = conn.fetch(batch, ["RFC822.SIZE", "INTERNALDATE"])
                for uid in batch:
                    item = data.get(uid, {})
                    if b"RFC822.SIZE" not in item:
                        continue  # expunged by someone else meanwhile
                    refs.append(
                        MailRef(
                            source_key=f"{self.folder};{uidvalidity};{uid}",
                            folder=self.folder,
                            size=int(item[b"RFC822.SIZE"]),
                            uid=uid,
                            uidvalidity=uidvalidity,
                            internaldate=_aware(item.get(b"INTERNALDATE")),
                        )
                    )
            self._listed = (uidvalidity, max([uidnext, *(uid + 1 for uid in uids)]))
        return refs

    def fetch(self, refs: Iterable[MailRef]) -> Iterator[tuple[MailRef, bytes]]:
        """Raw bytes of each mail, ``batch_size`` per round trip, never setting \\Seen.

        A mail that vanished from the folder is skipped; a changed UIDVALIDITY
        raises MailboxError.
        """
        for folder, group in groupby(refs, key=attrgetter("folder")):
            for batch in _batches(list(group), self.batch_size):
                if batch[0].size > PIECE_BYTES:
                    body = self._fetch_in_pieces(folder, batch[0])
                    if body is not None:
                        yield batch[0], body
                    continue
                with self._guard(f"fetch from {folder}"):
                    conn = self._client()
                    self._check_refs(conn, folder, batch, fresh=True)
                    uids = [ref.uid for ref in batch]
                    data = retry_expunged(conn, partial(conn.fetch, uids, ["BODY.PEEK[]"]))
                for ref in batch:
                    body = data.get(ref.uid, {}).get(b"BODY[]")
                    if body is None:
                        log.info("%s vanished before it was fetched; skipped", ref.source_key)
                        continue
                    yield ref, bytes(body)

    def _fetch_in_pieces(self, folder: str, ref: MailRef) -> bytes | None:
        """One big mail, PIECE_BYTES per round trip: imapclient holds a few copies of
        each literal it parses, which for a whole 40 MB mail is 150 MB at once."""
        pieces: list[bytes] = []
        while True:
            offset = sum(map(len, pieces))
            with self._guard(f"fetch from {folder}"):
                conn = self._client()
                self._check_refs(conn, folder, [ref], fresh=not pieces)
                item = f"BODY.PEEK[]<{offset}.{PIECE_BYTES}>"
                data = retry_expunged(conn, partial(conn.fetch, [ref.uid], [item]))
            piece = data.get(ref.uid, {}).get(f"BODY[]<{offset}>".encode())
            if piece is None:
                log.info("%s vanished before it was fetched; skipped", ref.source_key)
                return None
            pieces.append(bytes(piece))
            del data, piece
            if len(pieces[-1]) < PIECE_BYTES:
                return b"".join(pieces)

    def fetch_headers(self, ref: MailRef) -> bytes:
        """The header section of one mail, at most HEADER_BYTES of it, never setting \\Seen.

        An oversized mail is recorded and answered from this alone: its body is
        never downloaded. A mail that vanished meanwhile gives b"".
        """
        with self._guard(f"fetch headers from {ref.folder}"):
            conn = self._client()
            self._check_refs(conn, ref.folder, [ref], fresh=False)
            item = f"BODY.PEEK[HEADER]<0.{HEADER_BYTES}>"
            data = retry_expunged(conn, partial(conn.fetch, [ref.uid], [item]))
        head = data.get(ref.uid, {}).get(b"BODY[HEADER]<0>")
        return bytes(head) if head is not None else b""

    def wait_for_mail(
        self, timeout: float, interrupted: Callable[[], bool] | None = None
    ) -> bool:
        """Block until new mail may have arrived in the intake folder, or ``timeout``.

        With IDLE the server pushes EXISTS within a second of delivery; one IDLE
        lasts at most 25 minutes. Mail that arrived since the last
        ``list_new()`` returns True at once, so nothing slips between listing
        and idling. Without IDLE this sleeps and returns True: the caller polls.
        ``interrupted`` is asked every second or so; when it says so the wait
        ends early and returns False.
        """
        if not self.supports_idle:
            time.sleep(max(0.0, timeout))
            return True
        deadline = time.monotonic() + min(max(0.0, timeout), MAX_IDLE_SECONDS)
        slice_ = _IDLE_SLICE if interrupted is not None else MAX_IDLE_SECONDS
        with self._guard(f"IDLE on {self.folder}"):
            conn = self._client()
            uidvalidity, uidnext = self._select(conn, self.folder)
            if self._listed and (self._listed[0] != uidvalidity or uidnext > self._listed[1]):
                return True
            conn.idle()
            arrived = _told_already(conn)
            while not arrived and (remaining := deadline - time.monotonic()) > 0:
                if interrupted is not None and interrupted():
                    break
                responses = conn.idle_check(timeout=min(remaining, slice_))
                # imapclient reports a closed connection as "nothing new", and a
                # server shutting down says BYE: both must end in a reconnect.
                if any(r and r[0] == b"BYE" for r in responses) or (
                    not responses and _peer_closed(conn.socket())
                ):
                    raise imaplib.IMAP4.abort("the server closed the connection during IDLE")
                # idle_check also returns "OK Still here", EXPUNGE, FETCH ...
                arrived = any(
                    len(r) >= 2
                    and isinstance(r[0], int)
                    and (r[1] == b"EXISTS" or (r[1] == b"RECENT" and r[0] > 0))
                    for r in responses
                )
            conn.idle_done()
        return arrived


#: An untagged line saying the folder holds more mail.
_NEW_MAIL = re.compile(rb"^\* (?:\d+ EXISTS|[1-9]\d* RECENT)\r?$", re.MULTILINE)


def _told_already(conn: Any) -> bool:
    """Whether the server said "new mail" with its go-ahead to IDLE. A mail that came
    between SELECT and IDLE is announced at once, often in the same packet as "+
    idling": reading that line, imaplib's buffer took the announcement too, where
    polling the socket (``idle_check``) never sees it, and the mail would wait for the
    IDLE to end (25 minutes). The buffer is looked at without waiting; the lines stay
    for ``idle_done`` to read."""
    buffered = getattr(getattr(conn, "_imap", None), "file", None)  # imaplib's reader
    if buffered is None:
        return False
    sock = conn.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        pending = buffered.peek(1)  # the buffer, else one read that does not wait
    except (BlockingIOError, ssl.SSLWantReadError):
        pending = b""
    finally:
        sock.settimeout(timeout)
    return bool(pending and _NEW_MAIL.search(pending))


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the server closed the TCP connection (peeking below any TLS layer)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:  # readable, so this returns at once: b"" is the end of the stream
        return socket.socket.recv(sock, 1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False

