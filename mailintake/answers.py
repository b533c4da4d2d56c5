"""The reply to one filed piece: a receipt (回执) or a rejection (退回)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session

from mailintake.app import App
from mailintake.checks import Finding
from mailintake.config import ColumnConfig
from mailintake.filing import accepted_count
from mailintake.models import InboundMessage, OutboxMessage, Status, Submission, Unit
from mailintake.parse import ParsedMail
from mailintake.replies import Original


def month_bounds(app: App, moment: datetime) -> tuple[datetime, datetime]:
    """The office-local calendar month around ``moment``, as aware datetimes."""
    local = app.local(moment)
    start = datetime.combine(local.date().replace(day=1), time(), tzinfo=local.tzinfo)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


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
    """Render and queue-ready the reply for ``submission`` (not yet added)."""
    accepted = submission.status == Status.ACCEPTED
    tally = {"period": "本月", "count": 0}
    if unit is not None and unit.id is not None:
        start, end = month_bounds(app, submission.received_at)
        tally["count"] = accepted_count(db, unit.id, start, end)
    context = {
        "mail": mail,
        "submission": submission,
        "sender_name": mail.from_name or mail.from_addr,
        "unit_name": unit.name if unit else "",
        "column_name": column.name if column else "",
        "column_example": column.example if column else "",
        "received_local": f"{app.local(submission.received_at):%Y-%m-%d %H:%M}",
        "rejections": [f for f in findings if f.severity == "reject"],
        "warnings": [f for f in findings if f.severity == "warn"],
        "tally": tally,
        "office_name": app.config.office.name,
    }
    kind = "receipt" if accepted else "rejection"
    subject, body = app.replies.render(kind, context)
    original = Original(
        message_id=message.message_id,
        references=mail.headers.get("references", ""),
    )
    built = app.replies.build(
        to=mail.from_addr, subject=subject, body=body, now=submission.received_at,
        original=original,
    )
    return OutboxMessage(
        dedup_key=f"reply:{message.id}",
        kind=kind,
        recipient=mail.from_addr,
        subject=subject,
        raw=bytes(built),
        inbound_id=message.id,
        created_at=submission.received_at,
        next_attempt_at=submission.received_at,
    )
