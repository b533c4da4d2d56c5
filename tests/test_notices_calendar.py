"""The calendar that runs out (issue 18, point 8): holidays and swapped working
days for years the chinese_calendar package does not know come from config;
`doctor` warns when today or the next four weeks leave the configured semesters
or the known holiday data, and the daemon logs the same once a day."""

from __future__ import annotations

import logging
import mailbox
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHANGHAI, write_config

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.config.calendar import TeachingCalendar
from mailintake.config.settings import load_config
from mailintake.office.quotas import Quotas
from mailintake.service.daemon import CALENDAR_EVERY, JOBS, CalendarWatch
from mailintake.store.units import UnitInfo

SPRING_2027 = """
[[calendar.semesters]]
name = "2027春"
week1_monday = 2027-03-01
"""
MAY_DAY_2027 = """
[[calendar.holidays]]
name = "劳动节"
start = 2027-05-01
end = 2027-05-05

[calendar]
workdays = [2027-04-25, 2027-05-08]
"""


def office(tmp_path: Path, extra: str = "") -> Path:
    """A Maildir + SQLite office, its database made, for `doctor` to look at."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", extra)
    mailbox.Maildir(tmp_path / "Maildir", create=True)
    result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    return config


def doctor_calendar_line(config: Path, now: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), "--now", now, "doctor"])
    assert result.exit_code == 0, result.output  # a calendar gap is a warning, not a failure
    [line] = [ln for ln in result.output.splitlines() if "教学日历" in ln]
    return line


def test_doctor_is_quiet_inside_a_known_semester(tmp_path: Path) -> None:
    """19 November 2026, week 11 of 2026秋: the four weeks ahead are all known."""
    line = doctor_calendar_line(office(tmp_path), "2026-11-19T10:00:00+08:00")
    assert line == ("[正常] 教学日历：今天是2026秋第 11 教学周；"
                    "今后四周都在已配置的学期内，节假日数据齐全")


def test_doctor_warns_when_the_next_four_weeks_reach_a_year_without_holidays(
    tmp_path: Path,
) -> None:
    """20 December 2026: the weeks ahead reach 2027, which the package does not know."""
    line = doctor_calendar_line(office(tmp_path), "2026-12-20T10:00:00+08:00")
    assert line.startswith("[提示] 教学日历：没有 2027 年的节假日数据（chinese_calendar 包只到 "
                           "2026 年），节假日周会照常计报送任务")
    assert "[[calendar.holidays]]" in line and "[calendar] workdays" in line


def test_doctor_warns_when_the_semester_ends_within_four_weeks(tmp_path: Path) -> None:
    """10 January 2027, with 2027's holidays in config: 2026秋 ends on 24 January and
    2027春 starts on 1 March, so 25 January to 7 February lie outside every semester."""
    config = office(tmp_path, SPRING_2027 + MAY_DAY_2027)
    line = doctor_calendar_line(config, "2027-01-10T10:00:00+08:00")
    assert line == ("[提示] 教学日历：2027年1月25日 起有 14 天不在已配置的学期内"
                    "（这些天不计报送任务、不发催报）；如新学期已定，请在 "
                    "[[calendar.semesters]] 中添加")


def test_doctor_says_when_the_last_semester_has_ended(tmp_path: Path) -> None:
    """20 July 2027: the last configured semester ended on 18 July; reminders stopped."""
    config = office(tmp_path, SPRING_2027 + MAY_DAY_2027)
    line = doctor_calendar_line(config, "2027-07-20T10:00:00+08:00")
    assert line.startswith("[提示] 教学日历：已配置的学期已于 2027年7月18日 全部结束，"
                           "不再计报送任务、不再催报")


def test_may_day_2027_from_config_takes_the_quota_off_its_week(tmp_path: Path) -> None:
    """The week of 3 May 2027 has three holidays of five working days: no quota, as
    National Day week 2026 has none from the package; the swapped Sunday 25 April and
    Saturday 8 May are working days; the week after May Day asks as usual."""
    config = load_config(write_config(tmp_path, "sqlite:///x.db", SPRING_2027 + MAY_DAY_2027))
    quotas = Quotas(config)
    school = quotas.rule_for(UnitInfo(id=1, name="实验小学", kind="学校"))
    assert school is not None
    assert quotas.required(school, quotas.period_of("week", date(2027, 5, 3))) == 0
    assert quotas.required(school, quotas.period_of("week", date(2027, 5, 10))) == 1
    assert quotas.required(school, quotas.period_of("week", date(2026, 10, 5))) == 0
    calendar = TeachingCalendar(config.calendar)
    assert not calendar.is_day_off(date(2027, 4, 25)) and not calendar.is_day_off(date(2027, 5, 8))
    assert calendar.is_day_off(date(2027, 5, 4)) and calendar.is_day_off(date(2027, 5, 9))
    # Without the config, 2027 falls back to weekends only: May Day week would ask.
    bare = Quotas(load_config(write_config(tmp_path, "sqlite:///x.db", SPRING_2027)))
    assert bare.required(school, bare.period_of("week", date(2027, 5, 3))) == 1


def test_the_daemon_logs_the_calendar_warning_once_a_day(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The hourly calendar job logs doctor's warning at most once per local day."""
    assert JOBS["calendar"][1] == CALENDAR_EVERY == 3600
    config = load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}"))
    moment = [datetime(2026, 12, 20, 9, tzinfo=SHANGHAI)]
    app = App.from_config(config, lambda: moment[0])
    watch = CalendarWatch()
    caplog.set_level(logging.WARNING, logger="mailintake.service.daemon")
    try:
        for hour in (9, 10, 23):
            moment[0] = datetime(2026, 12, 20, hour, tzinfo=SHANGHAI)
            watch(app)
        moment[0] = datetime(2026, 12, 21, 0, 30, tzinfo=SHANGHAI)
        watch(app)
        # Inside a known stretch there is nothing to say.
        moment[0] = datetime(2026, 11, 19, 10, tzinfo=SHANGHAI)
        CalendarWatch()(app)
    finally:
        app.engine.dispose()
    lines = [r.getMessage() for r in caplog.records if "teaching calendar" in r.getMessage()]
    assert len(lines) == 2
    assert all("没有 2027 年的节假日数据" in line for line in lines)
