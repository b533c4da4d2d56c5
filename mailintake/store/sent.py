"""The office's once-per-period mails (reminders, the weekly digest) in the outbox.

Each mail's outbox key names its reason (``reminder:<unit>:<period>:<address>``,
``digest:<week>:<address>``) and is unique, so a mail queued once is never
queued again, even by two processes at once, and the keys already there say
what was sent. A reminder to a correspondent for several units names them
all: ``reminder:<unit>,<unit>:<period>[,<period>…]:<address>`` (one period when
they share it); a key of one unit is the older form, so an upgrade sends no
reminder twice. A round of reminders is queued under a lock of its own
(``reminder_round``), so two processes never both send it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

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


def add_mails(db: Session, mails: list[Mail], now: datetime) -> None:
    """Add ``mails`` to the outbox in ``db``'s transaction (queued at its commit)."""
    for mail in mails:
        db.add(with_message_id(OutboxMessage(
            dedup_key=mail.dedup_key, kind=mail.kind, recipient=mail.recipient,
            subject=mail.subject, raw=mail.raw, created_at=now, next_attempt_at=now,
        )))


def lock_round(db: Session, name: str) -> None:
    """Hold the lock called ``name`` until ``db``'s transaction ends (PostgreSQL: a
    transaction advisory lock; SQLite: BEGIN IMMEDIATE, the database's write lock), so
    two processes never both queue one round of mails."""
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        lock = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def queue_once(engine: Engine, mails: list[Mail], now: datetime) -> bool:
    """Queue ``mails`` in one transaction: all of them, or (when another process
    queued one of them first) none, and False."""
    with session(engine) as db:
        add_mails(db, mails, now)
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            return False
    return True


#: The longest outbox key the table holds (``OutboxMessage.dedup_key``).
KEY_LENGTH = 200


def reminder_key(pairs: Iterable[tuple[int, str]], address_id: int, kind: str = "reminder"
                 ) -> str:
    """The outbox key of one reminder mail for (unit id, period key) ``pairs``; ``kind``
    is the outbox kind (``reminder``; ``solicit_remind`` for a request for a piece,
    whose "period" is the request's number)."""
    pairs = list(pairs)
    units = ",".join(str(unit) for unit, _ in pairs)
    periods = [period for _, period in pairs]
    shown = periods[0] if len(set(periods)) == 1 else ",".join(periods)
    return f"{kind}:{units}:{shown}:{address_id}"


def _pairs(key: str) -> set[tuple[int, str]]:
    """(unit id, period key) a reminder key names, in either form."""
    parts = key.split(":")
    if len(parts) != 4:
        return set()
    units = [int(u) for u in parts[1].split(",") if u.isdigit()]
    periods = parts[2].split(",")
    if len(periods) == 1:
        periods = periods * len(units)
    return set(zip(units, periods, strict=False))


def _reminded(db: Session, periods: set[str], kind: str = "reminder") -> set[tuple[int, str]]:
    done: set[tuple[int, str]] = set()
    for key in periods:
        rows = db.exec(
            select(OutboxMessage.dedup_key)
            .where(OutboxMessage.kind == kind,
                   col(OutboxMessage.dedup_key).like(f"{kind}:%{key}%"))
        ).all()
        done |= {pair for k in rows for pair in _pairs(k) if pair[1] == key}
    return done


def reminded(engine: Engine, periods: set[str], kind: str = "reminder") -> set[tuple[int, str]]:
    """(unit id, period key) of every reminder (of ``kind``) queued for one of ``periods``."""
    with session(engine) as db:
        return _reminded(db, periods, kind)


def reminder_round(
    engine: Engine, periods: set[str],
    build: Callable[[set[tuple[int, str]]], list[Mail]], now: datetime,
    kind: str = "reminder",
) -> list[Mail]:
    """Queue one round of reminders: under a lock held until the commit (PostgreSQL:
    a transaction advisory lock on the round; SQLite: BEGIN IMMEDIATE), read which
    (unit, period) were already reminded, let ``build`` make the mails for the rest,
    and queue them. Returns what was queued; a second process waits, then finds
    the round done."""
    with session(engine) as db:
        round_name = "reminders" if kind == "reminder" else kind
        lock_round(db, f"mailintake:{round_name}:" + ",".join(sorted(periods)))
        mails = build(_reminded(db, periods, kind))
        add_mails(db, mails, now)
        try:
            db.commit()
        except IntegrityError:  # an older process without the lock queued one first
            db.rollback()
            return []
    return mails


def queued(engine: Engine, key: str) -> bool:
    """Whether a mail whose outbox key starts ``<key>:`` was queued."""
    with session(engine) as db:
        return db.exec(select(OutboxMessage.id).where(
            col(OutboxMessage.dedup_key).like(f"{key}:%"))).first() is not None
