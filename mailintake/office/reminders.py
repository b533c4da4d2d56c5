"""Reminders (催报): a unit behind its quota hears so once per quota period.

The reminder day is the configured weekday within the last seven days of
the quota period (for a weekly quota: that weekday of the week; for a
monthly one: of the month's last week), at the configured hour. From then
until the period ends a unit still behind is due; the outbox key
``reminder:<unit>:<period>:<address>`` is written in the transaction that
queues it, so a restart after downtime sends a missed reminder once and a
second call sends nothing. No reminder goes out in a week that asks for no
pieces (holidays, outside the semester).

``due_reminders`` is pure (time and counts are arguments); ``queue_reminders``
reads the store and queues; the daemon calls it as ``(app, now)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mailintake.config.office import RemindersConfig
from mailintake.config.settings import ColumnConfig
from mailintake.office.periods import Period, day_label
from mailintake.office.quotas import Quotas
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

    @property
    def key(self) -> str:
        return f"reminder:{self.unit.id}:{self.period.key}"


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


def reminder_context(
    reminder: Reminder, *, recipient_name: str, as_of: str, columns: list[ColumnConfig],
    office_name: str,
) -> dict[str, Any]:
    return {
        "recipient_name": recipient_name,
        "unit_name": reminder.unit.name,
        "period_label": reminder.period.label,
        "required": reminder.required,
        "got": reminder.got,
        "missing": reminder.missing,
        "deadline": day_label(reminder.period.last_day),
        "as_of": as_of,
        "examples": [c.example for c in columns if c.example],
        "office_name": office_name,
    }


def queue_reminders(app: App, now: datetime) -> int:
    """Queue the reminders due at ``now``; returns how many mails were queued."""
    tz = app.config.office.tz
    quotas = Quotas(app.config)
    queued = 0
    units = quota_units(app.engine)
    settings = app.config.reminders
    candidates = reminder_periods(now, units, quotas=quotas, settings=settings, tz=tz)
    by_period: dict[Period, list[int]] = {}
    for unit, period, _ in candidates:
        by_period.setdefault(period, []).append(unit.id)
    accepted: dict[tuple[int, str], int] = {}
    for period, ids in by_period.items():
        start, end = period.bounds(tz)
        for unit_id, count in accepted_by_unit(app.engine, start, end, ids).items():
            accepted[(unit_id, period.key)] = count
    done = sent.reminded(app.engine, {p.key for p in by_period})
    for reminder in due_reminders(now, units, accepted=accepted, quotas=quotas,
                                  settings=app.config.reminders, tz=tz):
        if (reminder.unit.id, reminder.period.key) in done:
            continue
        if not reminder.unit.recipients:
            log.warning("unit %s is behind its quota but has no correspondent to remind",
                        reminder.unit.name)
            continue
        queued += _queue(app, reminder, now)
    return queued


def _queue(app: App, reminder: Reminder, now: datetime) -> int:
    """All of a unit's reminder mails in one transaction: all queued, or none."""
    as_of = f"{app.local(now):%m月%d日 %H:%M}"
    mails = []
    for address_id, address, name in reminder.unit.recipients:
        context = reminder_context(
            reminder, recipient_name=name, as_of=as_of, columns=app.config.columns,
            office_name=app.config.office.name,
        )
        subject, body = app.replies.render("reminder", context)
        raw = app.replies.plain(to=address, subject=subject, body=body, now=now,
                                auto="auto-generated")
        mails.append(sent.Mail(dedup_key=f"{reminder.key}:{address_id}", kind="reminder",
                               recipient=address, subject=subject, raw=raw))
    if not sent.queue_once(app.engine, mails, now):
        return 0  # another process queued this unit's reminder first
    log.info("reminder queued for %s (%s: %d of %d)", reminder.unit.name,
             reminder.period.key, reminder.got, reminder.required)
    return len(reminder.unit.recipients)


def sample_contexts() -> list[dict[str, Any]]:
    """The template's start-up check (``reply_samples``): every branch filled."""
    from mailintake.config.settings import default_columns
    from mailintake.office.periods import period_of

    reminder = Reminder(UnitInfo(id=1, name="实验小学", kind="学校"),
                        period_of("week", date(2026, 11, 23)), required=1, got=0)
    return [reminder_context(reminder, recipient_name="李娜", as_of="11月26日 09:00",
                             columns=default_columns(), office_name="县教育局办公室")]
