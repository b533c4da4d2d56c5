"""Replies per address over sliding windows (Zammad: 30 in 10 minutes, 120 an hour).

Counted from the outbox itself, so every process sharing the database sees
the same count and a restart forgets nothing. A reply over the limit is
deferred to the moment the window frees up, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from mailintake.config.settings import RateLimit
from mailintake.store import outbox as stored
from mailintake.store.database import Engine


class Window:
    """When replies to the recipients of one flush were sent lately, read in one
    query; the flush notes each reply it sends. (Another process sending to the
    same address meanwhile is seen by the next flush.)"""

    def __init__(self, limits: Sequence[RateLimit], sent: dict[str, list[datetime]]) -> None:
        self.limits = limits
        self.sent = sent

    @classmethod
    def load(
        cls, engine: Engine, recipients: Iterable[str], now: datetime,
        limits: Sequence[RateLimit],
    ) -> Window:
        sent: dict[str, list[datetime]] = {}
        if limits:
            widest = timedelta(minutes=max(limit.minutes for limit in limits))
            sent = stored.sent_since(engine, recipients, now - widest)
        return cls(limits, sent)

    def note(self, recipient: str, moment: datetime) -> None:
        self.sent.setdefault(recipient, []).append(moment)

    def next_allowed(self, recipient: str, now: datetime) -> datetime | None:
        """When the next reply to ``recipient`` may go; None when it may go now."""
        times = sorted(self.sent.get(recipient, ()))
        allowed: datetime | None = None
        for limit in self.limits:
            window = timedelta(minutes=limit.minutes)
            recent = [moment for moment in times if moment > now - window]
            if len(recent) >= limit.max:
                # Once the oldest reply that must leave the window has left it,
                # one fewer than the maximum remains.
                free = recent[len(recent) - limit.max] + window
                allowed = free if allowed is None else max(allowed, free)
        return allowed
