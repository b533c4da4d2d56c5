"""The office's once-per-period mails (reminders, the weekly digest) in the outbox.

Each mail's outbox key names its reason (``reminder:<unit>:<period>:<address>``,
``digest:<week>:<address>``) and is unique, so a mail queued once is never
queued again, even by two processes at once, and the keys already there say
what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from mailintake.store.database import Engine, session
from mailintake.store.models import OutboxMessage
from mailintake.store.outbox import with_message_id


@dataclass(frozen=True)
class Mail:
    """One mail to queue, with the key that makes it once-only."""

    dedup_key: str
    kind: str
    recipient: str
    subject: str
    raw: bytes


def queue_once(engine: Engine, mails: list[Mail], now: datetime) -> bool:
    """Queue ``mails`` in one transaction: all of them, or (when another process
    queued one of them first) none, and False."""
    with session(engine) as db:
        for mail in mails:
            db.add(with_message_id(OutboxMessage(
                dedup_key=mail.dedup_key, kind=mail.kind, recipient=mail.recipient,
                subject=mail.subject, raw=mail.raw, created_at=now, next_attempt_at=now,
            )))
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            return False
    return True


def reminded(engine: Engine, periods: set[str]) -> set[tuple[int, str]]:
    """(unit id, period key) of every reminder queued for one of ``periods``."""
    done: set[tuple[int, str]] = set()
    with session(engine) as db:
        for key in periods:
            rows = db.exec(
                select(OutboxMessage.dedup_key)
                .where(OutboxMessage.kind == "reminder",
                       col(OutboxMessage.dedup_key).like(f"reminder:%:{key}:%"))
            ).all()
            done |= {(int(k.split(":")[1]), key) for k in rows}
    return done


def queued(engine: Engine, key: str) -> bool:
    """Whether a mail whose outbox key starts ``<key>:`` was queued."""
    with session(engine) as db:
        return db.exec(select(OutboxMessage.id).where(
            col(OutboxMessage.dedup_key).like(f"{key}:%"))).first() is not None
