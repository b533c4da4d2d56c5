"""What the running service keeps in the database about itself: the last
cycle per mailbox, the lock that lets one instance take in the mail, and
what ``mailintake status`` shows (with ``store.outbox``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import col, select

from mailintake.store.database import session
from mailintake.store.models import InboundMessage, Outcome, Runtime


@dataclass(frozen=True)
class LastCycle:
    """One successful cycle of the intake, as ``status`` shows it."""

    mailbox: str
    #: host:pid of the process that ran it (several instances may share a database).
    instance: str
    at: datetime
    seen: int
    filed: int
    rejected: int
    quarantined: int
    replies_sent: int


def record_cycle(engine: Engine, cycle: LastCycle) -> None:
    """Remember ``cycle`` as its mailbox's last successful one."""
    with session(engine) as db:
        row = db.get(Runtime, cycle.mailbox) or Runtime(mailbox=cycle.mailbox,
                                                          last_cycle_at=cycle.at)
        row.instance, row.last_cycle_at = cycle.instance, cycle.at
        row.seen, row.filed, row.rejected = cycle.seen, cycle.filed, cycle.rejected
        row.quarantined, row.replies_sent = cycle.quarantined, cycle.replies_sent
        db.add(row)
        try:
            db.commit()
        except IntegrityError:  # another instance wrote the first row at the same moment
            db.rollback()


def record_error(engine: Engine, mailbox: str, error: str, at: datetime) -> None:
    """Remember that ``mailbox`` could not be read at ``at``, and why (the console's status)."""
    with session(engine) as db:
        row = db.get(Runtime, mailbox)
        if row is None:  # never read at all: the status says so already
            return
        row.last_error, row.last_error_at = error[:500], at
        db.add(row)
        db.commit()


def last_cycles(engine: Engine) -> list[Runtime]:
    """The last successful cycle of each mailbox, by mailbox."""
    with session(engine) as db:
        return list(db.exec(select(Runtime).order_by(col(Runtime.mailbox))).all())


def quarantined(engine: Engine) -> list[InboundMessage]:
    """The mails waiting for a person (待人工), oldest first."""
    with session(engine) as db:
        return list(db.exec(select(InboundMessage)
                            .where(InboundMessage.outcome == Outcome.QUARANTINED)
                            .order_by(col(InboundMessage.id))).all())


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock, held by one connection kept open.

    PostgreSQL drops the lock with its connection, so a holder that dies frees
    it. ``take`` raises ``DatabaseUnavailable`` (``store.database``) when the
    server cannot be asked; the connection is dropped then, and the next
    ``take`` opens a new one.
    """

    def __init__(self, engine: Engine, key: int) -> None:
        self.engine = engine
        self.key = key
        self._connection: Connection | None = None

    def take(self) -> bool:
        """Take the lock if nobody holds it; False when another session does."""
        connection = self._connection = self._connection or self.engine.connect()
        try:
            got = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                          {"key": self.key}).scalar())
            connection.commit()  # the lock is the session's; no transaction stays open
        except OperationalError:
            self.release()
            raise
        return got

    def release(self) -> None:
        """Let the lock go (a lock not held: nothing happens)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()  # closing the session releases the lock
