"""The flow of mail, top to bottom.

    list the intake folder
      -> repair: mails already recorded are only moved (a crash after commit),
         their stored files written again if a power cut took them
      -> fetch raw bytes -> archive them -> read (MIME, Word, pictures),
         in worker processes a few mails ahead of the one being decided;
         a mail over the size limit is read by its headers alone
      -> decide (``rules.decide``): the gates (unreadable, oversize, duplicate,
         robot, forged, spoofed, unregistered, a question answering one of our
         replies), else the subject and every check
      -> file the mail, its piece and its reply in ONE transaction (``store.pieces``)
      -> only then move the mail to 已处理 / 已退回 / 待人工
    and deliver the outbox: a few replies whenever the readers are behind,
    the rest at the end.

Every mail that arrives ends recorded with an outcome and its reasons; one
that breaks something is set aside for a person (待人工), never retried in a
tight loop and never lost. How the stages overlap (fetching ahead, moving in
batches once the files are synced, sending while the readers work) is the
business of ``intake.cycle``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from mailintake.app import App
from mailintake.config.calendar import TeachingCalendar
from mailintake.intake import records
from mailintake.intake.cycle import Context, CycleReport, Moves, Outbox, deliver, read_ahead, repair
from mailintake.mailbox.base import Mailbox, MailRef
from mailintake.office.periods import counted_label
from mailintake.reading import workers as readers
from mailintake.reading.workers import Prepared
from mailintake.replies import bounces, compose
from mailintake.rules import answers
from mailintake.rules import decide as rules
from mailintake.rules.decide import Decision, Entry
from mailintake.rules.gates import Case, Known
from mailintake.rules.values import Sender
from mailintake.store import history, messages, pieces
from mailintake.store import outbox as stored_outbox
from mailintake.store.messages import AlreadyClaimed, DatabaseUnavailable
from mailintake.store.models import InboundMessage

__all__ = ["CycleReport", "deliver", "process", "process_prepared", "run_cycle"]

log = logging.getLogger("mailintake.intake.pipeline")


def _never() -> bool:
    return False


def run_cycle(app: App, mailbox: Mailbox, stop: Callable[[], bool] = _never) -> CycleReport:
    """Take in everything waiting in the mailbox, then deliver the outbox.

    ``stop`` is asked after each mail: once it says so, the mails filed so far
    are moved and the rest is left for the next cycle (none of it committed).
    """
    refs = mailbox.list_new()
    report = CycleReport(seen=len(refs))
    moves = Moves(app, mailbox)
    fresh = repair(app, mailbox, refs, moves, report)
    context = Context.load(app) if fresh else None
    limit = app.config.limits.max_message_bytes
    for ref in fresh:
        if ref.size > limit:  # never downloaded: read by its headers alone
            report.finish(moves, ref, process_oversize(app, mailbox, ref, context))
    with Outbox(app) as outbox:
        try:
            with read_ahead(app, mailbox, [r for r in fresh if r.size <= limit],
                            outbox) as ready:
                for ref, prepared in ready:
                    report.finish(moves, ref, process_prepared(app, mailbox.name, ref,
                                                               prepared, context))
                    if stop():
                        break
        finally:
            # What was filed leaves the intake folder even when a later mail could not be
            # read (a full disk): else the next cycle would repair it, and fail the same.
            moves.flush()
        if not stop():
            outbox.rest()
        report.replies = outbox.report
    return report


@dataclass(frozen=True)
class Again:
    """A mail decided again (``messages retry``), or one a clerk filed for a piece that
    came another way (``intake.manual``): when it first arrived, which it keeps,
    whether a clerk vouched for its sender, and the unit a clerk files it for ("" for
    the one its subject and sender give)."""

    received_at: datetime
    vouched: bool = False
    unit: str = ""
    # The correspondent a clerk names for it (with ``unit``); None: its sender's, if any.
    correspondent_id: int | None = None
    # How the piece came when no mailbox brought it ("qq", "paper", "other"; "" by mail).
    via: str = ""
    # Whether its sender hears of it (a piece filed by a clerk: only when asked).
    reply: bool = True


def process(app: App, mailbox_name: str, ref: MailRef, raw: bytes,
            again: Again | None = None) -> InboundMessage | None:
    """Decide and record one mail; None when another process claimed it first."""
    prepared = readers.prepare(raw, app.config.limits, app.storage.root)
    return process_prepared(app, mailbox_name, ref, prepared, again=again)


def process_prepared(
    app: App, mailbox_name: str, ref: MailRef, prepared: Prepared,
    context: Context | None = None, *, again: Again | None = None,
) -> InboundMessage | None:
    """Decide and record one mail already archived and read (see ``readers``).

    ``context`` is the cycle's (read now when None).
    """
    if prepared.reading is None:
        log.error("cannot read mail %s: %s", ref.source_key, prepared.error)
        log.debug("mail %s: where reading failed:\n%s", ref.source_key, prepared.trace)
    case = records.case_of(app, prepared)
    return _settle(app, records.Arrival(mailbox_name, ref, prepared.raw_sha256,
                                        prepared.content_sha256, case), context, again)


def process_oversize(
    app: App, mailbox: Mailbox, ref: MailRef, context: Context | None = None
) -> InboundMessage | None:
    """Decide and record a mail over the size limit from its headers, never downloading it;
    a registered sender may hear what the limit is."""
    head = mailbox.fetch_headers(ref) if isinstance(mailbox, records.HeaderPeek) else b""
    case, digest = records.oversize_case_of(app, ref, head)
    return _settle(app, records.Arrival(mailbox.name, ref, "", digest, case), context)


def _settle(app: App, arrival: records.Arrival, context: Context | None,
            again: Again | None = None) -> InboundMessage | None:
    """Decide, then file: None when another process claimed the mail first.

    A mail decided again is judged as at its first arrival: its deadlines, its period
    and its tracking number's day are those of the moment it came.
    """
    now = again.received_at if again else app.clock()
    try:
        decision = _decide(app, context or Context.load(app), arrival, now, again)
        return _file(app, arrival, decision, now, again)
    except AlreadyClaimed:
        log.info("mail %s was claimed by another process", arrival.ref.source_key)
        return None
    except DatabaseUnavailable:
        # The database, not the mail (connection lost, locked): nothing of this mail was
        # committed, so the cycle stops and the next one reads it again.
        raise
    except Exception as exc:
        log.exception("cannot file mail %s", arrival.ref.source_key)
        return _set_aside(app, arrival, now, repr(exc))


def _decide(app: App, context: Context, arrival: records.Arrival, now: datetime,
            again: Again | None = None) -> Decision:
    """What the store knows of the mail, then the rules' decision on it."""
    case = arrival.case
    sender = context.registry.sender(case.mail.from_addr) if case.mail else None
    if again and again.unit and case.mail:  # the clerk says whose piece it is
        unit = context.registry.names()[again.unit]
        named = again.correspondent_id or (sender.correspondent_id if sender else None)
        sender = Sender(named, sender.name if sender else case.mail.from_name, (unit,))
    known = Known(
        sender=sender, duplicate_of=_first_delivery(app, arrival),
        vouched=again.vouched if again else False,
        answering=_answering(app, case) if sender is not None else "",
    )
    wanted = rules.lookup(case, known, context.office, now)
    if wanted is not None:  # a piece: its checks compare it with what the office has
        past = history.recall(app.engine, app.config, wanted, now=now, seen=context.earlier)
        known = replace(known, history=past)
    return rules.decide(case, known, context.office, now)


def _answering(app: App, case: Case) -> str:
    """The subject of our mail this one answers (``store.outbox.answered``), "" for none."""
    mail = case.mail
    if mail is None or case.reading is None:
        return ""
    ids = answers.message_ids(*mail.values("in-reply-to"), *mail.values("references"))
    subject = answers.answered_subject(mail.subject)
    if not ids and not subject:
        return ""
    return stored_outbox.answered(app.engine, ids, mail.from_addr, subject)


def _first_delivery(app: App, arrival: records.Arrival) -> int | None:
    """The mail recorded first as this same mail, if any (see ``reading.sameness``)."""
    case = arrival.case
    if not case.key or case.mail is None:
        return None
    legacy = messages.legacy_key(case.mail.message_id, arrival.raw_sha256)
    same = partial(records.archived_same, app, arrival.digest, whole=not case.oversize)
    return messages.first_delivery(app.engine, case.key, legacy, same)


def _file(
    app: App, arrival: records.Arrival, decision: Decision, now: datetime,
    again: Again | None = None,
) -> InboundMessage:
    """Record the mail, its piece and its reply in one transaction, then publish the piece."""
    case, message = arrival.case, records.message_of(arrival, decision, now)
    if again is not None:
        message.via = again.via
        if not again.reply:
            decision = replace(decision, reply=None)
    entry = decision.entry
    counted = (entry.counted_at if entry else None) or now
    filing = pieces.Filing(
        message, entry, records.store_files(app, case.reading) if entry else [],
        day=f"{app.local(now):%Y%m%d}", reply=decision.reply,
        tally=compose.month_bounds(app, counted) if entry and entry.unit else None,
    )
    reply = partial(compose.reply, app, decision, case.mail,
                    counted_for=_counted_for(app, entry, counted)) if case.mail else None
    during = None
    if decision.bounces:  # about one of our replies? mark the address bouncing
        during = partial(bounces.record_report, raw=records.archived(app, arrival),
                         report=message, now=now, hold_days=app.config.replies.bounce_hold_days)
    submission = pieces.file(app.engine, filing, reply, during)
    records.log_decision(message, decision, case, submission)
    if submission is not None and entry is not None and entry.accepted and entry.unit:
        records.publish(app, submission, entry.unit.name, filing.files)
    return message


def _counted_for(app: App, entry: Entry | None, counted: datetime) -> str:
    """The week (a weekly column's piece) or month the piece counts for, as its receipt
    names it."""
    if entry is None:
        return ""
    weekly = entry.column is not None and entry.column.weekly
    return counted_label(counted, app.config.office.tz, TeachingCalendar(app.config.calendar),
                         weekly=weekly)


def _set_aside(app: App, arrival: records.Arrival, now: datetime, error: str
               ) -> InboundMessage | None:
    """Record a mail that broke something for a person (待人工), with what broke."""
    broken = Decision("quarantined", ["internal.error"])
    message = records.message_of(arrival, broken, now, error=error)
    try:
        pieces.file(app.engine, pieces.Filing(message))
    except AlreadyClaimed:
        return None
    records.log_decision(message, broken, arrival.case, None)
    return message
