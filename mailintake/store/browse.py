"""What the web console reads: the pieces a page at a time, with filters and
full-text search (``store.search``), one piece with everything about it, the
held mail, the units and the service's state.

Every list is newest first and fetched one row past the page, so a page knows
whether another follows without counting the whole table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from mailintake.store import search
from mailintake.store.database import Engine, session
from mailintake.store.models import (
    Adoption,
    Attachment,
    Correspondent,
    Finding,
    InboundMessage,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    Runtime,
    Submission,
    Unit,
)


@dataclass(frozen=True)
class PieceFilter:
    """What the clerk narrowed the list to; None or "" means any."""

    unit_id: int | None = None
    unit_kind: str = ""
    column: str = ""
    status: str = ""
    # Arrival in [since, until).
    since: datetime | None = None
    until: datetime | None = None
    # A word the title or the text holds.
    words: str = ""


@dataclass(frozen=True)
class PieceRow:
    """One line of the pieces list."""

    id: int
    tracking_no: str
    received_at: datetime
    unit: str
    column: str
    title: str
    status: str
    word_count: int
    picture_count: int
    version: int
    findings: list[str] = field(default_factory=list)
    # How it came: "" by mail, "qq" / "paper" / "other" when a clerk filed it.
    via: str = ""


#: PostgreSQL: a word found in no more pieces than this is looked up by its matches.
RARE_MATCHES = 5000

_ROW_COLUMNS = (
    Submission.id, Submission.tracking_no, Submission.received_at, Unit.name, Submission.column,
    Submission.title, Submission.status, Submission.word_count, Submission.picture_count,
    Submission.version, InboundMessage.via,
)


def _searched(query: Any, engine: Engine, words: str) -> Any:
    """``query`` narrowed to the pieces whose title or text holds ``words``."""
    word = words.strip().lower()
    if not word:
        return query
    document = func.lower(col(Submission.title) + "\n" + col(Submission.text))
    if engine.dialect.name == "sqlite":
        match = search.fts_query(word)
        if match is not None:
            found = sa.text("SELECT rowid FROM piece_search WHERE piece_search MATCH :match"
                            ).bindparams(match=match).columns(sa.column("rowid", sa.Integer))
            query = query.where(col(Submission.id).in_(found.subquery().select()))
        return query.where(func.instr(document, word) > 0)
    grams = search.bigrams(word)
    if grams:
        # A rare word's few matches come from the GIN index at once, and the filters
        # then look at those alone; a common word's page fills from the newest pieces
        # long before the word runs out. Which one it is, the planner's estimate from
        # the index's statistics tells (a millisecond; counting the matches cost more
        # than the search), and the matches themselves confirm (bench/README.md).
        few = _rare_matches(engine, grams)
        if few is not None:
            query = query.where(col(Submission.id) == sa.any_(
                sa.bindparam("few", few, type_=sa.ARRAY(sa.Integer))))
        else:
            holding = sa.text(_HOLDING).bindparams(
                sa.bindparam("grams", grams, type_=sa.ARRAY(sa.Text))
            ).columns(sa.column("submission_id", sa.Integer))
            query = query.where(col(Submission.id).in_(holding.subquery().select()))
    return query.where(func.strpos(document, word) > 0)


_HOLDING = "SELECT submission_id FROM piece_search WHERE grams @> CAST(:grams AS text[])"


def _rare_matches(engine: Engine, grams: list[str]) -> list[int] | None:
    """The ids of the pieces holding all of ``grams`` when they are few (at most
    RARE_MATCHES); None for a common word."""
    with engine.connect() as db:
        [[plan]] = db.execute(sa.text(f"EXPLAIN (FORMAT JSON) {_HOLDING}"),
                              {"grams": grams}).all()
        if plan[0]["Plan"]["Plan Rows"] > RARE_MATCHES:
            return None
        few = db.execute(sa.text(f"{_HOLDING} LIMIT :most"),
                         {"grams": grams, "most": RARE_MATCHES + 1}).scalars().all()
    return list(few) if len(few) <= RARE_MATCHES else None


def pieces(engine: Engine, wanted: PieceFilter, *, offset: int = 0,
           limit: int = 50) -> tuple[list[PieceRow], bool]:
    """A page of pieces, newest first, and whether more follow."""
    query = (sa.select(*_ROW_COLUMNS)  # type: ignore[call-overload]
             .join(Unit, col(Submission.unit_id) == col(Unit.id), isouter=True)
             .join(InboundMessage, col(Submission.message_id) == col(InboundMessage.id)))
    if wanted.unit_id is not None:
        query = query.where(Submission.unit_id == wanted.unit_id)
    if wanted.unit_kind:
        query = query.where(Unit.kind == wanted.unit_kind)
    if wanted.column:
        query = query.where(Submission.column == wanted.column)
    if wanted.status:
        query = query.where(Submission.status == wanted.status)
    if wanted.since is not None:
        query = query.where(col(Submission.received_at) >= wanted.since)
    if wanted.until is not None:
        query = query.where(col(Submission.received_at) < wanted.until)
    query = _searched(query, engine, wanted.words)
    # Newest first: by id (the filing order), which the planners walk backwards until
    # the page is full. On PostgreSQL a period by arrival instead: by id it would walk
    # every newer piece first.
    period = wanted.since is not None or wanted.until is not None
    newest = ((col(Submission.received_at).desc(), col(Submission.id).desc())
              if period and engine.dialect.name == "postgresql"
              else (col(Submission.id).desc(),))
    query = query.order_by(*newest).offset(offset).limit(limit + 1)
    with session(engine) as db:
        rows = [PieceRow(id=r[0], tracking_no=r[1] or "", received_at=r[2], unit=r[3] or "",
                         column=r[4], title=r[5], status=r[6], word_count=r[7],
                         picture_count=r[8], version=r[9], via=r[10])
                for r in db.exec(query).all()]
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [row.id for row in rows]
        found: dict[int, list[str]] = defaultdict(list)
        if ids:
            for sid, message in db.exec(
                select(Finding.submission_id, Finding.message)
                .where(col(Finding.submission_id).in_(ids)).order_by(col(Finding.id))
            ).all():
                found[sid].append(message)
    for row in rows:
        row.findings.extend(found.get(row.id, []))
    return rows, more


@dataclass(frozen=True)
class Reply:
    """A reply queued for the mail a piece came in."""

    kind: str
    subject: str
    status: str
    sent_at: datetime | None
    raw: bytes


@dataclass(frozen=True)
class Piece:
    """One piece and everything the console shows about it."""

    submission: Submission
    message: InboundMessage
    unit: Unit | None
    correspondent: Correspondent | None
    findings: list[Finding]
    attachments: list[Attachment]
    # Every version of the piece, oldest first (this one among them).
    versions: list[tuple[int, str, datetime, str]]
    replies: list[Reply]
    adoptions: list[Adoption]


def piece(engine: Engine, tracking_no: str) -> Piece | None:
    with session(engine) as db:
        found = db.exec(select(Submission).where(Submission.tracking_no == tracking_no)).first()
        if found is None or found.id is None:
            return None
        message = db.get(InboundMessage, found.message_id)
        assert message is not None
        unit = db.get(Unit, found.unit_id) if found.unit_id else None
        person = db.get(Correspondent, found.correspondent_id) if found.correspondent_id else None
        findings = list(db.exec(select(Finding).where(Finding.submission_id == found.id)
                                .order_by(col(Finding.id))).all())
        attachments = list(db.exec(select(Attachment).where(Attachment.submission_id == found.id)
                                   .order_by(col(Attachment.id))).all())
        replies = [Reply(o.kind, o.subject, o.status, o.sent_at, o.raw) for o in db.exec(
            select(OutboxMessage).where(OutboxMessage.inbound_id == message.id)
            .order_by(col(OutboxMessage.id))).all()]
        adoptions = list(db.exec(select(Adoption).where(Adoption.submission_id == found.id)
                                 .order_by(col(Adoption.id))).all())
        versions = _versions(db, found)
    return Piece(found, message, unit, person, findings, attachments, versions, replies,
                 adoptions)


def _versions(db: Any, piece: Submission) -> list[tuple[int, str, datetime, str]]:
    """(version, tracking number, arrival, status) of every version, oldest first."""
    chain = [piece]
    seen = {piece.id}
    while chain[0].replaces_id is not None and chain[0].replaces_id not in seen:
        earlier = db.get(Submission, chain[0].replaces_id)
        if earlier is None:
            break
        seen.add(earlier.id)
        chain.insert(0, earlier)
    while True:
        later = db.exec(select(Submission).where(Submission.replaces_id == chain[-1].id)
                        .order_by(col(Submission.id))).first()
        if later is None or later.id in seen:
            break
        seen.add(later.id)
        chain.append(later)
    return [(s.version, s.tracking_no or "", s.received_at, s.status) for s in chain]


def attachment(engine: Engine, attachment_id: int) -> Attachment | None:
    with session(engine) as db:
        return db.get(Attachment, attachment_id)


def message(engine: Engine, message_id: int) -> InboundMessage | None:
    with session(engine) as db:
        return db.get(InboundMessage, message_id)


def held(engine: Engine, *, offset: int = 0, limit: int = 100
         ) -> tuple[list[InboundMessage], bool]:
    """The mail waiting for a person (待人工), newest first, and whether more follow."""
    with session(engine) as db:
        rows = list(db.exec(select(InboundMessage)
                            .where(InboundMessage.outcome == Outcome.QUARANTINED)
                            .order_by(col(InboundMessage.id).desc())
                            .offset(offset).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


def units(engine: Engine) -> list[tuple[Unit, int]]:
    """Every unit by name, with the number of its accepted pieces."""
    with session(engine) as db:
        counts = dict(db.exec(select(Submission.unit_id, func.count())
                              .where(Submission.status == "accepted")
                              .group_by(col(Submission.unit_id))).all())
        return [(unit, counts.get(unit.id, 0))
                for unit in db.exec(select(Unit).order_by(col(Unit.name))).all()]


def unit_names(engine: Engine) -> list[tuple[int, str]]:
    """(id, name) of every unit, by name: the choices of the pieces list's filter."""
    with session(engine) as db:
        return [(unit_id, name) for unit_id, name in db.exec(
            select(Unit.id, Unit.name).order_by(col(Unit.name))).all() if unit_id is not None]


def unit_kinds(engine: Engine) -> list[str]:
    with session(engine) as db:
        return sorted({kind for kind in db.exec(select(Unit.kind).distinct()).all() if kind})


def set_unit_active(engine: Engine, unit_id: int, active: bool) -> Unit | None:
    with session(engine) as db:
        unit = db.get(Unit, unit_id)
        if unit is None:
            return None
        unit.active = active
        db.add(unit)
        db.commit()
        return unit


@dataclass(frozen=True)
class ServiceState:
    cycles: list[Runtime]
    held: int
    outbox: dict[str, int]
    last_failed: list[OutboxMessage]


def service_state(engine: Engine) -> ServiceState:
    with session(engine) as db:
        cycles = list(db.exec(select(Runtime).order_by(col(Runtime.mailbox))).all())
        waiting = db.exec(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.outcome == Outcome.QUARANTINED)).one()
        outbox = {str(status): count for status, count in db.exec(
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
        ).all()}
        failed = list(db.exec(select(OutboxMessage)
                              .where(OutboxMessage.status == OutboxStatus.FAILED)
                              .order_by(col(OutboxMessage.id).desc()).limit(20)).all())
    return ServiceState(cycles, int(waiting), outbox, failed)
