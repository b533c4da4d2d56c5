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


# pydantic inspects a default factory's signature every time a row is made, and
# reading the signature of a builtin such as ``list`` costs a third of a
# millisecond; these plain functions cost a few microseconds.
def _no_items() -> list[Any]:
    return []


def _no_entries() -> dict[str, Any]:
    return {}


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
    # Replaced by a corrected version re-sent with the same subject; counts no more.
    SUPERSEDED = "superseded"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # Not sent because the address bounced; the digest lists it with the failed ones.
    HELD = "held"


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    aliases: list[str] = Field(default_factory=_no_items, sa_column=Column(JSON, nullable=False))
    kind: str = Field(max_length=20)
    active: bool = True
    # Pieces per quota period, overriding the default for the unit's kind.
    quota: int | None = None
    # The leader in charge of the unit's information work (负责领导, seed 000/003).
    leader: str = Field(default="", max_length=50)
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
    sent_at: datetime | None = _when(default=None)
    received_at: datetime = _when()
    outcome: Outcome = Field(sa_type=sa.String(20))
    reasons: list[str] = Field(default_factory=_no_items, sa_column=Column(JSON, nullable=False))
    error: str = ""
    defects: list[str] = Field(default_factory=_no_items, sa_column=Column(JSON, nullable=False))
    # The outcome folder the mail must end in, and whether it is there yet.
    target_folder: str = Field(max_length=200)
    moved_at: datetime | None = _when(default=None)
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
        default_factory=_no_items, sa_column=Column(JSON, nullable=False)
    )
    received_at: datetime = _when(index=True)
    # The moment the piece counts at for quotas, reminders, the digest and reports:
    # local midnight of the Monday of the teaching week its subject names, or of
    # the date it names; its arrival when the subject carries neither.
    counted_at: datetime = _when(index=True)
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
    created_at: datetime = _when(default_factory=utcnow)
    next_attempt_at: datetime = _when(default_factory=utcnow)
    sent_at: datetime | None = _when(default=None)
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
    bounced_at: datetime = _when()
    until: datetime = _when(index=True)
    # The report that said so (absent when the SMTP server refused at once).
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")


class Adoption(SQLModel, table=True):
    """A piece the office published (采用) in one channel; a revoked one is kept."""

    __table_args__ = (
        sa.UniqueConstraint("submission_id", "channel", "item", name="uq_adoption_piece_item"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id")
    channel: str = Field(max_length=40)
    # 0 for the whole piece; n for item n of a weekly digest (每周动态逐条采用, seed 003).
    item: int = Field(default=0, ge=0)
    brief: bool = False
    # Unit id (as text: JSON keys) -> its share of a joint piece (合稿); shares sum to 1.
    shares: dict[str, float] = Field(
        default_factory=_no_entries, sa_column=Column(JSON, nullable=False)
    )
    adopted_at: datetime = _when(index=True)
    revoked_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=utcnow)


class PointEntry(SQLModel, table=True):
    """One line of the points ledger (积分台账): who earned what, when, and why.

    A period's score is the sum of its lines; a correction is a new line
    (a revoked adoption adds the same points negated), never an edit.
    """

    __tablename__ = "point"
    __table_args__ = (
        sa.Index("ix_point_earned_unit", "earned_at", "unit_id"),
        sa.Index("ix_point_kind_submission", "kind", "submission_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    correspondent_id: int | None = Field(default=None, foreign_key="correspondent.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    adoption_id: int | None = Field(default=None, foreign_key="adoption.id", index=True)
    kind: str = Field(max_length=20)  # submission, adoption, quota
    channel: str = Field(default="", max_length=40)
    # Pieces this line is about: 1 per piece or adoption (−1 when revoked), pieces missing.
    quantity: int = 0
    points: float = Field(sa_type=sa.Numeric(10, 2, asdecimal=False))
    reason: str = Field(max_length=500)
    # The scoring period of a quota line (2026-11).
    period: str = Field(default="", max_length=40)
    earned_at: datetime = _when()
    # Lines written by settlement carry a key, so settling twice writes nothing twice.
    entry_key: str | None = Field(default=None, unique=True, max_length=120)
    created_at: datetime = _when(default_factory=utcnow)


class Runtime(SQLModel, table=True):
    """The daemon's last successful cycle per mailbox, for ``mailintake status``."""

    mailbox: str = Field(primary_key=True, max_length=300)
    # host:pid of the process that ran it (several instances may share a database).
    instance: str = Field(default="", max_length=300)
    last_cycle_at: datetime = _when()
    seen: int = 0
    filed: int = 0
    rejected: int = 0
    quarantined: int = 0
    replies_sent: int = 0
    # The last time the mailbox could not be reached, and why (the console's status page).
    last_error: str = Field(default="", max_length=500)
    last_error_at: datetime | None = _when(default=None)


class ConsoleUser(SQLModel, table=True):
    """A person who may log in to the web console (``mailintake users``)."""

    __tablename__ = "console_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    # clerk, admin or viewer (read only).
    role: str = Field(max_length=20)
    # argon2id, in its PHC string form.
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = _when(default_factory=utcnow)


class ConsoleSession(SQLModel, table=True):
    """A login: the cookie holds the token, the database only its sha256."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="console_user.id", index=True)
    # The CSRF token every form of this login carries (bound to the session).
    csrf: str = Field(max_length=64)
    created_at: datetime = _when(default_factory=utcnow)
    expires_at: datetime = _when(index=True)


class Audit(SQLModel, table=True):
    """One change made in the console, or a login: who, when, what, on what."""

    id: int | None = Field(default=None, primary_key=True)
    who: str = Field(max_length=100)
    at: datetime = _when(index=True)
    action: str = Field(max_length=40)
    # What it was done to: "piece:20261119-00003", "unit:12", "user:lihua".
    target: str = Field(default="", max_length=200, index=True)
    detail: str = Field(default="", sa_type=sa.Text)


class Bulletin(SQLModel, table=True):
    """The 通报 of one period (``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``).

    One row per period: composed and previewed, then sent once; a resend is
    explicit and counts in ``sends`` (its outbox keys carry the count).
    """

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(unique=True, max_length=40)
    # The clerk's free text before the tables.
    preface: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)
    # The last send: when, by whom, to how many addresses, and the text that went out.
    sent_at: datetime | None = _when(default=None)
    sent_by: str = Field(default="", max_length=100)
    sends: int = 0
    recipients: int = 0
    sent_text: str = Field(default="", sa_type=sa.Text)


class Solicitation(SQLModel, table=True):
    """A request (约稿) for a piece on a topic by a deadline, to one or more units."""

    id: int | None = Field(default=None, primary_key=True)
    # What a subject carries to answer it: 【约稿2026-003】 (number per year).
    number: str = Field(unique=True, max_length=40)
    topic: str = Field(max_length=200)
    request: str = Field(default="", sa_type=sa.Text)
    deadline: datetime = _when(index=True)
    # Points for each answering piece, besides the usual ones (None: none).
    points: float | None = Field(default=None, sa_type=sa.Numeric(10, 2, asdecimal=False))
    created_at: datetime = _when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)
    closed_at: datetime | None = _when(default=None)


class SolicitationUnit(SQLModel, table=True):
    """One unit asked by a solicitation, and the piece that answered it."""

    __tablename__ = "solicitation_unit"

    solicitation_id: int = Field(foreign_key="solicitation.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    answered_at: datetime | None = _when(default=None)


class Briefing(SQLModel, table=True):
    """An issue of the office's own 简报: 第 N 期 of its year, never repeated."""

    __table_args__ = (sa.UniqueConstraint("year", "number", name="uq_briefing_issue"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int
    number: int
    title: str = Field(max_length=200)
    issued_on: date
    # The Word file made, relative to [storage] dir.
    stored_path: str = Field(default="", max_length=1000)
    created_at: datetime = _when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)


class BriefingPiece(SQLModel, table=True):
    """A piece carried by a 简报, in order, with the adoption recorded for it."""

    __tablename__ = "briefing_piece"

    briefing_id: int = Field(foreign_key="briefing.id", primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", primary_key=True, index=True)
    position: int
    adoption_id: int | None = Field(default=None, foreign_key="adoption.id")
