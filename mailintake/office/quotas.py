"""Quotas (报送任务): how many pieces each unit owes per period, and what
it has sent.

A unit owes its kind's count per quota period (``[quotas.kinds]``), or its
own ``Unit.quota``. A period owes nothing when none of its weeks carries a
quota in the teaching calendar (outside the semesters, holiday weeks). For a
longer span (a month's report, a scoring period) a unit owes the sum over the
quota periods that start in it: a week belongs to the month of its Monday.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from mailintake.config.office import PeriodKind, QuotaRule
from mailintake.config.settings import Config
from mailintake.office.calendar import TeachingCalendar
from mailintake.office.periods import Period, period_of, periods_starting_in
from mailintake.store.models import (
    Correspondent,
    CorrespondentAddress,
    CorrespondentUnit,
    Status,
    Submission,
    Unit,
)


@dataclass(frozen=True)
class UnitInfo:
    """What quota logic needs of a unit, detached from the database."""

    id: int
    name: str
    kind: str
    quota: int | None = None
    # (address id, address, correspondent name) of its active correspondents.
    recipients: tuple[tuple[int, str, str], ...] = field(default=())


class Quotas:
    """The quota rules of one config, with the teaching calendar they follow."""

    def __init__(self, config: Config) -> None:
        self.config = config.quotas
        self.calendar = TeachingCalendar(config.calendar)
        self._weeks: dict[date, bool] = {}

    def rule_for(self, unit: UnitInfo | Unit) -> QuotaRule | None:
        rule = self.config.kinds.get(unit.kind)
        if unit.quota is not None:
            return QuotaRule(count=unit.quota, period=rule.period if rule else "week")
        return rule if rule is not None and rule.count > 0 else None

    def period_of(self, kind: PeriodKind, day: date) -> Period:
        return period_of(kind, day, self.calendar, self.config.school_year_starts)

    def periods_starting_in(self, kind: PeriodKind, start: date, end: date) -> list[Period]:
        return periods_starting_in(kind, start, end, self.calendar,
                                   self.config.school_year_starts)

    def week_carries_quota(self, day: date) -> bool:
        monday = day - timedelta(days=day.weekday())
        if monday not in self._weeks:
            self._weeks[monday] = self.calendar.carries_quota(monday)
        return self._weeks[monday]

    def required(self, rule: QuotaRule, period: Period) -> int:
        """Pieces owed for one quota period: the count, unless no week of it asks."""
        monday = period.start - timedelta(days=period.start.weekday())
        while monday < period.end:
            if self.week_carries_quota(monday):
                return rule.count
            monday += timedelta(weeks=1)
        return 0

    def required_between(
        self, rule: QuotaRule, start: date, end: date, closed_by: date | None = None
    ) -> tuple[int, date, date]:
        """Pieces owed for the quota periods starting in [start, end), counting
        only those over by ``closed_by``; with the span they cover."""
        periods = [p for p in self.periods_starting_in(rule.period, start, end)
                   if closed_by is None or p.end <= closed_by]
        if not periods:
            return 0, start, start
        return (sum(self.required(rule, p) for p in periods),
                periods[0].start, periods[-1].end)


def load_units(db: Session, unit_ids: set[int] | None = None) -> list[UnitInfo]:
    """Active units with the addresses of their active correspondents."""
    query = select(Unit).where(col(Unit.active)).order_by(col(Unit.name))
    units = db.exec(query).all()
    rows = db.exec(
        select(CorrespondentUnit.unit_id, CorrespondentAddress.id,
               CorrespondentAddress.address, Correspondent.name)
        .join(Correspondent, col(Correspondent.id) == col(CorrespondentUnit.correspondent_id))
        .join(CorrespondentAddress,
              col(CorrespondentAddress.correspondent_id) == col(Correspondent.id))
        .where(col(Correspondent.active))
        .order_by(col(CorrespondentAddress.id))
    ).all()
    recipients: dict[int, list[tuple[int, str, str]]] = {}
    for unit_id, address_id, address, name in rows:
        recipients.setdefault(unit_id, []).append((address_id or 0, address, name))
    return [
        UnitInfo(id=u.id or 0, name=u.name, kind=u.kind, quota=u.quota,
                 recipients=tuple(recipients.get(u.id or 0, [])))
        for u in units
        if unit_ids is None or u.id in unit_ids
    ]


def accepted_by_unit(
    db: Session, start: datetime, end: datetime, unit_ids: list[int] | None = None
) -> dict[int, int]:
    """Accepted pieces per unit received in [start, end), counted in SQL."""
    query = (
        select(Submission.unit_id, func.count())
        .where(Submission.status == Status.ACCEPTED,
               Submission.received_at >= start, Submission.received_at < end,
               col(Submission.unit_id).is_not(None))
        .group_by(col(Submission.unit_id))
    )
    if unit_ids is not None:
        query = query.where(col(Submission.unit_id).in_(unit_ids))
    return {unit_id: count for unit_id, count in db.exec(query).all() if unit_id is not None}


def submissions_by_unit(
    db: Session, start: datetime, end: datetime, *, by_correspondent: bool = False
) -> dict[int | None, tuple[int, int, int]]:
    """(received, accepted, rejected) per unit (or correspondent) in [start, end), in one
    query. A version replaced by its correction is not counted: the piece counts once."""
    who = col(Submission.correspondent_id) if by_correspondent else col(Submission.unit_id)
    accepted = func.sum(case((col(Submission.status) == Status.ACCEPTED, 1), else_=0))
    rejected = func.sum(case((col(Submission.status) == Status.REJECTED, 1), else_=0))
    rows = db.exec(
        select(who, accepted, rejected)
        .where(Submission.received_at >= start, Submission.received_at < end)
        .group_by(who)
    ).all()
    return {owner: (int(acc or 0) + int(rej or 0), int(acc or 0), int(rej or 0))
            for owner, acc, rej in rows}
