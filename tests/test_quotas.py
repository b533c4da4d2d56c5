"""Periods, quotas and reminders (催报), as the notices ask: a school one
piece a week, a department one a month, nothing in holiday weeks, and one
reminder per unit and period whatever the daemon went through."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
from conftest import SHANGHAI
from office_pieces import body_text, file_piece, make_app, outbox, parsed, unit_id
from sqlmodel import select

from mailintake.app import App
from mailintake.config.calendar import TeachingCalendar
from mailintake.config.settings import CalendarConfig, SemesterConfig
from mailintake.office.periods import PeriodError, parse_period, period_of
from mailintake.office.quotas import Quotas
from mailintake.office.registry import import_rows, read_rows
from mailintake.office.reminders import queue_reminders
from mailintake.store.database import session
from mailintake.store.models import OutboxMessage
from mailintake.store.units import UnitInfo

CALENDAR = TeachingCalendar(CalendarConfig(
    semesters=[SemesterConfig(name="2026秋", week1_monday=date(2026, 9, 7), weeks=20)]))


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 12, 1), "2026年11月"),
        ("2026年11月", date(2026, 11, 1), date(2026, 12, 1), "2026年11月"),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1), "2026年第四季度"),
        ("2026-H2", date(2026, 7, 1), date(2027, 1, 1), "2026年下半年"),
        ("2026", date(2026, 1, 1), date(2027, 1, 1), "2026年"),
        ("2026-W48", date(2026, 11, 23), date(2026, 11, 30),
         "第12教学周（2026年11月23日—11月29日）"),
        ("2026-2027", date(2026, 9, 1), date(2027, 9, 1), "2026—2027学年"),
    ],
)
def test_report_periods_are_read_as_clerks_write_them(
    text: str, start: date, end: date, label: str
) -> None:
    """2026-11, 2026-Q4, 2026-H2, 2026, 2026-W48 and a school year name their days."""
    period = parse_period(text, CALENDAR)
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "十一月", "2026-2028"])
def test_a_period_that_does_not_exist_is_explained(text: str) -> None:
    """A wrong period names the forms that work."""
    with pytest.raises(PeriodError, match="例如 2026-11"):
        parse_period(text)


def test_two_week_periods_pair_the_teaching_weeks() -> None:
    """Seed 001's every two weeks: teaching weeks 11–12 are one period, 13–14 the next."""
    period = period_of("two_weeks", date(2026, 11, 25), CALENDAR)
    assert (period.start, period.end) == (date(2026, 11, 16), date(2026, 11, 30))
    assert period.label.startswith("第11—12教学周")
    assert period_of("two_weeks", date(2026, 11, 30), CALENDAR).start == date(2026, 11, 30)


def test_quota_follows_kind_and_unit_override(app: App) -> None:
    """A school owes one piece a week, a department one a month, and a unit's own quota wins."""
    quotas = Quotas(app.config)
    school = quotas.rule_for(UnitInfo(id=1, name="实验小学", kind="学校"))
    department = quotas.rule_for(UnitInfo(id=2, name="组织部", kind="部门"))
    special = quotas.rule_for(UnitInfo(id=3, name="城关镇中心校", kind="学校", quota=2))
    assert school is not None and (school.count, school.period) == (1, "week")
    assert department is not None and (department.count, department.period) == (1, "month")
    assert special is not None and (special.count, special.period) == (2, "week")
    national_day = quotas.period_of("week", date(2026, 10, 7))
    assert quotas.required(school, national_day) == 0
    assert quotas.required(school, quotas.period_of("week", date(2026, 11, 25))) == 1


def test_every_two_weeks_is_expressible(tmp_path: Path, db_url: str) -> None:
    """An office can ask departments for a piece every two weeks (seed 001)."""
    extra = '[quotas.kinds."部门"]\ncount = 1\nperiod = "two_weeks"\n'
    app = make_app(tmp_path, db_url, extra, lambda: at(date(2026, 11, 26)))
    rule = Quotas(app.config).rule_for(UnitInfo(id=1, name="组织部", kind="部门"))
    assert rule is not None and rule.period == "two_weeks"
    assert Quotas(app.config).rule_for(UnitInfo(id=1, name="实验小学", kind="学校")) is not None
    app.engine.dispose()


def _reminded(app: App) -> dict[str, list[str]]:
    """Reminder mails by unit name in the subject, with their recipients."""
    found: dict[str, list[str]] = {}
    for item in outbox(app, "reminder"):
        unit = item.subject.removeprefix("【催报】").split("第")[0].split("2026年")[0]
        found.setdefault(unit, []).append(item.recipient)
    return found


def test_school_with_nothing_in_week_12_is_reminded_once(app: App) -> None:
    """A school that sent nothing in teaching week 12 gets one reminder Thursday, none Friday."""
    file_piece(app, "城关镇中心校", at(date(2026, 11, 24), 15))
    assert queue_reminders(app, at(date(2026, 11, 26), 8)) == 0  # Thursday, before 9:00
    assert queue_reminders(app, at(date(2026, 11, 26))) > 0
    reminded = _reminded(app)
    assert reminded["实验小学"] == ["lina@foxmail.com"]
    assert "城关镇中心校" not in reminded
    assert queue_reminders(app, at(date(2026, 11, 27))) == 0  # Friday: nothing twice
    assert _reminded(app) == reminded
    mail = parsed(next(i for i in outbox(app, "reminder") if i.recipient == "lina@foxmail.com"))
    assert mail["Subject"] == "【催报】实验小学第12教学周（2026年11月23日—11月29日）尚缺 1 篇信息"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = body_text(mail)
    # The weekly column's deadline (每周五 24:00), not the week's Sunday.
    assert "已登记 0 篇，尚缺 1 篇" in body and "请于 本周五（11月27日）24:00 前报送" in body


def test_departments_are_reminded_in_the_last_week_of_the_month(app: App) -> None:
    """A department that sent nothing this month hears so in the month's last week only."""
    queue_reminders(app, at(date(2026, 11, 19)))  # Thursday of week 11: not the last week
    assert "组织部" not in _reminded(app)
    queue_reminders(app, at(date(2026, 11, 26)))
    assert sorted(_reminded(app)["组织部"]) == ["liuxy@163.com", "zzb_xx@126.com"]


def test_no_reminders_in_a_holiday_week(app: App) -> None:
    """National Day week asks for nothing, so nobody is reminded."""
    assert queue_reminders(app, at(date(2026, 10, 8))) == 0
    assert queue_reminders(app, at(date(2026, 10, 9), 17)) == 0
    assert outbox(app, "reminder") == []


def test_a_reminder_missed_during_downtime_goes_out_once_on_restart(app: App) -> None:
    """Down from Wednesday to Saturday: the reminders go out at restart, and only once."""
    assert queue_reminders(app, at(date(2026, 11, 28), 11)) > 0
    first = len(outbox(app, "reminder"))
    assert queue_reminders(app, at(date(2026, 11, 28), 12)) == 0
    assert len(outbox(app, "reminder")) == first
    # Next Monday a new week starts and is not yet due.
    assert queue_reminders(app, at(date(2026, 11, 30))) == 0
    # A key names every unit its mail covers: reminder:<unit>[,<unit>…]:<period>:<address>.
    assert unit_id(app, "实验小学") in {int(u) for i in outbox(app, "reminder")
                                      for u in i.dedup_key.split(":")[1].split(",")}


def test_a_township_correspondent_of_ninety_village_schools_is_reminded_of_each_once(
    app: App, tmp_path: Path
) -> None:
    """Seed 004's township: one correspondent writes for ninety village schools, all silent
    in teaching week 12. Every school is named in the reminders she gets, in as few mails
    as the outbox's keys hold (the key column is 200 characters on PostgreSQL), and a
    second round on the same day queues nothing."""
    form = tmp_path / "乡镇.csv"
    rows = ["单位名称,简称,单位类别,信息员姓名,职务,邮箱,联系电话"]
    rows += [f"城关镇第{n}村小学,,学校,孙老师,教师,sunls@126.com,1370000{n:04d}"
             for n in range(1, 91)]
    form.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_rows(app.engine, read_rows(form))
    thursday = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
    queued = queue_reminders(app, thursday)
    with session(app.engine) as db:
        mails = db.exec(select(OutboxMessage)
                        .where(OutboxMessage.recipient == "sunls@126.com")).all()
    assert 1 < len(mails) < 6 and queued >= len(mails)
    assert all(len(m.dedup_key) <= 200 for m in mails)
    assert all(m.message_id for m in mails)  # an answer to a reminder is known as one
    named = "".join(body_text(parsed(m)) for m in mails)
    assert all(f"城关镇第{n}村小学" in named for n in range(1, 91))
    assert queue_reminders(app, thursday) == 0
