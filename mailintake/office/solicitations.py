"""Requests for pieces (约稿, seed 003 五(一)): the office asks units for a piece on a
topic by a deadline.

Making one (``create``) numbers it per year and queues, in the same transaction,
one request mail per correspondent address naming the asked units that address
sends for. A piece answers it when its mail replies to one of the request's mails
(or its reminder's) or its subject carries the marker 【约稿2026-003】; the rules
read the number as a fact of the piece (``Entry.solicited``), the store links it
when it files the piece (``store.solicitations.link``).

Before the deadline (``[solicitations] remind_days_before``) the units that have
not answered get one reminder, queued under the same once-per-round lock and
outbox keys as the quota reminders (``store.sent.reminder_round``), by the
daemon's reminder job and by ``mailintake remind``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mailintake.config.settings import ColumnConfig
from mailintake.office.reminders import fitting, moment_label
from mailintake.rules.answers import solicitation_marker
from mailintake.rules.columns import unit_key
from mailintake.rules.examples import ExampleValues, example_subject
from mailintake.store import sent
from mailintake.store import solicitations as store
from mailintake.store.models import Solicitation
from mailintake.store.units import UnitInfo, all_units, quota_units

if TYPE_CHECKING:
    from mailintake.app import App

log = logging.getLogger("mailintake.office.solicitations")

#: Outbox kinds: the request, and the reminder before its deadline.
REQUEST_KIND = "solicitation"
REMINDER_KIND = "solicit_remind"
#: When a deadline given as a day alone falls: the end of the office's working day.
DEFAULT_TIME = time(17, 0)
STATES = {"answered": "已交稿", "overdue": "已逾期", "waiting": "未交"}


class SolicitationError(ValueError):
    """What the clerk asked cannot be done; the message is for them (Chinese)."""


@dataclass(frozen=True)
class Created:
    solicitation: Solicitation
    units: list[UnitInfo]
    mails: int

    @property
    def unreached(self) -> list[str]:
        """Asked units without a correspondent's address: nobody got the request."""
        return [u.name for u in self.units if not u.recipients]


def deadline_of(day: str, clock: str, tz: ZoneInfo) -> datetime:
    """The deadline a clerk typed (``2026-12-10`` and ``17:00``), in office time."""
    try:
        when = date.fromisoformat(day.strip())
    except ValueError as exc:
        raise SolicitationError(f"截止日期“{day}”无法识别，请写成 2026-12-10") from exc
    try:
        at = time.fromisoformat(clock.strip()) if clock.strip() else DEFAULT_TIME
    except ValueError as exc:
        raise SolicitationError(f"截止时间“{clock}”无法识别，请写成 17:00") from exc
    return datetime.combine(when, at, tzinfo=tz)


def deadline_label(moment: datetime, tz: ZoneInfo) -> str:
    """2026年12月10日（周四）17:00."""
    local = moment.astimezone(tz)
    return f"{local.year}年{moment_label(local)}"


def chosen_units(units: list[UnitInfo], aliases: dict[str, str], names: Iterable[str],
                 kinds: Iterable[str]) -> list[UnitInfo]:
    """The active units named (by name or alias) and those of the kinds named, by name;
    ``aliases`` maps an alias's key (``unit_key``) to its unit's name."""
    by_key = {unit_key(u.name): u for u in units}
    chosen: dict[int, UnitInfo] = {}
    unknown = []
    for name in names:
        key = unit_key(name)
        unit = by_key.get(key) or by_key.get(unit_key(aliases.get(key, "")))
        if unit is None:
            unknown.append(name)
        else:
            chosen[unit.id] = unit
    if unknown:
        raise SolicitationError(f"没有这些单位（或已停用）：{'、'.join(unknown)}")
    for kind in kinds:
        of_kind = [u for u in units if u.kind == kind.strip()]
        if not of_kind:
            raise SolicitationError(f"没有类别为“{kind}”的单位")
        chosen.update((u.id, u) for u in of_kind)
    return sorted(chosen.values(), key=lambda u: u.name)


def create(app: App, *, topic: str, request: str, deadline: datetime, units: list[str],
           kinds: list[str], points: float | None, created_by: str, now: datetime) -> Created:
    """Record a request to the units named and those of ``kinds``, and queue its mails."""
    topic = " ".join(topic.split())
    if not topic:
        raise SolicitationError("请写明约稿主题")
    if len(topic) > 100:
        raise SolicitationError("约稿主题太长（最多 100 字）")
    if deadline <= now:
        raise SolicitationError(
            f"截止时间 {deadline_label(deadline, app.config.office.tz)} 已过，请选择以后的时间")
    if points is not None and not 0 <= points <= 1000:
        raise SolicitationError("约稿积分应在 0 到 1000 之间")
    aliases = {unit_key(alias): u.name for u in all_units(app.engine) if u.active
               for alias in u.aliases}
    asked = chosen_units(quota_units(app.engine), aliases, units, kinds)
    if not asked:
        raise SolicitationError("请至少选择一个约稿单位（单位或单位类别）")
    draft = store.Draft(topic=topic, request=request.strip(), deadline=deadline,
                        points=points or None, created_by=created_by)
    made: list[sent.Mail] = []

    def build(row: Solicitation) -> list[sent.Mail]:
        made[:] = _mails(app, row, asked, now, reminder=False)
        return made

    try:
        row = store.create(app.engine, draft, [u.id for u in asked],
                           year=app.local(now).year, now=now, build=build)
    except store.NumberTaken as exc:
        raise SolicitationError("同一时间发起的约稿太多，编号未能确定，请稍后再试") from exc
    log.info("solicitation %s made by %s for %d units, %d mails queued", row.number,
             created_by, len(asked), len(made))
    return Created(row, asked, len(made))


def request_context(
    *, recipient_name: str, units: list[str], number: str, topic: str, request: str,
    deadline: str, points: float | None, columns: list[ColumnConfig],
    examples: ExampleValues, office_name: str, contact: str, reminder: bool,
    asked_on: str = "",
) -> dict[str, Any]:
    """What the request (and its reminder) to one correspondent sees."""
    marker = solicitation_marker(number)
    return {
        "recipient_name": recipient_name,
        "units": units,
        "number": number,
        "marker": marker,
        "topic": topic,
        "request": request,
        "deadline": deadline,
        "points": f"{points:g}" if points else "",
        # Every column's subject for the first unit, behind the marker.
        "examples": [f"{marker}{example_subject(c, examples)}" for c in columns],
        "office_name": office_name,
        "office_contact": contact,
        "reminder": reminder,
        "asked_on": asked_on,
    }


def _reminder_key(row: Solicitation, units: list[UnitInfo], address_id: int) -> str:
    return sent.reminder_key(((u.id, row.number) for u in units), address_id, REMINDER_KIND)


def _mails(app: App, row: Solicitation, asked: list[UnitInfo], now: datetime, *,
           reminder: bool) -> list[sent.Mail]:
    """One mail per correspondent address naming every unit of theirs in ``asked`` (a
    reminder: more only when its units outgrow one outbox key)."""
    from mailintake.replies.compose import example_values

    tz = app.config.office.tz
    by_address: dict[int, tuple[str, str, list[UnitInfo]]] = {}
    for unit in asked:
        for address_id, address, name in unit.recipients:
            by_address.setdefault(address_id, (address, name, []))[2].append(unit)
    mails = []
    for address_id, (address, name, theirs) in by_address.items():
        groups = [theirs]
        if reminder:
            groups = fitting(theirs, partial(_reminder_key, row, address_id=address_id))
        for group in groups:
            context = request_context(
                recipient_name=name, units=[u.name for u in group], number=row.number,
                topic=row.topic, request=row.request, deadline=deadline_label(row.deadline, tz),
                points=row.points, columns=app.config.columns,
                examples=example_values(app, now, unit=group[0].name, author=name),
                office_name=app.config.office.name, contact=app.config.office.contact_line,
                reminder=reminder, asked_on=f"{app.local(row.created_at):%m月%d日}",
            )
            subject, body = app.replies.render("solicitation", context)
            raw = app.replies.plain(to=address, subject=subject, body=body, now=now,
                                    auto="auto-generated")
            key = (_reminder_key(row, group, address_id) if reminder
                   else f"solicit:{row.id}:{address_id}")
            mails.append(sent.Mail(dedup_key=key, kind=REMINDER_KIND if reminder
                                   else REQUEST_KIND, recipient=address, subject=subject,
                                   raw=raw))
    return mails


def queue_reminders(app: App, now: datetime) -> int:
    """Queue the reminders of the open requests whose deadline is within
    ``remind_days_before`` days, to the units that have not answered, once per
    request and unit; returns how many mails were queued."""
    days = app.config.solicitations.remind_days_before
    if days <= 0:
        return 0
    due = store.waiting(app.engine, now + timedelta(days=days), now)
    if not due:
        return 0
    units = {u.id: u for u in quota_units(app.engine)}

    def build(done: set[tuple[int, str]]) -> list[sent.Mail]:
        mails = []
        for row, unit_ids in due:
            left = [units[i] for i in unit_ids if i in units and (i, row.number) not in done]
            mails += _mails(app, row, left, now, reminder=True)
        return mails

    queued = sent.reminder_round(app.engine, {row.number for row, _ in due}, build, now,
                                 kind=REMINDER_KIND)
    for mail in queued:
        log.info("solicitation reminder queued (%s)", mail.dedup_key)
    return len(queued)


@dataclass(frozen=True)
class Shown:
    """A request and its units, as ``solicit show`` and the console show them."""

    solicitation: Solicitation
    units: list[store.AskedUnit]
    now: datetime

    def state(self, unit: store.AskedUnit) -> str:
        return unit.state(self.solicitation.deadline, self.now)

    def count(self, state: str) -> int:
        return sum(1 for u in self.units if self.state(u) == state)


def shown(app: App, number: str, now: datetime) -> Shown:
    row = store.find(app.engine, number.strip())
    if row is None or row.id is None:
        raise SolicitationError(f"没有编号为 {number} 的约稿")
    return Shown(row, store.asked_units(app.engine, row.id), now)


def overdue_count(app: App, row: Solicitation, now: datetime) -> int:
    if row.deadline > now or row.id is None:
        return 0
    return sum(1 for u in store.asked_units(app.engine, row.id) if u.answered_at is None)


def sample_contexts() -> list[dict[str, Any]]:
    """The template's start-up check (``reply_samples``): request and reminder."""
    from mailintake.config.settings import default_columns

    return [request_context(
        recipient_name="李娜", units=units, number="2026-003", topic="课后服务经验做法",
        request="请围绕课后服务的做法、成效写一篇稿件，800 字左右，附 2 张照片。",
        deadline="2026年12月10日（周四）17:00", points=points, columns=default_columns(),
        examples=ExampleValues(unit=units[0], day=date(2026, 12, 3), week=13, author="李娜"),
        office_name="县教育局办公室", contact="王老师（电话 0571-86000000）",
        reminder=reminder, asked_on="12月03日",
    ) for units, points, reminder in ((["实验小学"], 5.0, False),
                                      (["城关镇中心校", "城关镇东街小学"], None, True))]
