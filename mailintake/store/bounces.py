"""Addresses our replies cannot reach (the ``reply_bounce`` table).

A bounce is written either in the transaction that files the delivery report
saying so (the functions taking ``db``, inside the filing's transaction), or
with the reply the SMTP server refused (``store.outbox.save_states``). The
outbox asks which of a flush's recipients are held; the digest lists them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from mailintake.store.database import session
from mailintake.store.messages import flush_or_claimed
from mailintake.store.models import InboundMessage, OutboxMessage, ReplyBounce

# Asked at every flush: built once (building costs more than running it).
_HOLDING = (
    select(ReplyBounce)
    .where(col(ReplyBounce.address).in_(bindparam("addresses", expanding=True)),
           ReplyBounce.until > bindparam("now"))
    .order_by(col(ReplyBounce.until).desc())
)


def add_report(db: Session, report: InboundMessage) -> int | None:
    """Add the record of a delivery report mail to ``db`` and give it its id, so the
    bounces it reveals can point at it; AlreadyClaimed when another process filed it."""
    db.add(report)
    flush_or_claimed(db)
    return report.id


def replies_to(db: Session, address: str, *, limit: int = 200) -> list[OutboxMessage]:
    """The latest replies queued to ``address``, newest first (a report is about one)."""
    return list(db.exec(
        select(OutboxMessage).where(OutboxMessage.recipient == address)
        .order_by(col(OutboxMessage.id).desc()).limit(limit)
    ).all())


def add(db: Session, bounce: ReplyBounce) -> None:
    """Add ``bounce`` to ``db``: it is written with the rest of that transaction."""
    db.add(bounce)


def holding(engine: Engine, addresses: Iterable[str], now: datetime) -> dict[str, ReplyBounce]:
    """The bounce holding replies to each of ``addresses`` at ``now`` (the latest
    lasting), by lower-cased address; addresses not held are left out."""
    wanted = sorted({address.lower() for address in addresses})
    if not wanted:
        return {}
    held: dict[str, ReplyBounce] = {}
    with session(engine) as db:
        for bounce in db.exec(_HOLDING, params={"addresses": wanted, "now": now}):
            held.setdefault(bounce.address, bounce)
    return held


def bouncing_addresses(engine: Engine, now: datetime) -> list[ReplyBounce]:
    """Every address replies are held from at ``now``, its latest bounce each (for the digest)."""
    with session(engine) as db:
        rows = db.exec(
            select(ReplyBounce).where(ReplyBounce.until > now)
            .order_by(col(ReplyBounce.address), col(ReplyBounce.bounced_at).desc())
        ).all()
    latest: dict[str, ReplyBounce] = {}
    for row in rows:
        latest.setdefault(row.address, row)
    return list(latest.values())
