"""Pieces counted per unit (or correspondent) over a span of time, in SQL.

What quotas, reminders, the digest and the reports ask of the pieces: how
many each unit sent, how many were accepted, rejected or warned about. A
piece counts in the period of ``Submission.counted_at`` (the week or date it
is for), not of its arrival.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case
from sqlmodel import col, func, select

from mailintake.store.database import Engine, session
from mailintake.store.models import Finding, Status, Submission


def accepted_by_unit(
    engine: Engine, start: datetime, end: datetime, unit_ids: list[int] | None = None
) -> dict[int, int]:
    """Accepted pieces per unit counted in [start, end) (``Submission.counted_at``)."""
    query = (
        select(Submission.unit_id, func.count())
        .where(Submission.status == Status.ACCEPTED,
               Submission.counted_at >= start, Submission.counted_at < end,
               col(Submission.unit_id).is_not(None))
        .group_by(col(Submission.unit_id))
    )
    if unit_ids is not None:
        query = query.where(col(Submission.unit_id).in_(unit_ids))
    with session(engine) as db:
        rows = db.exec(query).all()
    return {unit_id: count for unit_id, count in rows if unit_id is not None}


def submissions_by_unit(
    engine: Engine, start: datetime, end: datetime, *, by_correspondent: bool = False
) -> dict[int | None, tuple[int, int, int]]:
    """(received, accepted, rejected) per unit (or correspondent) counted in [start, end), in one
    query. A version replaced by its correction is not counted: the piece counts once."""
    who = col(Submission.correspondent_id) if by_correspondent else col(Submission.unit_id)
    accepted = func.sum(case((col(Submission.status) == Status.ACCEPTED, 1), else_=0))
    rejected = func.sum(case((col(Submission.status) == Status.REJECTED, 1), else_=0))
    with session(engine) as db:
        rows = db.exec(
            select(who, accepted, rejected)
            .where(Submission.counted_at >= start, Submission.counted_at < end)
            .group_by(who)
        ).all()
    return {owner: (int(acc or 0) + int(rej or 0), int(acc or 0), int(rej or 0))
            for owner, acc, rej in rows}


def warned_by_unit(engine: Engine, start: datetime, end: datetime) -> dict[int | None, int]:
    """Accepted pieces counted in [start, end) that carry at least one warning, per unit."""
    with session(engine) as db:
        rows = db.exec(
            select(Submission.unit_id, func.count(func.distinct(Submission.id)))
            .join(Finding, col(Finding.submission_id) == col(Submission.id))
            .where(Finding.severity == "warn", Submission.status == Status.ACCEPTED,
                   Submission.counted_at >= start, Submission.counted_at < end)
            .group_by(col(Submission.unit_id))
        ).all()
    return dict(rows)
