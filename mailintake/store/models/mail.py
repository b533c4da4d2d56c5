"""The mail side's tables: units and their correspondents, every mail the
mailbox delivered, the pieces filed from them with their files and findings,
and the outbox of replies."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from mailintake.store.models.base import no_items, utcnow, when


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
    # Replaced by a corrected version re-sent with the same subject; counts no more.
    SUPERSEDED = "superseded"


#: A piece's state as the clerk reads it, in the console, the lists and the reports.
STATUS_LABELS = {"accepted": "已登记", "rejected": "已退回", "superseded": "已被更正稿替换"}

class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # Not sent because the address bounced; the digest lists it with the failed ones.
    HELD = "held"


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    aliases: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    kind: str = Field(max_length=20)
    active: bool = True
    # Pieces per quota period, overriding the default for the unit's kind.
    quota: int | None = None
    # The leader in charge of the unit's information work (负责领导, seed 000/003).
    leader: str = Field(default="", max_length=50)
    created_at: datetime = when(default_factory=utcnow)


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


#: How a piece reached the office (``InboundMessage.via``), as a clerk reads it.
VIA_LABELS = {"": "邮件", "qq": "QQ", "paper": "纸质", "other": "其他"}


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
    # "Is this the same mail": mail:<digest of its authored headers, Message-ID
    # among them, and body> (head:<...> for an oversize mail known by its
    # headers alone; mid:<Message-ID> or sha256:<raw> in rows of earlier
    # versions). Set only on the first delivery, so a duplicate can be
    # recorded (as ignored) without breaking the uniqueness.
    business_key: str | None = Field(default=None, unique=True, max_length=600)
    duplicate_of_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    message_id: str = Field(default="", max_length=1000)
    raw_sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_type=sa.BigInteger)
    from_addr: str = Field(default="", max_length=320)
    from_name: str = Field(default="", max_length=200)
    subject: str = Field(default="")
    sent_at: datetime | None = when(default=None)
    received_at: datetime = when()
    outcome: Outcome = Field(sa_type=sa.String(20))
    reasons: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    error: str = ""
    defects: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    # The outcome folder the mail must end in, and whether it is there yet.
    target_folder: str = Field(max_length=200)
    moved_at: datetime | None = when(default=None)
    # How the piece reached the office: "" by mail; "qq", "paper" or "other" for
    # a piece the clerk filed from the console (no mailbox delivered it).
    via: str = Field(default="", max_length=20)


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
    # Every picture read (in the Word file, attached, shown in the body), each
    # {source, filename, format, width, height (as displayed), caption, floating}.
    pictures: list[dict[str, Any]] = Field(
        default_factory=no_items, sa_column=Column(JSON, nullable=False)
    )
    received_at: datetime = when(index=True)
    # The moment the piece counts at for quotas, reminders, the digest and reports:
    # local midnight of the Monday of the teaching week its subject names, or of
    # the date it names; its arrival when the subject carries neither.
    counted_at: datetime = when(index=True)
    # sha256 of the normalized text ("" when too short to compare): the same
    # document whatever file it came in (mailintake/history.py).
    text_hash: str = Field(default="", max_length=64, index=True)
    # The subject as compared for corrections (columns.subject_key).
    subject_key: str = Field(default="", max_length=300, index=True)
    # Corrections: version 2 replaces version 1, which becomes superseded.
    version: int = 1
    # Indexed: a piece's page looks up the version that replaced it.
    replaces_id: int | None = Field(default=None, foreign_key="submission.id", index=True)


class TextBand(SQLModel, table=True):
    """One LSH band of a filed piece's MinHash signature.

    A new piece is compared only with the pieces sharing a band with it, so
    finding nearly the same text does not mean reading every piece ever filed.
    """

    __tablename__ = "text_band"

    # The band's number and its rows, hashed to 64 bits.
    band: int = Field(primary_key=True, sa_type=sa.BigInteger)
    submission_id: int = Field(foreign_key="submission.id", primary_key=True)


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
    # Indexed: the rate limit and the bounce check look up replies per address.
    recipient: str = Field(max_length=320, index=True)
    subject: str
    raw: bytes = Field(sa_type=sa.LargeBinary)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=sa.String(20), index=True)
    attempts: int = 0
    last_error: str = ""
    created_at: datetime = when(default_factory=utcnow)
    next_attempt_at: datetime = when(default_factory=utcnow)
    sent_at: datetime | None = when(default=None)
    # Indexed: a piece's page shows the replies to its mail.
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id", index=True)
    # The Message-ID our mail goes out with (no angle brackets), so an answer to it
    # (In-Reply-To / References) is known as one.
    message_id: str = Field(default="", max_length=300, index=True)


class ReplyBounce(SQLModel, table=True):
    """A delivery report saying one of our replies found no mailbox.

    While ``until`` lies ahead, replies to ``address`` are held, not sent: a
    robot that keeps bouncing must not get a reply to every bounce, and the
    office learns of the dead address from the digest.
    """

    __tablename__ = "reply_bounce"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=320, index=True)
    # The enhanced status code (RFC 3463), e.g. "5.1.1", and the server's words.
    status: str = Field(max_length=20)
    diagnostic: str = Field(default="", max_length=1000)
    bounced_at: datetime = when()
    until: datetime = when(index=True)
    # The report that said so (absent when the SMTP server refused at once).
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
