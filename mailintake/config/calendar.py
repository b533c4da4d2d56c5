"""The teaching calendar: semesters, teaching weeks (教学周) and holidays.

Week 1 starts on the Monday each semester names in config, never a guess;
week n runs from that Monday + 7(n−1) days. Official holidays and swapped
working days come from the maintained ``chinese_calendar`` package; for the
years it does not know yet the office lists them in config
(``[[calendar.holidays]]`` and ``[calendar] workdays``), and adds its own
breaks. ``gaps`` says, in Chinese, what the calendar does not know about the
weeks ahead (``doctor``, the daemon and ``remind`` say it). Every function
takes the date it is asked about, so any day can be tested.
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
        if day in self.config.workdays:
            return False
        if any(h.start <= day <= h.end for h in self.config.holidays):
            return True
        try:
            return bool(chinese_calendar.is_holiday(day))
        except NotImplementedError:
            # Years neither the package nor the config knows: weekends only (``gaps`` warns).
            return day.weekday() >= 5

    def knows_holidays(self, year: int) -> bool:
        """Whether the official holidays of ``year`` are known: from the package, or
        listed in config."""
        if any(h.start.year <= year <= h.end.year for h in self.config.holidays):
            return True
        return package_knows(year)

    def last_semester_day(self) -> date | None:
        ends = [s.week1_monday + timedelta(weeks=s.weeks) for s in self.config.semesters]
        return max(ends) - timedelta(days=1) if ends else None

    def gaps(self, today: date, days: int = 28) -> list[str]:
        """What the calendar does not know about ``today`` and the ``days`` after it,
        in Chinese, one line each (empty when it knows everything)."""
        span = [today + timedelta(days=i) for i in range(days + 1)]
        found = []
        outside = [d for d in span if self.semester_of(d) is None]
        if outside:
            last = self.last_semester_day()
            if last is None:
                found.append("配置中没有任何学期（[[calendar.semesters]]），不计报送任务、不发催报")
            elif last < today:
                found.append(f"已配置的学期已于 {_day(last)} 全部结束，不再计报送任务、不再催报；"
                             "请在 [[calendar.semesters]] 中添加新学期")
            else:
                found.append(f"{_day(outside[0])} 起有 {len(outside)} 天不在已配置的学期内"
                             "（这些天不计报送任务、不发催报）；如新学期已定，"
                             "请在 [[calendar.semesters]] 中添加")
        unknown = sorted({d.year for d in span if not self.knows_holidays(d.year)})
        for year in unknown:
            found.append(f"没有 {year} 年的节假日数据（chinese_calendar 包只到 "
                         f"{_package_last_year(year)} 年），节假日周会照常计报送任务；请升级 "
                         "chinesecalendar 包，或在配置中列出 [[calendar.holidays]] 和 "
                         "[calendar] workdays")
        return found


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


def package_knows(year: int) -> bool:
    """Whether the installed ``chinese_calendar`` package has ``year``'s holidays."""
    try:
        chinese_calendar.is_holiday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _package_last_year(unknown: int) -> int:
    """The last year before ``unknown`` that the package knows."""
    year = unknown - 1
    while year > 2004 and not package_knows(year):
        year -= 1
    return year


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
