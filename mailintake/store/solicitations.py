"""Requests for pieces (约稿): the request and the units it asks, and the piece that
answered each.

A request is numbered per year (``2026-003``) when it is made, and its request
mails are queued in the same transaction (all or nothing). A piece that names
it (``Entry.solicited``) is linked to it in the transaction that files the
piece (``link``, called by ``store.pieces``), with its points if the request
gives any, written once (``entry_key``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from mailintake.store.database import Engine, session
from mailintake.store.models import (
    PointEntry,
    Solicitation,
    SolicitationUnit,
    Submission,
    Unit,
)
from mailintake.store.sent import Mail, add_mails

#: The kind of the points ledger line an answering piece earns.
POINTS_KIND = "solicited"


@dataclass(frozen=True)
class Answered:
    """What a receipt says of the request a piece answers."""

    number: str
    topic: str


@dataclass(frozen=True)
class Draft:
    """A request as the clerk wrote it, before it has its number."""

    topic: str
    request: str
    deadline: datetime
    points: float | None
    created_by: str


@dataclass(frozen=True)
class AskedUnit:
    """One unit a request asked, and its answer if any."""

    unit_id: int
    name: str
    tracking_no: str
    answered_at: datetime | None

    def state(self, deadline: datetime, now: datetime) -> str:
        """answered, overdue (deadline passed, no answer) or waiting."""
        if self.answered_at is not None:
            return "answered"
        return "overdue" if now >= deadline else "waiting"


@dataclass(frozen=True)
class Overview:
    """A request with its counts, as a list shows it."""

    solicitation: Solicitation
    asked: int
    answered: int


class NumberTaken(Exception):
    """Another process numbered a request the same at the same moment (retried)."""


def _next_number(db: Session, year: int) -> str:
    numbers = db.exec(select(Solicitation.number)
                      .where(col(Solicitation.number).like(f"{year}-%"))).all()
    last = max((int(n.partition("-")[2]) for n in numbers if n.partition("-")[2].isdigit()),
               default=0)
    return f"{year}-{last + 1:03d}"


def create(engine: Engine, draft: Draft, unit_ids: Iterable[int], *, year: int,
           now: datetime, build: Callable[[Solicitation], list[Mail]]) -> Solicitation:
    """Number and record a request for ``unit_ids``, and queue the mails ``build`` makes
    for it, in one transaction; a number taken meanwhile is taken again, next."""
    for _attempt in range(5):
        with session(engine) as db:
            row = Solicitation(
                number=_next_number(db, year), topic=draft.topic, request=draft.request,
                deadline=draft.deadline, points=draft.points, created_by=draft.created_by,
                created_at=now)
            db.add(row)
            try:
                db.flush()
            except IntegrityError:
                db.rollback()
                continue
            for unit_id in sorted(set(unit_ids)):
                db.add(SolicitationUnit(solicitation_id=row.id or 0, unit_id=unit_id))
            add_mails(db, build(row), now)
            try:
                db.commit()
            except IntegrityError:
                db.rollback()
                continue
            return row
    raise NumberTaken("could not number the request: too many made at once")


def find(engine: Engine, number: str) -> Solicitation | None:
    with session(engine) as db:
        return db.exec(select(Solicitation).where(Solicitation.number == number)).first()


def overview(engine: Engine) -> list[Overview]:
    """Every request, the newest first, with how many units it asked and how many
    answered."""
    with session(engine) as db:
        rows = db.exec(select(Solicitation).order_by(col(Solicitation.id).desc())).all()
        counts = db.exec(
            select(SolicitationUnit.solicitation_id, func.count(),
                   func.count(col(SolicitationUnit.answered_at)))
            .group_by(col(SolicitationUnit.solicitation_id))).all()
    by_id = {sid: (asked, answered) for sid, asked, answered in counts}
    return [Overview(row, *by_id.get(row.id or 0, (0, 0))) for row in rows]


def asked_units(engine: Engine, solicitation_id: int) -> list[AskedUnit]:
    """The units a request asked, by name, with the tracking number of their answer."""
    with session(engine) as db:
        rows = db.exec(
            select(col(Unit.id), col(Unit.name), col(Submission.tracking_no),
                   col(SolicitationUnit.answered_at))
            .select_from(SolicitationUnit)
            .join(Unit, col(Unit.id) == col(SolicitationUnit.unit_id))
            .outerjoin(Submission, col(Submission.id) == col(SolicitationUnit.submission_id))
            .where(SolicitationUnit.solicitation_id == solicitation_id)
            .order_by(col(Unit.name))).all()
    return [AskedUnit(unit_id or 0, name, tracking or "", answered)
            for unit_id, name, tracking, answered in rows]


def close(engine: Engine, number: str, now: datetime) -> Solicitation | None:
    """Close a request (pieces after it are no longer linked); None when there is none.
    Closing a closed one changes nothing."""
    with session(engine) as db:
        row = db.exec(select(Solicitation).where(Solicitation.number == number)).first()
        if row is None:
            return None
        if row.closed_at is None:
            row.closed_at = now
            db.add(row)
            db.commit()
        return row


def answered_by(engine: Engine, submission_id: int) -> Solicitation | None:
    """The request a piece answers, if any."""
    with session(engine) as db:
        return db.exec(
            select(Solicitation)
            .join(SolicitationUnit, col(SolicitationUnit.solicitation_id) == col(Solicitation.id))
            .where(SolicitationUnit.submission_id == submission_id)).first()


def waiting(engine: Engine, before: datetime, now: datetime
            ) -> list[tuple[Solicitation, list[int]]]:
    """Open requests due after ``now`` and by ``before``, each with the units that have
    not answered it yet (requests all answered are left out). A request made when its
    deadline was already that near is left out too: the request itself just went."""
    with session(engine) as db:
        rows = db.exec(
            select(Solicitation, SolicitationUnit.unit_id)
            .join(SolicitationUnit, col(SolicitationUnit.solicitation_id) == col(Solicitation.id))
            .where(col(Solicitation.closed_at).is_(None), Solicitation.deadline > now,
                   Solicitation.deadline <= before,
                   col(SolicitationUnit.answered_at).is_(None))
            .order_by(col(Solicitation.id), col(SolicitationUnit.unit_id))).all()
    found: dict[int, tuple[Solicitation, list[int]]] = {}
    for row, unit_id in rows:
        if row.deadline - row.created_at > before - now:
            found.setdefault(row.id or 0, (row, []))[1].append(unit_id)
    return list(found.values())


def link(db: Session, number: str, unit_id: int, piece: Submission, now: datetime
         ) -> Answered | None:
    """Link ``piece`` (accepted, just filed for ``unit_id``) to request ``number``, in
    the caller's transaction; None, and nothing written, when there is no such request,
    it is closed, or it did not ask the unit. The unit's first answer stands, unless
    ``piece`` is its corrected version. The request's points are written once."""
    row = db.exec(select(Solicitation).where(Solicitation.number == number)).first()
    if row is None or row.id is None or (row.closed_at is not None and row.closed_at <= now):
        return None
    asked = db.get(SolicitationUnit, (row.id, unit_id))
    if asked is None:
        return None
    if asked.submission_id is not None and asked.submission_id != piece.replaces_id:
        return None
    first = asked.answered_at is None
    asked.submission_id = piece.id
    if first:
        asked.answered_at = now
    db.add(asked)
    if first and row.points:
        db.add(PointEntry(
            unit_id=unit_id, correspondent_id=piece.correspondent_id, submission_id=piece.id,
            kind=POINTS_KIND, quantity=1, points=row.points,
            reason=f"约稿 {row.number}（{row.topic}）交稿 {piece.tracking_no}"[:500],
            earned_at=piece.counted_at, entry_key=f"solicited:{row.id}:{unit_id}",
            created_at=now))
    db.flush()
    return Answered(row.number, row.topic)
