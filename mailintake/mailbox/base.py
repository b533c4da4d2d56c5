"""The mailbox as the rest of mailintake sees it.

A mailbox lists the mails waiting in its intake folder, hands over their raw
bytes and moves each one to an outcome folder once the database has recorded
what became of it. Nothing here knows about the database, and nothing outside
``mailintake.mailbox`` knows about IMAP or Maildir.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# The outcome folders, as a clerk sees them in a web mail client.
FOLDER_FILED = "已处理"
FOLDER_REJECTED = "已退回"
FOLDER_REVIEW = "待人工"
OUTCOME_FOLDERS = (FOLDER_FILED, FOLDER_REJECTED, FOLDER_REVIEW)


class MailboxError(Exception):
    """The mailbox could not be reached or refused an operation."""

    #: When ``move_many`` fails: the mails it had moved before it did.
    moved: tuple[MailRef, ...] = ()


@dataclass(frozen=True)
class MailRef:
    """One mail waiting in the intake folder.

    ``source_key`` identifies this delivery in this mailbox for as long as the
    mail stays where it is: ``"INBOX;<uidvalidity>;<uid>"`` for IMAP, the
    Maildir key for a Maildir. ``size`` is known before the body is read, so an
    oversized mail never has to be downloaded.
    """

    source_key: str
    folder: str
    size: int
    uid: int | None = None
    uidvalidity: int | None = None
    internaldate: datetime | None = None


class Mailbox(Protocol):
    """What the pipeline needs from a mailbox."""

    #: A stable name for this mailbox (account and folder), used to scope
    #: ``source_key`` in the database when several mailboxes share it.
    name: str
    #: Whether ``fetch`` may run on another thread while this one moves mail
    #: (see ``mailintake.intake.prefetch``): worth it where fetching waits on a network.
    fetch_on_thread: bool

    def list_new(self) -> list[MailRef]:
        """Every mail currently in the intake folder, oldest first."""
        ...

    def fetch(self, refs: Iterable[MailRef]) -> Iterator[tuple[MailRef, bytes]]:
        """The raw bytes of each mail, in batches where the protocol allows."""
        ...

    def move(self, ref: MailRef, folder: str) -> None:
        """Move one mail to an outcome folder, creating the folder if needed.

        Moving a mail that is no longer in the intake folder is not an error:
        a crash between a move and its bookkeeping must be repairable.
        """
        ...

    def move_many(self, pairs: Iterable[tuple[MailRef, str]]) -> None:
        """Move several mails, each to its folder, in as few round trips as the protocol allows."""
        ...

    def close(self) -> None:
        """Release the connection or lock, if any."""
        ...
