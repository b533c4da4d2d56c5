"""The points ledger (积分台账) and the adoptions (采用) it records.

Every line is written here, each write in a transaction of its own: an
adoption with its lines, a revoked adoption with the same lines negated, the
lines of accepted pieces (and of pieces since replaced by a correction), and a
scoring period's quota lines. Lines written by settlement carry a unique key,
so two processes settling at once write each line once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from mailintake.store.database import Engine, session
from mailintake.store.models import (
    Adoption,
    AwareDateTime,
    Finding,
    PointEntry,
    Status,
    Submission,
)

# Pieces filed out of id order (two processes committing) are still picked up.
_ID_MARGIN = 5000


def piece(engine: Engine, tracking_no: str) -> Submission | None:
    """The piece with this tracking number, or None."""
    with session(engine) as db:
        return db.exec(select(Submission).where(Submission.tracking_no == tracking_no)).first()


@dataclass(frozen=True)
class Credit:
    """One unit's line of an adoption: its share of the points, and why."""

    unit_id: int
    correspondent_id: int | None
    points: float
    reason: str


def record_adoption(
    engine: Engine, piece: Submission, channel: str, *, when: datetime, brief: bool,
    shares: dict[int, float], credits: dict[int, list[Credit]],
) -> tuple[list[Adoption], list[int]]:
    """Record ``piece`` (item 0) or some of its items (a weekly digest's, 逐条采用) as
    adopted in ``channel``, with one ledger line per credit of each item, in one
    transaction: (the adoptions, []). When some items are already adopted there,
    nothing is written: ([], those item numbers). A revoked adoption is taken up
    again."""
    with session(engine) as db:
        found = {item: _adoption(db, piece, channel, item) for item in credits}
        taken = sorted(i for i, a in found.items() if a is not None and a.revoked_at is None)
        if taken:
            return [], taken
        adoptions = []
        for item, lines in credits.items():
            adoption = found[item] or Adoption(submission_id=piece.id or 0, channel=channel,
                                               item=item, adopted_at=when)
            adoption.brief, adoption.adopted_at, adoption.revoked_at = brief, when, None
            adoption.shares = {str(k): v for k, v in shares.items()}
            db.add(adoption)
            db.flush()
            for credit in lines:
                db.add(PointEntry(
                    unit_id=credit.unit_id, adoption_id=adoption.id, submission_id=piece.id,
                    correspondent_id=credit.correspondent_id, kind="adoption",
                    channel=channel, quantity=1, points=credit.points, reason=credit.reason,
                    earned_at=when, created_at=when,
                ))
            adoptions.append(adoption)
        db.commit()
    return adoptions, []


def revoke_adoption(
    engine: Engine, piece: Submission, channel: str, *, now: datetime, reason: str,
    item: int = 0,
) -> Adoption | None:
    """Revoke the adoption (of ``item``; 0 the whole piece): its lines negated, dated as
    the adoption was; None, and nothing written, when there is no adoption in force."""
    with session(engine) as db:
        adoption = _adoption(db, piece, channel, item)
        if adoption is None or adoption.revoked_at is not None:
            return None
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
                submission_id=piece.id, kind="adoption", channel=channel,
                quantity=-int(quantity or 0), points=-round(float(points or 0), 2),
                reason=reason, earned_at=adoption.adopted_at, created_at=now,
            ))
        db.commit()
    return adoption


def adopted_items(engine: Engine, piece: Submission, channel: str) -> list[int]:
    """The item numbers of ``piece`` adopted in ``channel`` and in force (0: the whole)."""
    with session(engine) as db:
        return sorted(db.exec(select(Adoption.item).where(
            Adoption.submission_id == piece.id, Adoption.channel == channel,
            col(Adoption.revoked_at).is_(None))).all())


def _adoption(db: Session, piece: Submission, channel: str, item: int = 0) -> Adoption | None:
    return db.exec(select(Adoption).where(
        Adoption.submission_id == piece.id, Adoption.channel == channel,
        Adoption.item == item)).first()


#: Findings that make a piece a copy of one filed before.
COPIES = ("duplicate.document", "duplicate.similar")


def settle_pieces(engine: Engine, points: float, now: datetime, *, sent: bool = False
                  ) -> tuple[int, int]:
    """Credit every accepted piece (``sent``: every piece sent, rejected ones too) not
    yet credited, and take the credit back from the pieces replaced by a correction;
    (lines credited, lines taken back)."""
    with session(engine) as db:
        low = (db.exec(select(func.max(PointEntry.submission_id))
                       .where(PointEntry.kind == "submission")).one() or 0) - _ID_MARGIN
        credited = _credit_pieces(db, points, low, now, sent)
        voided = _void_replaced(db, points, low, now)
        if sent:
            voided += _void_resent(db, points, low, now)
    return credited, voided


def _commit(db: Session) -> bool:
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # another process settled the same lines first
        return False
    return True


def _credit_pieces(db: Session, points: float, low: int, now: datetime, sent: bool) -> int:
    s, p = Submission.__table__, PointEntry.__table__  # type: ignore[attr-defined]
    exists = sa.exists().where(p.c.kind == "submission", p.c.submission_id == s.c.id)
    # A superseded version is never credited here: its correction is (the piece counts
    # once); nor is a rejected piece the unit has sent again.
    statuses = [Status.ACCEPTED.value, *([Status.REJECTED.value] if sent else [])]
    fresh = (s.c.status.in_(statuses), s.c.unit_id.is_not(None), s.c.id > low, ~exists)
    # Mostly nothing is new: asked alone, that takes 7 ms, where the whole choice below
    # (which asks of each rejected piece whether it was sent again) took 85 ms.
    if db.connection().execute(sa.select(s.c.id).where(*fresh).limit(1)).first() is None:
        return 0
    # A rejected copy of a piece already filed is nothing new sent.
    f = Finding.__table__  # type: ignore[attr-defined]
    copied = sa.exists().where(f.c.submission_id == s.c.id, f.c.code.in_(COPIES))
    once = sa.or_(s.c.status == Status.ACCEPTED.value, sa.and_(~_resent(s), ~copied))
    chosen = sa.select(
        s.c.unit_id, s.c.correspondent_id, s.c.id, sa.literal("submission"), sa.literal(""),
        sa.literal(1), sa.literal(points),
        sa.literal("投稿 ") + s.c.tracking_no + sa.literal("：") + func.substr(s.c.title, 1, 200),
        sa.literal(""), s.c.counted_at,
        sa.literal("sub:") + sa.cast(s.c.id, sa.String), sa.literal(now, AwareDateTime()),
    ).where(*fresh, once)
    insert = p.insert().from_select(
        ["unit_id", "correspondent_id", "submission_id", "kind", "channel", "quantity",
         "points", "reason", "period", "earned_at", "entry_key", "created_at"], chosen)
    try:
        count = db.connection().execute(insert).rowcount
    except IntegrityError:
        db.rollback()  # another process settled the same pieces first
        return 0
    return count if _commit(db) else 0


def _resent(s: sa.TableClause) -> sa.Exists:
    """The unit sent a later piece with the same title: a rejected piece's resend, its
    corrected version, which is the one that counts."""
    later = Submission.__table__.alias("later")  # type: ignore[attr-defined]
    return sa.exists().where(later.c.unit_id == s.c.unit_id, later.c.title == s.c.title,
                             later.c.id > s.c.id, s.c.title != "")


def _void_resent(db: Session, points: float, low: int, now: datetime) -> int:
    """A rejected piece credited before the unit sent it again stops counting: the
    corrected piece counts once (``submission_counts = "sent"``)."""
    s, p = Submission.__table__, PointEntry.__table__  # type: ignore[attr-defined]
    key = sa.cast(s.c.id, sa.String)
    found = db.connection().execute(
        sa.select(s.c.id, s.c.unit_id, s.c.correspondent_id, s.c.tracking_no, s.c.counted_at)
        .where(s.c.status == Status.REJECTED.value, s.c.id > low, _resent(s),
               sa.exists().where(p.c.entry_key == sa.literal("sub:") + key),
               ~sa.exists().where(p.c.entry_key == sa.literal("sub-void:") + key))
    ).all()
    for row in found:
        db.add(PointEntry(
            unit_id=row.unit_id or 0, correspondent_id=row.correspondent_id,
            submission_id=row.id, kind="submission", quantity=-1, points=-points,
            reason=f"退回后已重新报送，原稿不再计分：{row.tracking_no}",
            earned_at=row.counted_at, entry_key=f"sub-void:{row.id}", created_at=now,
        ))
    return len(found) if found and _commit(db) else 0


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
            reason=f"已被更正稿替换，原稿不再计分：{old.tracking_no}", earned_at=old.counted_at,
            entry_key=f"sub-void:{old.id}", created_at=now,
        ))
        count += 1
    return count if _commit(db) else 0


def quota_since(engine: Engine) -> datetime | None:
    """Where quota settlement goes on from: the newest quota line's date, else the
    first piece's counted moment; None before the first piece."""
    with session(engine) as db:
        last: datetime | None = db.exec(
            select(func.max(PointEntry.earned_at)).where(PointEntry.kind == "quota")).one()
        if last is None:
            last = db.exec(select(func.min(Submission.counted_at))).one()
    return last


def quota_settled(engine: Engine, period: str) -> set[int]:
    """The units whose quota line for the scoring period ``period`` is written."""
    with session(engine) as db:
        return set(db.exec(select(PointEntry.unit_id).where(
            PointEntry.kind == "quota", PointEntry.period == period)).all())


@dataclass(frozen=True)
class QuotaLine:
    """One unit's quota result for one scoring period."""

    unit_id: int
    period: str
    missing: int
    points: float
    reason: str
    earned_at: datetime


def write_quota_lines(engine: Engine, lines: list[QuotaLine], now: datetime) -> bool:
    """Write ``lines`` together; False, and none written, when another process wrote
    one of them first."""
    with session(engine) as db:
        for line in lines:
            db.add(PointEntry(
                unit_id=line.unit_id, kind="quota", quantity=line.missing, points=line.points,
                reason=line.reason, period=line.period, earned_at=line.earned_at,
                entry_key=f"quota:{line.unit_id}:{line.period}", created_at=now,
            ))
        return _commit(db)
