"""Statistics and rankings (统计与排名) for any period, per unit or per
correspondent, aggregated in SQL.

A row counts the pieces counted in the period (``Submission.counted_at``:
the week or date a piece is for), accepted and rejected, the adoptions by
channel and the points of the ledger in the period, and ranks by points
(``mailintake.office.rankings``: overall, and per unit kind with its last
place). Units that sent nothing are flagged as not eligible for awards (seed
004: 报送信息为零的单位取消奖励资格); a unit whose pieces were all rejected has
sent, and stays eligible. The summary
keeps seed 002's figures: pieces by column, adoptions by channel, and the
median days from receipt to adoption.

What a unit owes (应报) counts the quota periods that start in the period
and are over by ``now``; 缺报 is what it owes beyond what it sent.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from mailintake.config.settings import Config
from mailintake.office.periods import Period
from mailintake.office.quotas import Quotas
from mailintake.office.rankings import rank
from mailintake.rules import reasons
from mailintake.store import reports as store
from mailintake.store.counts import submissions_by_unit
from mailintake.store.database import Engine
from mailintake.store.models import STATUS_LABELS, Status
from mailintake.store.units import all_units

By = Literal["unit", "correspondent"]
Row = dict[str, Any]



@dataclass
class Summary:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    adopted: int = 0
    by_column: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    median_days_to_adoption: float | None = None
    # Seed 002's yearly table: per column and per channel, pieces and the hours from
    # receipt to adoption (publication).
    figures: list[Row] = field(default_factory=list)
    hours_to_adoption: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Report:
    period: Period
    by: By
    rows: list[Row]
    # (key, Chinese header) for every column of ``rows``, in order.
    headers: list[tuple[str, str]]
    summary: Summary

    def as_json(self) -> dict[str, Any]:
        return {"period": self.period.key, "label": self.period.label, "by": self.by,
                "rows": self.rows, "summary": self.summary.__dict__}


def build_report(engine: Engine, config: Config, period: Period, by: By, now: datetime,
                 *, kind: str = "") -> Report:
    """The statistics of ``period`` as known at ``now``; ``kind``: of one unit kind
    (a ranking by unit), its rows keeping their ranks among all units, its figures
    counting its own pieces and adoptions."""
    start, end = period.bounds(config.office.tz)
    ledger = _ledger(engine, start, end, by)
    if by == "unit":
        rows = _unit_rows(engine, config, period, start=start, end=end, ledger=ledger, now=now)
    else:
        rows = _correspondent_rows(engine, start, end, ledger)
    summary = summarize(engine, config, start, end, kind=kind if by == "unit" else "")
    for row in rows:
        adopted: dict[str, int] = row.pop("_adopted")
        for channel in config.points.channels:
            row[f"adopted_{channel.key}"] = adopted.get(channel.key, 0)
        row["adopted"] = sum(adopted.values())
        row["eligible"] = row["received"] > 0  # 零报送: sent nothing at all
    rows = rank(rows, by_kind=by == "unit")
    headers = _headers(config, by)
    rows = [{key: row[key] for key, _ in headers} for row in rows
            if not kind or by != "unit" or row["kind"] == kind]
    return Report(period, by, rows, headers, summary)


def _headers(config: Config, by: By) -> list[tuple[str, str]]:
    who = ([("unit", "单位"), ("kind", "类别"), ("kind_rank", "类内名次"), ("last", "末位")]
           if by == "unit" else [("correspondent", "信息员"), ("units", "所在单位")])
    quota = [("required", "应报"), ("missing", "缺报")] if by == "unit" else []
    channels = [(f"adopted_{c.key}", f"采用·{c.name}") for c in config.points.channels]
    return [
        ("rank", "名次"), *who, ("received", "投稿"), ("accepted", "登记"), ("rejected", "退回"),
        *quota, ("adopted", "采用"), *channels, ("points_submission", "投稿分"),
        ("points_adoption", "采用分"), ("points_quota", "任务分"), ("points_solicited", "约稿分"),
        ("points", "积分"),
        ("eligible", "可评优"),
    ]


def _ledger(engine: Engine, start: datetime, end: datetime, by: By) -> dict[int | None, Row]:
    """Points by kind and adoptions by channel, per unit or correspondent, from the ledger."""
    found: dict[int | None, Row] = {}
    for line in store.ledger_sums(engine, start, end, by_correspondent=by != "unit"):
        row = found.setdefault(line.owner, _empty_points())
        name = f"points_{line.kind}"
        row[name] = round(row.get(name, 0.0) + line.points, 2)
        if line.kind == "adoption":
            adopted = row["_adopted"]
            adopted[line.channel] = adopted.get(line.channel, 0) + line.quantity
    for row in found.values():
        row["points"] = round(row["points_submission"] + row["points_adoption"]
                              + row["points_quota"] + row["points_solicited"], 2)
    return found


def _empty_points() -> Row:
    # points_solicited: the points of pieces answering a request (约稿, ledger kind "solicited").
    return {"points_submission": 0.0, "points_adoption": 0.0, "points_quota": 0.0,
            "points_solicited": 0.0, "points": 0.0, "_adopted": {}}


def _unit_rows(
    engine: Engine, config: Config, period: Period, *, start: datetime, end: datetime,
    ledger: dict[int | None, Row], now: datetime,
) -> list[Row]:
    counts = submissions_by_unit(engine, start, end)
    quotas = Quotas(config)
    today = now.astimezone(config.office.tz).date()
    owed: dict[tuple[int, str], int] = {}
    rows = []
    for unit in all_units(engine):
        received, accepted, rejected = counts.get(unit.id, (0, 0, 0))
        if not unit.active and not received and unit.id not in ledger:
            continue
        rule = quotas.rule_for(unit) if unit.active else None
        required = 0
        if rule is not None:
            key = (rule.count, rule.period)
            if key not in owed:
                owed[key] = quotas.required_between(rule, period.start, period.end, today)[0]
            required = owed[key]
        rows.append({
            "unit": unit.name, "kind": unit.kind, "received": received, "accepted": accepted,
            "rejected": rejected, "required": required, "missing": max(0, required - accepted),
            **ledger.get(unit.id, _empty_points()),
        })
    return rows


def _correspondent_rows(
    engine: Engine, start: datetime, end: datetime, ledger: dict[int | None, Row]
) -> list[Row]:
    counts = submissions_by_unit(engine, start, end, by_correspondent=True)
    rows = []
    for person, units in store.correspondents(engine):
        received, acc, rej = counts.get(person.id, (0, 0, 0))
        if not person.active and not received and person.id not in ledger:
            continue
        rows.append({
            "correspondent": person.name, "units": "、".join(units),
            "received": received, "accepted": acc, "rejected": rej,
            **ledger.get(person.id, _empty_points()),
        })
    return rows


def _hours(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "mean": None, "max": None}
    return {"median": round(statistics.median(values), 1),
            "mean": round(statistics.fmean(values), 1), "max": round(max(values), 1)}


def summarize(engine: Engine, config: Config, start: datetime, end: datetime, *,
              kind: str = "") -> Summary:
    """Seed 002's figures for [start, end): pieces by column (counted in the span),
    adoptions by channel and column (made in the span), hours from receipt to adoption;
    ``kind``: of the units of one kind only."""
    summary = Summary()
    names = {c.key: c.name for c in config.columns}
    columns: dict[str, Row] = {}

    def column_row(key: str) -> Row:
        label = names.get(key, key or "（未识别栏目）")
        return columns.setdefault(label, {"group": "栏目", "name": label, "received": 0,
                                          "accepted": 0, "rejected": 0, "_hours": []})

    for column, status, count in store.column_counts(engine, start, end, kind=kind):
        summary.received += count
        row = column_row(column)
        row["received"] += count
        if status == Status.ACCEPTED:
            summary.accepted += count
            row["accepted"] += count
            summary.by_column[row["name"]] = summary.by_column.get(row["name"], 0) + count
        elif status == Status.REJECTED:
            summary.rejected += count
            row["rejected"] += count
    channels = {c.key: c.name for c in config.points.channels}
    by_channel: dict[str, Row] = {}
    every: list[float] = []
    for line in store.adoptions(engine, start, end):
        if kind and line.unit_kind != kind:
            continue
        label = channels.get(line.channel, line.channel)
        summary.by_channel[label] = summary.by_channel.get(label, 0) + 1
        hours = (line.adopted_at - line.received_at).total_seconds() / 3600
        every.append(hours)
        by_channel.setdefault(label, {"group": "采用渠道", "name": label, "received": None,
                                      "accepted": None, "rejected": None, "_hours": []}
                              )["_hours"].append(hours)
        column_row(line.column)["_hours"].append(hours)
    summary.adopted = len(every)
    if every:
        summary.median_days_to_adoption = round(statistics.median(every) / 24, 1)
    summary.hours_to_adoption = _hours(every)
    total = {"group": "合计", "name": "", "received": summary.received,
             "accepted": summary.accepted, "rejected": summary.rejected, "_hours": every}
    for row in [*columns.values(), *by_channel.values(), total]:
        hours = row.pop("_hours")
        summary.figures.append({**row, "adopted": len(hours), **{
            f"hours_{k}": v for k, v in _hours(hours).items()}})
    return summary


FIGURE_HEADERS = [
    ("group", "分类"), ("name", "名称"), ("received", "投稿"), ("accepted", "登记"),
    ("rejected", "退回"), ("adopted", "采用"), ("hours_median", "收稿至采用·中位数（小时）"),
    ("hours_mean", "收稿至采用·平均（小时）"), ("hours_max", "收稿至采用·最长（小时）"),
]


PIECE_HEADERS = [
    ("tracking_no", "登记编号"), ("unit", "单位"), ("correspondent", "信息员"), ("column", "栏目"),
    ("title", "标题"), ("author", "作者"), ("received_at", "收稿时间"), ("status", "状态"),
    ("word_count", "字数"), ("picture_count", "图片"), ("reason", "退回原因"),
    ("adopted", "采用"), ("hours", "收稿至采用（小时）"),
]


PIECE_KEYS = [key for key, _ in PIECE_HEADERS]


def iter_piece_cells(
    engine: Engine, config: Config, start: datetime, end: datetime, *,
    accepted_only: bool = False, by_arrival: bool = False, adopted_in_span: bool = False,
    kind: str = "",
) -> Iterator[tuple[Any, ...]]:
    """Every piece counted in [start, end), oldest arrival first, one at a time, as the
    cells of ``PIECE_HEADERS`` in their order (the workbook's 稿件 sheet writes them as
    they come: a year is a hundred thousand rows): its arrival as a local time, the
    reason it was sent back in the clerk's words, the channels it was adopted in
    (``adopted_in_span``: only adoptions made in the span) and the hours from its
    arrival to the first of them. ``kind``: one unit kind only."""
    for _line, cells in _piece_cells(engine, config, start, end, accepted_only=accepted_only,
                                     by_arrival=by_arrival, adopted_in_span=adopted_in_span,
                                     kind=kind):
        yield cells


def _piece_cells(
    engine: Engine, config: Config, start: datetime, end: datetime, *,
    accepted_only: bool, by_arrival: bool, adopted_in_span: bool = False, kind: str = "",
) -> Iterator[tuple[store.PieceLine, tuple[Any, ...]]]:
    columns = {c.key: c.name for c in config.columns}
    channels = {c.key: c.name for c in config.points.channels}
    tz = config.office.tz
    for p in store.iter_piece_lines(engine, start, end, accepted_only=accepted_only,
                                    by_arrival=by_arrival, adopted_in_span=adopted_in_span):
        if kind and p.unit_kind != kind:
            continue
        first = p.first_adopted_at
        yield p, (
            p.tracking_no, p.unit, p.correspondent, columns.get(p.column, p.column), p.title,
            p.author, p.received_at.astimezone(tz).replace(tzinfo=None),
            STATUS_LABELS.get(p.status, p.status), p.word_count, p.picture_count,
            reasons.labels(p.reasons) if p.reasons else "",
            "、".join([channels.get(c, c) for c in p.channels]) if p.channels else "",
            round((first - p.received_at).total_seconds() / 3600, 1)
            if first is not None else None,
        )


def piece_row(cells: tuple[Any, ...], counted_at: datetime | None = None) -> Row:
    """A piece's cells by key, as the digest's text lists it: 收稿时间 as text."""
    row = dict(zip(PIECE_KEYS, cells, strict=True))
    row["received_at"] = f"{row['received_at']:%Y-%m-%d %H:%M}"
    row["counted_at"] = counted_at
    return row


def piece_rows(
    engine: Engine, config: Config, start: datetime, end: datetime, *,
    accepted_only: bool = False, by_arrival: bool = False,
) -> list[Row]:
    """Every piece counted in [start, end), oldest arrival first, as ``piece_row``
    gives it, with its ``counted_at`` (read for a span by arrival only)."""
    return [piece_row(cells, line.counted_at)
            for line, cells in _piece_cells(engine, config, start, end,
                                            accepted_only=accepted_only, by_arrival=by_arrival)]


ADOPTION_HEADERS = [
    ("adopted_at", "采用日期"), ("tracking_no", "登记编号"), ("unit", "单位"), ("title", "标题"),
    ("channel", "采用渠道"), ("brief", "简讯"), ("item", "条目"), ("received_at", "收稿时间"),
    ("hours", "收稿至采用（小时）"),
]


def adoption_rows(engine: Engine, config: Config, start: datetime, end: datetime,
                  *, kind: str = "") -> list[Row]:
    """The adoptions made in [start, end) (of units of one ``kind``, when given)."""
    channels = {c.key: c.name for c in config.points.channels}
    tz = config.office.tz
    return [{"adopted_at": a.adopted_at.astimezone(tz).date(), "tracking_no": a.tracking_no,
             "unit": a.unit, "title": a.title, "channel": channels.get(a.channel, a.channel),
             "brief": "是" if a.brief else "", "item": a.item or None,
             "received_at": a.received_at.astimezone(tz).replace(tzinfo=None),
             "hours": round((a.adopted_at - a.received_at).total_seconds() / 3600, 1)}
            for a in store.adoptions(engine, start, end)
            if not kind or a.unit_kind == kind]
