"""The reply to one mail: a receipt (回执), a rejection (退回), an oversize
notice (超限), or a note to an unregistered sender (未登记).

Each ``*_context`` function builds exactly what its template sees; the same
functions fill the sample contexts every template is rendered with at
start-up (``mailintake.office.samples``), so a variable a clerk misspells is
reported then. Each ``*_reply`` function renders and returns the outbox row,
which the caller queues in the transaction that decided the mail.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from mailintake.config.settings import ColumnConfig
from mailintake.reading import sameness
from mailintake.reading.mime import ParsedMail, ParseError, parse_mail
from mailintake.replies.render import Original
from mailintake.rules import Finding, auth
from mailintake.rules.robots import no_reply_reason
from mailintake.store import filing
from mailintake.store.filing import accepted_count, flush_or_claimed
from mailintake.store.models import InboundMessage, OutboxMessage, Status, Submission, Unit
from mailintake.store.units import find_sender

if TYPE_CHECKING:
    from mailintake.app import App

log = logging.getLogger("mailintake.replies.compose")

# An unregistered sender hears how to register at most this often.
NOTE_EVERY = timedelta(days=7)


def month_bounds(app: App, moment: datetime) -> tuple[datetime, datetime]:
    """The office-local calendar month around ``moment``, as aware datetimes."""
    local = app.local(moment)
    start = datetime.combine(local.date().replace(day=1), time(), tzinfo=local.tzinfo)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _common(mail: ParsedMail, received_local: str, office_name: str) -> dict[str, Any]:
    return {
        "mail": mail,
        "sender_name": mail.from_name or mail.from_addr,
        "sender_address": mail.from_addr,
        "received_local": received_local,
        "office_name": office_name,
    }


def piece_context(
    *,
    mail: ParsedMail,
    submission: Submission,
    findings: Sequence[Finding],
    unit_name: str,
    column: ColumnConfig | None,
    columns: Sequence[ColumnConfig],
    tally_count: int,
    received_local: str,
    office_name: str,
) -> dict[str, Any]:
    """What the receipt and the rejection templates see."""
    # The subject matched no column: show every column's correct form, unless
    # the subject finding's hint already lists them.
    shown = [column] if column is not None else [c for c in columns if c.example]
    if any(f.code == "subject.format" for f in findings):
        shown = []
    return {
        **_common(mail, received_local, office_name),
        "submission": submission,
        "unit_name": unit_name,
        "column_name": column.name if column else "",
        "column_example": column.example if column else "",
        "column_examples": [{"name": c.name, "example": c.example} for c in shown if c.example],
        "rejections": [f for f in findings if f.severity == "reject"],
        "warnings": [f for f in findings if f.severity == "warn"],
        "tally": {"period": "本月", "count": tally_count},
    }


def oversize_context(
    *, mail: ParsedMail, size: int, limit: int, received_local: str, office_name: str
) -> dict[str, Any]:
    """What the oversize template sees: sizes in MB as a person reads them."""
    return {
        **_common(mail, received_local, office_name),
        "size_mb": f"{size / 1024 / 1024:.1f}",
        "limit_mb": f"{limit / 1024 / 1024:.0f}",
    }


def unregistered_context(*, mail: ParsedMail, received_local: str, office_name: str
                         ) -> dict[str, Any]:
    """What the note to an unregistered sender sees."""
    return _common(mail, received_local, office_name)


def reply_for(
    app: App,
    db: Session,
    *,
    message: InboundMessage,
    mail: ParsedMail,
    submission: Submission,
    findings: list[Finding],
    unit: Unit | None,
    column: ColumnConfig | None,
) -> OutboxMessage:
    """Render the receipt or rejection for ``submission`` (not yet queued)."""
    count = 0
    if unit is not None and unit.id is not None:
        start, end = month_bounds(app, submission.received_at)
        count = accepted_count(db, unit.id, start, end)
    context = piece_context(
        mail=mail, submission=submission, findings=findings,
        unit_name=unit.name if unit else "", column=column, columns=app.config.columns,
        tally_count=count, received_local=_local(app, submission.received_at),
        office_name=app.config.office.name,
    )
    kind = "receipt" if submission.status == Status.ACCEPTED else "rejection"
    return _reply(app, kind, context, message, mail, now=submission.received_at)


def oversize_reply(
    app: App, *, message: InboundMessage, mail: ParsedMail, now: datetime
) -> OutboxMessage:
    """The polite refusal of a mail over ``[limits] max_message_bytes``."""
    context = oversize_context(
        mail=mail, size=message.size, limit=app.config.limits.max_message_bytes,
        received_local=_local(app, now), office_name=app.config.office.name,
    )
    return _reply(app, "oversize", context, message, mail, now=now)


def unregistered_reply(
    app: App, *, message: InboundMessage, mail: ParsedMail, now: datetime
) -> OutboxMessage:
    """How to register with the office, for a sender who is who they say."""
    context = unregistered_context(
        mail=mail, received_local=_local(app, now), office_name=app.config.office.name
    )
    return _reply(app, "unregistered", context, message, mail, now=now)


def queue_unregistered_note(
    app: App, db: Session, message: InboundMessage, mail: ParsedMail, now: datetime
) -> None:
    """Tell an authenticated but unregistered sender how to register, once a week at most."""
    recent = db.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.recipient == mail.from_addr,
            OutboxMessage.kind == "unregistered",
            OutboxMessage.created_at > now - NOTE_EVERY,
        )
    ).first()
    if recent is not None:
        return
    db.add(message)
    flush_or_claimed(db)
    filing.queue(db, unregistered_reply(app, message=message, mail=mail, now=now))


def queue_oversize_notice(
    app: App, db: Session, message: InboundMessage, head: bytes, now: datetime
) -> None:
    """Describe an oversize mail from its headers and, if its sender may hear from us, queue
    the refusal naming the limit. Robots, spoofed and unregistered senders get nothing."""
    mail = _read_head(message, head)
    if mail is None:
        return
    message.message_id = mail.message_id[:1000]
    message.from_addr, message.from_name = mail.from_addr[:320], mail.from_name[:200]
    message.subject, message.sent_at = mail.subject, mail.sent_at
    if mail.message_id:
        # Known by its headers alone: the same headers delivered again, not merely one of them.
        digest = sameness.head_digest(head)
        key = filing.business_key(digest, "head")
        first = filing.first_delivery(
            db, key, filing.legacy_key(mail.message_id, ""),
            same=partial(sameness.archived_same, app.storage, digest, whole=False))
        if first is not None:  # delivered again: it was answered the first time
            message.duplicate_of_id = first
            return
        message.business_key = key
    if (mail.from_problem or no_reply_reason(mail, app.replies.address) is not None
            or auth.verdict(head, mail.from_addr, app.config.auth.trusted_authserv_ids).failed
            or find_sender(db, mail.from_addr) is None):
        return
    db.add(message)
    flush_or_claimed(db)
    filing.queue(db, oversize_reply(app, message=message, mail=mail, now=now))


def _read_head(message: InboundMessage, head: bytes) -> ParsedMail | None:
    """The headers of an oversize mail; None when there are none or they cannot be read,
    which leaves the mail held for a person all the same."""
    try:
        return parse_mail(head)
    except ParseError:
        return None
    except Exception as exc:  # headers from anyone: nothing in them may stop the poll
        log.warning("cannot read the headers of oversize mail %s: %r", message.source_key, exc)
        message.error = f"headers unreadable: {exc!r}"[:2000]
        return None


def _local(app: App, moment: datetime) -> str:
    return f"{app.local(moment):%Y-%m-%d %H:%M}"


def _reply(
    app: App, kind: str, context: dict[str, Any], message: InboundMessage, mail: ParsedMail,
    *, now: datetime,
) -> OutboxMessage:
    subject, body = app.replies.render(kind, context)
    original = Original(
        message_id=message.message_id,
        references=mail.headers.get("references", ""),
    )
    raw = app.replies.plain(to=mail.from_addr, subject=subject, body=body, now=now,
                            original=original)
    return OutboxMessage(
        dedup_key=f"reply:{message.id}",
        kind=kind,
        recipient=mail.from_addr,
        subject=subject,
        raw=raw,
        inbound_id=message.id,
        created_at=now,
        next_attempt_at=now,
    )
