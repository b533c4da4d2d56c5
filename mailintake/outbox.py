"""Delivering the outbox: every reply was queued in the transaction that
decided it; here it goes out, and is marked sent only after it went.

A crash between "sent" and "marked sent" sends that one reply again on the
next flush; nothing is ever lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from mailintake.database import session as open_session
from mailintake.models import OutboxMessage, OutboxStatus

log = logging.getLogger("mailintake.outbox")

MAX_ATTEMPTS = 12


class DeliveryError(Exception):
    """Delivery failed; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, item: OutboxMessage) -> None: ...

    def close(self) -> None: ...


class FolderSender:
    """Writes each reply as an .eml file: the embedded default and the demo."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, item: OutboxMessage) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / f"{item.id:06d}-{item.kind}.eml"
        temporary = target.with_suffix(".tmp")
        try:
            temporary.write_bytes(item.raw)
            temporary.replace(target)
        except OSError as exc:
            raise DeliveryError(f"cannot write {target}: {exc.strerror}") from exc

    def close(self) -> None:
        return None


@dataclass
class FlushReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1, 2, 4 … minutes, at most six hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def flush(engine: Engine, sender: Sender, now: datetime, limit: int = 500) -> FlushReport:
    """Send what is due; one failure never stops the others."""
    report = FlushReport()
    with open_session(engine) as db:
        due = db.exec(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING,
                   OutboxMessage.next_attempt_at <= now)
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
        for item in due:
            item.attempts += 1
            try:
                sender.send(item)
            except DeliveryError as exc:
                item.last_error = str(exc)[:500]
                if exc.permanent or item.attempts >= MAX_ATTEMPTS:
                    item.status = OutboxStatus.FAILED
                    report.failed += 1
                    log.error("reply %s to %s failed for good: %s", item.id, item.recipient, exc)
                else:
                    item.next_attempt_at = now + backoff(item.attempts)
                    report.retrying += 1
                    log.warning("reply %s to %s not sent yet: %s", item.id, item.recipient, exc)
            else:
                item.status, item.sent_at, item.last_error = OutboxStatus.SENT, now, ""
                report.sent += 1
                log.info("reply %s (%s) sent to %s", item.id, item.kind, item.recipient)
            db.add(item)
            db.commit()
    return report
