"""The outbox table from the sending side: which replies are due, claiming one,
writing what became of it, and what the digest and ``status`` report of it.

Replies are queued in the transaction that decided them (``store.filing``).
Each function here opens its own session and commits; the replies it returns
stay readable after it (``expire_on_commit`` is off) and are no longer in any
session, so changing one changes nothing until ``save_states`` writes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from mailintake.store.database import session
from mailintake.store.models import OutboxMessage, OutboxStatus, ReplyBounce

# Asked at every flush, every quarter second while mail is coming in: built
# once (building a statement costs more than SQLite takes to run it).
_DUE = (
    select(OutboxMessage)
    .where(OutboxMessage.status == OutboxStatus.PENDING,
           OutboxMessage.next_attempt_at <= bindparam("now"))
    .order_by(col(OutboxMessage.id))
    .limit(bindparam("limit"))
)
_CLAIM = (
    update(OutboxMessage)
    .where(col(OutboxMessage.id) == bindparam("row"),
           col(OutboxMessage.status) == OutboxStatus.PENDING,
           col(OutboxMessage.next_attempt_at) == bindparam("due"))
    .values(next_attempt_at=bindparam("lease"))
)
#: What a delivery attempt changes in a reply's row.
_STATE = ("status", "attempts", "last_error", "next_attempt_at", "sent_at")
_WRITE = (
    update(OutboxMessage)
    .where(col(OutboxMessage.id) == bindparam("row"))
    .values({name: bindparam(name) for name in _STATE})
)
_SENT_SINCE = select(OutboxMessage.recipient, OutboxMessage.sent_at).where(
    col(OutboxMessage.recipient).in_(bindparam("recipients", expanding=True)),
    OutboxMessage.status == OutboxStatus.SENT,
    col(OutboxMessage.sent_at) > bindparam("since"),
)


# The Message-ID field of a mail we wrote (possibly folded onto the next line).
_MESSAGE_ID = re.compile(rb"^message-id:\s*<([^<>\s]{1,300})>", re.IGNORECASE | re.MULTILINE)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def message_id_of(raw: bytes) -> str:
    """The Message-ID (no angle brackets) a queued mail goes out with; "" when it has none."""
    end = _HEAD_END.search(raw)
    found = _MESSAGE_ID.search(raw, 0, end.start() if end else len(raw))
    return found.group(1).decode("ascii", "replace") if found else ""


def with_message_id(item: OutboxMessage) -> OutboxMessage:
    """``item`` with its Message-ID noted (read from its raw mail when not given), so an
    answer to it (In-Reply-To, References) is known as one."""
    if not item.message_id:
        item.message_id = message_id_of(item.raw)
    return item


def answered(engine: Engine, message_ids: list[str], address: str, subject: str) -> str:
    """The subject of our mail that a mail from ``address`` answers: one it names by
    Message-ID, else one sent to ``address`` with exactly ``subject`` (the answer's
    subject behind its reply prefix, for clients that drop the headers); "" for none."""
    with session(engine) as db:
        if message_ids:
            found = db.exec(select(OutboxMessage.subject).where(
                col(OutboxMessage.message_id).in_(message_ids)).limit(1)).first()
            if found is not None:
                return found
        if subject:
            found = db.exec(select(OutboxMessage.subject).where(
                col(OutboxMessage.recipient).in_(sorted({address, address.lower()})),
                OutboxMessage.subject == subject).limit(1)).first()
            if found is not None:
                return found
    return ""


def due(engine: Engine, now: datetime, *, limit: int) -> list[OutboxMessage]:
    """The pending replies whose next attempt is due at ``now``, oldest first, at most ``limit``."""
    with session(engine) as db:
        return list(db.exec(_DUE, params={"now": now, "limit": limit}).all())


def claim(engine: Engine, item: OutboxMessage, *, until: datetime) -> bool:
    """Own ``item`` until ``until``; False when another process claimed it first.

    The claim holds only while the row is as ``item`` read it (still pending,
    due at the same moment); a claimed ``item`` then says ``until`` is its
    next attempt, as the row does.
    """
    with engine.begin() as connection:
        params = {"row": item.id, "due": item.next_attempt_at, "lease": until}
        claimed = connection.execute(_CLAIM, params)
    if claimed.rowcount != 1:
        return False
    item.next_attempt_at = until
    return True


def save_states(
    engine: Engine, items: Iterable[OutboxMessage], *, bounce: ReplyBounce | None = None
) -> None:
    """Write each reply's delivery state (status, attempts, last error, next attempt,
    sent at) to its row, and ``bounce`` (an address found gone) with them, in one
    transaction. Nothing else of a reply is ever written here."""
    rows = [{"row": item.id, **{name: getattr(item, name) for name in _STATE}} for item in items]
    if bounce is None:
        with engine.begin() as connection:
            for row in rows:
                connection.execute(_WRITE, row)
        return
    with session(engine) as db:
        connection = db.connection()
        for row in rows:
            connection.execute(_WRITE, row)
        db.add(bounce)
        db.commit()


def sent_since(engine: Engine, recipients: Iterable[str], since: datetime
               ) -> dict[str, list[datetime]]:
    """When replies to each of ``recipients`` were sent after ``since`` (the rate limit)."""
    sent: dict[str, list[datetime]] = {}
    wanted = sorted(set(recipients))
    if not wanted:
        return sent
    with session(engine) as db:
        rows = db.connection().execute(_SENT_SINCE, {"recipients": wanted, "since": since})
        for recipient, moment in rows:
            if moment is not None:
                sent.setdefault(recipient, []).append(moment)
    return sent


def failed_replies(engine: Engine, since: datetime) -> list[OutboxMessage]:
    """Replies queued since ``since`` that will not go out: failed or held (for the digest).

    Each row carries ``recipient``, ``kind``, ``subject``, ``status``,
    ``attempts`` and ``last_error``.
    """
    with session(engine) as db:
        return list(db.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.status).in_([OutboxStatus.FAILED, OutboxStatus.HELD]),
                   OutboxMessage.created_at >= since)
            .order_by(col(OutboxMessage.id))
        ).all())


def count_by_status(engine: Engine) -> dict[OutboxStatus, int]:
    """How many replies the outbox holds in each state (a state with none is left out)."""
    with session(engine) as db:
        rows = db.exec(select(OutboxMessage.status, func.count())
                       .group_by(col(OutboxMessage.status))).all()
    return {OutboxStatus(status): count for status, count in rows}


def last_queued(engine: Engine, kind: str) -> datetime | None:
    """When the newest reply of this kind of notice (``reminder``, ``digest``) was queued,
    by the start of its dedup key; None when there never was one."""
    with session(engine) as db:
        return db.exec(select(func.max(OutboxMessage.created_at))
                       .where(col(OutboxMessage.dedup_key).like(f"{kind}:%"))).one()
