"""What the statistics and rankings read: the ledger summed, the pieces and
adoptions of a span, and who the people are. Aggregated in SQL; the office
(``mailintake.office.reports``) ranks and labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from mailintake.store.database import Engine, session
from mailintake.store.models import (
    Adoption,
    Correspondent,
    CorrespondentUnit,
    Finding,
    InboundMessage,
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


def column_counts(engine: Engine, start: datetime, end: datetime, *, kind: str = ""
                  ) -> list[tuple[str, str, int]]:
    """(column, status, pieces) of the pieces counted in [start, end) (of the units of
    one ``kind``, when given)."""
    query = (select(Submission.column, Submission.status, func.count())
             .where(Submission.counted_at >= start, Submission.counted_at < end)
             .group_by(col(Submission.column), col(Submission.status)))
    if kind:
        query = query.join(Unit, col(Unit.id) == col(Submission.unit_id)).where(Unit.kind == kind)
    with session(engine) as db:
        rows = db.exec(query).all()
    return [(column, status, count) for column, status, count in rows]


@dataclass(frozen=True)
class AdoptionLine:
    """One adoption in force: the piece, its unit, the channel and when."""

    tracking_no: str
    unit: str
    column: str
    title: str
    channel: str
    brief: bool
    item: int
    adopted_at: datetime
    received_at: datetime
    unit_kind: str = ""


def adoptions(engine: Engine, start: datetime, end: datetime) -> list[AdoptionLine]:
    """The adoptions in force made in [start, end), in the order made."""
    s, a = Submission, Adoption
    with session(engine) as db:
        connection = db.connection()
        units = {uid: (name, kind) for uid, name, kind in
                 connection.execute(sa.select(col(Unit.id), col(Unit.name), col(Unit.kind)))}
        rows = connection.execute(
            sa.select(col(s.tracking_no), col(s.unit_id), col(s.column), col(s.title),
                      col(a.channel),
                      col(a.brief), col(a.item), col(a.adopted_at), col(s.received_at))
            .join(s, col(s.id) == col(a.submission_id))
            .where(col(a.revoked_at).is_(None), col(a.adopted_at) >= start,
                   col(a.adopted_at) < end)
            .order_by(col(a.adopted_at), col(a.id))
        ).all()
    return [AdoptionLine(tracking_no=r.tracking_no or "", unit=units.get(r.unit_id, ("", ""))[0],
                         column=r.column, title=r.title, channel=r.channel,
                         brief=bool(r.brief), item=r.item, adopted_at=r.adopted_at,
                         received_at=r.received_at,
                         unit_kind=units.get(r.unit_id, ("", ""))[1]) for r in rows]


@dataclass(slots=True)  # not frozen: a frozen dataclass costs 3 µs more a piece
class PieceLine:
    """One piece for the detail sheet: its names resolved, its adoptions' channels, the
    codes that sent it back (for a rejected piece)."""

    tracking_no: str
    unit: str
    correspondent: str
    column: str
    title: str
    author: str
    received_at: datetime
    counted_at: datetime | None  # read for a span by arrival only
    status: str
    word_count: int
    picture_count: int
    channels: list[str]
    unit_kind: str = ""
    reasons: list[str] = field(default_factory=list)
    first_adopted_at: datetime | None = None


def iter_piece_lines(
    engine: Engine, start: datetime, end: datetime, *, accepted_only: bool = False,
    by_arrival: bool = False, adopted_in_span: bool = False, batch: int = 2000,
) -> Iterator[PieceLine]:
    """Every piece counted in [start, end) (``counted_at``; ``by_arrival``: received in
    it), oldest arrival first, with all its adoptions in force, one at a time from a
    server-side cursor (a year of pieces is never held in memory). ``adopted_in_span``:
    only the adoptions made in [start, end) are named, as a report of the period counts
    them."""
    s = Submission
    moment = col(s.received_at) if by_arrival else col(s.counted_at)
    query = (sa.select(sa.type_coerce(col(s.id), sa.Integer), col(s.tracking_no),
                       col(s.unit_id), col(s.correspondent_id), col(s.column), col(s.title),
                       col(s.author), col(s.received_at),
                       # Within the span unless it is by arrival: read only then (a
                       # year of SQLite's text times costs a third of a second).
                       col(s.counted_at) if by_arrival else sa.null(), col(s.status),
                       col(s.word_count), col(s.picture_count))
             .where(moment >= start, moment < end)
             .order_by(col(s.received_at), col(s.id)))
    if accepted_only:
        query = query.where(col(s.status) == Status.ACCEPTED)
    adoptions = (sa.select(col(Adoption.submission_id), col(Adoption.channel),
                           col(Adoption.adopted_at))
                 .join(Submission, col(Submission.id) == col(Adoption.submission_id))
                 .where(col(Adoption.revoked_at).is_(None), moment >= start, moment < end)
                 .order_by(col(Adoption.adopted_at), col(Adoption.id)))
    if adopted_in_span:
        adoptions = adoptions.where(col(Adoption.adopted_at) >= start,
                                    col(Adoption.adopted_at) < end)
    with session(engine) as db:
        connection = db.connection()
        units = {uid: (name, kind) for uid, name, kind in
                 connection.execute(sa.select(col(Unit.id), col(Unit.name), col(Unit.kind)))}
        people = dict(db.exec(select(Correspondent.id, Correspondent.name)).all())
        adopted: dict[int, list[str]] = {}
        first: dict[int, datetime] = {}
        for sid, channel, adopted_at in connection.execute(adoptions):
            adopted.setdefault(sid, []).append(channel)
            first.setdefault(sid, adopted_at)
        reasons = {} if accepted_only else _rejections(connection, moment, start, end)
        rows = connection.execution_options(stream_results=True, yield_per=batch).execute(query)
        nothing: list[str] = []  # shared by the pieces without any; never changed
        for (piece, tracking_no, unit_id, correspondent_id, column, title, author, received_at,
             counted_at, status, word_count, picture_count) in rows:
            name, kind = units.get(unit_id, ("", ""))
            yield PieceLine(
                tracking_no or "", name, people.get(correspondent_id, ""), column, title,
                author, received_at, counted_at, status, word_count, picture_count,
                adopted.get(piece, nothing), kind, reasons.get(piece, nothing), first.get(piece))

def _rejections(connection: sa.Connection, moment: Any, start: datetime, end: datetime
                ) -> dict[int, list[str]]:
    """The codes that sent back each rejected piece of the span: its findings that
    reject, else the reasons kept on its mail (a clerk's rejection)."""
    s = Submission
    span = (col(s.status) == Status.REJECTED, moment >= start, moment < end)
    found: dict[int, list[str]] = {}
    for sid, code in connection.execute(
        sa.select(col(Finding.submission_id), col(Finding.code))
        .join(s, col(s.id) == col(Finding.submission_id))
        .where(*span, col(Finding.severity) == "reject").order_by(col(Finding.id))
    ):
        found.setdefault(sid, []).append(code)
    for line in connection.execute(
        sa.select(col(s.id), col(InboundMessage.reasons))
        .join(InboundMessage, col(InboundMessage.id) == col(s.message_id)).where(*span)
    ):
        if line.id not in found and line.reasons:
            found[line.id] = list(line.reasons)
    return found
