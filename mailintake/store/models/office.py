"""The office side's tables: adoptions and the points ledger, the daemon's
last cycle, the console's users, sessions and audit trail, and what the office
publishes and asks for (通报, 约稿, 简报)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from mailintake.store.models.base import no_entries, no_items, utcnow, when


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
        default_factory=no_entries, sa_column=Column(JSON, nullable=False)
    )
    adopted_at: datetime = when(index=True)
    revoked_at: datetime | None = when(default=None)
    created_at: datetime = when(default_factory=utcnow)


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
    earned_at: datetime = when()
    # Lines written by settlement carry a key, so settling twice writes nothing twice.
    entry_key: str | None = Field(default=None, unique=True, max_length=120)
    created_at: datetime = when(default_factory=utcnow)


class Runtime(SQLModel, table=True):
    """The daemon's last successful cycle per mailbox, for ``mailintake status``."""

    mailbox: str = Field(primary_key=True, max_length=300)
    # host:pid of the process that ran it (several instances may share a database).
    instance: str = Field(default="", max_length=300)
    last_cycle_at: datetime = when()
    seen: int = 0
    filed: int = 0
    rejected: int = 0
    quarantined: int = 0
    replies_sent: int = 0
    # The last time the mailbox could not be reached, and why (the console's status page).
    last_error: str = Field(default="", max_length=500)
    last_error_at: datetime | None = when(default=None)


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
    created_at: datetime = when(default_factory=utcnow)


class ConsoleSession(SQLModel, table=True):
    """A login: the cookie holds the token, the database only its sha256."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="console_user.id", index=True)
    # The CSRF token every form of this login carries (bound to the session).
    csrf: str = Field(max_length=64)
    created_at: datetime = when(default_factory=utcnow)
    expires_at: datetime = when(index=True)


class Audit(SQLModel, table=True):
    """One change made in the console, or a login: who, when, what, on what."""

    id: int | None = Field(default=None, primary_key=True)
    who: str = Field(max_length=100)
    at: datetime = when(index=True)
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
    created_at: datetime = when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)
    # The last send: when, by whom, to how many addresses, and the text that went out.
    sent_at: datetime | None = when(default=None)
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
    deadline: datetime = when(index=True)
    # Points for each answering piece, besides the usual ones (None: none).
    points: float | None = Field(default=None, sa_type=sa.Numeric(10, 2, asdecimal=False))
    created_at: datetime = when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)
    closed_at: datetime | None = when(default=None)


class SolicitationUnit(SQLModel, table=True):
    """One unit asked by a solicitation, and the piece that answered it."""

    __tablename__ = "solicitation_unit"

    solicitation_id: int = Field(foreign_key="solicitation.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    answered_at: datetime | None = when(default=None)


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
    created_at: datetime = when(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)
    # What the clerk was told when it was made: a photo left out, an adoption not noted.
    notes: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))


class BriefingPiece(SQLModel, table=True):
    """A piece carried by a 简报, in order, with the adoption recorded for it."""

    __tablename__ = "briefing_piece"

    briefing_id: int = Field(foreign_key="briefing.id", primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", primary_key=True, index=True)
    position: int
    adoption_id: int | None = Field(default=None, foreign_key="adoption.id")
