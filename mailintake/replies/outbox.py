"""Delivering the outbox: every reply was queued in the transaction that
decided it; here it goes out, and is marked sent only after the server took it.

A crash between "sent" and "marked sent" sends that one reply again on a
later flush; nothing is ever lost. Before sending, a flush claims each reply
for a few minutes, so two processes sharing the database never both send it.

Three kinds of trouble are told apart:

- the server cannot be reached, or will not take mail from us at all (down,
  wrong password): no reply's fault, so no attempt is counted; the flush stops
  and the next one tries again, however long the outage lasts;
- the server defers one reply (4xx): it is retried with a growing pause, and
  given up (``failed``) after MAX_ATTEMPTS;
- the server refuses one reply for good (5xx): ``failed`` at once; when the
  mailbox does not exist, the address is marked bouncing as well.

Replies to a bouncing address are ``held``, and replies over the per-address
rate limit wait for their window; both are reported in the digest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from mailintake.config.settings import RepliesConfig
from mailintake.replies import bounces, ratelimit
from mailintake.store import bounces as stored_bounces
from mailintake.store import outbox as stored
from mailintake.store.database import Engine
from mailintake.store.models import OutboxMessage, OutboxStatus, ReplyBounce

log = logging.getLogger("mailintake.replies.outbox")

MAX_ATTEMPTS = 12
# How long a flush owns the reply it is sending; a crash frees it after this.
LEASE = timedelta(minutes=10)


class DeliveryError(Exception):
    """Delivery failed.

    ``server``: the server was unreachable or refused us as a client, not
    this reply. ``permanent``: retrying this reply cannot help.
    ``address_gone``: the recipient's mailbox does not exist (``status`` is
    the enhanced status code, when the server gave one).
    """

    def __init__(
        self, message: str, *, permanent: bool = False, server: bool = False,
        address_gone: bool = False, status: str = "",
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.server = server
        self.address_gone = address_gone
        self.status = status


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
            raise DeliveryError(f"cannot write {target}: {exc.strerror}", server=True) from exc

    def close(self) -> None:
        return None


@dataclass
class FlushReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # Not sent because the address bounces.
    held: int = 0
    # Left for later: over the rate limit, or the server was unavailable.
    deferred: int = 0
    # Of those, left because the server was unavailable (due again at once).
    waiting: int = 0

    @property
    def handled(self) -> int:
        """Replies this flush dealt with, one way or another."""
        return self.sent + self.retrying + self.failed + self.held + self.deferred

    def add(self, other: FlushReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.held += other.held
        self.deferred += other.deferred
        self.waiting += other.waiting


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1, 2, 4 … minutes, at most six hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def flush(
    engine: Engine, sender: Sender, now: datetime, *, rules: RepliesConfig | None = None,
    limit: int = 500,
) -> FlushReport:
    """Send what is due; one reply's failure never stops the others.

    Each reply is claimed before it is sent and its new state written after
    (``store.outbox``). A reply held or deferred is written with the next
    claim, or at the end of the flush: should that never come, it is only
    found due again.
    """
    rules = rules or RepliesConfig()
    report = FlushReport()
    due = stored.due(engine, now, limit=limit)
    if not due:
        return report
    recipients = [item.recipient for item in due]
    held = stored_bounces.holding(engine, recipients, now)
    window = ratelimit.Window.load(engine, recipients, now, rules.rate_limits)
    waiting: list[OutboxMessage] = []  # held or deferred, not written yet
    for index, item in enumerate(due):
        if not _ready(item, now, held, window, report):
            waiting.append(item)
            continue
        if waiting:
            stored.save_states(engine, waiting)
            waiting = []
        if not stored.claim(engine, item, until=now + LEASE):
            continue
        bounce: ReplyBounce | None = None
        try:
            sender.send(item)
        except DeliveryError as exc:
            if exc.server:
                _unavailable(item, exc, now)
                stored.save_states(engine, [item])
                report.deferred += len(due) - index
                report.waiting += len(due) - index
                return report
            bounce = _failed(item, exc, now=now, rules=rules, report=report)
        else:
            item.status, item.sent_at, item.last_error = OutboxStatus.SENT, now, ""
            item.attempts += 1
            window.note(item.recipient, now)
            report.sent += 1
            log.info("reply %s (%s) sent to %s", item.id, item.kind, item.recipient)
        stored.save_states(engine, [item], bounce=bounce)
    if waiting:
        stored.save_states(engine, waiting)
    return report


def _ready(
    item: OutboxMessage, now: datetime, held: dict[str, ReplyBounce],
    window: ratelimit.Window, report: FlushReport,
) -> bool:
    """Whether ``item`` may go now; a held or deferred one is marked as such."""
    bounce = held.get(item.recipient.lower())
    if bounce is not None:
        item.status = OutboxStatus.HELD
        item.last_error = f"address bounced ({bounce.status}); held until {bounce.until:%Y-%m-%d}"
        report.held += 1
        log.warning("reply %s to %s held: the address bounces", item.id, item.recipient)
        return False
    allowed = window.next_allowed(item.recipient, now)
    if allowed is None:
        return True
    item.next_attempt_at = allowed
    report.deferred += 1
    log.warning("reply %s to %s deferred to %s: rate limit", item.id, item.recipient,
                allowed.isoformat())
    return False


def _unavailable(item: OutboxMessage, exc: DeliveryError, now: datetime) -> None:
    # Due again at once: the next flush retries, and nothing counts against the reply.
    item.next_attempt_at = now
    item.last_error = str(exc)[:500]
    log.warning("mail server unavailable, replies wait: %s", exc)


def _failed(
    item: OutboxMessage, exc: DeliveryError, *, now: datetime, rules: RepliesConfig,
    report: FlushReport,
) -> ReplyBounce | None:
    """Count a refused attempt; the bounce to write when the address is gone for good."""
    item.attempts += 1
    item.last_error = str(exc)[:500]
    if not (exc.permanent or item.attempts >= MAX_ATTEMPTS):
        item.next_attempt_at = now + backoff(item.attempts)
        report.retrying += 1
        log.warning("reply %s to %s not sent yet: %s", item.id, item.recipient, exc)
        return None
    item.status = OutboxStatus.FAILED
    report.failed += 1
    log.error("reply %s to %s failed for good: %s", item.id, item.recipient, exc)
    if exc.permanent and exc.address_gone and rules.bounce_hold_days > 0:
        return bounces.hold(item.recipient, exc.status, str(exc), now=now,
                            hold_days=rules.bounce_hold_days, outbox_id=item.id)
    return None
