"""Points (积分): adoption (采用) by channel, and the ledger every point lives in.

The ledger (``PointEntry``) has one line per reason: an accepted piece, an
adoption (one line per unit of a joint piece, 合稿), a revoked adoption (the
same lines negated), a scoring period's quota result (seed 001). A period's
score is the sum of its lines; nothing is ever edited.

Lines for pieces and for quota results are written by ``settle``, which is
idempotent (each line has a unique key) and cheap when nothing is new; the
report command, the digest and the daemon call it. Adoption lines are
written by ``adopt`` / ``unadopt`` in the transaction that records them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from mailintake.config.office import PeriodKind, PointsConfig, QuotaRule
from mailintake.config.settings import Config
from mailintake.office.periods import Period
from mailintake.office.quotas import Quotas
from mailintake.store import points as ledger
from mailintake.store.counts import accepted_by_unit
from mailintake.store.database import Engine
from mailintake.store.models import Adoption, Status, Submission, Unit
from mailintake.store.units import all_units, quota_units

if TYPE_CHECKING:
    from mailintake.app import App

log = logging.getLogger("mailintake.office.points")


class PointsError(Exception):
    """A clerk's request that cannot be carried out; the message says why, in Chinese."""


def _piece(engine: Engine, tracking_no: str) -> Submission:
    found = ledger.piece(engine, tracking_no)
    if found is None:
        raise PointsError(f"没有登记编号为 {tracking_no} 的稿件")
    return found


def parse_split(text: str, units: list[Unit]) -> dict[int, float]:
    """``单位A=0.6,单位B=0.4`` (or 60%/40%) as unit id -> share; shares must sum to 1."""
    by_name: dict[str, Unit] = {}
    for unit in units:
        for name in (unit.name, *unit.aliases):
            by_name.setdefault(name, unit)
    shares: dict[int, float] = {}
    for part in filter(None, (p.strip() for p in re.split(r"[,，;；]", text))):
        name, sep, value = part.replace("＝", "=").partition("=")
        named = by_name.get(name.strip())
        if not sep or named is None or named.id is None:
            raise PointsError(f"分配“{part}”有误：应为 单位名称=比例，且单位已登记")
        try:
            share = float(value.strip().removesuffix("%"))
        except ValueError as exc:
            raise PointsError(f"分配“{part}”的比例不是数字") from exc
        share = share / 100 if value.strip().endswith("%") or share > 1 else share
        if share <= 0:
            raise PointsError(f"分配“{part}”的比例应大于 0")
        shares[named.id] = shares.get(named.id, 0) + share
    if not shares or abs(sum(shares.values()) - 1) > 0.001:
        raise PointsError("合稿分配比例之和应为 1（例如 单位A=0.6,单位B=0.4）")
    return shares


def parse_items(text: str) -> list[int]:
    """``3`` or ``1,3,5`` (also ``1、3、5``) as item numbers, each 1 or more."""
    items = []
    for part in filter(None, (p.strip() for p in re.split(r"[,，、;；\s]+", text))):
        if not re.fullmatch(r"[0-9]{1,4}", part) or int(part) < 1:
            raise PointsError(f"条目编号“{part}”有误：应为 1 起的数字，例如 --items 1,3,5")
        items.append(int(part))
    if not items:
        raise PointsError("请写明条目编号，例如 --item 3 或 --items 1,3,5")
    return sorted(set(items))


def _items_label(items: list[int]) -> str:
    return "第" + "、".join(map(str, items)) + "条" if items and items != [0] else ""


def adopt(
    engine: Engine,
    config: PointsConfig,
    tracking_no: str,
    channel_word: str,
    *,
    when: datetime,
    now: datetime,
    tz: ZoneInfo,
    brief: bool = False,
    split: str = "",
    items: list[int] | None = None,
) -> list[Adoption]:
    """Record that a piece (or items 1, 3 … of a weekly digest: 逐条采用, each item
    scoring, seed 003) was published in a channel, with its points.

    The adoption's date (``when``, a day in ``tz``, the office's) lies between the
    day the piece arrived and today (``now``): a piece is not published before it
    came, and an adoption is recorded once it happened.
    """
    channel = config.channel(channel_word)
    if channel is None:
        names = "、".join(f"{c.name}（{c.key}）" for c in config.channels)
        raise PointsError(f"没有名为“{channel_word}”的采用渠道；可用：{names}")
    piece = _piece(engine, tracking_no)
    if piece.status != Status.ACCEPTED:
        why = "已被更正稿替换" if piece.status == Status.SUPERSEDED else "已退回"
        raise PointsError(f"稿件 {tracking_no} {why}，不能记采用")
    day, arrived, today = (t.astimezone(tz).date() for t in (when, piece.received_at, now))
    if day < arrived:
        raise PointsError(f"采用日期 {day} 早于稿件 {tracking_no} 的收到日期 {arrived}，请核对")
    if day > today:
        raise PointsError(f"采用日期 {day} 晚于今天（{today}），请在采用后再记录")
    when = max(when, piece.received_at)  # the day it came: not before the moment it came
    units = all_units(engine, by_name=False)
    if split:
        shares = parse_split(split, units)
    elif piece.unit_id is not None:
        shares = {piece.unit_id: 1.0}
    else:
        raise PointsError(f"稿件 {tracking_no} 没有所属单位，请用 --split 指定")
    total = channel.earned(brief)
    credits = {}
    for item in items or [0]:
        what = (f"{channel.name}{'简讯' if brief else ''}采用{_items_label([item])}："
                f"{piece.title[:100]}（{tracking_no}）")
        credits[item] = _credits(piece, shares, total, what)
    adoptions, taken = ledger.record_adoption(engine, piece, channel.key, when=when,
                                              brief=brief, shares=shares, credits=credits)
    if taken:
        raise PointsError(f"稿件 {tracking_no} {_items_label(taken)}已记录为{channel.name}采用")
    unit_names = {u.id: u.name for u in units}
    for unit_id, share in shares.items():
        log.info("adoption of %s in %s (%d item(s)): %s gets %.2f each", tracking_no,
                 channel.key, len(credits), unit_names.get(unit_id), total * share)
    return adoptions


def _credits(piece: Submission, shares: dict[int, float], total: float, what: str
             ) -> list[ledger.Credit]:
    """One ledger line per unit of the piece's adoption: its share of ``total``."""
    credits = []
    for unit_id, share in shares.items():
        note = f"，合稿占 {share:.0%}" if len(shares) > 1 else ""
        credits.append(ledger.Credit(
            unit_id=unit_id, points=round(total * share, 2), reason=f"{what}{note}"[:500],
            correspondent_id=piece.correspondent_id if unit_id == piece.unit_id else None,
        ))
    return credits


def unadopt(engine: Engine, config: PointsConfig, tracking_no: str, channel_word: str,
            *, now: datetime, item: int = 0) -> Adoption:
    """Revoke an adoption (of one item, or the whole piece): its lines negated, dated as
    the adoption was."""
    channel = config.channel(channel_word)
    key = channel.key if channel else channel_word
    piece = _piece(engine, tracking_no)
    label = _items_label([item])
    reason = f"撤销采用{label}：{piece.title[:100]}（{tracking_no}）"[:500]
    adoption = ledger.revoke_adoption(engine, piece, key, now=now, reason=reason, item=item)
    if adoption is None:
        adopted = [i for i in ledger.adopted_items(engine, piece, key) if i]
        listed = "、".join(map(str, adopted))
        hint = f"；已采用的条目：{listed}（请用 --item 指定）" if adopted else ""
        raise PointsError(f"稿件 {tracking_no} {label}没有“{channel_word}”的采用记录{hint}")
    return adoption


@dataclass
class Settled:
    pieces: int = 0
    voided: int = 0
    quota: int = 0


def settle(engine: Engine, config: Config, now: datetime) -> Settled:
    """Write the ledger lines that are due by ``now`` and not yet written."""
    done = Settled()
    if config.points.per_submission:
        done.pieces, done.voided = ledger.settle_pieces(
            engine, config.points.per_submission, now,
            sent=config.points.submission_counts == "sent")
    if config.points.quota_points:
        done.quota = _settle_quota(engine, config, now)
    if done.pieces or done.voided or done.quota:
        log.info("points settled: %s", done)
    return done


def settle_points(app: App, now: datetime) -> Settled:
    """The daemon's job: ``settle`` for an App."""
    return settle(app.engine, app.config, now)


def quota_line(config: PointsConfig, period: Period, required: int, got: int) -> tuple[float, str]:
    """Points and reason for one unit's scoring period (seed 001's scheme)."""
    missing, extra = max(0, required - got), max(0, got - required)
    met = required > 0 and got >= required
    parts = [f"{period.label}报送任务：应报 {required} 篇，实报 {got} 篇"]
    points = 0.0
    if required > 0 and config.base and (met or not config.base_only_when_met):
        points += config.base
        parts.append(f"基础分 {config.base:g}")
    if missing and config.per_missing:
        points += missing * config.per_missing
        parts.append(f"缺 {missing} 篇 {missing * config.per_missing:+g}")
    if extra and config.per_extra:
        points += extra * config.per_extra
        parts.append(f"多报 {extra} 篇 {extra * config.per_extra:+g}")
    return round(points, 2), "，".join(parts)


def _settle_quota(engine: Engine, config: Config, now: datetime) -> int:
    tz, quotas, scheme = config.office.tz, Quotas(config), config.points
    today = now.astimezone(tz).date()
    last = ledger.quota_since(engine)
    if last is None:
        return 0
    period = quotas.period_of(scheme.scoring_period, last.astimezone(tz).date())
    units = quota_units(engine)
    written = 0
    while period.end <= today:
        have = ledger.quota_settled(engine, period.key)
        groups: dict[tuple[int, PeriodKind], list[int]] = {}
        for unit in units:
            rule = quotas.rule_for(unit)
            if rule is not None and unit.id not in have:
                groups.setdefault((rule.count, rule.period), []).append(unit.id)
        for (count, kind), ids in groups.items():
            rule = QuotaRule(count=count, period=kind)
            required, start, end = quotas.required_between(rule, period.start, period.end)
            if end > today:
                continue  # a quota period of it is still running: settle later
            counts = accepted_by_unit(engine, *_span(start, end, tz), ids) if required else {}
            lines = []
            for unit_id in ids:
                got = counts.get(unit_id, 0)
                points, reason = quota_line(scheme, period, required, got)
                lines.append(ledger.QuotaLine(
                    unit_id=unit_id, period=period.key, missing=max(0, required - got),
                    points=points, reason=reason, earned_at=period.bounds(tz)[0]))
            written += len(ids) if ledger.write_quota_lines(engine, lines, now) else 0
        period = quotas.period_of(scheme.scoring_period, period.end)
    return written


def _span(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time(), tzinfo=tz), datetime.combine(end, time(), tzinfo=tz))
