"""The tables: units and their correspondents, every mail the mailbox
delivered, the submissions filed from them, and the outbox of replies.

Times are always timezone-aware; UIDs and UIDVALIDITY are unsigned 32-bit on
the wire, so they are BigInteger here. Schema changes go through Alembic
(``mailintake/migrations``), never through ``create_all``.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


class AwareDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC and gives back aware datetimes, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: mailintake stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(**kw: Any) -> Any:
    return Field(sa_type=AwareDateTime, **kw)


class Outcome(enum.StrEnum):
    """What became of one delivered mail."""

    FILED = "filed"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"
    IGNORED = "ignored"


class Status(enum.StrEnum):
    """The state of a submission."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kind: str = Field(max_length=20)
    active: bool = True
    # Pieces per quota period, overriding the default for the unit's kind.
    quota: int | None = None
    created_at: datetime = _when(default_factory=utcnow)


class Correspondent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    title: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=50)
    active: bool = True


class CorrespondentAddress(SQLModel, table=True):
    __tablename__ = "correspondent_address"

    id: int | None = Field(default=None, primary_key=True)
    correspondent_id: int = Field(foreign_key="correspondent.id", index=True)
    # Lower-cased; one address belongs to one correspondent.
    address: str = Field(unique=True, max_length=254)


class CorrespondentUnit(SQLModel, table=True):
    __tablename__ = "correspondent_unit"

    correspondent_id: int = Field(foreign_key="correspondent.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)


class InboundMessage(SQLModel, table=True):
    """One delivery by the mailbox: every mail that ever arrived has a row."""

    __tablename__ = "inbound_message"
    __table_args__ = (sa.UniqueConstraint("mailbox", "source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(max_length=300)
    source_key: str = Field(max_length=500)
    folder: str = Field(max_length=200)
    uidvalidity: int | None = Field(default=None, sa_type=sa.BigInteger)
    uid: int | None = Field(default=None, sa_type=sa.BigInteger)
    # "Is this the same mail": the normalized Message-ID, or sha256:<hex> when
    # it has none. Set only on the first delivery, so a duplicate can be
    # recorded (as ignored) without breaking the uniqueness.
    business_key: str | None = Field(default=None, unique=True, max_length=600)
    duplicate_of_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    message_id: str = Field(default="", max_length=1000)
    raw_sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_type=sa.BigInteger)
    from_addr: str = Field(default="", max_length=320)
    from_name: str = Field(default="", max_length=200)
    subject: str = Field(default="")
    sent_at: datetime | None = _when(default=None)
    received_at: datetime = _when()
    outcome: Outcome = Field(sa_type=sa.String(20))
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    error: str = ""
    defects: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The outcome folder the mail must end in, and whether it is there yet.
    target_folder: str = Field(max_length=200)
    moved_at: datetime | None = _when(default=None)


class Submission(SQLModel, table=True):
    """A piece filed from a mail: accepted, or rejected with its findings."""

    id: int | None = Field(default=None, primary_key=True)
    tracking_no: str | None = Field(default=None, unique=True, max_length=40)
    message_id: int = Field(foreign_key="inbound_message.id", unique=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    correspondent_id: int | None = Field(default=None, foreign_key="correspondent.id")
    column: str = Field(default="", max_length=40)
    title: str = ""
    author: str = Field(default="", max_length=50)
    event_date: date | None = None
    week_no: int | None = None
    status: Status = Field(sa_type=sa.String(20))
    word_count: int = 0
    picture_count: int = 0
    text: str = Field(default="", sa_type=sa.Text)
    received_at: datetime = _when(index=True)


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    kind: str = Field(max_length=20)  # document, picture, other
    size: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(max_length=64)
    # Relative to [storage] dir.
    stored_path: str = Field(max_length=1000)
    width: int | None = None
    height: int | None = None


class Finding(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    code: str = Field(max_length=60)
    severity: str = Field(max_length=10)
    message: str
    hint: str = ""


class OutboxMessage(SQLModel, table=True):
    """A reply waiting to go out; queued in the transaction that decided it."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    # One reply per reason: "reply:<inbound id>", "reminder:<unit>:<period>".
    dedup_key: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=20)
    recipient: str = Field(max_length=320)
    subject: str
    raw: bytes = Field(sa_type=sa.LargeBinary)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=sa.String(20), index=True)
    attempts: int = 0
    last_error: str = ""
    created_at: datetime = _when(default_factory=utcnow)
    next_attempt_at: datetime = _when(default_factory=utcnow)
    sent_at: datetime | None = _when(default=None)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
