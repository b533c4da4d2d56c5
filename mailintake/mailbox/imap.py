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
import ipaddress
import logging
import re
import select
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import Any, Literal, NoReturn, TypeVar

import tenacity
from imapclient import IMAPClient, SocketTimeout
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from mailintake.mailbox.base import MailboxError, MailRef

log = logging.getLogger("mailintake.imap")

Security = Literal["tls", "starttls", "none"]
T = TypeVar("T")

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


class ImapError(MailboxError):
    """A MailboxError that also keeps the failed operation and the bare cause."""

    def __init__(self, message: str, *, operation: str, cause: str) -> None:
        super().__init__(message)
        self.operation = operation
        self.cause = cause


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (no DNS lookup: a name could lie)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _package_version() -> str:
    import mailintake

    return mailintake.__version__


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


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


@dataclass(frozen=True)
class FolderTrial:
    """What ``ImapMailbox.try_folders`` found out about the server."""

    #: Where outcome folders are created: "" (top level) or e.g. "INBOX.".
    prefix: str
    #: How a mail is moved: "MOVE", else COPY and then "UID EXPUNGE", or without
    #: UIDPLUS "EXPUNGE" (no one else's mail was flagged \Deleted) or "FLAG"
    #: (someone's was: the original stays flagged, see the module docstring).
    method: str


def _refused(exc: Exception, marker: str = "") -> bool:
    """A NO/BAD answer mentioning ``marker`` (a broken connection is never one)."""
    return not isinstance(exc, imaplib.IMAP4.abort) and marker in str(exc).upper()


class ImapMailbox:
    """One IMAP account and intake folder, implementing the ``Mailbox`` protocol.

    The connection opens lazily at the first operation and is dropped after any
    failure (its state is unknown then); the next operation, or ``reconnect()``,
    opens a fresh one. Operations from several threads take turns on it, one
    command (or one FETCH of a batch) at a time.
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
        if security not in ("tls", "starttls", "none"):
            raise ValueError(f"security must be tls, starttls or none, not {security!r}")
        if security == "none" and not is_loopback(host):
            raise MailboxError(
                f"refusing plain-text IMAP to {host}: the password would cross the network "
                "unencrypted; use security tls or starttls (plain is for loopback only)"
            )
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.host, self.port, self.security = host, port, security
        self.username, self._password, self.folder = username, password, folder
        self.ca_file = ca_file
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.batch_size = batch_size
        self.client_id = client_id or {
            "name": "mailintake",
            "version": _package_version(),
            "vendor": "mailintake",
            "support-email": support_email,
        }
        self.name = f"imap://{username}@{host}:{port}/{folder}"
        self._conn: Any = None  # an IMAPClient; imapclient ships no type hints
        self._selected: tuple[str, int] | None = None  # (folder, UIDVALIDITY)
        self._known_folders: set[str] | None = None
        self._delimiter = ""  # INBOX's hierarchy delimiter, as LIST showed it
        # Personal namespace, e.g. "INBOX." on Courier or Cyrus: from NAMESPACE, or
        # learnt from a refused CREATE; None while unknown.
        self._prefix: str | None = None
        # UIDs this mailbox flagged \Deleted without expunging them, per (folder,
        # UIDVALIDITY): a plain EXPUNGE is safe only while they are all there is.
        self._flagged: dict[tuple[str, int], set[int]] = {}
        # (UIDVALIDITY, UIDNEXT) at the last list_new(): higher UIDs are new mail.
        self._listed: tuple[int, int] | None = None
        self._turn = threading.RLock()  # held for each operation (see _guard)

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection now rather than at the first operation."""
        if self._conn is None:
            self._connect()

    def reconnect(self) -> None:
        """Drop the current connection (without waiting on it) and open a new one."""
        self._drop()
        self._connect()

    def close(self) -> None:
        """Log out quietly; a dead connection is simply discarded."""
        if self._conn is not None:
            with suppress(Exception):
                self._conn.logout()
        self._drop()

    @property
    def supports_idle(self) -> bool:
        """Whether the server offers IDLE (connects if needed)."""
        with self._guard("capability check"):
            return bool(self._client().has_capability("IDLE"))

    def _ssl_context(self) -> ssl.SSLContext:
        # Certificate and host name checks stay on; ca_file trusts a private CA.
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> None:
        with self._guard("connect"):
            tls = self.security == "tls"
            self._conn = conn = IMAPClient(
                self.host,
                port=self.port,
                ssl=tls,
                ssl_context=self._ssl_context() if tls else None,
                timeout=SocketTimeout(connect=self.connect_timeout, read=self.read_timeout),
            )
            if self.security == "starttls":
                conn.starttls(self._ssl_context())
                conn.socket().settimeout(self.read_timeout)
            conn.normalise_times = False  # timezone-aware INTERNALDATE
            _quiet(conn)
            _keep_alive(conn.socket())
            conn.login(self.username, self._password)
            if conn.has_capability("ID"):
                try:
                    conn.id_(self.client_id)
                except imaplib.IMAP4.error as exc:
                    if not _refused(exc):
                        raise
                    # A server that insists on ID will refuse SELECT next, itself.
                    log.warning("IMAP server %s rejected the ID command: %s", self.host, exc)
            if conn.has_capability("NAMESPACE"):
                personal = conn.namespace().personal
                self._prefix = str(personal[0][0]) if personal else ""
                self._delimiter = str(personal[0][1] or "") if personal else ""
            log.info("Connected to IMAP %s:%d as %s", self.host, self.port, self.username)

    def _client(self) -> Any:
        if self._conn is None:
            self._connect()
        return self._conn

    def _drop(self) -> None:
        """Discard the connection without a LOGOUT round trip (it may be hanging)."""
        conn, self._conn = self._conn, None
        self._selected = None
        self._known_folders = None
        if conn is not None:
            with suppress(Exception):
                conn.shutdown()

    @contextmanager
    def _guard(self, operation: str) -> Iterator[None]:
        """Own the connection for one operation; turn library, socket and TLS errors
        into one-line ImapErrors."""
        with self._turn:
            try:
                yield
            except MailboxError:
                raise
            except (imaplib.IMAP4.error, OSError) as exc:
                self._fail(operation, exc)

    def _fail(self, operation: str, exc: Exception) -> NoReturn:
        self._drop()
        cause = " ".join(f"{type(exc).__name__}: {exc}".split()).rstrip(": ")
        cause = re.sub(r"\bb'([^']*)'", r"\1", cause)  # imapclient shows bytes reprs
        if self._password:
            cause = cause.replace(self._password, "***")
        message = f"IMAP {operation} on {self.host}:{self.port} failed: {cause}"
        raise ImapError(message, operation=operation, cause=cause) from exc

    def _select(self, conn: Any, folder: str) -> tuple[int, int]:
        """SELECT read-write; returns (UIDVALIDITY, UIDNEXT or 0)."""
        response = conn.select_folder(self._server_name(conn, folder), readonly=False)
        uidvalidity = int(response[b"UIDVALIDITY"])
        self._selected = (folder, uidvalidity)
        return uidvalidity, int(response.get(b"UIDNEXT", 0))

    def _check_refs(self, conn: Any, folder: str, refs: list[MailRef], *, fresh: bool) -> None:
        """Refuse UIDs from another incarnation of the folder."""
        if fresh or self._selected is None or self._selected[0] != folder:
            self._select(conn, folder)
        assert self._selected is not None
        uidvalidity = self._selected[1]
        for ref in refs:
            if ref.uid is None or ref.uidvalidity is None:
                raise MailboxError(f"{ref.source_key} is not an IMAP mail reference")
            if ref.uidvalidity != uidvalidity:
                raise MailboxError(
                    f"UIDVALIDITY of {folder} on {self.host} changed from {ref.uidvalidity} "
                    f"to {uidvalidity}; {ref.source_key} is stale, list the folder again"
                )

    def _folders(self, conn: Any) -> set[str]:
        """Every folder's name on the server (listed once per connection), noting
        INBOX's delimiter."""
        if self._known_folders is None:
            listed = conn.list_folders()
            self._known_folders = {str(name) for _flags, _delim, name in listed}
            for _flags, delimiter, name in listed:
                if str(name).upper() == "INBOX" and delimiter and not self._delimiter:
                    self._delimiter = delimiter.decode() if isinstance(delimiter, bytes) \
                        else str(delimiter)
        return self._known_folders

    def _candidates(self, folder: str) -> list[str]:
        """Server-side names ``folder`` may have, the likeliest first."""
        if folder.upper() == "INBOX":
            return [folder]
        if self._prefix and not folder.startswith(self._prefix):
            names = [self._prefix + folder]
        else:
            names = [folder]
        under_inbox = f"INBOX{self._delimiter}" if self._delimiter else ""
        if under_inbox and not names[0].upper().startswith(under_inbox.upper()):
            names.append(under_inbox + folder)
        return names

    def _server_name(self, conn: Any, folder: str) -> str:
        """The name ``folder`` has on the server: as written, or under the personal prefix."""
        if folder.upper() == "INBOX":
            return folder
        existing = self._folders(conn)
        return next((n for n in self._candidates(folder) if n in existing), folder)

    def _ensure_folder(self, conn: Any, folder: str, *, subscribe: bool = True) -> str:
        """The server-side name of an outcome folder, created (and subscribed) if missing.

        Where the server refuses it at the top level (Cyrus, Courier without
        NAMESPACE), it is created under INBOX instead, and that prefix is kept.
        """
        existing = self._folders(conn)
        candidates = self._candidates(folder)
        found = next((n for n in candidates if n in existing), None)
        if found is not None:
            return found
        refusals = []
        for name in candidates:
            try:
                conn.create_folder(name)  # imapclient encodes 已处理 as modified UTF-7
            except imaplib.IMAP4.error as exc:
                if not _refused(exc):
                    raise
                if not _refused(exc, "ALREADYEXISTS"):
                    refusals.append(f"CREATE {name}: {exc}")
                    continue
            break
        else:
            raise imaplib.IMAP4.error(f"cannot create folder {folder}: {'; '.join(refusals)}")
        if refusals:
            log.warning("IMAP server %s refused folder %s at the top level (%s); "
                        "using %s", self.host, folder, refusals[0], name)
            self._prefix = name[: len(name) - len(folder)]
        if subscribe:
            try:
                conn.subscribe_folder(name)  # web mail often shows subscribed folders only
            except imaplib.IMAP4.error as exc:
                if not _refused(exc):
                    raise
                log.warning("Could not subscribe IMAP folder %s: %s", name, exc)
        log.info("Created IMAP folder %s on %s", name, self.host)
        existing.add(name)
        return name

    def list_new(self) -> list[MailRef]:
        """Every mail in the intake folder with size and arrival time, lowest UID first."""
        refs: list[MailRef] = []
        with self._guard(f"list {self.folder}"):
            conn = self._client()
            uidvalidity, uidnext = self._select(conn, self.folder)
            # A mail a clerk flagged \Deleted is theirs to expunge, not ours to file.
            uids = sorted(int(uid) for uid in conn.search(["UNDELETED"]))
            for batch in _chunks(uids, max(self.batch_size, _LIST_BATCH)):
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
                    data = _retry_expunged(conn, partial(conn.fetch, uids, ["BODY.PEEK[]"]))
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
                data = _retry_expunged(conn, partial(conn.fetch, [ref.uid], [item]))
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
            data = _retry_expunged(conn, partial(conn.fetch, [ref.uid], [item]))
        head = data.get(ref.uid, {}).get(b"BODY[HEADER]<0>")
        return bytes(head) if head is not None else b""

    def move(self, ref: MailRef, folder: str) -> None:
        """Move one mail to ``folder`` (created if missing); a vanished mail is fine."""
        self.move_many([(ref, folder)])

    def move_many(self, pairs: Iterable[tuple[MailRef, str]]) -> None:
        """Move mails with one MOVE (or COPY + UID EXPUNGE) per target folder and batch.

        A failure names, in ``MailboxError.moved``, the mails moved before it.
        """
        groups: dict[tuple[str, str], list[MailRef]] = {}
        for ref, target in pairs:
            groups.setdefault((ref.folder, target), []).append(ref)
        done: list[MailRef] = []
        try:
            for (source, target), refs in groups.items():
                for batch in _chunks(refs, self.batch_size):
                    with self._guard(f"move from {source} to {target}"):
                        self._move_batch(self._client(), source, target, batch)
                    done += batch
        except MailboxError as exc:
            exc.moved = tuple(done)
            raise

    def _move_batch(self, conn: Any, source: str, target: str, refs: list[MailRef]) -> None:
        name = self._ensure_folder(conn, target)
        self._check_refs(conn, source, refs, fresh=False)
        uids = [ref.uid for ref in refs if ref.uid is not None]
        try:
            _retry_expunged(conn, partial(self._transfer, conn, uids, name))
        except imaplib.IMAP4.error as exc:
            if not _refused(exc, "TRYCREATE"):
                raise
            self._known_folders = None  # a clerk deleted the folder since we listed
            name = self._ensure_folder(conn, target)
            _retry_expunged(conn, partial(self._transfer, conn, uids, name))
        log.debug("Moved UIDs %s from %s to %s", uids, source, name)

    def _transfer(self, conn: Any, uids: list[int], target: str) -> None:
        if conn.has_capability("MOVE"):
            conn.move(uids, target)
            return
        conn.copy(uids, target)
        conn.add_flags(uids, [b"\\Deleted"], silent=True)
        if conn.has_capability("UIDPLUS"):
            conn.uid_expunge(uids)  # only ours, not what a clerk marked \Deleted
            return
        assert self._selected is not None
        ours = self._flagged.setdefault(self._selected, set())
        ours.update(uids)
        flagged = {int(uid) for uid in conn.search(["DELETED"])}
        if flagged <= ours:
            conn.expunge()  # every \Deleted mail here is one we copied
            ours.clear()
        else:
            log.info("IMAP server %s lacks UIDPLUS and %s holds mail flagged \\Deleted by "
                     "someone else; %d copied mail(s) stay flagged until it is expunged",
                     self.host, self._selected[0], len(ours & flagged))
            ours.intersection_update(flagged)

    def try_folders(self) -> FolderTrial:
        """Create a scratch folder the way outcome folders are created, move a test mail
        from the intake folder into it the way mail is moved, then delete the folder.

        The test mail is put in the intake folder already flagged \\Deleted, so no
        intake (this one or a daemon running meanwhile) ever lists it. Each step fails
        with an ImapError whose ``operation`` names it: "create test folder", "append
        test mail", "move test mail", "check test mail" or "delete test folder". A
        server that will not flag mail deleted in the intake folder may refuse the
        move and keep the test mail there, listed: the operation then says so. It
        is from the account to itself and auto-generated, so an intake records it
        as a robot's and never answers it.
        """
        folder = f"mailintake-test-{uuid.uuid4().hex[:8]}"
        message_id = f"{uuid.uuid4().hex}@mailintake.invalid"
        created: list[str] = []
        try:
            with self._guard("create test folder"):
                created.append(self._ensure_folder(self._client(), folder, subscribe=False))
            with self._guard("append test mail"):
                conn = self._client()
                conn.append(self._server_name(conn, self.folder),
                            _test_mail(self.username, message_id),
                            flags=[b"\\Seen", b"\\Deleted"])
                uidvalidity, _next = self._select(conn, self.folder)
                [uid] = conn.search(["HEADER", "Message-ID", message_id])
                # A server that may not flag mail deleted here drops the flag silently.
                flagged = b"\\Deleted" in conn.get_flags([uid]).get(uid, ())
            ref = MailRef(source_key=f"{self.folder};{uidvalidity};{uid}", folder=self.folder,
                          size=0, uid=int(uid), uidvalidity=uidvalidity)
            left_over = "" if flagged else f" (the test mail stays in {self.folder})"
            with self._guard("move test mail" + left_over):
                self._move_batch(self._client(), self.folder, folder, [ref])
            with self._guard("check test mail"):
                conn = self._client()  # the intake folder is still selected
                left = conn.search(["HEADER", "Message-ID", message_id])
                arrived = conn.folder_status(created[0], [b"MESSAGES"])[b"MESSAGES"]
                method = ("MOVE" if conn.has_capability("MOVE")
                          else "UID EXPUNGE" if conn.has_capability("UIDPLUS")
                          else "FLAG" if left else "EXPUNGE")
                if arrived != 1 or (left and method != "FLAG"):
                    raise imaplib.IMAP4.error(
                        f"after the move {self.folder} holds {len(left)} test mail(s) and "
                        f"{created[0]} {arrived}; expected 0 and 1")
        except BaseException:
            try:
                self._delete_folders(created)
            except MailboxError as exc:  # the first failure is the one to report
                log.warning("%s", exc)
            raise
        self._delete_folders(created)
        return FolderTrial(prefix=created[0][: len(created[0]) - len(folder)], method=method)

    def _delete_folders(self, names: list[str]) -> None:
        """Delete scratch folders; a failure names the folders left behind."""
        if not names:
            return
        with self._guard(f"delete test folder {', '.join(names)}"):
            conn = self._client()
            for name in names:
                conn.delete_folder(name)
                if self._known_folders is not None:
                    self._known_folders.discard(name)

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
            arrived = False
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


def _test_mail(address: str, message_id: str) -> bytes:
    """The mail ``try_folders`` moves: plain ASCII, addressed to the account itself."""
    return (
        f"From: mailintake <{address}>\r\nTo: <{address}>\r\n"
        "Subject: mailintake folder test\r\n"
        f"Message-ID: <{message_id}>\r\n"
        "Auto-Submitted: auto-generated\r\n\r\n"
        "A test of creating folders and moving mail; it is deleted at once.\r\n"
    ).encode()


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the server closed the TCP connection (peeking below any TLS layer)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:  # readable, so this returns at once: b"" is the end of the stream
        return socket.socket.recv(sock, 1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False


def _quiet(conn: IMAPClient) -> None:
    """Keep imaplib from describing every response nobody will read.

    imapclient sets imaplib's debug level to 5 and hands the messages to the
    ``imapclient.imaplib`` logger; imaplib builds each of them first, the
    repr() of every literal included, twice. For a mail of 340 KB that was
    four fifths of the CPU a FETCH costs. Where that logger is at DEBUG,
    the protocol is logged in full as before.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        conn._imap.debug = 0


def _keep_alive(sock: socket.socket) -> None:
    """TCP keepalive, so a server or NAT gateway that silently vanished is noticed in
    about two minutes, not when a 25-minute IDLE ends."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _retry_expunged(conn: Any, action: Callable[[], T]) -> T:
    """Run ``action``; when some UIDs were expunged by another session
    (EXPUNGEISSUED), let a NOOP update our view and run it once more, so the
    remaining UIDs are still handled."""
    try:
        return action()
    except imaplib.IMAP4.error as exc:
        if not _refused(exc, "EXPUNGEISSUED"):
            raise
        conn.noop()
        return action()


# ------------------------------------------------------------- reconnecting


def default_retry_wait() -> wait_base:
    """1 s, 2 s, 4 s ... up to 5 minutes, plus jitter so restarts do not stampede."""
    return tenacity.wait_exponential(multiplier=1, max=300) + tenacity.wait_random(0, 3)


def _retrying(
    mailbox: ImapMailbox, retry_wait: wait_base | None, stop: stop_base | None
) -> tenacity.Retrying:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        cause = exc.cause if isinstance(exc, ImapError) else str(exc)
        delay = state.next_action.sleep if state.next_action else 0.0
        where = f"{mailbox.host}:{mailbox.port}"
        log.warning("IMAP connection to %s failed (%s); retrying in %.0f s", where, cause, delay)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(MailboxError),
        wait=retry_wait if retry_wait is not None else default_retry_wait(),
        stop=stop if stop is not None else tenacity.stop_never,
        before_sleep=before_sleep,
        reraise=True,
    )


def reconnect_with_backoff(
    mailbox: ImapMailbox, *, retry_wait: wait_base | None = None, stop: stop_base | None = None
) -> None:
    """Reconnect until it works, logging one line per failure on ``mailintake.imap``.

    ``stop`` (default: never) ends the attempts by raising the last MailboxError;
    ``retry_wait`` defaults to ``default_retry_wait()`` (tests pass ``wait_none()``).
    """
    for attempt in _retrying(mailbox, retry_wait, stop):
        with attempt:
            mailbox.reconnect()


def call_with_reconnect(
    mailbox: ImapMailbox,
    operation: Callable[[], T],
    *,
    retry_wait: wait_base | None = None,
    stop: stop_base | None = None,
) -> T:
    """Run ``operation``; after a MailboxError, reconnect with backoff and run it again.

    For idempotent operations (listing, moving, waiting) only; a generator such
    as ``fetch`` has to be restarted by the caller instead.
    """
    for attempt in _retrying(mailbox, retry_wait, stop):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                mailbox.reconnect()
            return operation()
    raise AssertionError("unreachable: tenacity returns or raises")
