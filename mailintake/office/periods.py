"""Periods the office counts in: week, two weeks, month, quarter, half-year,
year and school year, as days of the office's time zone.

A period is [start, end) in local days; its ``key`` is stable text used in
outbox keys and ledger reasons (``2026-W48``, ``2026-11``, ``2026-Q4``,
``2026-H2``, ``2026``, ``2026-2027``) and its ``label`` is what a clerk reads.
Two-week periods pair the teaching weeks of a semester (weeks 1–2, 3–4 …),
as an office that asks for a piece every two weeks means it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailintake.config.calendar import TeachingCalendar
from mailintake.config.office import PeriodKind

# Fortnights outside any semester are counted from this Monday.
_EPOCH = date(2001, 1, 1)
_QUARTERS = "一二三四"
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date
    end: date  # the day after the last
    key: str
    label: str

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as aware instants: local midnight to local midnight."""
        return (datetime.combine(self.start, time(), tzinfo=tz),
                datetime.combine(self.end, time(), tzinfo=tz))


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def day_label(day: date) -> str:
    return f"{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"


def _span_label(start: date, last: date) -> str:
    return f"{start.year}年{start.month}月{start.day}日—{last.month}月{last.day}日"


def _week(day: date, calendar: TeachingCalendar | None) -> Period:
    monday = day - timedelta(days=day.weekday())
    end = monday + timedelta(days=7)
    label = _span_label(monday, end - timedelta(days=1))
    teaching = calendar.week_of(monday) if calendar else None
    if teaching is not None:
        label = f"第{teaching.number}教学周（{label}）"
    return Period("week", monday, end, week_key(monday), label)


def _two_weeks(day: date, calendar: TeachingCalendar | None) -> Period:
    monday = day - timedelta(days=day.weekday())
    teaching = calendar.week_of(monday) if calendar else None
    if teaching is not None:
        semester = teaching.semester
        first = teaching.number - (teaching.number - 1) % 2
        start = semester.week1_monday + timedelta(weeks=first - 1)
        semester_end = semester.week1_monday + timedelta(weeks=semester.weeks)
        end = min(start + timedelta(weeks=2), semester_end)
        numbers = f"{first}—{first + 1}" if end - start > timedelta(weeks=1) else f"{first}"
        label = f"第{numbers}教学周（{_span_label(start, end - timedelta(days=1))}）"
    else:
        start = _EPOCH + timedelta(days=(monday - _EPOCH).days // 14 * 14)
        end = start + timedelta(days=14)
        # Never overlap a semester's own pairs.
        for semester in calendar.config.semesters if calendar else []:
            s_start = semester.week1_monday
            s_end = s_start + timedelta(weeks=semester.weeks)
            if start < s_start < end:
                end = s_start
            if start < s_end < end:
                start = s_end
        label = _span_label(start, end - timedelta(days=1))
    key = f"{week_key(start)}~{week_key(end - timedelta(days=7))}"
    return Period("two_weeks", start, end, key, label)


def _month(year: int, month: int) -> Period:
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return Period("month", start, end, f"{year}-{month:02d}", f"{year}年{month}月")


def _quarter(year: int, q: int) -> Period:
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period("quarter", start, end, f"{year}-Q{q}", f"{year}年第{_QUARTERS[q - 1]}季度")


def _half(year: int, h: int) -> Period:
    start, end = (date(year, 1, 1), date(year, 7, 1)) if h == 1 else (
        date(year, 7, 1), date(year + 1, 1, 1))
    return Period("half_year", start, end, f"{year}-H{h}", f"{year}年{'上下'[h - 1]}半年")


def _year(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year + 1, 1, 1), f"{year}", f"{year}年")


def _school_year(first: int, starts: int) -> Period:
    return Period("school_year", date(first, starts, 1), date(first + 1, starts, 1),
                  f"{first}-{first + 1}", f"{first}—{first + 1}学年")


def period_of(
    kind: PeriodKind,
    day: date,
    calendar: TeachingCalendar | None = None,
    school_year_starts: int = 9,
) -> Period:
    """The period of ``kind`` that ``day`` (a local date) falls in."""
    if kind == "week":
        return _week(day, calendar)
    if kind == "two_weeks":
        return _two_weeks(day, calendar)
    if kind == "school_year":
        first = day.year if day.month >= school_year_starts else day.year - 1
        return _school_year(first, school_year_starts)
    by_date = {
        "month": lambda: _month(day.year, day.month),
        "quarter": lambda: _quarter(day.year, (day.month - 1) // 3 + 1),
        "half_year": lambda: _half(day.year, 1 if day.month <= 6 else 2),
        "year": lambda: _year(day.year),
    }
    return by_date[kind]()


def periods_starting_in(
    kind: PeriodKind,
    start: date,
    end: date,
    calendar: TeachingCalendar | None = None,
    school_year_starts: int = 9,
) -> list[Period]:
    """Every period of ``kind`` whose first day lies in [start, end)."""
    found: list[Period] = []
    period = period_of(kind, start, calendar, school_year_starts)
    while period.start < end:
        if period.start >= start:
            found.append(period)
        period = period_of(kind, period.end, calendar, school_year_starts)
    return found


class PeriodError(ValueError):
    """Text that names no period; the message shows the accepted forms."""


_FORMS = "例如 2026-11、2026-Q4、2026-H2、2026、2026-W47 或 2026-2027（学年）"


def parse_period(
    text: str, calendar: TeachingCalendar | None = None, school_year_starts: int = 9
) -> Period:
    """``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``, ``2026-W47``, ``2026-2027`` …"""
    value = text.strip().upper().replace("年", "-").replace("月", "").strip("-")
    forms: list[tuple[str, Callable[[int, int], Period]]] = [
        (r"(\d{4})()", lambda y, _: _year(y)),
        (r"(\d{4})-(\d{1,2})", _month),
        (r"(\d{4})-Q([1-4])", _quarter),
        (r"(\d{4})-H([12])", _half),
        (r"(\d{4})-W(\d{1,2})", lambda y, w: _week(date.fromisocalendar(y, w, 1), calendar)),
        (r"(\d{4})-W(\d{1,2})~\d{4}-W\d{1,2}",
         lambda y, w: _two_weeks(date.fromisocalendar(y, w, 1), calendar)),
        (r"(\d{4})[-/](\d{4})", lambda y, y2: _school_year(y, school_year_starts)
         if y2 == y + 1 else _raise(f"{y}-{y2} 不是相连的两年")),
    ]
    for pattern, build in forms:
        if m := re.fullmatch(pattern, value):
            try:
                return build(int(m[1]), int(m[2] or 0))
            except ValueError as exc:
                raise PeriodError(f"统计期 {text!r} 不存在；{_FORMS}") from exc
    raise PeriodError(f"无法识别统计期 {text!r}；{_FORMS}")


def _raise(message: str) -> Period:
    raise ValueError(message)


def counted_label(
    moment: datetime, tz: ZoneInfo, calendar: TeachingCalendar | None, *, weekly: bool
) -> str:
    """The period a piece counted at ``moment`` counts for, as its receipt says it:
    its week for a weekly column (``第11教学周（11月16日—11月22日）``), else its month
    (``2026年11月``)."""
    day = moment.astimezone(tz).date()
    if not weekly:
        return _month(day.year, day.month).label
    week = _week(day, calendar)
    last = week.last_day
    span = f"{week.start.month}月{week.start.day}日—{last.month}月{last.day}日"
    teaching = calendar.week_of(week.start) if calendar else None
    if teaching is None:
        return f"{week.start.year}年{span}这一周"
    return f"第{teaching.number}教学周（{span}）"
