"""Deadlines (截止时间) written the way the notices write them.

Seed 003: 学校每周动态，于每周周五前上报; seed 001: 各部门于每周五前发送;
seed 000: the progress of key work 事后 3 天内报送. A clerk writes the same
words in config, and they are read here:

    "每周五 24:00"      weekly: by the end of Friday of the week the piece is for
    "每周五前"          the same (a notice's 周五前 means by Friday, not by Thursday)
    "每周四 18:00"      weekly, by Thursday 18:00
    "活动结束后 3 天"    after the event: by the end of the third day after its date
    ""                  no deadline

Pure: every function takes the day it is asked about and returns local
(naive) times; the caller puts them in the office's time zone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

WEEKDAY_NAMES = "一二三四五六日"
_WEEKDAYS = {**{c: i + 1 for i, c in enumerate(WEEKDAY_NAMES)}, "天": 7, "末": 7}
_NUMERALS = {c: i for i, c in enumerate("零一二三四五六七八九十")} | {"两": 2}

_WEEKLY = re.compile(
    r"^每(?:周|星期|礼拜)(?P<day>[一二三四五六日天末1-7])"
    r"(?:前|之前|以前)?(?:(?P<hour>\d{1,2})[:：点时](?P<minute>\d{2})?分?)?(?:前|之前|以前)?$"
)
_AFTER = re.compile(
    r"^(?:活动|事项|事情)?(?:结束|发生)?(?:后|之后)(?P<days>\d{1,2}|[一二两三四五六七八九十])"
    r"(?:个工作日|天|日)(?:内|之内|以内)?$"
)
FORMS = "例如 \"每周五 24:00\"、\"每周五前\" 或 \"活动结束后 3 天\"；不设截止时间写 \"\""


class DeadlineError(ValueError):
    """Text that names no deadline; the message shows the accepted forms."""


@dataclass(frozen=True)
class Deadline:
    """One column's deadline: weekly (a weekday and a time) or days after the event."""

    kind: Literal["none", "weekly", "after_event"]
    text: str = ""
    # weekly: ISO weekday (1 = Monday) and the time of day; 24:00 is the end of the day.
    weekday: int = 5
    at: time = time(0)
    end_of_day: bool = True
    # after_event: whole days after the event's date.
    days: int = 0

    @property
    def label(self) -> str:
        """The deadline as a correspondent reads it: 星期五 24:00, 活动结束后 3 天内."""
        if self.kind == "weekly":
            clock = "24:00" if self.end_of_day else f"{self.at:%H:%M}"
            return f"星期{WEEKDAY_NAMES[self.weekday - 1]} {clock}"
        if self.kind == "after_event":
            return f"活动结束后 {self.days} 天内"
        return ""

    def for_week(self, monday: date) -> datetime | None:
        """The local moment a weekly piece for the week of ``monday`` is due."""
        if self.kind != "weekly":
            return None
        day = monday - timedelta(days=monday.weekday()) + timedelta(days=self.weekday - 1)
        if self.end_of_day:
            return datetime.combine(day + timedelta(days=1), time(0))
        return datetime.combine(day, self.at)

    def for_event(self, event: date) -> datetime | None:
        """The local moment a piece about an event on ``event`` is due."""
        if self.kind != "after_event":
            return None
        return datetime.combine(event + timedelta(days=self.days + 1), time(0))


NO_DEADLINE = Deadline("none")


def parse_deadline(text: str) -> Deadline:
    """The deadline ``text`` writes; raises ``DeadlineError`` with the accepted forms."""
    value = "".join(unicodedata.normalize("NFKC", text).split())
    if not value:
        return NO_DEADLINE
    if match := _WEEKLY.match(value):
        day = match["day"]
        weekday = int(day) if day.isdigit() else _WEEKDAYS[day]
        hour, minute = int(match["hour"] or 24), int(match["minute"] or 0)
        if hour > 24 or minute > 59 or (hour == 24 and minute):
            raise DeadlineError(f"截止时间 {text!r} 的钟点不存在；{FORMS}")
        end_of_day = hour == 24
        return Deadline("weekly", text, weekday=weekday,
                        at=time(0) if end_of_day else time(hour, minute),
                        end_of_day=end_of_day)
    if match := _AFTER.match(value):
        raw = match["days"]
        days = int(raw) if raw.isdigit() else _NUMERALS[raw]
        return Deadline("after_event", text, days=days)
    raise DeadlineError(f"无法识别截止时间 {text!r}；{FORMS}")


def lateness(due: datetime, arrived: datetime) -> str:
    """How late ``arrived`` is after ``due``, as a clerk says it: 2 天 3 小时."""
    seconds = int((arrived - due).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    if days and hours:
        return f"{days} 天 {hours} 小时"
    if days:
        return f"{days} 天"
    if hours:
        return f"{hours} 小时"
    return f"{max(rest // 60, 1)} 分钟"
