"""The notices' deadlines, the week a piece counts for, dates where the author
goes, and the unit's 负责领导, through the real pipeline on SQLite and
PostgreSQL: what the correspondent gets back and what the clerk finds filed.

Teaching week 1 starts 2026-09-07 (conftest), so week 11 runs 16–22 November
2026 and its digest is due Friday 20 November 24:00 (seed 003: 每周周五前).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES, SHANGHAI
from notices_mail import (  # noqa: F401 (office is a fixture)
    Office,
    foxmail,
    office,
    replies,
)
from office_pieces import send, text_of
from pieces import CHEN, LI, chinese, weekly, word_file
from sqlmodel import col, select

from mailintake.app import App
from mailintake.cli.views import submission_rows, unit_rows
from mailintake.config.calendar import TeachingCalendar
from mailintake.office.periods import Period, period_of
from mailintake.office.registry import import_rows, read_rows
from mailintake.store.database import session
from mailintake.store.models import Submission

WEEK_11 = "党政办公室第十一周工作动态信息"


def _counted(app: App) -> list[datetime]:
    """Every filed piece's ``counted_at``, in office time, in filing order."""
    with session(app.engine) as db:
        rows = db.exec(select(Submission).order_by(col(Submission.id))).all()
        return [app.local(s.counted_at) for s in rows]


def _in_period(app: App, period: Period) -> int:
    """Pieces a period query by ``counted_at`` finds, as the quota and report queries ask."""
    start, end = period.bounds(app.config.office.tz)
    with session(app.engine) as db:
        rows = db.exec(select(Submission.id).where(
            col(Submission.counted_at) >= start, col(Submission.counted_at) < end)).all()
        return len(rows)


def _week(app: App, day: date) -> Period:
    return period_of("week", day, TeachingCalendar(app.config.calendar))


@pytest.mark.parametrize(
    ("now", "late"),
    [
        (datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI), "2 天 9 小时"),  # Monday of week 12
        (datetime(2026, 11, 21, 8, 0, tzinfo=SHANGHAI), "8 小时"),  # Saturday of week 11
    ],
)
def test_week_11_digest_sent_late_warns_and_counts_for_week_11(
    office: Office, now: datetime, late: str
) -> None:
    """`党政办公室第十一周工作动态信息` after Friday of week 11 is filed with a warning that
    names the deadline and how late it is, and counts for week 11, not week 12."""
    app = office()
    send(app, now, foxmail(CHEN, "陈佩", WEEK_11, weekly(1)))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", ["subject.week_late"])
    [receipt] = replies(app)
    body = text_of(receipt)
    assert "【回执】" in str(receipt["Subject"])
    assert "第11教学周的截止时间为11月20日（周五）24:00" in body
    assert f"收稿时已晚 {late}" in body and "本稿仍计入第11教学周" in body
    [counted] = _counted(app)
    assert counted == datetime(2026, 11, 16, 0, 0, tzinfo=SHANGHAI)
    assert _in_period(app, _week(app, date(2026, 11, 16))) == 1
    assert "第11教学周" in _week(app, counted.date()).label
    assert _in_period(app, _week(app, date(2026, 11, 23))) == 0


def test_digest_sent_in_its_own_week_has_no_finding_and_counts_for_that_week(
    office: Office
) -> None:
    """Week 11's digest on Friday afternoon of week 11 is on time: no warning."""
    app = office()
    send(app, datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI),
         foxmail(CHEN, "陈佩", WEEK_11, weekly(2)))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", [])
    assert "截止时间" not in text_of(replies(app)[0])
    assert _in_period(app, _week(app, date(2026, 11, 16))) == 1


def test_late_digest_counts_at_arrival_when_the_office_says_so(
    office: Office
) -> None:
    """With `[deadlines] late_counts = false` the late digest counts for week 12, still warned."""
    app = office("\n[deadlines]\nlate_counts = false\n")
    now = datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)
    send(app, now, foxmail(CHEN, "陈佩", WEEK_11, weekly(3)))
    assert submission_rows(app)[0]["findings"] == ["subject.week_late"]
    body = text_of(replies(app)[0])
    assert "第11教学周的截止时间为11月20日（周五）24:00" in body
    assert "本稿按收稿时间计入统计" in body
    assert _counted(app) == [now]
    assert _in_period(app, _week(app, date(2026, 11, 16))) == 0
    assert _in_period(app, _week(app, date(2026, 11, 23))) == 1


def test_digest_of_a_week_across_two_months_counts_in_the_month_of_its_monday(
    office: Office
) -> None:
    """Week 13 (30 November – 6 December) sent on Monday of week 14: November's, and week 13's."""
    app = office()
    send(app, datetime(2026, 12, 7, 8, 0, tzinfo=SHANGHAI),
         foxmail(CHEN, "陈佩", "党政办公室第13周工作动态信息", weekly(4)))
    assert submission_rows(app)[0]["findings"] == ["subject.week_late"]
    assert "第13教学周的截止时间为12月4日（周五）24:00" in text_of(replies(app)[0])
    assert _in_period(app, period_of("month", date(2026, 11, 1))) == 1
    assert _in_period(app, period_of("month", date(2026, 12, 1))) == 0
    assert _in_period(app, _week(app, date(2026, 11, 30))) == 1


@pytest.mark.parametrize(
    ("now", "findings"),
    [
        (datetime(2026, 11, 12, 10, 0, tzinfo=SHANGHAI), []),
        (datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI), ["subject.date_late"]),
    ],
)
def test_dated_piece_is_late_once_and_counts_at_its_date(
    office: Office, now: datetime, findings: list[str]
) -> None:
    """A website piece about 10 November is due 3 days after; late, it gets one warning
    (not two), and either way it counts on 10 November."""
    app = office()
    document = word_file("", [chinese(280, 9)], ((1600, 1200, "图为会场"),))
    send(app, now, foxmail(CHEN, "陈佩", "党政办公室信息（2026.11.10）学校召开安全工作会议",
                           document))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", findings)
    body = text_of(replies(app)[0])
    if findings:
        assert "截止时间为11月13日（周五）24:00，收稿时已晚 5 天 10 小时" in body
        assert "超过了事后 3 天内报送的要求" in body
    else:
        assert "截止时间" not in body
    assert _counted(app) == [datetime(2026, 11, 10, tzinfo=SHANGHAI)]


def test_column_deadline_written_as_the_notice_writes_it(office: Office) -> None:
    """A website column with `截止 = "活动结束后 1 天"`: two days after is late by a day."""
    columns = """
[[columns]]
key = "website"
name = "网站信息"
subject = "{单位}信息（{日期}）{标题}"
"截止" = "活动结束后 1 天"
"""
    app = office(columns)
    document = word_file("", [chinese(280, 7)], ((1600, 1200, "图为会场"),))
    send(app, datetime(2026, 11, 19, 9, 0, tzinfo=SHANGHAI),
         foxmail(CHEN, "陈佩", "党政办信息（2026.11.17）召开教职工大会", document))
    assert submission_rows(app)[0]["findings"] == ["subject.date_late"]
    body = text_of(replies(app)[0])
    assert "截止时间为11月18日（周三）24:00，收稿时已晚 9 小时" in body
    assert "超过了事后 1 天内报送的要求" in body


@pytest.mark.parametrize(("arrival", "findings"), [
    (datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI), []),
    (datetime(2026, 11, 28, 9, 0, tzinfo=SHANGHAI), ["subject.date_late"]),
])
def test_weekend_event_in_a_weekly_column_is_due_the_next_friday(
    office: Office, arrival: datetime, findings: list[str]
) -> None:
    """A column due `每周五 24:00`: a Saturday event cannot be due the day before it
    happened; it is due the next Friday."""
    columns = """
[[columns]]
key = "website"
name = "网站信息"
subject = "{单位}信息（{日期}）{标题}"
"截止" = "每周五 24:00"
"""
    app = office(columns)
    document = word_file("", [chinese(280, 7)], ((1600, 1200, "图为会场"),))
    send(app, arrival, foxmail(CHEN, "陈佩", "党政办信息（2026.11.21）举办家长开放日", document))
    assert submission_rows(app)[0]["findings"] == findings
    if findings:
        assert "截止时间为11月27日（周五）24:00" in text_of(replies(app)[0])


GENERAL = [
    "实验小学（2026.11.17）开展秋季趣味运动会",
    "实验小学(2026-11-17)开展秋季趣味运动会",
    "实验小学（2026年11月17日）开展秋季趣味运动会",
    "实小【11月17日】开展秋季趣味运动会",
    "实验小学 ( 2026.11.17 ) 开展秋季趣味运动会",
]


@pytest.mark.parametrize("subject", GENERAL)
@pytest.mark.parametrize(
    ("now", "late"),
    [
        (datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI), []),
        (datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI), ["subject.date_late"]),
    ],
)
def test_date_where_the_author_goes_is_the_event_date(
    office: Office, subject: str, now: datetime, late: list[str]
) -> None:
    """`实验小学（2026.11.17）开展秋季趣味运动会` is not filed with author "2026.11.17": the
    bracket's date is the event's, and the receipt asks for the author's name."""
    app = office()
    send(app, now, foxmail(LI, "李娜", subject, word_file("", [chinese(220, 3)],
                                                           ((1600, 1200, "图为运动会"),))))
    [row] = submission_rows(app)
    assert (row["status"], row["unit"], row["findings"]) == (
        "accepted", "实验小学", ["subject.author_missing", *late])
    with session(app.engine) as db:
        piece = db.exec(select(Submission)).one()
        assert (piece.author, piece.event_date) == ("", date(2026, 11, 17))
    body = text_of(replies(app)[0])
    assert "主题中没有写作者姓名" in body and "作者：" not in body
    assert "实验小学（李娜）开展秋季趣味运动会" in body
    assert _counted(app) == [datetime(2026, 11, 17, tzinfo=SHANGHAI)]


def test_old_date_in_the_author_bracket(office: Office) -> None:
    """The issue's own subject: 2019's date, filed with the lateness and no author."""
    app = office()
    send(app, datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI),
         foxmail(LI, "李娜", "实验小学（2019.11.17）开展活动",
                 word_file("", [chinese(200, 5)], ((1600, 1200, "图为活动"),))))
    [row] = submission_rows(app)
    assert row["findings"] == ["subject.author_missing", "subject.date_late"]
    assert "主题中的日期是 2019.11.17" in text_of(replies(app)[0])


@pytest.mark.parametrize("subject", ["实验小学（李娜）开展秋季趣味运动会",
                                     "实验小学(李娜)开展秋季趣味运动会"])
def test_author_in_the_bracket_stays_the_author(
    office: Office, subject: str
) -> None:
    app = office()
    send(app, datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI),
         foxmail(LI, "李娜", subject, word_file("", [chinese(220, 4)],
                                               ((1600, 1200, "图为运动会"),))))
    [row] = submission_rows(app)
    assert row["findings"] == []
    assert "作者：李娜" in text_of(replies(app)[0])


def _form_with_leaders(folder: Path, header: str) -> Path:
    """fixtures/units.csv with a leader column (seed 003: 负责领导及信息员基本信息)."""
    lines = (FIXTURES / "units.csv").read_text(encoding="utf-8-sig").splitlines()
    leaders = {"党政办公室": "张三", "实验小学": "王校长"}
    rows = [f"{lines[0]},{header}"] + [
        f"{line},{leaders.get(line.split(',')[0], '')}" for line in lines[1:]
    ]
    path = folder / "登记表.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    return path


@pytest.mark.parametrize(
    ("header", "now"),
    [
        ("负责领导", datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)),
        ("分管领导", datetime(2026, 12, 3, 15, 0, tzinfo=SHANGHAI)),
    ],
)
def test_receipt_names_the_units_leader_from_the_form(
    office: Office, tmp_path: Path, header: str, now: datetime
) -> None:
    """A form with the optional 负责领导 column: the receipt and `units list` name the leader;
    a later form without the column keeps it."""
    app = office()
    import_rows(app.engine, read_rows(_form_with_leaders(tmp_path, header)))
    leaders = {r["unit"]: r["leader"] for r in unit_rows(app)}
    assert (leaders["党政办公室"], leaders["实验小学"], leaders["组织部"]) == ("张三", "王校长", "")
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    assert {r["unit"]: r["leader"] for r in unit_rows(app)}["党政办公室"] == "张三"
    week = _week(app, now.date()).label.split("第")[1].split("教学周")[0]
    subject = f"党政办公室第{week}周工作动态信息"
    send(app, now, foxmail(CHEN, "陈佩", subject, weekly(5)))
    assert submission_rows(app)[0]["status"] == "accepted"
    assert "本单位负责领导：张三" in text_of(replies(app)[0])


def test_receipt_without_a_leader_has_no_leader_line(office: Office) -> None:
    app = office()
    send(app, datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI),
         foxmail(CHEN, "陈佩", WEEK_11, weekly(6)))
    assert "负责领导" not in text_of(replies(app)[0])


def test_correction_of_a_digest_sent_in_time_is_not_late(office: Office) -> None:
    """Week 11's digest on Friday, corrected on Monday of week 12: the piece was there in
    time, so the correction gets no lateness warning and still counts for week 11, once."""
    app = office()
    send(app, datetime(2026, 11, 20, 17, 0, tzinfo=SHANGHAI),
         foxmail(CHEN, "陈佩", WEEK_11, weekly(7)))
    send(app, datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI),
         foxmail(CHEN, "陈佩", "更正：" + WEEK_11, weekly(8, items=4)))
    first, second = submission_rows(app)
    assert (first["status"], second["status"]) == ("superseded", "accepted")
    assert second["findings"] == []
    assert "截止时间" not in text_of(replies(app)[-1])
    assert _counted(app) == [datetime(2026, 11, 16, tzinfo=SHANGHAI)] * 2
