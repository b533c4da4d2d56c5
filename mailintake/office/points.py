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
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from mailintake.app import App
from mailintake.config.office import PeriodKind, PointsConfig, QuotaRule
from mailintake.config.settings import Config
from mailintake.office.periods import Period
from mailintake.office.quotas import Quotas, accepted_by_unit, load_units
from mailintake.store.database import session as open_session
from mailintake.store.models import Adoption, AwareDateTime, PointEntry, Status, Submission, Unit

log = logging.getLogger("mailintake.office.points")

# Pieces filed out of id order (two processes committing) are still picked up.
_ID_MARGIN = 5000


class PointsError(Exception):
    """A clerk's request that cannot be carried out; the message says why, in Chinese."""


def _submission(db: Session, tracking_no: str) -> Submission:
    found = db.exec(select(Submission).where(Submission.tracking_no == tracking_no)).first()
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


def adopt(
    db: Session,
    config: PointsConfig,
    tracking_no: str,
    channel_word: str,
    *,
    when: datetime,
    brief: bool = False,
    split: str = "",
) -> Adoption:
    """Record that a piece was published in a channel, with its points; not committed."""
    channel = config.channel(channel_word)
    if channel is None:
        names = "、".join(f"{c.name}（{c.key}）" for c in config.channels)
        raise PointsError(f"没有名为“{channel_word}”的采用渠道；可用：{names}")
    piece = _submission(db, tracking_no)
    if piece.status != Status.ACCEPTED:
        why = "已被更正稿替换" if piece.status == Status.SUPERSEDED else "已退回"
        raise PointsError(f"稿件 {tracking_no} {why}，不能记采用")
    units = list(db.exec(select(Unit)).all())
    if split:
        shares = parse_split(split, units)
    elif piece.unit_id is not None:
        shares = {piece.unit_id: 1.0}
    else:
        raise PointsError(f"稿件 {tracking_no} 没有所属单位，请用 --split 指定")
    adoption = db.exec(select(Adoption).where(
        Adoption.submission_id == piece.id, Adoption.channel == channel.key)).first()
    if adoption is not None and adoption.revoked_at is None:
        raise PointsError(f"稿件 {tracking_no} 已记录为{channel.name}采用")
    if adoption is None:
        adoption = Adoption(submission_id=piece.id or 0, channel=channel.key, adopted_at=when)
    adoption.brief, adoption.adopted_at, adoption.revoked_at = brief, when, None
    adoption.shares = {str(k): v for k, v in shares.items()}
    db.add(adoption)
    db.flush()
    total = channel.earned(brief)
    unit_names = {u.id: u.name for u in units}
    what = f"{channel.name}{'简讯' if brief else ''}采用：{piece.title[:100]}（{tracking_no}）"
    for unit_id, share in shares.items():
        note = f"，合稿占 {share:.0%}" if len(shares) > 1 else ""
        db.add(PointEntry(
            unit_id=unit_id, adoption_id=adoption.id, submission_id=piece.id,
            correspondent_id=piece.correspondent_id if unit_id == piece.unit_id else None,
            kind="adoption", channel=channel.key, quantity=1, points=round(total * share, 2),
            reason=f"{what}{note}"[:500], earned_at=when, created_at=when,
        ))
        log.info("adoption of %s in %s: %s gets %.2f", tracking_no, channel.key,
                 unit_names.get(unit_id), total * share)
    return adoption


def unadopt(db: Session, config: PointsConfig, tracking_no: str, channel_word: str,
            *, now: datetime) -> Adoption:
    """Revoke an adoption: its lines negated, dated as the adoption was; not committed."""
    channel = config.channel(channel_word)
    key = channel.key if channel else channel_word
    piece = _submission(db, tracking_no)
    adoption = db.exec(select(Adoption).where(
        Adoption.submission_id == piece.id, Adoption.channel == key)).first()
    if adoption is None or adoption.revoked_at is not None:
        raise PointsError(f"稿件 {tracking_no} 没有“{channel_word}”的采用记录")
    adoption.revoked_at = now
    db.add(adoption)
    lines = db.exec(
        select(PointEntry.unit_id, PointEntry.correspondent_id,
               func.sum(PointEntry.points), func.sum(PointEntry.quantity))
        .where(PointEntry.adoption_id == adoption.id)
        .group_by(col(PointEntry.unit_id), col(PointEntry.correspondent_id))
    ).all()
    for unit_id, correspondent_id, points, quantity in lines:
        if not points and not quantity:
            continue
        db.add(PointEntry(
            unit_id=unit_id, correspondent_id=correspondent_id, adoption_id=adoption.id,
            submission_id=piece.id, kind="adoption", channel=key, quantity=-int(quantity or 0),
            points=-round(float(points or 0), 2),
            reason=f"撤销采用：{piece.title[:100]}（{tracking_no}）"[:500],
            earned_at=adoption.adopted_at, created_at=now,
        ))
    return adoption


@dataclass
class Settled:
    pieces: int = 0
    voided: int = 0
    quota: int = 0


def settle(engine: Engine, config: Config, now: datetime) -> Settled:
    """Write the ledger lines that are due by ``now`` and not yet written."""
    done = Settled()
    with open_session(engine) as db:
        low = (db.exec(select(func.max(PointEntry.submission_id))
                       .where(PointEntry.kind == "submission")).one() or 0) - _ID_MARGIN
        if config.points.per_submission:
            done.pieces = _settle_pieces(db, config.points.per_submission, low, now)
            done.voided = _void_replaced(db, config.points.per_submission, low, now)
        if config.points.quota_points:
            done.quota = _settle_quota(db, config, now)
    if done.pieces or done.voided or done.quota:
        log.info("points settled: %s", done)
    return done


def settle_points(app: App, now: datetime) -> Settled:
    """The daemon's job: ``settle`` for an App."""
    return settle(app.engine, app.config, now)


def _commit(db: Session) -> bool:
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # another process settled the same lines first
        return False
    return True


def _settle_pieces(db: Session, points: float, low: int, now: datetime) -> int:
    s, p = Submission.__table__, PointEntry.__table__  # type: ignore[attr-defined]
    exists = sa.exists().where(p.c.kind == "submission", p.c.submission_id == s.c.id)
    chosen = sa.select(
        s.c.unit_id, s.c.correspondent_id, s.c.id, sa.literal("submission"), sa.literal(""),
        sa.literal(1), sa.literal(points),
        sa.literal("投稿 ") + s.c.tracking_no + sa.literal("：") + func.substr(s.c.title, 1, 200),
        sa.literal(""), s.c.received_at,
        sa.literal("sub:") + sa.cast(s.c.id, sa.String), sa.literal(now, AwareDateTime()),
    ).where(s.c.status == Status.ACCEPTED.value, s.c.unit_id.is_not(None), s.c.id > low,
            ~exists)
    insert = p.insert().from_select(
        ["unit_id", "correspondent_id", "submission_id", "kind", "channel", "quantity",
         "points", "reason", "period", "earned_at", "entry_key", "created_at"], chosen)
    try:
        count = db.connection().execute(insert).rowcount
    except IntegrityError:
        db.rollback()  # another process settled the same pieces first
        return 0
    return count if _commit(db) else 0


def _void_replaced(db: Session, points: float, low: int, now: datetime) -> int:
    """A piece replaced by its corrected version stops counting (the new one counts)."""
    replaced = db.exec(select(Submission.replaces_id).where(
        col(Submission.id) > low, col(Submission.replaces_id).is_not(None))).all()
    ids = [i for i in replaced if i is not None]
    if not ids:
        return 0
    keys = {f"sub:{i}" for i in ids} | {f"sub-void:{i}" for i in ids}
    present = set(db.exec(select(PointEntry.entry_key)
                          .where(col(PointEntry.entry_key).in_(keys))).all())
    count = 0
    for old in db.exec(select(Submission).where(col(Submission.id).in_(ids),
                                                Submission.status == Status.SUPERSEDED)).all():
        if f"sub:{old.id}" not in present or f"sub-void:{old.id}" in present:
            continue
        db.add(PointEntry(
            unit_id=old.unit_id or 0, correspondent_id=old.correspondent_id,
            submission_id=old.id, kind="submission", quantity=-1, points=-points,
            reason=f"已被更正稿替换，原稿不再计分：{old.tracking_no}", earned_at=old.received_at,
            entry_key=f"sub-void:{old.id}", created_at=now,
        ))
        count += 1
    return count if _commit(db) else 0


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


def _settle_quota(db: Session, config: Config, now: datetime) -> int:
    tz, quotas, scheme = config.office.tz, Quotas(config), config.points
    today = now.astimezone(tz).date()
    last: datetime | None = db.exec(
        select(func.max(PointEntry.earned_at)).where(PointEntry.kind == "quota")).one()
    if last is None:
        first: datetime | None = db.exec(select(func.min(Submission.received_at))).one()
        if first is None:
            return 0
        last = first
    period = quotas.period_of(scheme.scoring_period, last.astimezone(tz).date())
    units = load_units(db)
    written = 0
    while period.end <= today:
        have = set(db.exec(select(PointEntry.unit_id).where(
            PointEntry.kind == "quota", PointEntry.period == period.key)).all())
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
            counts = accepted_by_unit(db, *_span(start, end, tz), ids) if required else {}
            for unit_id in ids:
                points, reason = quota_line(scheme, period, required, counts.get(unit_id, 0))
                db.add(PointEntry(
                    unit_id=unit_id, kind="quota", quantity=max(0, required - counts.get(
                        unit_id, 0)), points=points, reason=reason, period=period.key,
                    earned_at=period.bounds(tz)[0], entry_key=f"quota:{unit_id}:{period.key}",
                    created_at=now,
                ))
            written += len(ids) if _commit(db) else 0
        period = quotas.period_of(scheme.scoring_period, period.end)
    return written


def _span(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time(), tzinfo=tz), datetime.combine(end, time(), tzinfo=tz))
