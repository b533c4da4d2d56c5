"""The database side of the flow: what is already known, and filing a
decision together with its reply in one transaction.

A mail is claimed by two unique keys: (mailbox, source_key) for "this
delivery", and the business key for "this mail": the digest of what its
author wrote, Message-ID included (see ``sameness``). Both are written in the
same transaction as the submission and its reply, so a crash anywhere leaves
either everything or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import sqlalchemy as sa
from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, func, select

from mailintake.rules import Finding
from mailintake.store.database import durable
from mailintake.store.database import session as open_session
from mailintake.store.models import (
    Attachment,
    InboundMessage,
    OutboxMessage,
    Status,
    Submission,
)
from mailintake.store.models import (
    Finding as FindingRow,
)


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
_NUMBER = (
    update(Submission).where(col(Submission.id) == bindparam("row"))
    .values(tracking_no=bindparam("number"))
)
_ACCEPTED_COUNT = select(func.count()).select_from(Submission).where(
    Submission.unit_id == bindparam("unit_id"),
    Submission.status == Status.ACCEPTED,
    Submission.received_at >= bindparam("start"),
    Submission.received_at < bindparam("end"),
)


def first_delivery(
    db: Session, key: str, legacy: str = "", same: Callable[[str], bool] | None = None
) -> int | None:
    """The id of the mail recorded first as this same mail (business key ``key``), if any.

    A mail recorded before keys named the content holds its ``legacy`` key
    instead; it is this mail when ``same`` says so of its raw sha256.
    """
    rows = db.connection().execute(_FIRST_DELIVERY, {"keys": [key, legacy]}).all()
    for row_id, row_key, raw_sha256 in sorted(rows, key=lambda row: row[1] != key):
        if row_key == key or same is None or same(raw_sha256):
            found: int = row_id
            return found
    return None


@dataclass
class StoredFile:
    filename: str
    content_type: str
    kind: str
    size: int
    sha256: str
    stored_path: str
    width: int | None = None
    height: int | None = None


@dataclass
class Filing:
    """Everything one transaction writes for one mail."""

    message: InboundMessage
    submission: Submission | None = None
    findings: list[Finding] = field(default_factory=list)
    files: list[StoredFile] = field(default_factory=list)
    # (kind, recipient, subject, raw bytes); built once the tracking number is known.
    reply: OutboxMessage | None = None


def tracking_number(submission: Submission, local_day: str) -> str:
    return f"{local_day}-{submission.id:05d}"


def save(db: Session, filing: Filing) -> None:
    """Insert the message and, if any, the submission with its findings and files.

    Each row is one Core INSERT on the session's connection, in its
    transaction: this is the busiest path of the intake, and the ORM's unit of
    work cost about 1.5 ms a flush, several times the statements it ran. The
    objects get their ids but stay out of the session. A unique-key clash on
    the message means another process recorded it first (AlreadyClaimed).
    The caller queues the reply and commits.
    """
    _or_claimed(db, partial(insert_row, db, filing.message))
    submission = filing.submission
    if submission is None:
        return
    submission.message_id = filing.message.id  # type: ignore[assignment]
    insert_row(db, submission)
    run = db.connection().execute
    if filing.findings:
        run(insert(FindingRow), [
            {"submission_id": submission.id, "code": f.code, "severity": f.severity,
             "message": f.message, "hint": f.hint} for f in filing.findings
        ])
    if filing.files:
        run(insert(Attachment), [
            {"submission_id": submission.id, **stored.__dict__} for stored in filing.files
        ])


def insert_row(db: Session, row: SQLModel) -> None:
    """INSERT ``row`` (a new model object) as it stands, and give it its id."""
    table = sa.inspect(type(row)).local_table
    values = {column.key: getattr(row, column.key) for column in table.columns
              if not column.primary_key}
    key = db.connection().execute(insert(table), values).inserted_primary_key
    assert key is not None
    row.id = key[0]


def number(db: Session, submission: Submission, local_day: str) -> None:
    """Give a saved submission its tracking number (which is made of its id)."""
    submission.tracking_no = tracking_number(submission, local_day)
    params = {"row": submission.id, "number": submission.tracking_no}
    db.connection().execute(_NUMBER, params)


def commit_or_claimed(db: Session) -> None:
    """Commit; a unique-key clash means another process got there first."""
    _or_claimed(db, db.commit)


def flush_or_claimed(db: Session) -> None:
    """Flush; a unique-key clash means another process recorded this first."""
    _or_claimed(db, db.flush)


def _or_claimed(db: Session, write: Callable[[], None]) -> None:
    try:
        write()
    except IntegrityError as exc:
        db.rollback()
        raise AlreadyClaimed(str(exc.orig)) from exc


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


def stored_files(engine: Engine, message_id: int) -> list[tuple[str, int]]:
    """(path under the storage root, size) of each file kept from this mail's piece."""
    with open_session(engine) as db:
        rows = db.exec(
            select(Attachment.stored_path, Attachment.size)
            .join(Submission, col(Attachment.submission_id) == col(Submission.id))
            .where(Submission.message_id == message_id)
        ).all()
    return [(path, size) for path, size in rows]


def accepted_count(db: Session, unit_id: int, start: datetime, end: datetime) -> int:
    """Accepted pieces of a unit received in [start, end)."""
    params = {"unit_id": unit_id, "start": start, "end": end}
    count: int = db.connection().execute(_ACCEPTED_COUNT, params).scalar_one()
    return count


def queue(db: Session, outbox: OutboxMessage) -> None:
    """Put a reply in the outbox, in the caller's transaction (see ``save``)."""
    insert_row(db, outbox)
