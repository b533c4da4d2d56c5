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
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message

from mailintake.reading.mime import normalize_message_id
from mailintake.store import bounces as stored
from mailintake.store.database import Session
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
    inbound_id = stored.add_report(db, report)
    marked = []
    for failure in failures:
        if not address_gone(failure.status, failure.diagnostic):
            log.info("reply to %s failed (%s); address kept", failure.address, failure.status)
            continue
        ours = _our_reply(stored.replies_to(db, failure.address), original)
        if ours is None:
            log.info("report about %s is not about a reply of ours; ignored", failure.address)
            continue
        bounce = hold(failure.address, failure.status, failure.diagnostic, now=now,
                      hold_days=hold_days, inbound_id=inbound_id, outbox_id=ours.id)
        stored.add(db, bounce)
        marked.append(bounce)
    return marked


def _our_reply(replies: list[OutboxMessage], original: str) -> OutboxMessage | None:
    """The reply the report is about: of ``replies`` (the latest to the address, newest
    first), the one with ``original`` as Message-ID, or without one the latest."""
    if not original:
        return replies[0] if replies else None
    wanted = original.lower()
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    for row in replies:
        mid = normalize_message_id(str(parser.parsebytes(row.raw).get("Message-ID", "")))
        if mid.lower() == wanted:
            return row
    return None


def hold(
    address: str, status: str, diagnostic: str, *, now: datetime, hold_days: int,
    inbound_id: int | None = None, outbox_id: int | None = None,
) -> ReplyBounce:
    """The bounce that holds replies to ``address`` for ``hold_days`` from ``now``
    (for the caller to write)."""
    bounce = ReplyBounce(
        address=address.lower(), status=status or "5.0.0", diagnostic=diagnostic[:1000],
        bounced_at=now, until=now + timedelta(days=hold_days),
        inbound_id=inbound_id, outbox_id=outbox_id,
    )
    log.warning("address %s bounces (%s); replies held until %s", address, status,
                bounce.until.isoformat())
    return bounce
