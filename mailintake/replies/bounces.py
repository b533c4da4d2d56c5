"""Addresses our replies cannot reach, learnt from delivery reports.

A delivery report (RFC 3464, ``multipart/report; report-type=delivery-status``)
that one of *our* replies found no mailbox (status 5.1.x, or 5.2.1 for a
disabled one) marks that address as bouncing for ``[replies]
bounce_hold_days`` (Zammad: 60 days after a 5.1.1). So does an SMTP server
that refuses the recipient at once with such a status. While it bounces, the
outbox holds replies to it instead of sending them, and the digest tells the
office (``bouncing_addresses``).

A report counts only when it is about an address we wrote to and, where it
quotes the original's Message-ID, about a reply we sent: a forged report must
not silence a correspondent's receipts.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from mailintake.reading.mime import normalize_message_id
from mailintake.store.database import session as open_session
from mailintake.store.messages import flush_or_claimed
from mailintake.store.models import InboundMessage, OutboxMessage, ReplyBounce

log = logging.getLogger("mailintake.replies.bounces")

# Servers that give no enhanced status code still say it in words (NetEase:
# "550 User not found"); only these mean the mailbox is gone.
_GONE_WORDS = re.compile(
    r"user (not found|unknown)|unknown user|no such (user|mailbox)|mailbox (not found|unavailable"
    r"|does not exist)|does not exist|invalid recipient|用户不存在|收件人不存在|地址不存在",
    re.IGNORECASE,
)
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Failure:
    """One recipient a delivery report gives up on."""

    address: str
    status: str
    diagnostic: str


def enhanced_status(text: str) -> str:
    """The first RFC 3463 status code in ``text`` ("5.1.1"), or ""."""
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else ""


def address_gone(status: str, diagnostic: str = "") -> bool:
    """Whether a permanent failure says the mailbox itself does not exist."""
    if status:
        return status.startswith("5.1.") or status == "5.2.1"
    return bool(_GONE_WORDS.search(diagnostic))


def read_report(raw: bytes) -> tuple[list[Failure], str]:
    """The failed recipients of a delivery report, and the original's Message-ID."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        return [], ""
    failures: list[Failure] = []
    original = ""
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            failures.extend(_failures(_blocks(part)[1:]))
        elif ctype == "message/rfc822" and not original:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original = normalize_message_id(str(inner[0].get("Message-ID", "")))
        elif ctype in ("text/rfc822-headers", "message/global-headers") and not original:
            text = _text(part)
            head = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
            original = normalize_message_id(str(head.get("Message-ID", "")))
    return failures, original


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part: per message, then per recipient."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    parser = email.parser.HeaderParser(policy=email.policy.compat32)
    chunks = re.split(r"\r?\n\s*\r?\n", _text(part).strip())
    return [parser.parsestr(chunk) for chunk in chunks if chunk.strip()]


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    return str(part.get_payload())


def _failures(blocks: list[Message]) -> list[Failure]:
    found = []
    for block in blocks:
        if str(block.get("Action", "")).strip().lower() != "failed":
            continue
        recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        address = recipient.rpartition(";")[2].strip().strip("<>").lower()
        status = enhanced_status(str(block.get("Status", "")))
        if address and status.startswith("5."):
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            found.append(Failure(address, status, diagnostic[:1000]))
    return found


def record_report(
    db: Session, raw: bytes, report: InboundMessage, *, now: datetime, hold_days: int
) -> list[ReplyBounce]:
    """Mark the addresses a report about one of our replies says are gone.

    Rows are added to ``db`` (with ``report``, the record of the report mail
    they point to); the caller commits them with it.
    """
    if hold_days <= 0:
        return []
    failures, original = read_report(raw)
    if not failures:
        return []
    db.add(report)
    flush_or_claimed(db)
    inbound_id = report.id
    marked = []
    for failure in failures:
        if not address_gone(failure.status, failure.diagnostic):
            log.info("reply to %s failed (%s); address kept", failure.address, failure.status)
            continue
        ours = _our_reply(db, failure.address, original)
        if ours is None:
            log.info("report about %s is not about a reply of ours; ignored", failure.address)
            continue
        marked.append(mark(db, failure.address, failure.status, failure.diagnostic, now=now,
                           hold_days=hold_days, inbound_id=inbound_id, outbox_id=ours.id))
    return marked


def _our_reply(db: Session, address: str, original: str) -> OutboxMessage | None:
    """The reply the report is about: sent to ``address``, with ``original`` as Message-ID."""
    rows = db.exec(
        select(OutboxMessage).where(OutboxMessage.recipient == address)
        .order_by(col(OutboxMessage.id).desc()).limit(200)
    ).all()
    if not original:
        return rows[0] if rows else None
    wanted = original.lower()
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    for row in rows:
        mid = normalize_message_id(str(parser.parsebytes(row.raw).get("Message-ID", "")))
        if mid.lower() == wanted:
            return row
    return None


def mark(
    db: Session, address: str, status: str, diagnostic: str, *, now: datetime, hold_days: int,
    inbound_id: int | None = None, outbox_id: int | None = None,
) -> ReplyBounce:
    """Hold replies to ``address`` for ``hold_days`` from ``now`` (added to ``db``)."""
    bounce = ReplyBounce(
        address=address.lower(), status=status or "5.0.0", diagnostic=diagnostic[:1000],
        bounced_at=now, until=now + timedelta(days=hold_days),
        inbound_id=inbound_id, outbox_id=outbox_id,
    )
    db.add(bounce)
    log.warning("address %s bounces (%s); replies held until %s", address, status,
                bounce.until.isoformat())
    return bounce


def holding(db: Session, addresses: Iterable[str], now: datetime) -> dict[str, ReplyBounce]:
    """The bounce holding replies to each of ``addresses`` at ``now`` (the latest
    lasting), by lower-cased address; addresses not held are left out."""
    wanted = sorted({address.lower() for address in addresses})
    if not wanted:
        return {}
    held: dict[str, ReplyBounce] = {}
    for bounce in db.exec(_HOLDING, params={"addresses": wanted, "now": now}):
        held.setdefault(bounce.address, bounce)
    return held


# Asked at every flush: built once (building costs more than running it).
_HOLDING = (
    select(ReplyBounce)
    .where(col(ReplyBounce.address).in_(bindparam("addresses", expanding=True)),
           ReplyBounce.until > bindparam("now"))
    .order_by(col(ReplyBounce.until).desc())
)


def bouncing_addresses(engine: Engine, now: datetime) -> list[ReplyBounce]:
    """Every address replies are held from at ``now``, its latest bounce each (for the digest)."""
    with open_session(engine) as db:
        rows = db.exec(
            select(ReplyBounce).where(ReplyBounce.until > now)
            .order_by(col(ReplyBounce.address), col(ReplyBounce.bounced_at).desc())
        ).all()
    latest: dict[str, ReplyBounce] = {}
    for row in rows:
        latest.setdefault(row.address, row)
    return list(latest.values())
