"""The 通报 of each period in the store: its row (the clerk's preface, when and by
whom it was sent, how often), the adoptions it lists, and the send itself.

A send is one transaction: under the round's lock (``sent.lock_round``) the row
is read again; unless it still says what the sender saw (``sends``), somebody
sent meanwhile and nothing is queued (``AlreadySent``). Otherwise the mails go
into the outbox, the row counts the send, and the audit trail names who sent it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from mailintake.store.database import Engine, session
from mailintake.store.models import Adoption, Audit, Bulletin, Submission, Unit
from mailintake.store.sent import Mail, add_mails, lock_round


class AlreadySent(Exception):
    """The 通报 was sent (again) since it was read; ``bulletin`` is its row now."""

    def __init__(self, bulletin: Bulletin | None) -> None:
        super().__init__("bulletin already sent")
        self.bulletin = bulletin


def target(period: str) -> str:
    """What the audit trail names a 通报 by."""
    return f"bulletin:{period}"


def find(engine: Engine, period: str) -> Bulletin | None:
    with session(engine) as db:
        return db.exec(select(Bulletin).where(Bulletin.period == period)).first()


def listing(engine: Engine, limit: int = 200) -> list[Bulletin]:
    """The 通报 composed or sent, newest period first."""
    with session(engine) as db:
        return list(db.exec(select(Bulletin).order_by(col(Bulletin.period).desc())
                            .limit(limit)).all())


def _row(db: Session, period: str, who: str, now: datetime) -> Bulletin:
    found = db.exec(select(Bulletin).where(Bulletin.period == period)).first()
    if found is None:
        found = Bulletin(period=period, created_at=now, created_by=who)
        db.add(found)
    return found


def save_preface(engine: Engine, period: str, preface: str, *, who: str, now: datetime
                 ) -> Bulletin:
    """Keep the clerk's preface of ``period``'s 通报 (making its row), with an audit line."""
    with session(engine) as db:
        row = _row(db, period, who, now)
        row.preface = preface
        db.add(Audit(who=who, at=now, action="bulletin.preface", target=target(period),
                     detail=preface[:200]))
        try:
            db.commit()
        except IntegrityError:  # made by another request at the same moment
            db.rollback()
            return save_preface(engine, period, preface, who=who, now=now)
        return row


def record_send(
    engine: Engine, period: str, mails: list[Mail], *, seen_sends: int, who: str,
    now: datetime, text: str, detail: str,
) -> Bulletin:
    """Queue ``mails`` as send number ``seen_sends + 1`` of ``period``'s 通报, and note it
    on its row and in the audit trail; ``AlreadySent`` when the row has counted another
    send since the caller read ``seen_sends``."""
    with session(engine) as db:
        lock_round(db, target(period))
        row = _row(db, period, who, now)
        if row.sends != seen_sends:
            db.rollback()
            raise AlreadySent(find(engine, period))
        add_mails(db, mails, now)
        row.sends = seen_sends + 1
        row.sent_at, row.sent_by = now, who
        row.recipients, row.sent_text = len(mails), text
        db.add(Audit(who=who, at=now, target=target(period), detail=detail,
                     action="bulletin.resend" if seen_sends else "bulletin.send"))
        try:
            db.commit()
        except IntegrityError as exc:  # an outbox key taken: another process sent it
            db.rollback()
            raise AlreadySent(find(engine, period)) from exc
        return row


@dataclass(frozen=True)
class AdoptedLine:
    """One adoption in force made in a period, with its piece and unit."""

    tracking_no: str
    title: str
    unit: str
    channel: str
    item: int
    brief: bool
    adopted_at: datetime


def adopted(engine: Engine, start: datetime, end: datetime) -> list[AdoptedLine]:
    """The adoptions in force made in [start, end), in the order they were made."""
    with session(engine) as db:
        rows = db.connection().execute(
            sa.select(col(Submission.tracking_no), col(Submission.title), col(Unit.name),
                      col(Adoption.channel), col(Adoption.item), col(Adoption.brief),
                      col(Adoption.adopted_at))
            .select_from(Adoption)
            .join(Submission, col(Submission.id) == col(Adoption.submission_id))
            .outerjoin(Unit, col(Unit.id) == col(Submission.unit_id))
            .where(col(Adoption.revoked_at).is_(None),
                   col(Adoption.adopted_at) >= start, col(Adoption.adopted_at) < end)
            .order_by(col(Adoption.adopted_at), col(Adoption.id))
        ).all()
    return [AdoptedLine(tracking_no or "", title, unit or "", channel, item, brief, at)
            for tracking_no, title, unit, channel, item, brief, at in rows]
