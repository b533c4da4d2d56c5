"""Subject formats as the notices write them, and what people really type."""

from __future__ import annotations

from datetime import date

import pytest

from mailintake.config.settings import default_columns
from mailintake.rules.columns import SubjectMatcher, TemplateError, compile_format, subject_key
from mailintake.rules.values import UnitRef

UNITS = {
    n: UnitRef(id=i, name=n)
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


TODAY = date(2026, 11, 19)


@pytest.mark.parametrize(
    ("subject", "when"),
    [
        ("组织部信息（2026.11.17）标题", date(2026, 11, 17)),
        ("组织部信息（2026/11/17）标题", date(2026, 11, 17)),
        ("组织部信息（２０２６．１１．１７）标题", date(2026, 11, 17)),  # full-width digits
        ("组织部信息（2026。11。17）标题", date(2026, 11, 17)),  # the IME's full stop
        ("组织部信息（2026 年 11 月 17 日）标题", date(2026, 11, 17)),
        ("组织部信息（26.11.17）标题", date(2026, 11, 17)),
        ("组织部信息（20261117）标题", date(2026, 11, 17)),
        ("组织部信息（11月17日）标题", date(2026, 11, 17)),
        ("组织部信息（11.17）标题", date(2026, 11, 17)),
    ],
)
def test_every_date_style_people_type(subject: str, when: date) -> None:
    """Dates with or without the year, in any separator, are read as the day meant."""
    found = MATCHER.match(subject, TODAY)
    assert found is not None and found.event_date == when and found.title == "标题"


def test_year_less_date_late_in_the_year_is_last_years_in_january() -> None:
    """12月30日 sent on 2 January means the 30 December just past."""
    found = MATCHER.match("组织部信息（12月30日）标题", date(2027, 1, 2))
    assert found is not None and found.event_date == date(2026, 12, 30)


def test_impossible_date_matches_but_has_no_day() -> None:
    """A date that does not exist still matches the column, so the check can name it."""
    found = MATCHER.match("组织部信息（2026.02.30）标题", TODAY)
    assert found is not None and found.date_text == "2026.02.30" and found.event_date is None


@pytest.mark.parametrize(
    ("subject", "unit", "title"),
    [
        ("【组织部】信息（2026.11.17）标题", "组织部", "标题"),
        ("更正：组织部信息（2026.11.17）标题", "组织部", "标题"),
        ("【更正稿】组织部信息（2026.11.17）标题", "组织部", "标题"),
        ("Re: 转发：组织部信息（2026.11.17）标题", "组织部", "标题"),
        ("组织部信息（2026.11.17）标题（更正）", "组织部", "标题"),
        ("组织部信息（2026.11.17）标题.docx", "组织部", "标题"),
        ("实 小（李娜）开展活动", "实小", "开展活动"),
    ],
)
def test_brackets_markers_and_file_names_around_the_subject(
    subject: str, unit: str, title: str
) -> None:
    """【】 around the unit, 更正/转发 in front, （更正） or .docx behind: the same subject."""
    found = MATCHER.match(subject, TODAY)
    assert found is not None and found.unit is UNITS[unit] and found.title == title


def test_corrected_subject_is_the_same_subject() -> None:
    """A correction marked 更正 has the same key as the subject it corrects."""
    plain = subject_key("组织部信息（2026.11.17）我校召开会议")
    assert subject_key("更正：组织部信息(2026.11.17) 我校召开会议") == plain
    assert subject_key("组织部信息【2026.11.17】我校召开会议（更正）") == plain
    assert subject_key("组织部信息（2026.11.17）我校召开大会") != plain
