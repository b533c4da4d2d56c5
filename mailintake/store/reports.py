"""What the statistics and rankings read: the ledger summed, the pieces and
adoptions of a span, and who the people are. Aggregated in SQL; the office
(``mailintake.office.reports``) ranks and labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, func, select

from mailintake.store.database import Engine, session
from mailintake.store.models import (
    Adoption,
    Correspondent,
    CorrespondentUnit,
    PointEntry,
    Status,
    Submission,
    Unit,
)


@dataclass(frozen=True)
class LedgerSum:
    """The ledger's lines of one kind and channel for one unit (or correspondent), summed."""

    owner: int | None
    kind: str
    channel: str
    points: float
    quantity: int


def ledger_sums(
    engine: Engine, start: datetime, end: datetime, *, by_correspondent: bool = False
) -> list[LedgerSum]:
    """The lines earned in [start, end), summed per owner, kind and channel."""
    who = col(PointEntry.correspondent_id) if by_correspondent else col(PointEntry.unit_id)
    with session(engine) as db:
        lines = db.connection().execute(
            sa.select(who, col(PointEntry.kind), col(PointEntry.channel),
                      func.sum(col(PointEntry.points)), func.sum(col(PointEntry.quantity)))
            .where(col(PointEntry.earned_at) >= start, col(PointEntry.earned_at) < end)
            .group_by(who, col(PointEntry.kind), col(PointEntry.channel))
        ).all()
    return [LedgerSum(owner, kind, channel, float(points or 0), int(quantity or 0))
            for owner, kind, channel, points, quantity in lines]


def correspondents(engine: Engine) -> list[tuple[Correspondent, list[str]]]:
    """Every correspondent, by name, with the names of their units."""
    with session(engine) as db:
        units: dict[int, list[str]] = {}
        for cid, name in db.exec(
            select(CorrespondentUnit.correspondent_id, Unit.name)
            .join(Unit, col(Unit.id) == col(CorrespondentUnit.unit_id))
            .order_by(col(Unit.name))
        ).all():
            units.setdefault(cid, []).append(name)
        people = db.exec(select(Correspondent).order_by(col(Correspondent.name))).all()
    return [(person, units.get(person.id or 0, [])) for person in people]


def column_counts(engine: Engine, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """(column, status, pieces) of the pieces counted in [start, end)."""
    with session(engine) as db:
        rows = db.exec(
            select(Submission.column, Submission.status, func.count())
            .where(Submission.counted_at >= start, Submission.counted_at < end)
            .group_by(col(Submission.column), col(Submission.status))
        ).all()
    return [(column, status, count) for column, status, count in rows]


def adoptions(engine: Engine, start: datetime, end: datetime
              ) -> list[tuple[str, datetime, datetime]]:
    """(channel, adopted at, piece received at) of the adoptions in force made in
    [start, end)."""
    with session(engine) as db:
        rows = db.exec(
            select(Adoption.channel, Adoption.adopted_at, Submission.received_at)
            .join(Submission, col(Submission.id) == col(Adoption.submission_id))
            .where(col(Adoption.revoked_at).is_(None),
                   Adoption.adopted_at >= start, Adoption.adopted_at < end)
        ).all()
    return [(channel, adopted_at, received_at) for channel, adopted_at, received_at in rows]


@dataclass(frozen=True)
class PieceLine:
    """One piece for the detail sheet: its names resolved, its adoptions' channels."""

    tracking_no: str
    unit: str
    correspondent: str
    column: str
    title: str
    author: str
    received_at: datetime
    counted_at: datetime
    status: str
    word_count: int
    picture_count: int
    channels: list[str]


def piece_lines(
    engine: Engine, start: datetime, end: datetime, *, accepted_only: bool = False,
    by_arrival: bool = False,
) -> list[PieceLine]:
    """Every piece counted in [start, end) (``counted_at``; ``by_arrival``: received in
    it), oldest arrival first."""
    s = Submission
    moment = col(s.received_at) if by_arrival else col(s.counted_at)
    query = (sa.select(col(s.id), col(s.tracking_no), col(s.unit_id), col(s.correspondent_id),
                       col(s.column), col(s.title), col(s.author), col(s.received_at),
                       col(s.counted_at), col(s.status), col(s.word_count),
                       col(s.picture_count))
             .where(moment >= start, moment < end)
             .order_by(col(s.received_at), col(s.id)))
    if accepted_only:
        query = query.where(col(s.status) == Status.ACCEPTED)
    with session(engine) as db:
        units = dict(db.exec(select(Unit.id, Unit.name)).all())
        people = dict(db.exec(select(Correspondent.id, Correspondent.name)).all())
        adopted: dict[int, list[str]] = {}
        for sid, channel in db.exec(
            select(Adoption.submission_id, Adoption.channel)
            .join(Submission, col(Submission.id) == col(Adoption.submission_id))
            .where(col(Adoption.revoked_at).is_(None),
                   moment >= start, moment < end)
        ).all():
            adopted.setdefault(sid, []).append(channel)
        rows = db.connection().execute(query).all()
    return [
        PieceLine(tracking_no=r.tracking_no or "", unit=units.get(r.unit_id, ""),
                  correspondent=people.get(r.correspondent_id, ""), column=r.column,
                  title=r.title, author=r.author, received_at=r.received_at,
                  counted_at=r.counted_at, status=r.status,
                  word_count=r.word_count, picture_count=r.picture_count,
                  channels=adopted.get(r.id, []))
        for r in rows
    ]
