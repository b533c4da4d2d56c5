"""Delivered mails: which are recorded, the claim on "this mail", and the moves.

A mail is claimed by two unique keys: (mailbox, source_key) for "this
delivery", and the business key for "this mail": the digest of what its
author wrote, Message-ID included (see ``reading.sameness``). Both are written
in the transaction that files the mail (``store.pieces.file``), so a second
process that got there first shows as ``AlreadyClaimed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from mailintake.store.database import durable
from mailintake.store.database import session as open_session
from mailintake.store.models import (
    Attachment,
    InboundMessage,
    OutboxMessage,
    Outcome,
    Submission,
)
from mailintake.store.outbox import with_message_id

#: The database itself failed (connection lost, locked): nothing of the mail in hand
#: was committed, and the next cycle reads it again.
DatabaseUnavailable = OperationalError


class AlreadyClaimed(Exception):
    """Another process filed this delivery or this mail first."""


def business_key(digest: str, kind: str = "mail") -> str:
    """The claim on "this mail": ``mail:`` and ``sameness.digest``, or for a mail known by its
    headers alone (an oversize one), ``head:`` and ``sameness.head_digest``."""
    return f"{kind}:{digest}"


def legacy_key(message_id: str, raw_sha256: str) -> str:
    """The claim earlier versions made on a mail: its Message-ID, else its raw bytes' sha256."""
    return f"mid:{message_id.lower()}" if message_id else f"sha256:{raw_sha256}"


def recorded(engine: Engine, mailbox: str, keys: Iterable[str]) -> dict[str, InboundMessage]:
    """The rows already recorded for these deliveries, by source_key."""
    keys = list(keys)
    found: dict[str, InboundMessage] = {}
    with open_session(engine) as db:
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = db.exec(
                select(InboundMessage).where(
                    InboundMessage.mailbox == mailbox,
                    col(InboundMessage.source_key).in_(chunk),
                )
            ).all()
            found.update({row.source_key: row for row in rows})
    return found


# Asked for every mail: built once, since building a statement costs several
# times what SQLite takes to run it.
_FIRST_DELIVERY = select(
    InboundMessage.id, InboundMessage.business_key, InboundMessage.raw_sha256,
).where(col(InboundMessage.business_key).in_(bindparam("keys", expanding=True)))


def first_delivery(
    engine: Engine, key: str, legacy: str = "", same: Callable[[str], bool] | None = None
) -> int | None:
    """The id of the mail recorded first as this same mail (business key ``key``), if any.

    A mail recorded before keys named the content holds its ``legacy`` key
    instead; it is this mail when ``same`` says so of its raw sha256.
    """
    with engine.connect() as connection:
        rows = connection.execute(_FIRST_DELIVERY, {"keys": [key, legacy]}).all()
    for row_id, row_key, raw_sha256 in sorted(rows, key=lambda row: row[1] != key):
        if row_key == key or same is None or same(raw_sha256):
            found: int = row_id
            return found
    return None


def stored_files(engine: Engine, message_id: int) -> list[tuple[str, int]]:
    """(path under the storage root, size) of each file kept from this mail's piece."""
    with open_session(engine) as db:
        rows = db.exec(
            select(Attachment.stored_path, Attachment.size)
            .join(Submission, col(Attachment.submission_id) == col(Submission.id))
            .where(Submission.message_id == message_id)
        ).all()
    return [(path, size) for path, size in rows]


def mark_moved(engine: Engine, message_id: int, now: datetime) -> None:
    with open_session(engine) as db:
        row = db.get(InboundMessage, message_id)
        if row is not None and row.moved_at is None:
            row.moved_at = now
            db.add(row)
            db.commit()


def mark_moved_many(engine: Engine, message_ids: list[int], now: datetime) -> None:
    """Note that these mails reach their outcome folders, in one durable transaction:
    once it returns, so are the records of these mails (see ``database.durable``)."""
    if not message_ids:
        return
    with engine.connect() as connection, durable(connection), connection.begin():
        for start in range(0, len(message_ids), 500):
            connection.execute(
                update(InboundMessage)
                .where(col(InboundMessage.id).in_(message_ids[start:start + 500]),
                       col(InboundMessage.moved_at).is_(None))
                .values(moved_at=now)
            )


def unmark_moved(engine: Engine, message_ids: list[int]) -> None:
    """Take back the note of a move that failed: these mails are still where they were."""
    if not message_ids:
        return
    with engine.begin() as connection:
        for start in range(0, len(message_ids), 500):
            connection.execute(
                update(InboundMessage)
                .where(col(InboundMessage.id).in_(message_ids[start:start + 500]))
                .values(moved_at=None)
            )


# ------------------------------------------------------------ retrying a mail


def get(engine: Engine, message_id: int) -> InboundMessage | None:
    with open_session(engine) as db:
        return db.get(InboundMessage, message_id)


def release_claim(engine: Engine, message_id: int) -> str | None:
    """Take the "same mail" key off a recorded mail, so it can be decided again as a
    new delivery; the key it held (put it back with ``restore_claim``)."""
    with open_session(engine) as db:
        row = db.get(InboundMessage, message_id)
        if row is None:
            return None
        key, row.business_key = row.business_key, None
        db.add(row)
        db.commit()
    return key


def restore_claim(engine: Engine, message_id: int, key: str | None) -> None:
    with open_session(engine) as db:
        row = db.get(InboundMessage, message_id)
        assert row is not None
        row.business_key = key
        db.add(row)
        db.commit()


def mark_retried(engine: Engine, message_id: int, new_id: int) -> None:
    """The old record of a retried mail keeps its history and points at the new one."""
    with open_session(engine) as db:
        row = db.get(InboundMessage, message_id)
        assert row is not None
        row.outcome, row.reasons, row.duplicate_of_id = Outcome.IGNORED, ["retried"], new_id
        db.add(row)
        db.commit()


class NotHeld(Exception):
    """The mail is no longer waiting for a person (another clerk settled it)."""


def settle_held(engine: Engine, message_id: int, *, outcome: Outcome, reasons: list[str],
                folder: str, reply: OutboxMessage | None = None) -> InboundMessage:
    """Settle a mail held for a person (待人工) as a clerk decided, with the reply it
    gets, in one transaction; NotHeld when somebody settled it first."""
    with open_session(engine) as db:
        settled = db.connection().execute(
            update(InboundMessage)
            .where(col(InboundMessage.id) == message_id,
                   col(InboundMessage.outcome) == Outcome.QUARANTINED)
            .values(outcome=outcome, reasons=reasons, target_folder=folder)
        ).rowcount
        if settled != 1:
            db.rollback()
            raise NotHeld(message_id)
        if reply is not None:
            db.add(with_message_id(reply))
        db.commit()
        row = db.get(InboundMessage, message_id)
        assert row is not None
        return row


# ------------------------------------------------------------ claims in a transaction


def commit_or_claimed(db: Session) -> None:
    """Commit; a unique-key clash means another process got there first."""
    or_claimed(db, db.commit)


def flush_or_claimed(db: Session) -> None:
    """Flush; a unique-key clash means another process recorded this first."""
    or_claimed(db, db.flush)


def or_claimed(db: Session, write: Callable[[], object]) -> None:
    try:
        write()
    except IntegrityError as exc:
        db.rollback()
        raise AlreadyClaimed(str(exc.orig)) from exc
