"""The weekly digest (周报) to the office: the week before, at a glance.

Pieces received, rejected and warned per unit; the units behind their quota;
the month's ranking so far; the new pieces with titles and tracking numbers;
the replies that could not be delivered; a chart (inline, multipart/related)
and the week's Excel report attached.

Due on the configured weekday and hour; the outbox key ``digest:<week>:
<address>`` is written in the transaction that queues it, so after downtime
the latest due digest goes out once on restart, and never twice.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mailintake.config.calendar import TeachingCalendar
from mailintake.config.office import DigestConfig
from mailintake.office.chart import Bar, bar_chart
from mailintake.office.periods import Period, counted_label, day_label, period_of
from mailintake.office.points import settle
from mailintake.office.quotas import Quotas
from mailintake.office.reports import build_report, iter_piece_cells, piece_row, piece_rows
from mailintake.office.solicitations import deadline_label
from mailintake.rules import reasons
from mailintake.store import bounces, outbox, runtime, sent
from mailintake.store import solicitations as requests
from mailintake.store.counts import accepted_by_unit, submissions_by_unit, warned_by_unit
from mailintake.store.units import UnitInfo, quota_units

if TYPE_CHECKING:
    from mailintake.app import App

log = logging.getLogger("mailintake.office.digest")

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
CHART_CID = "chart@mailintake"
# Pieces listed in the mail; all of them are in the attachment.
MAX_PIECES = 100
MAX_BARS = 25


def digest_week(
    now: datetime, settings: DigestConfig, tz: ZoneInfo, calendar: TeachingCalendar | None = None
) -> Period | None:
    """The week whose digest is the latest one due at ``now``, or None if disabled."""
    if not settings.enabled:
        return None
    moment = _this_weeks(now, settings, tz)
    if now < moment:
        moment -= timedelta(weeks=1)
    return period_of("week", moment.date() - timedelta(weeks=1), calendar)


def _this_weeks(now: datetime, settings: DigestConfig, tz: ZoneInfo) -> datetime:
    """The moment of ``now``'s week (Monday to Sunday, office time) a digest is due at."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday + timedelta(days=settings.weekday - 1),
                            time(settings.hour), tzinfo=tz)


def next_digest(now: datetime, settings: DigestConfig, tz: ZoneInfo) -> datetime | None:
    """The next moment after ``now`` a digest falls due; None if disabled."""
    if not settings.enabled:
        return None
    moment = _this_weeks(now, settings, tz)
    return moment if moment > now else moment + timedelta(weeks=1)


@dataclass
class Digest:
    subject: str
    body: str
    chart: bytes
    xlsx: bytes
    attachment_name: str


def _behind(app: App, units: list[UnitInfo], day: datetime) -> list[dict[str, Any]]:
    """Units behind their quota in the quota period holding ``day``."""
    tz, quotas = app.config.office.tz, Quotas(app.config)
    local_day = day.astimezone(tz).date()
    wanted: dict[Period, list[tuple[int, str, int]]] = {}
    for unit in units:
        rule = quotas.rule_for(unit)
        if rule is None:
            continue
        period = quotas.period_of(rule.period, local_day)
        required = quotas.required(rule, period)
        if required:
            wanted.setdefault(period, []).append((unit.id, unit.name, required))
    behind = []
    for period, owing in wanted.items():
        got = accepted_by_unit(app.engine, *period.bounds(tz), [u[0] for u in owing])
        for unit_id, name, required in owing:
            if got.get(unit_id, 0) < required:
                behind.append({"unit": name, "period": period.label, "required": required,
                               "got": got.get(unit_id, 0),
                               "deadline": day_label(period.last_day),
                               "open": period.end > local_day + timedelta(days=1)})
    return sorted(behind, key=lambda b: (b["got"] - b["required"], b["unit"]))


def _counted_earlier(app: App, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Accepted pieces received in [start, end) that count for an earlier period (a
    digest of last week sent late): new to the clerk this week, each saying where it
    counts."""
    config = app.config
    calendar = TeachingCalendar(config.calendar)
    weekly = {c.name for c in config.columns if c.weekly}
    late = []
    for piece in piece_rows(app.engine, config, start, end, accepted_only=True,
                            by_arrival=True):
        if piece["counted_at"] < start:
            label = counted_label(piece["counted_at"], config.office.tz, calendar,
                                  weekly=piece["column"] in weekly)
            late.append({**piece, "title": f"{piece['title']}（计入{label}）"})
    return late


def digest_context(
    *, week_label: str, month_label: str, as_of: str, totals: dict[str, int], units_table: str,
    behind: list[dict[str, Any]], ranking_table: str, pieces: list[dict[str, Any]],
    more_pieces: int, failed: list[dict[str, Any]], bouncing: list[dict[str, Any]],
    attachment_name: str, office_name: str, waiting: list[dict[str, Any]] | None = None,
    console: str = "", solicitations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the digest template sees (also the start-up sample's shape). ``waiting``: the
    mails waiting for a person, each with why in Chinese; ``console``: the console's
    address ("" when the office has not given one), each held mail linked to it;
    ``solicitations``: the 约稿 requests of these weeks, answered and overdue."""
    return {
        "waiting": waiting or [], "console": console.rstrip("/"),
        "solicitations": solicitations or [],
        "week_label": week_label, "month_label": month_label, "as_of": as_of,
        "totals": totals, "units_table": units_table, "behind": behind,
        "ranking_table": ranking_table, "pieces": pieces, "more_pieces": more_pieces,
        "failed": failed, "bouncing": bouncing, "attachment_name": attachment_name,
        "office_name": office_name,
    }


def _solicited(app: App, start: datetime, now: datetime) -> list[dict[str, Any]]:
    """The 约稿 requests not closed before the week began whose deadline is at most a
    week before it: how many units answered, and after the deadline, who has not."""
    tz = app.config.office.tz
    found = []
    for o in reversed(requests.overview(app.engine)):  # oldest first
        row = o.solicitation
        if (row.closed_at is not None and row.closed_at < start) or (
                row.deadline < start - timedelta(days=7)) or row.id is None:
            continue
        overdue = ([u.name for u in requests.asked_units(app.engine, row.id)
                    if u.state(row.deadline, now) == "overdue"]
                   if row.deadline <= now else [])
        found.append({"number": row.number, "topic": row.topic, "asked": o.asked,
                      "answered": o.answered, "deadline": deadline_label(row.deadline, tz),
                      "overdue": overdue, "closed": row.closed_at is not None})
    return found


def _undelivered(app: App, start: datetime, now: datetime
                 ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The replies that failed since ``start``, and the addresses held for bouncing."""
    tz = app.config.office.tz
    failed = [{"recipient": f.recipient, "kind": f.kind, "subject": f.subject,
               "status": f.status, "error": f.last_error or "—"}
              for f in outbox.failed_replies(app.engine, start)]
    held = [{"address": b.address, "status": b.status,
             "until": f"{b.until.astimezone(tz):%Y-%m-%d}"}
            for b in bounces.bouncing_addresses(app.engine, now)]
    return failed, held


def _waiting(app: App) -> list[dict[str, Any]]:
    """Every mail still waiting for a person (待人工), whenever it came, oldest first."""
    return [{"id": m.id, "received": f"{app.local(m.received_at):%m月%d日 %H:%M}",
             "sender": m.from_addr or "（发件人不明）", "subject": m.subject or "（无主题）",
             "reason": reasons.labels(m.reasons)}
            for m in runtime.quarantined(app.engine)]


def build_digest(app: App, week: Period, now: datetime) -> Digest:
    """Everything the digest says about ``week``, as of ``now``."""
    from tabulate import tabulate  # wcwidth's tables: 20 ms of every start of `poll`

    config, tz = app.config, app.config.office.tz
    start, end = week.bounds(tz)
    settle(app.engine, config, now)
    month = period_of("month", week.last_day)
    ranking = build_report(app.engine, config, month, "unit", now)
    week_report = build_report(app.engine, config, week, "unit", now)
    counts = submissions_by_unit(app.engine, start, end)
    warned = warned_by_unit(app.engine, start, end)
    units = quota_units(app.engine)
    names = {u.id: u.name for u in units}
    behind = _behind(app, units, end - timedelta(seconds=1))
    cells = list(iter_piece_cells(app.engine, config, start, end))
    all_pieces = [piece_row(c) for c in cells]
    per_unit: list[dict[str, Any]] = sorted(
        ({"unit": names.get(uid, "（未确定单位）") if uid else "（未确定单位）",
          "received": n, "accepted": a, "rejected": r, "warned": warned.get(uid, 0)}
         for uid, (n, a, r) in counts.items()),
        key=lambda row: (-row["received"], row["unit"]),
    )
    totals = {k: sum(row[k] for row in per_unit)
              for k in ("received", "accepted", "rejected", "warned")}
    units_table = tabulate(
        [[i, r["unit"], r["received"], r["accepted"], r["rejected"], r["warned"]]
         for i, r in enumerate(per_unit, start=1)],
        headers=["序号", "单位", "投稿", "登记", "退回", "带提醒"],
    ) if per_unit else "  本周没有收到稿件。"
    top = ranking.rows[: config.digest.top]
    ranking_table = tabulate(
        [[r["rank"], r["unit"], r["kind"], r["kind_rank"], r["last"], r["accepted"],
          r["adopted"], r["points"]] for r in top],
        headers=["名次", "单位", "类别", "类内名次", "末位", "登记", "采用", "积分"],
    )
    accepted = [p for p in all_pieces if p["status"] == "已登记"]
    accepted += _counted_earlier(app, start, end)
    failed, held = _undelivered(app, start, now)
    attachment = f"周报-{week.key}.xlsx"
    context = digest_context(
        week_label=week.label, month_label=month.label, as_of=f"{app.local(now):%m月%d日 %H:%M}",
        totals=totals, units_table=units_table, behind=behind, ranking_table=ranking_table,
        pieces=accepted[:MAX_PIECES], more_pieces=max(0, len(accepted) - MAX_PIECES),
        failed=failed, bouncing=held, attachment_name=attachment, office_name=config.office.name,
        waiting=_waiting(app), console=config.web.url,
        solicitations=_solicited(app, start, now),
    )
    subject, body = app.replies.render("digest", context)
    bars = [Bar(r["unit"], r["accepted"], r["rejected"]) for r in per_unit[:MAX_BARS]]
    chart = bar_chart(bars, f"{week.label}各单位稿件", config.digest.font)
    from mailintake.office.excel import report_bytes  # openpyxl: only when a digest is made

    return Digest(subject, body, chart, report_bytes(week_report, cells), attachment)


def _message(app: App, digest: Digest, to: str, now: datetime) -> bytes:
    message = app.replies.build(to=to, subject=digest.subject, body=digest.body, now=now,
                                auto="auto-generated")
    page = (f'<html><body><pre style="font-family: monospace">{html.escape(digest.body)}</pre>'
            f'<p><img src="cid:{CHART_CID}" alt="各单位稿件图"></p></body></html>')
    message.add_alternative(page, subtype="html")
    html_part = next(p for p in message.iter_parts() if p.get_content_type() == "text/html")
    html_part.add_related(digest.chart, "image", "png", cid=f"<{CHART_CID}>",
                          disposition="inline", filename="chart.png")
    message.add_attachment(digest.xlsx, *XLSX, filename=digest.attachment_name)
    return bytes(message)


def queue_digest(app: App, now: datetime) -> bool:
    """Queue the latest due digest unless it was queued before; True when queued now."""
    week = digest_week(now, app.config.digest, app.config.office.tz,
                       TeachingCalendar(app.config.calendar))
    addresses = app.config.office.addresses
    if week is None or not addresses:
        return False
    key = f"digest:{week.key}"
    if sent.queued(app.engine, key):
        return False
    digest = build_digest(app, week, now)
    mails = [sent.Mail(dedup_key=f"{key}:{address}"[:200], kind="digest", recipient=address,
                       subject=digest.subject, raw=_message(app, digest, address, now))
             for address in addresses]
    if not sent.queue_once(app.engine, mails, now):
        return False  # another process queued this week's digest first
    log.info("digest for %s queued to %s", week.key, ", ".join(addresses))
    return True


def sample_contexts() -> list[dict[str, Any]]:
    """The template's start-up check (``reply_samples``): every list filled."""
    return [digest_context(
        week_label="第11教学周（2026年11月16日—11月22日）", month_label="2026年11月",
        as_of="11月23日 08:00",
        totals={"received": 3, "accepted": 2, "rejected": 1, "warned": 1},
        units_table="序号 单位 投稿", ranking_table="名次 单位 积分",
        behind=[{"unit": "实验小学", "period": "第12教学周", "required": 1, "got": 0,
                 "deadline": "11月29日（星期日）", "open": True}],
        pieces=[{"tracking_no": "20261119-00001", "unit": "实验小学", "column": "教育信息",
                 "title": "开展秋季趣味运动会"}],
        more_pieces=1,
        failed=[{"recipient": "lina@example.test", "kind": "receipt", "subject": "【回执】",
                 "status": "failed", "error": "550 5.1.1"}],
        bouncing=[{"address": "lina@example.test", "status": "5.1.1", "until": "2027-01-18"}],
        attachment_name="周报-2026-W47.xlsx", office_name="县教育局办公室",
        waiting=[{"id": 7, "received": "11月20日 09:12", "sender": "lina@example.test",
                  "subject": "回复：【退回】稿件未能登记", "reason": "信息员回复我们的邮件提问"}],
        console="https://xxbs.example.edu.cn/",
        solicitations=[{"number": "2026-003", "topic": "期末工作", "asked": 3, "answered": 1,
                        "deadline": "2026年11月20日（周五）17:00", "overdue": ["实验小学"],
                        "closed": False}],
    )]
