"""Subject examples that fit the office: a column's format filled with the
correspondent's own unit, today's date, this teaching week and their name.

The columns' ``example`` in config is the notice's (seed 003's are a
university's of 2019); shown to a county kindergarten it teaches nothing. A
reply shows instead the column's ``subject`` format filled in for whoever
reads it: ``第一幼儿园信息（2026.11.19）开展秋季趣味运动会``. Pure: plain values in,
text out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from mailintake.config.calendar import TeachingCalendar
from mailintake.config.settings import ColumnConfig, Config

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class ExampleValues:
    """What an example is filled with; an empty value shows what to write there."""

    unit: str = ""
    day: date | None = None
    week: int | None = None
    author: str = ""
    title: str = ""


def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十, 23 → 二十三 (teaching weeks as the notices write them)."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return f"{_DIGITS[tens] if tens > 1 else ''}十{_DIGITS[ones] if ones else ''}"


def example_subject(column: ColumnConfig, values: ExampleValues) -> str:
    """``column``'s subject format filled with ``values``."""
    fields = {
        "单位": values.unit or "单位名称",
        "日期": f"{values.day:%Y.%m.%d}" if values.day else "年.月.日",
        "周次": chinese_number(values.week) if values.week else "几",
        "作者": values.author or "作者姓名",
        "标题": values.title or "稿件标题",
    }
    return _PLACEHOLDER.sub(lambda m: fields.get(m[1], m[1]), column.subject)


def office_examples(config: Config, *, unit: str, day: date, author: str) -> list[str]:
    """Every column's subject filled for ``unit`` on ``day`` (its teaching week) by
    ``author``: what a reply shows where the notice printed its own examples."""
    week = TeachingCalendar(config.calendar).week_of(day)
    values = ExampleValues(unit=unit, day=day, week=week.number if week else None,
                           author=author)
    return [example_subject(c, values) for c in config.columns]
