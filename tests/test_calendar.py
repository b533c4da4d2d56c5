"""The teaching calendar as the office keeps it."""

from __future__ import annotations

from datetime import date

import pytest

from mailintake.config.calendar import TeachingCalendar
from mailintake.config.settings import BreakConfig, CalendarConfig, SemesterConfig

AUTUMN = SemesterConfig(name="2026秋", week1_monday=date(2026, 9, 7), weeks=20)
CALENDAR = TeachingCalendar(CalendarConfig(
    semesters=[AUTUMN],
    breaks=[BreakConfig(name="运动会周", start=date(2026, 11, 2), end=date(2026, 11, 6))],
))


@pytest.mark.parametrize(
    ("day", "week"),
    [(date(2026, 9, 7), 1), (date(2026, 9, 13), 1), (date(2026, 9, 14), 2),
     (date(2026, 11, 19), 11), (date(2026, 11, 30), 13), (date(2027, 1, 24), 20)],
)
def test_teaching_week_counts_from_the_configured_monday(day: date, week: int) -> None:
    """Week n starts on week-1 Monday plus n−1 weeks."""
    found = CALENDAR.week_of(day)
    assert found is not None and found.number == week
    assert found.monday <= day <= found.sunday


@pytest.mark.parametrize("day", [date(2026, 9, 6), date(2027, 1, 25), date(2026, 7, 1)])
def test_days_outside_the_semester_have_no_teaching_week(day: date) -> None:
    """Before week 1 and after the last week there is no teaching week and no quota."""
    assert CALENDAR.week_of(day) is None
    assert not CALENDAR.carries_quota(day)


def test_national_day_week_and_office_break_carry_no_quota() -> None:
    """The week of 5–9 October (mostly National Day) and a configured break week are exempt."""
    assert not CALENDAR.carries_quota(date(2026, 10, 7))
    assert not CALENDAR.carries_quota(date(2026, 11, 4))
    assert CALENDAR.carries_quota(date(2026, 9, 30))  # two holidays of five days: still a week
    assert CALENDAR.carries_quota(date(2026, 11, 19))


def test_swapped_working_saturday_is_not_a_day_off() -> None:
    """A Saturday made a working day by the State Council counts as a working day."""
    assert not CALENDAR.is_day_off(date(2026, 10, 10))
    assert CALENDAR.is_day_off(date(2026, 10, 1))
