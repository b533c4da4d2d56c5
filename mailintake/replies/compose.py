"""The reply to one mail: a receipt (回执), a rejection (退回), an oversize
notice (超限), a note to an unregistered sender (未登记), or the acknowledgement
of a question answering one of our replies (收悉).

Each ``*_context`` function builds exactly what its template sees; the same
functions fill the sample contexts every template is rendered with at
start-up (``mailintake.replies.samples``), so a variable a clerk misspells is
reported then. ``reply`` renders the reply a decision names as an outbox row;
the store calls it inside the transaction that files the mail, once the
tracking number and the unit's tally are known.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from mailintake.config.calendar import TeachingCalendar
from mailintake.config.settings import ColumnConfig
from mailintake.reading.mime import ParsedMail
from mailintake.replies.render import Original
from mailintake.rules import Finding
from mailintake.rules.decide import Decision
from mailintake.rules.examples import ExampleValues, example_subject
from mailintake.store.models import InboundMessage, OutboxMessage, Submission
from mailintake.store.solicitations import Answered

if TYPE_CHECKING:
    from mailintake.app import App


def month_bounds(app: App, moment: datetime) -> tuple[datetime, datetime]:
    """The office-local calendar month around ``moment``, as aware datetimes."""
    local = app.local(moment)
    start = datetime.combine(local.date().replace(day=1), time(), tzinfo=local.tzinfo)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _common(mail: ParsedMail, received_local: str, office_name: str, contact: str
            ) -> dict[str, Any]:
    return {
        "mail": mail,
        "sender_name": mail.from_name or mail.from_addr,
        "sender_address": mail.from_addr,
        "received_local": received_local,
        "office_name": office_name,
        # 王老师（电话 0571-…）, beside 请勿直接回复 ([office] contact, phone); "" for none.
        "office_contact": contact,
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
    counted_for: str = "",
    tally_period: str = "本月",
    unit_leader: str = "",
    examples: ExampleValues | None = None,
    contact: str = "",
    solicited: Answered | None = None,
) -> dict[str, Any]:
    """What the receipt and the rejection templates see; ``counted_for`` names the
    period the piece counts for (its week or month); the subject examples are the
    columns' formats filled with ``examples`` (the unit, today, this week), else the
    examples in config; ``solicited`` the request for a piece (约稿) it answers."""
    # The subject matched no column: show every column's correct form, unless
    # the subject finding's hint already lists them.
    shown = [column] if column is not None else [c for c in columns if c.example]
    if any(f.code == "subject.format" for f in findings):
        shown = []
    def example(c: ColumnConfig) -> str:
        return example_subject(c, examples) if examples is not None else c.example

    return {
        **_common(mail, received_local, office_name, contact),
        "submission": submission,
        "unit_name": unit_name,
        "unit_leader": unit_leader,
        "column_name": column.name if column else "",
        "column_example": example(column) if column else "",
        "column_examples": [{"name": c.name, "example": example(c)} for c in shown
                            if c.example or examples is not None],
        "rejections": [f for f in findings if f.severity == "reject"],
        "warnings": [f for f in findings if f.severity == "warn"],
        "tally": {"period": tally_period, "count": tally_count},
        "counted_for": counted_for,
        "solicited": ({"number": solicited.number, "topic": solicited.topic}
                      if solicited is not None else None),
    }


def oversize_context(
    *, mail: ParsedMail, size: int, limit: int, received_local: str, office_name: str,
    contact: str = "",
) -> dict[str, Any]:
    """What the oversize template sees: sizes in MB as a person reads them."""
    return {
        **_common(mail, received_local, office_name, contact),
        "size_mb": f"{size / 1024 / 1024:.1f}",
        "limit_mb": f"{limit / 1024 / 1024:.0f}",
    }


def unregistered_context(*, mail: ParsedMail, received_local: str, office_name: str,
                         contact: str = "") -> dict[str, Any]:
    """What the note to an unregistered sender sees."""
    return _common(mail, received_local, office_name, contact)


def question_context(*, mail: ParsedMail, received_local: str, office_name: str,
                     contact: str = "") -> dict[str, Any]:
    """What the acknowledgement of a question (an answer to one of our replies) sees."""
    return _common(mail, received_local, office_name, contact)


def held_rejection_context(*, mail: ParsedMail, reason: str, received_local: str,
                           office_name: str, contact: str = "") -> dict[str, Any]:
    """What the rejection a clerk gives a held mail (待人工) sees: the clerk's reason."""
    return {**_common(mail, received_local, office_name, contact), "reason": reason}


def held_rejection(app: App, message: InboundMessage, mail: ParsedMail, reason: str,
                   now: datetime) -> OutboxMessage:
    """The rejection a clerk gives a held mail, answering it; one per mail."""
    context = held_rejection_context(mail=mail, reason=reason,
                                     received_local=_local(app, message.received_at),
                                     office_name=app.config.office.name,
                                     contact=app.config.office.contact_line)
    outbox = _reply(app, "held_rejection", context, message, mail, now=now)
    outbox.dedup_key = f"held:{message.id}"
    return outbox


def reply(
    app: App, decision: Decision, mail: ParsedMail, *, message: InboundMessage,
    submission: Submission | None, tally: int, counted_for: str = "",
    solicited: Answered | None = None,
) -> OutboxMessage:
    """The reply ``decision`` names, rendered for ``message`` (recorded, so it has its id)
    and, for a piece, ``submission`` (numbered) with ``tally`` pieces of its unit in the
    month it counts for, and the period it counts for (``counted_for``)."""
    assert decision.reply is not None
    kind, now = decision.reply.kind, message.received_at
    received_local, office_name = _local(app, now), app.config.office.name
    contact = app.config.office.contact_line
    if kind == "oversize":
        context = oversize_context(
            mail=mail, size=message.size, limit=app.config.limits.max_message_bytes,
            received_local=received_local, office_name=office_name, contact=contact,
        )
    elif kind == "unregistered":
        context = unregistered_context(
            mail=mail, received_local=received_local, office_name=office_name,
            contact=contact)
    elif kind == "question":
        context = question_context(
            mail=mail, received_local=received_local, office_name=office_name,
            contact=contact)
    else:
        entry = decision.entry
        assert entry is not None and submission is not None
        # The piece's own title shows the form filled in, unless the subject is at fault.
        subject_ok = entry.column and not any(f.code.startswith("subject.")
                                              for f in entry.findings)
        context = piece_context(
            mail=mail, submission=submission, findings=entry.findings,
            unit_name=entry.unit.name if entry.unit else "", column=entry.column,
            columns=app.config.columns, tally_count=tally, received_local=received_local,
            office_name=office_name, counted_for=counted_for,
            unit_leader=entry.unit.leader if entry.unit else "",
            tally_period=_month_word(app, submission.counted_at or now, now),
            contact=contact, solicited=solicited,
            examples=example_values(app, now, unit=entry.unit.name if entry.unit else "",
                                    author=mail.from_name,
                                    title=entry.title if subject_ok else ""),
        )
    return _reply(app, kind, context, message, mail, now=now)


def _month_word(app: App, counted: datetime, now: datetime) -> str:
    """``本月``, or the month the piece counts for when that is another (``2026年11月``)."""
    month, this = app.local(counted), app.local(now)
    if (month.year, month.month) == (this.year, this.month):
        return "本月"
    return f"{month.year}年{month.month}月"


def example_values(app: App, moment: datetime, *, unit: str, author: str, title: str = ""
                   ) -> ExampleValues:
    """What a reply's subject examples are filled with: ``unit``, the local day of
    ``moment`` and its teaching week, the correspondent's name and the piece's title."""
    day = app.local(moment).date()
    week = TeachingCalendar(app.config.calendar).week_of(day)
    return ExampleValues(unit=unit, day=day, week=week.number if week else None,
                         author=author, title=title)


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
