"""Quotas (报送任务): how many pieces each unit owes per period.

A unit owes its kind's count per quota period (``[quotas.kinds]``), or its
own ``Unit.quota``. A period owes nothing when none of its weeks carries a
quota in the teaching calendar (outside the semesters, holiday weeks). For a
longer span (a month's report, a scoring period) a unit owes the sum over the
quota periods that start in it: a week belongs to the month of its Monday.

Pure: the units, and what they sent (``mailintake.store.counts``), are the store's.
"""

from __future__ import annotations

from datetime import date, timedelta

from mailintake.config.calendar import TeachingCalendar
from mailintake.config.office import PeriodKind, QuotaRule
from mailintake.config.settings import Config
from mailintake.office.periods import Period, period_of, periods_starting_in
from mailintake.store.models import Unit
from mailintake.store.units import UnitInfo


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
