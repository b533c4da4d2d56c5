"""The date or week a subject names: a real date, not in the future, and for
the weekly digest the current or the previous teaching week. Whether it came
in time (seed 000: within 3 days after the event; seed 003: by Friday) is
``rules.deadline``'s.

"Today" is the day the mail arrived in the office's time zone, so a piece
sent at 23:30 on Sunday counts for that Sunday, not for UTC's Monday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from mailintake.config.calendar import TeachingCalendar, TeachingWeek
from mailintake.rules.base import Hit, Piece, Rule
from mailintake.rules.columns import fill_format, week_numeral

RULES = [
    Rule(
        "subject.date_invalid", "reject", "主题中的日期是真实存在的日期",
        "主题中的日期「{text}」不是有效的日期。",
        "请按“年.月.日”填写活动日期，例如（{today}）。",
    ),
    Rule(
        "subject.date_future", "reject", "主题中的日期不晚于收稿当天",
        "主题中的日期 {date} 晚于收稿日期 {today}。",
        "请填写活动实际发生的日期（不能是将来的日期），例如（{today}）。",
    ),
    Rule(
        "subject.week_wrong", "reject", "每周动态的周次是本周或上周（教学周）",
        "主题中的周次是第{week}周，收稿时是第{current}周（{monday}至{sunday}）。",
        "请报送本周或上周的工作动态，主题写作「{example}」。",
    ),
    Rule(
        "subject.week_no_term", "warn", "收稿日期在教学日历的学期之内",
        "收稿日期 {today} 不在教学日历的任何学期内，无法核对周次。",
        "假期中无需报送每周动态；如果学期日期有变化，请告知办公室更新教学日历。",
    ),
]


def check(piece: Piece) -> Iterator[Hit]:
    match = piece.match
    if match is None:
        return
    today = piece.today
    if match.date_text:
        yield from _date(match.date_text, match.event_date, today)
    if match.week_text:
        yield from _week(piece, match.unit_text, match.week_text, match.week, today)


def _date(text: str, event: date | None, today: date) -> Iterator[Hit]:
    shown = f"{today:%Y.%m.%d}"
    if event is None:
        yield Hit("subject.date_invalid", {"text": text, "today": shown})
    elif event > today:
        yield Hit("subject.date_future", {"date": f"{event:%Y.%m.%d}", "today": shown})


def _week(piece: Piece, unit: str, text: str, week: int | None, today: date) -> Iterator[Hit]:
    calendar = TeachingCalendar(piece.config.calendar)
    if not piece.config.calendar.semesters:
        return  # no calendar configured: nothing to check against
    # This week and last week; a week ago may be the last week of a semester
    # that ended since, so a digest sent in the first days of the holidays counts.
    this, last = calendar.week_of(today), calendar.week_of(today - timedelta(days=7))
    allowed = [w for w in (this, last) if w is not None]
    if not allowed:
        yield Hit("subject.week_no_term", {"today": f"{today:%Y-%m-%d}"})
        return
    if week is not None and week in {w.number for w in allowed}:
        return
    current: TeachingWeek = this or allowed[0]
    column = piece.column
    assert column is not None
    numeral = week_numeral(current.number)
    yield Hit("subject.week_wrong", {
        "week": text, "current": numeral,
        "monday": f"{current.monday:%m月%d日}", "sunday": f"{current.sunday:%m月%d日}",
        "example": fill_format(column.subject, {"单位": unit, "周次": numeral}),
    })
