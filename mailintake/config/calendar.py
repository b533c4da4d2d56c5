"""The teaching calendar: semesters, teaching weeks (教学周) and holidays.

Week 1 starts on the Monday each semester names in config, never a guess;
week n runs from that Monday + 7(n−1) days. Official holidays and swapped
working days come from the maintained ``chinese_calendar`` package; the
office adds its own breaks in config. Every function takes the date it is
asked about, so any day can be tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from mailintake.config.settings import CalendarConfig, SemesterConfig


@dataclass(frozen=True)
class TeachingWeek:
    semester: SemesterConfig
    number: int

    @property
    def monday(self) -> date:
        return self.semester.week1_monday + timedelta(weeks=self.number - 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)


class TeachingCalendar:
    def __init__(self, config: CalendarConfig) -> None:
        self.config = config

    def semester_of(self, day: date) -> SemesterConfig | None:
        for semester in self.config.semesters:
            end = semester.week1_monday + timedelta(weeks=semester.weeks)
            if semester.week1_monday <= day < end:
                return semester
        return None

    def week_of(self, day: date) -> TeachingWeek | None:
        """The teaching week ``day`` falls in, or None outside every semester."""
        semester = self.semester_of(day)
        if semester is None:
            return None
        return TeachingWeek(semester, (day - semester.week1_monday).days // 7 + 1)

    def previous_week(self, week: TeachingWeek) -> TeachingWeek | None:
        return TeachingWeek(week.semester, week.number - 1) if week.number > 1 else None

    def is_day_off(self, day: date) -> bool:
        """An official holiday, a weekend that is not a swapped working day, or a break."""
        if any(b.start <= day <= b.end for b in self.config.breaks):
            return True
        try:
            return bool(chinese_calendar.is_holiday(day))
        except NotImplementedError:
            # Years the package does not know yet: weekends only.
            return day.weekday() >= 5

    def carries_quota(self, day: date) -> bool:
        """Whether the week of ``day`` asks units for pieces.

        Weeks outside every semester carry none, nor do weeks whose working
        days (Monday to Friday) are mostly holidays or breaks.
        """
        week = self.week_of(day)
        if week is None:
            return False
        weekdays = [week.monday + timedelta(days=i) for i in range(5)]
        off = sum(1 for d in weekdays if self.is_day_off(d))
        return off / len(weekdays) < self.config.holiday_week_share
