"""Replies per address over sliding windows (Zammad: 30 in 10 minutes, 120 an hour).

Counted from the outbox itself, so every process sharing the database sees
the same count and a restart forgets nothing. A reply over the limit is
deferred to the moment the window frees up, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from mailintake.config import RateLimit
from mailintake.models import OutboxMessage, OutboxStatus

# Asked for every reply: built once (building costs more than running it).
_SENT_SINCE = select(OutboxMessage.sent_at).where(
    OutboxMessage.recipient == bindparam("recipient"),
    OutboxMessage.status == OutboxStatus.SENT,
    col(OutboxMessage.sent_at) > bindparam("since"),
)


def next_allowed(
    db: Session, recipient: str, now: datetime, limits: Sequence[RateLimit]
) -> datetime | None:
    """When the next reply to ``recipient`` may go; None when it may go now."""
    if not limits:
        return None
    widest = timedelta(minutes=max(limit.minutes for limit in limits))
    params = {"recipient": recipient, "since": now - widest}
    sent = db.connection().execute(_SENT_SINCE, params).scalars().all()
    times = sorted(moment for moment in sent if moment is not None)
    allowed: datetime | None = None
    for limit in limits:
        window = timedelta(minutes=limit.minutes)
        recent = [moment for moment in times if moment > now - window]
        if len(recent) >= limit.max:
            # Once the oldest reply that must leave the window has left it,
            # one fewer than the maximum remains.
            free = recent[len(recent) - limit.max] + window
            allowed = free if allowed is None else max(allowed, free)
    return allowed
