"""Deadlines (截止时间) and the moment a piece counts at.

Each column has a deadline written the way its notice writes it
(``config.deadlines``): seed 003 and seed 001 want the weekly digest by Friday
(每周五前), seed 000 wants progress 事后 3 天内. A piece that arrives after the
deadline of the week or date its subject names gets one warning that says the
deadline and how late it is.

The same subject decides when a piece counts (``Submission.counted_at``):

- a weekly digest at 00:00 (office time) on the Monday of the teaching week
  its subject names: a period query by ``counted_at`` then finds it in that
  week, and in the month, quarter, half-year and year that Monday falls in,
  the same way ``office.periods`` dates a teaching week by its Monday. The
  moment is never later than the arrival of a digest for this week or the
  last, so "so far this week" counts it as soon as it arrives;
- a dated piece at 00:00 (office time) on the date its subject names;
- anything else, or a date or week the checks reject, at its arrival.

With ``[deadlines] late_counts = false`` a late piece counts at its arrival.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from mailintake.config.calendar import TeachingCalendar, TeachingWeek
from mailintake.config.deadlines import WEEKDAY_NAMES, Deadline, lateness
from mailintake.rules.base import Hit, Piece, Rule

RULES = [
    Rule(
        "subject.week_late", "warn", "每周动态在所报教学周的截止时间前报送（截止时间按栏目设置）",
        "本稿是第{week}教学周的工作动态，第{week}教学周的截止时间为{due}，收稿时已晚 {late}。",
        "每周动态请在每{label} 前报送。{counts}",
    ),
    Rule(
        "subject.date_late", "warn", "事项结束后 3 天内报送（截止时间按栏目设置）",
        "主题中的日期是 {date}，截止时间为{due}，收稿时已晚 {late}，超过了{rule}的要求。",
        "工作进展请按时报送，紧急、重要的事情请随时报送。{counts}",
    ),
]


@dataclass(frozen=True)
class Due:
    """When a piece was due, and what for: a teaching week or an event's date."""

    at: datetime  # aware, office time
    deadline: Deadline
    week: TeachingWeek | None = None
    event: date | None = None


def check(piece: Piece) -> Iterator[Hit]:
    due = due_of(piece)
    if due is None or not is_late(piece, due):
        return
    values = {
        "due": _moment(due.at), "late": lateness(due.at, piece.now),
        "counts": _counts(piece, due),
    }
    if due.week is not None:
        yield Hit("subject.week_late", {
            **values, "week": due.week.number, "label": due.deadline.label,
        })
    elif due.event is not None:
        rule = (f"事后 {due.deadline.days} 天内报送" if due.deadline.kind == "after_event"
                else f"每{due.deadline.label} 前报送")
        yield Hit("subject.date_late", {**values, "date": f"{due.event:%Y.%m.%d}", "rule": rule})


def subject_week(piece: Piece) -> TeachingWeek | None:
    """The teaching week a weekly digest's subject names: this week's or last week's
    number (the only ones ``subject.week_wrong`` lets through); None otherwise."""
    match = piece.match
    if match is None or match.week is None or not piece.config.calendar.semesters:
        return None
    calendar = TeachingCalendar(piece.config.calendar)
    for day in (piece.today, piece.today - timedelta(days=7)):
        week = calendar.week_of(day)
        if week is not None and week.number == match.week:
            return week
    return None


def subject_date(piece: Piece) -> date | None:
    """The event date a subject names, when it is a real date not after arrival."""
    match = piece.match
    event = match.event_date if match else None
    return event if event is not None and event <= piece.today else None


def due_of(piece: Piece) -> Due | None:
    """When the piece was due: by its column's deadline, for the week or date its
    subject names. A dated piece in a column without a deadline is due
    ``max_days_late`` days after the event (seed 000: 3)."""
    column = piece.column
    if column is None:
        return None
    deadline = column.due
    week = subject_week(piece)
    event = subject_date(piece) if week is None else None
    if event is not None and deadline.kind == "none" and column.max_days_late:
        deadline = Deadline("after_event", f"活动结束后 {column.max_days_late} 天",
                            days=column.max_days_late)
    local: datetime | None = None
    if week is not None:
        local = deadline.for_week(week.monday) or deadline.for_event(week.sunday)
    elif event is not None:
        local = _weekly_after(deadline, event) or deadline.for_event(event)
    if local is None:
        return None
    return Due(local.replace(tzinfo=piece.config.office.tz), deadline, week, event)


def _weekly_after(deadline: Deadline, event: date) -> datetime | None:
    """A weekly deadline for an event: the first one after the event's day ends (an
    event on Saturday is due the next Friday, not the day before it happened)."""
    local = deadline.for_week(event)
    if local is not None and local < datetime.combine(event + timedelta(days=1), time()):
        local = deadline.for_week(event + timedelta(days=7))
    return local


def is_late(piece: Piece, due: Due) -> bool:
    """Whether the piece came after ``due``; a correction of a version that came in
    time is not late (the piece was there; only its text changed)."""
    replaces = piece.history.replaces
    if replaces is not None and replaces.received_at <= due.at:
        return False
    return piece.now > due.at


def counted_at(piece: Piece) -> datetime | None:
    """The moment the piece counts at (see the module's docstring); None = its arrival."""
    week = subject_week(piece)
    day = week.monday if week is not None else subject_date(piece)
    if day is None:
        return None
    if not piece.config.deadlines.late_counts:
        due = due_of(piece)
        if due is not None and is_late(piece, due):
            return None
    return datetime.combine(day, time(), tzinfo=piece.config.office.tz)


def _counts(piece: Piece, due: Due) -> str:
    if not piece.config.deadlines.late_counts:
        return "本稿按收稿时间计入统计。"
    if due.week is not None:
        return f"本稿仍计入第{due.week.number}教学周。"
    assert due.event is not None
    return f"本稿仍按活动日期 {due.event.month}月{due.event.day}日 计入统计。"


def _moment(at: datetime) -> str:
    """A deadline as the notices write it: 11月20日（周五）24:00."""
    if at.time() == time(0):
        day, clock = at.date() - timedelta(days=1), "24:00"
    else:
        day, clock = at.date(), f"{at:%H:%M}"
    return f"{day.month}月{day.day}日（周{WEEKDAY_NAMES[day.weekday()]}）{clock}"
