"""Reminders (催报): a unit behind its quota hears so once per quota period.

The reminder day is the configured weekday within the last seven days of
the quota period (for a weekly quota: that weekday of the week; for a
monthly one: of the month's last week), at the configured hour. From then
until the period ends a unit still behind is due. A correspondent gets one mail per
address naming all of their units behind; its outbox key
(``store.sent.reminder_key``) names every (unit, period) it covers and is
written, under the round's lock, in the transaction that queues it, so a
restart after downtime sends a missed reminder once, and a second call (or a
second process) sends nothing. The deadline a reminder names is the
columns' (``deadline_label``). No reminder goes out in a week that asks for no
pieces (holidays, outside the semester).

``due_reminders`` is pure (time and counts are arguments); ``queue_reminders``
reads the store and queues; the daemon calls it as ``(app, now)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from mailintake.config.office import RemindersConfig
from mailintake.config.settings import ColumnConfig
from mailintake.office.periods import Period, day_label
from mailintake.office.quotas import Quotas
from mailintake.rules.examples import ExampleValues, example_subject
from mailintake.store import sent
from mailintake.store.counts import accepted_by_unit
from mailintake.store.units import UnitInfo, quota_units

if TYPE_CHECKING:
    from mailintake.app import App

log = logging.getLogger("mailintake.office.reminders")


@dataclass(frozen=True)
class Reminder:
    unit: UnitInfo
    period: Period
    required: int
    got: int

    @property
    def missing(self) -> int:
        return self.required - self.got


def reminder_moment(period: Period, settings: RemindersConfig, tz: ZoneInfo) -> datetime:
    """When the reminders of ``period`` become due (office time)."""
    first = max(period.start, period.end - timedelta(days=7))
    day = first + timedelta(days=(settings.weekday - first.isoweekday()) % 7)
    # A period shorter than a week (a semester's odd last week) may miss the weekday.
    day = min(day, period.last_day)
    return datetime.combine(day, time(settings.hour), tzinfo=tz)


def reminder_periods(
    now: datetime, units: list[UnitInfo], *, quotas: Quotas, settings: RemindersConfig,
    tz: ZoneInfo,
) -> list[tuple[UnitInfo, Period, int]]:
    """(unit, quota period, pieces owed) for every unit whose reminder time has come."""
    if not settings.enabled:
        return []
    today = now.astimezone(tz).date()
    if not quotas.week_carries_quota(today):
        return []
    found = []
    for unit in units:
        rule = quotas.rule_for(unit)
        if rule is None:
            continue
        period = quotas.period_of(rule.period, today)
        if not reminder_moment(period, settings, tz) <= now < period.bounds(tz)[1]:
            continue
        required = quotas.required(rule, period)
        if required > 0:
            found.append((unit, period, required))
    return found


def due_reminders(
    now: datetime,
    units: list[UnitInfo],
    *,
    accepted: Mapping[tuple[int, str], int],
    quotas: Quotas,
    settings: RemindersConfig,
    tz: ZoneInfo,
) -> list[Reminder]:
    """The reminders due at ``now``; ``accepted`` maps (unit id, period key) to pieces."""
    reminders = []
    candidates = reminder_periods(now, units, quotas=quotas, settings=settings, tz=tz)
    for unit, period, required in candidates:
        got = accepted.get((unit.id, period.key), 0)
        if got < required:
            reminders.append(Reminder(unit, period, required, got))
    return reminders


WEEKDAYS = "一二三四五六日"


def deadline_label(period: Period, columns: list[ColumnConfig], now: datetime, tz: ZoneInfo
                   ) -> str:
    """When the pieces of ``period`` are due, as the reminder says it.

    A weekly (or two-weekly) quota is due at the columns' weekly deadline of its
    last week (``ColumnConfig.due``: seed 003's 每周五 24:00 gives
    本周五（11月20日）24:00), the earliest if several columns name one; otherwise, or
    once that moment has passed, by the last day of the period.
    """
    local = now.astimezone(tz).replace(tzinfo=None)
    if period.kind in ("week", "two_weeks"):
        last_monday = period.last_day - timedelta(days=period.last_day.weekday())
        dues = [d for c in columns if (d := c.due.for_week(last_monday)) is not None]
        if dues and local < (due := min(dues)) <= datetime.combine(period.end, time(0)):
            day, clock = ((due.date() - timedelta(days=1), "24:00") if due.time() == time(0)
                          else (due.date(), f"{due:%H:%M}"))
            weekday = WEEKDAYS[day.weekday()]
            if day.isocalendar()[:2] == local.date().isocalendar()[:2]:
                return f"本周{weekday}（{day.month}月{day.day}日）{clock}"
            return f"{day.month}月{day.day}日（周{weekday}）{clock}"
    return day_label(period.last_day)


def reminder_context(
    reminders: list[Reminder], *, recipient_name: str, as_of: str, columns: list[ColumnConfig],
    office_name: str, deadlines: Mapping[Period, str] | None = None,
    examples: ExampleValues | None = None, contact: str = "",
) -> dict[str, Any]:
    """What the reminder to one correspondent sees: every unit of theirs behind
    (``units``), and the first one's figures by name, as older templates use them."""
    deadlines = deadlines or {}
    units = [{
        "unit_name": r.unit.name,
        "period_label": r.period.label,
        "required": r.required,
        "got": r.got,
        "missing": r.missing,
        "deadline": deadlines.get(r.period) or day_label(r.period.last_day),
    } for r in reminders]
    shown = [example_subject(c, examples) if examples is not None else c.example
             for c in columns if c.example or examples is not None]
    return {
        "recipient_name": recipient_name,
        **units[0],
        "units": units,
        "as_of": as_of,
        "examples": shown,
        "office_name": office_name,
        "office_contact": contact,
    }


def queue_reminders(app: App, now: datetime) -> int:
    """Queue the reminders due at ``now``, one mail per correspondent address naming
    all of their units behind; returns how many mails were queued."""
    tz = app.config.office.tz
    quotas = Quotas(app.config)
    units = quota_units(app.engine)
    settings = app.config.reminders
    candidates = reminder_periods(now, units, quotas=quotas, settings=settings, tz=tz)
    by_period: dict[Period, list[int]] = {}
    for unit, period, _ in candidates:
        by_period.setdefault(period, []).append(unit.id)
    if not by_period:
        return 0
    accepted: dict[tuple[int, str], int] = {}
    for period, ids in by_period.items():
        start, end = period.bounds(tz)
        for unit_id, count in accepted_by_unit(app.engine, start, end, ids).items():
            accepted[(unit_id, period.key)] = count
    behind = due_reminders(now, units, accepted=accepted, quotas=quotas, settings=settings,
                           tz=tz)
    for reminder in behind:
        if not reminder.unit.recipients:
            log.warning("unit %s is behind its quota but has no correspondent to remind",
                        reminder.unit.name)

    def build(done: set[tuple[int, str]]) -> list[sent.Mail]:
        return _mails(app, [r for r in behind if (r.unit.id, r.period.key) not in done], now)

    queued = sent.reminder_round(app.engine, {p.key for p in by_period}, build, now)
    for mail in queued:
        log.info("reminder queued (%s)", mail.dedup_key)
    return len(queued)


T = TypeVar("T")


def fitting(items: list[T], key: Callable[[list[T]], str]) -> list[list[T]]:
    """``items`` for one address in as few mails as their outbox keys (``key`` of a
    group) fit in (a township's correspondent may send for dozens of village schools):
    usually one."""
    groups: list[list[T]] = [[]]
    for item in items:
        trial = [*groups[-1], item]
        if groups[-1] and len(key(trial)) > sent.KEY_LENGTH:
            groups.append([item])
        else:
            groups[-1] = trial
    return groups


def _fitting(reminders: list[Reminder], address_id: int) -> list[list[Reminder]]:
    return fitting(reminders, lambda group: sent.reminder_key(
        ((r.unit.id, r.period.key) for r in group), address_id))


def _mails(app: App, reminders: list[Reminder], now: datetime) -> list[sent.Mail]:
    """One mail per correspondent address (more only when its units outgrow one outbox
    key), naming every unit of theirs in ``reminders``."""
    from mailintake.replies.compose import example_values

    as_of = f"{app.local(now):%m月%d日 %H:%M}"
    tz = app.config.office.tz
    deadlines = {r.period: deadline_label(r.period, app.config.columns, now, tz)
                 for r in reminders}
    by_address: dict[int, tuple[str, str, list[Reminder]]] = {}
    for reminder in sorted(reminders, key=lambda r: r.unit.name):
        for address_id, address, name in reminder.unit.recipients:
            by_address.setdefault(address_id, (address, name, []))[2].append(reminder)
    mails = []
    for address_id, (address, name, all_theirs) in by_address.items():
        for theirs in _fitting(all_theirs, address_id):
            context = reminder_context(
                theirs, recipient_name=name, as_of=as_of, columns=app.config.columns,
                office_name=app.config.office.name, deadlines=deadlines,
                examples=example_values(app, now, unit=theirs[0].unit.name, author=name),
                contact=app.config.office.contact_line,
            )
            subject, body = app.replies.render("reminder", context)
            raw = app.replies.plain(to=address, subject=subject, body=body, now=now,
                                    auto="auto-generated")
            key = sent.reminder_key(((r.unit.id, r.period.key) for r in theirs), address_id)
            mails.append(sent.Mail(dedup_key=key, kind="reminder", recipient=address,
                                   subject=subject, raw=raw))
    return mails


def next_reminder(app: App, now: datetime, horizon_days: int = 400) -> datetime | None:
    """The next moment after ``now`` at which reminders fall due for some unit (whether
    or not it will then be behind); None when none does within ``horizon_days``
    (the configured semesters have ended)."""
    tz = app.config.office.tz
    quotas = Quotas(app.config)
    settings = app.config.reminders
    if not settings.enabled:
        return None
    rules = {(r.count, r.period): r for u in quota_units(app.engine)
             if (r := quotas.rule_for(u)) is not None}
    today = now.astimezone(tz).date()
    for offset in range(horizon_days):
        day = today + timedelta(days=offset)
        moment = datetime.combine(day, time(settings.hour), tzinfo=tz)
        if moment <= now or not quotas.week_carries_quota(day):
            continue
        for rule in rules.values():
            period = quotas.period_of(rule.period, day)
            if (reminder_moment(period, settings, tz) == moment
                    and quotas.required(rule, period) > 0):
                return moment
    return None


def moment_label(moment: datetime) -> str:
    """11月19日（周四）09:00."""
    return f"{moment.month}月{moment.day}日（周{WEEKDAYS[moment.weekday()]}）{moment:%H:%M}"


def sample_contexts() -> list[dict[str, Any]]:
    """The template's start-up check (``reply_samples``): every branch filled."""
    from mailintake.config.settings import default_columns
    from mailintake.office.periods import period_of

    week = period_of("week", date(2026, 11, 23))
    one = Reminder(UnitInfo(id=1, name="实验小学", kind="学校"), week, required=1, got=0)
    two = Reminder(UnitInfo(id=2, name="城关镇东街小学", kind="学校"), week, required=2, got=1)
    return [reminder_context(shown, recipient_name="李娜", as_of="11月26日 09:00",
                             columns=default_columns(), office_name="县教育局办公室",
                             deadlines={week: "本周五（11月27日）24:00"},
                             examples=ExampleValues(unit="实验小学", day=date(2026, 11, 26),
                                                    week=12, author="李娜"),
                             contact="王老师（电话 0571-86000000）")
            for shown in ([one], [one, two])]
