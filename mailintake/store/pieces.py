"""Filing one decided mail: its record, its piece, and its reply, in one transaction.

A crash anywhere leaves either everything or nothing; a unique-key clash on
the mail (another process recorded this delivery, or this same mail, first)
is ``AlreadyClaimed`` and leaves nothing either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, func, select

from mailintake.rules.decide import Entry
from mailintake.rules.gates import Reply
from mailintake.store import history, solicitations
from mailintake.store.database import session as open_session
from mailintake.store.messages import commit_or_claimed, flush_or_claimed, or_claimed
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
from mailintake.store.outbox import with_message_id
from mailintake.store.solicitations import Answered


class Compose(Protocol):
    """Builds the reply once the mail (and its piece, numbered) has its id: from the
    record, the piece (None for a mail that is not one), the unit's tally and the
    request for a piece (约稿) it answers, if any."""

    def __call__(
        self, *, message: InboundMessage, submission: Submission | None, tally: int,
        solicited: Answered | None = None,
    ) -> OutboxMessage: ...


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
    # The piece, as decided; None for a mail that is only recorded.
    entry: Entry | None = None
    files: list[StoredFile] = field(default_factory=list)
    # The office-local day the tracking number starts with (20261119).
    day: str = ""
    # The period [start, end) in which the reply counts the unit's accepted pieces.
    tally: tuple[datetime, datetime] | None = None
    reply: Reply | None = None


def file(
    engine: Engine, filing: Filing, compose: Compose | None = None,
    during: Callable[[Session], object] | None = None,
) -> Submission | None:
    """Record the mail and, for a piece, file it with its number; queue its reply.

    ``during`` runs in the same transaction once the mail is recorded (for a
    mail that is not a piece). Returns the piece filed, if any.
    """
    with open_session(engine) as db:
        if filing.entry is None:
            _record(db, filing, compose, during)
            return None
        submission = _piece(db, filing, filing.entry)
        unit = filing.entry.unit
        solicited = None
        if filing.entry.solicited and filing.entry.accepted and unit is not None:
            solicited = solicitations.link(db, filing.entry.solicited, unit.id, submission,
                                           filing.message.received_at)
        if compose is not None and filing.reply is not None:
            count = accepted_count(db, unit.id, *filing.tally) if unit and filing.tally else 0
            queue(db, compose(message=filing.message, submission=submission, tally=count,
                              solicited=solicited))
        commit_or_claimed(db)
        return submission


def _record(
    db: Session, filing: Filing, compose: Compose | None,
    during: Callable[[Session], object] | None,
) -> None:
    message = filing.message
    db.add(message)
    flush_or_claimed(db)
    if during is not None:
        during(db)
    reply = filing.reply
    if compose is not None and reply is not None and not _answered_lately(db, message, reply):
        queue(db, compose(message=message, submission=None, tally=0))
    commit_or_claimed(db)


def _answered_lately(db: Session, message: InboundMessage, reply: Reply) -> bool:
    """Whether a reply of this kind went to this sender within ``reply.every``."""
    if reply.every is None:
        return False
    recent = db.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.recipient == message.from_addr,
            OutboxMessage.kind == reply.kind,
            OutboxMessage.created_at > message.received_at - reply.every,
        )
    ).first()
    return recent is not None


def _piece(db: Session, filing: Filing, entry: Entry) -> Submission:
    message = filing.message
    submission = Submission(
        message_id=0, unit_id=entry.unit.id if entry.unit else None,
        correspondent_id=entry.correspondent_id,
        column=entry.column.key if entry.column else "", title=entry.title,
        author=entry.author, event_date=entry.event_date, week_no=entry.week_no,
        status=Status.ACCEPTED if entry.accepted else Status.REJECTED,
        word_count=entry.word_count, picture_count=entry.picture_count, text=entry.text,
        pictures=entry.pictures, received_at=message.received_at,
        counted_at=entry.counted_at or message.received_at,
    )
    history.stamp(submission, entry.history)
    _save(db, filing, submission)
    history.remember(db, submission, entry.history)  # a correction supersedes the earlier version
    number(db, submission, filing.day)
    return submission


def _save(db: Session, filing: Filing, submission: Submission) -> None:
    """Insert the message, the submission, its findings and files.

    Each row is one Core INSERT on the session's connection, in its
    transaction: this is the busiest path of the intake, and the ORM's unit of
    work cost about 1.5 ms a flush, several times the statements it ran. The
    objects get their ids but stay out of the session.
    """
    or_claimed(db, partial(insert_row, db, filing.message))
    submission.message_id = filing.message.id  # type: ignore[assignment]
    insert_row(db, submission)
    run = db.connection().execute
    findings = filing.entry.findings if filing.entry else []
    if findings:
        run(insert(FindingRow), [
            {"submission_id": submission.id, "code": f.code, "severity": f.severity,
             "message": f.message, "hint": f.hint} for f in findings
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


_NUMBER = (
    update(Submission).where(col(Submission.id) == bindparam("row"))
    .values(tracking_no=bindparam("number"))
)
_ACCEPTED_COUNT = select(func.count()).select_from(Submission).where(
    Submission.unit_id == bindparam("unit_id"),
    Submission.status == Status.ACCEPTED,
    Submission.counted_at >= bindparam("start"),
    Submission.counted_at < bindparam("end"),
)


def tracking_number(submission: Submission, local_day: str) -> str:
    return f"{local_day}-{submission.id:05d}"


def number(db: Session, submission: Submission, local_day: str) -> None:
    """Give a saved submission its tracking number (which is made of its id)."""
    submission.tracking_no = tracking_number(submission, local_day)
    params = {"row": submission.id, "number": submission.tracking_no}
    db.connection().execute(_NUMBER, params)


def accepted_count(db: Session, unit_id: int, start: datetime, end: datetime) -> int:
    """Accepted pieces of a unit counted in [start, end)."""
    params = {"unit_id": unit_id, "start": start, "end": end}
    count: int = db.connection().execute(_ACCEPTED_COUNT, params).scalar_one()
    return count


def queue(db: Session, outbox: OutboxMessage) -> None:
    """Put a reply in the outbox, in the caller's transaction."""
    insert_row(db, with_message_id(outbox))
