"""Subject formats as the notices write them, and what people really type."""

from __future__ import annotations

from datetime import date

import pytest

from mailintake.columns import SubjectMatcher, TemplateError, compile_format
from mailintake.config import default_columns
from mailintake.models import Unit

UNITS = {
    n: Unit(id=i, name=n, kind="部门")
    for i, n in enumerate(["党政办公室", "组织部", "人文学院", "实验小学", "实小"], start=1)
}
MATCHER = SubjectMatcher(default_columns(), UNITS)


@pytest.mark.parametrize(
    ("subject", "column", "unit", "title", "when", "week"),
    [
        ("党政办公室第十二周工作动态信息", "weekly", "党政办公室", "", None, 12),
        ("党政办公室第12周工作动态信息", "weekly", "党政办公室", "", None, 12),
        ("党政办公室 第 十二 周 工作动态信息", "weekly", "党政办公室", "", None, 12),
        (
            "组织部信息（2019.11.17）西安工程大学多措并举扎实全面推进党的建设效果好",
            "website",
            "组织部",
            "西安工程大学多措并举扎实全面推进党的建设效果好",
            date(2019, 11, 17),
            None,
        ),
        ("组织部信息(2019-11-17)标题", "website", "组织部", "标题", date(2019, 11, 17), None),
        ("组织部信息【2019年11月7日】标题", "website", "组织部", "标题", date(2019, 11, 7), None),
        (
            "人文学院微博信息（2019.11.17）人机分离，学习更专注",
            "weibo",
            "人文学院",
            "人机分离，学习更专注",
            date(2019, 11, 17),
            None,
        ),
        (
            "转发：实小（李娜）开展秋季趣味运动会",
            "general",
            "实小",
            "开展秋季趣味运动会",
            None,
            None,
        ),
    ],
)
def test_subjects_people_type_match_their_column(
    subject: str, column: str, unit: str, title: str, when: date | None, week: int | None
) -> None:
    """Full- or half-width brackets, 【】, spaces and any date style all match."""
    found = MATCHER.match(subject)
    assert found is not None
    assert (found.column.key, found.unit_text, found.title, found.event_date, found.week) == (
        column,
        unit,
        title,
        when,
        week,
    )
    assert found.unit is UNITS[unit]


@pytest.mark.parametrize("subject", ["信息", "党政办公室工作动态", ""])
def test_subjects_of_no_column_do_not_match(subject: str) -> None:
    """A subject that follows no format matches nothing."""
    assert MATCHER.match(subject) is None


def test_unknown_unit_still_matches_the_column() -> None:
    """A well-formed subject naming an unknown unit matches, with no unit resolved."""
    found = MATCHER.match("宣传部信息（2026.11.18）标题")
    assert found is not None and found.unit is None and found.unit_text == "宣传部"


def test_unknown_field_in_a_format_is_an_error() -> None:
    """A clerk's typo in a field name is reported with the fields that exist."""
    with pytest.raises(TemplateError, match="未知的字段"):
        compile_format("{部门}信息")
