r"""An IMAP account's folders: where each folder lives on the server, creating
outcome folders, and moving mail into them.

Mails are addressed by UID and keyed on (folder, UIDVALIDITY, UID); every
fetch and move checks UIDVALIDITY first, because a recreated folder reuses
UIDs and a stale UID must never touch somebody else's mail. Where folders
live and how a mail is moved differ between servers: see ``mailbox.imap``.
"""

from __future__ import annotations

import imaplib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from mailintake.mailbox.base import MailboxError, MailRef
from mailintake.mailbox.imap_connection import ImapConnection, refused

log = logging.getLogger("mailintake.imap")

T = TypeVar("T")


@dataclass(frozen=True)
class FolderTrial:
    """What ``ImapMailbox.try_folders`` found out about the server."""

    #: Where outcome folders are created: "" (top level) or e.g. "INBOX.".
    prefix: str
    #: How a mail is moved: "MOVE", else COPY and then "UID EXPUNGE", or without
    #: UIDPLUS "EXPUNGE" (no one else's mail was flagged \Deleted) or "FLAG"
    #: (someone's was: the original stays flagged, see ``mailbox.imap``).
    method: str


@dataclass(frozen=True)
class ServerFacts:
    """What ``ImapFolders.server_facts`` found out about the server."""

    #: Whether the server offers the ID command.
    has_id: bool
    #: Every folder's name as the server lists it.
    folders: frozenset[str]


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class ImapFolders(ImapConnection):
    """An IMAP connection that knows the account's folders and moves mail between them."""

    def __init__(self, *, folder: str = "INBOX", batch_size: int = 50, **connection: Any
                 ) -> None:
        super().__init__(**connection)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.folder = folder
        self.batch_size = batch_size
        self._selected: tuple[str, int] | None = None  # (folder, UIDVALIDITY)
        self._known_folders: set[str] | None = None
        self._delimiter = ""  # INBOX's hierarchy delimiter, as LIST showed it
        # Personal namespace, e.g. "INBOX." on Courier or Cyrus: from NAMESPACE, or
        # learnt from a refused CREATE; None while unknown.
        self._prefix: str | None = None
        # UIDs this mailbox flagged \Deleted without expunging them, per (folder,
        # UIDVALIDITY): a plain EXPUNGE is safe only while they are all there is.
        self._flagged: dict[tuple[str, int], set[int]] = {}

    def _connected(self, conn: Any) -> None:
        if conn.has_capability("NAMESPACE"):
            personal = conn.namespace().personal
            self._prefix = str(personal[0][0]) if personal else ""
            self._delimiter = str(personal[0][1] or "") if personal else ""

    def _forget(self) -> None:
        self._selected = None
        self._known_folders = None

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
                if not refused(exc):
                    raise
                if not refused(exc, "ALREADYEXISTS"):
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
                if not refused(exc):
                    raise
                log.warning("Could not subscribe IMAP folder %s: %s", name, exc)
        log.info("Created IMAP folder %s on %s", name, self.host)
        existing.add(name)
        return name
    def server_facts(self) -> ServerFacts:
        """Whether the server offers ID, and every folder it lists (for ``doctor``)."""
        with self._guard("list folders"):
            conn = self._client()
            return ServerFacts(has_id=bool(conn.has_capability("ID")),
                               folders=frozenset(str(entry[2]) for entry in conn.list_folders()))

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
                for batch in chunks(refs, self.batch_size):
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
            retry_expunged(conn, partial(self._transfer, conn, uids, name))
        except imaplib.IMAP4.error as exc:
            if not refused(exc, "TRYCREATE"):
                raise
            self._known_folders = None  # a clerk deleted the folder since we listed
            name = self._ensure_folder(conn, target)
            retry_expunged(conn, partial(self._transfer, conn, uids, name))
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


def _test_mail(address: str, message_id: str) -> bytes:
    """The mail ``try_folders`` moves: plain ASCII, addressed to the account itself."""
    return (
        f"From: mailintake <{address}>\r\nTo: <{address}>\r\n"
        "Subject: mailintake folder test\r\n"
        f"Message-ID: <{message_id}>\r\n"
        "Auto-Submitted: auto-generated\r\n\r\n"
        "A test of creating folders and moving mail; it is deleted at once.\r\n"
    ).encode()


def retry_expunged(conn: Any, action: Callable[[], T]) -> T:
    """Run ``action``; when some UIDs were expunged by another session
    (EXPUNGEISSUED), let a NOOP update our view and run it once more, so the
    remaining UIDs are still handled."""
    try:
        return action()
    except imaplib.IMAP4.error as exc:
        if not refused(exc, "EXPUNGEISSUED"):
            raise
        conn.noop()
        return action()

