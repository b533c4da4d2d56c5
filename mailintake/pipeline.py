"""The flow of mail, top to bottom.

    list the intake folder
      -> repair: mails already recorded are only moved (a crash after commit)
      -> fetch raw bytes -> archive them -> read (MIME, Word, pictures)
      -> duplicate? robot? unregistered sender? -> record, no reply
      -> match the subject to a column -> run every check
      -> file the submission and queue its reply in ONE transaction
      -> only then move the mail to 已处理 / 已退回 / 待人工
    and deliver the outbox.

Every mail that arrives ends recorded with an outcome and its reasons; one
that breaks something is set aside for a person (待人工), never retried in a
tight loop and never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from mailintake import answers, filing
from mailintake.app import App
from mailintake.checks import Piece, run_checks
from mailintake.classify import no_reply_reason
from mailintake.columns import SubjectMatcher
from mailintake.database import session as open_session
from mailintake.filing import AlreadyClaimed, Filing, StoredFile
from mailintake.mailbox.base import (
    FOLDER_FILED,
    FOLDER_REJECTED,
    FOLDER_REVIEW,
    Mailbox,
    MailRef,
)
from mailintake.models import InboundMessage, Outcome, Status, Submission, Unit
from mailintake.outbox import FlushReport
from mailintake.reading import Reading, read_mail
from mailintake.storage import sha256
from mailintake.units import active_units, find_sender, unit_names

log = logging.getLogger("mailintake.pipeline")

FOLDER_OF = {
    Outcome.FILED: FOLDER_FILED,
    Outcome.IGNORED: FOLDER_FILED,
    Outcome.REJECTED: FOLDER_REJECTED,
    Outcome.QUARANTINED: FOLDER_REVIEW,
}


@dataclass
class CycleReport:
    seen: int = 0
    filed: int = 0
    rejected: int = 0
    quarantined: int = 0
    ignored: int = 0
    repaired: int = 0
    replies: FlushReport | None = None

    def count(self, outcome: Outcome) -> None:
        name = outcome.value
        setattr(self, name, getattr(self, name) + 1)


def run_cycle(app: App, mailbox: Mailbox) -> CycleReport:
    """Take in everything waiting in the mailbox, then deliver the outbox."""
    refs = mailbox.list_new()
    report = CycleReport(seen=len(refs))
    known = filing.recorded(app.engine, mailbox.name, (r.source_key for r in refs))
    for ref in refs:
        if ref.source_key in known:
            _move(app, mailbox, ref, known[ref.source_key])
            report.repaired += 1
    fresh = [r for r in refs if r.source_key not in known]
    for ref in fresh:
        if ref.size > app.config.limits.max_message_bytes:
            _finish(app, mailbox, ref, _oversize(app, mailbox, ref), report)
    small = [r for r in fresh if r.size <= app.config.limits.max_message_bytes]
    for ref, raw in mailbox.fetch(small):
        _finish(app, mailbox, ref, process(app, mailbox.name, ref, raw), report)
    report.replies = deliver(app)
    return report


def deliver(app: App) -> FlushReport:
    """Send the replies that are due through the configured sender."""
    from mailintake.outbox import FolderSender, flush

    smtp = app.config.smtp
    if smtp.kind == "folder":
        assert smtp.path is not None
        return flush(app.engine, FolderSender(smtp.path), app.clock())
    from mailintake.smtp import SmtpSender

    sender = SmtpSender.from_config(smtp)
    try:
        return flush(app.engine, sender, app.clock())
    finally:
        sender.close()


def process(app: App, mailbox_name: str, ref: MailRef, raw: bytes) -> InboundMessage | None:
    """Decide and record one mail; None when another process claimed it first."""
    now = app.clock()
    digest = sha256(raw)
    app.storage.archive_raw(raw, digest)
    message = InboundMessage(
        mailbox=mailbox_name, source_key=ref.source_key, folder=ref.folder,
        uidvalidity=ref.uidvalidity, uid=ref.uid, raw_sha256=digest, size=len(raw),
        received_at=now, outcome=Outcome.QUARANTINED, target_folder=FOLDER_REVIEW,
    )
    try:
        reading = read_mail(raw, app.config.limits)
    except Exception as exc:  # any mail may be broken in a way nobody foresaw
        log.exception("cannot read mail %s", ref.source_key)
        return _record(app, message, Outcome.QUARANTINED, ["parse.error"], error=repr(exc))
    _describe(message, reading)
    try:
        with open_session(app.engine) as db:
            return _decide(app, db, message, reading, now)
    except AlreadyClaimed:
        log.info("mail %s was claimed by another process", ref.source_key)
        return None
    except Exception as exc:
        log.exception("cannot file mail %s", ref.source_key)
        message.business_key = None
        return _record(app, message, Outcome.QUARANTINED, ["internal.error"], error=repr(exc))


def _decide(
    app: App, db: Session, message: InboundMessage, reading: Reading, now: datetime
) -> InboundMessage:
    mail = reading.mail
    key = filing.business_key(mail.message_id, message.raw_sha256)
    first = filing.first_delivery(db, key)
    if first is not None:
        message.duplicate_of_id = first.id
        return _settle(db, message, Outcome.IGNORED, ["duplicate.message"])
    message.business_key = key
    robot = no_reply_reason(mail, app.replies.address)
    if robot is not None:
        return _settle(db, message, Outcome.IGNORED, [robot])
    sender = find_sender(db, mail.from_addr)
    if sender is None:
        return _settle(db, message, Outcome.QUARANTINED, ["sender.unregistered"])
    match = SubjectMatcher(app.config.columns, unit_names(active_units(db))).match(mail.subject)
    piece = Piece(
        mail=mail, sender=sender, match=match, documents=reading.documents,
        document_errors=reading.document_errors, attached_pictures=reading.pictures,
        other_parts=[p for p, kind in reading.files if kind == "other"],
        now=now, config=app.config,
    )
    findings = run_checks(piece)
    rejected = any(f.severity == "reject" for f in findings)
    unit = _unit_of(match.unit if match else None, sender.units)
    document = reading.documents[0] if reading.documents else None
    submission = Submission(
        message_id=0, unit_id=unit.id if unit else None,
        correspondent_id=sender.correspondent.id,
        column=match.column.key if match else "",
        title=(match.title if match else "") or mail.subject,
        author=match.author if match else "", event_date=match.event_date if match else None,
        week_no=match.week if match else None,
        status=Status.REJECTED if rejected else Status.ACCEPTED,
        word_count=document.word_count if document else 0,
        picture_count=len(piece.pictures), text=document.text if document else mail.body,
        received_at=now,
    )
    outcome = Outcome.REJECTED if rejected else Outcome.FILED
    message.outcome, message.target_folder = outcome, FOLDER_OF[outcome]
    message.reasons = [f.code for f in findings]
    files = _store_files(app, reading)
    filing.save(db, Filing(message, submission, findings, files))
    submission.tracking_no = filing.tracking_number(submission, f"{app.local(now):%Y%m%d}")
    db.add(submission)
    filing.queue(db, answers.reply_for(
        app, db, message=message, mail=mail, submission=submission, findings=findings,
        unit=unit, column=match.column if match else None,
    ))
    filing.commit_or_claimed(db)
    if not rejected and unit is not None:
        _publish(app, submission, unit.name, files)
    log.info("mail %s %s as %s (%s)", message.message_id, outcome.value,
             submission.tracking_no, ",".join(message.reasons) or "no findings")
    return message


def _settle(
    db: Session, message: InboundMessage, outcome: Outcome, reasons: list[str]
) -> InboundMessage:
    """Record a mail that is not filed as a piece; it gets no reply."""
    message.outcome, message.reasons, message.target_folder = outcome, reasons, FOLDER_OF[outcome]
    db.add(message)
    filing.commit_or_claimed(db)
    log.info("mail %s %s (%s)", message.message_id or message.source_key, outcome.value,
             ",".join(reasons))
    return message


def _record(
    app: App, message: InboundMessage, outcome: Outcome, reasons: list[str], error: str = ""
) -> InboundMessage | None:
    message.error = error[:2000]
    try:
        with open_session(app.engine) as db:
            return _settle(db, message, outcome, reasons)
    except AlreadyClaimed:
        return None


def _describe(message: InboundMessage, reading: Reading) -> None:
    mail = reading.mail
    message.message_id = mail.message_id[:1000]
    message.from_addr, message.from_name = mail.from_addr[:320], mail.from_name[:200]
    message.subject, message.sent_at = mail.subject, mail.sent_at
    message.defects = [*mail.defects, *reading.problems]


def _oversize(app: App, mailbox: Mailbox, ref: MailRef) -> InboundMessage | None:
    """A mail over the size limit is recorded without ever being downloaded."""
    message = InboundMessage(
        mailbox=mailbox.name, source_key=ref.source_key, folder=ref.folder,
        uidvalidity=ref.uidvalidity, uid=ref.uid, raw_sha256="", size=ref.size,
        received_at=app.clock(), outcome=Outcome.QUARANTINED, target_folder=FOLDER_REVIEW,
    )
    return _record(app, message, Outcome.QUARANTINED, ["limits.message_size"])


def _store_files(app: App, reading: Reading) -> list[StoredFile]:
    stored = []
    for part, kind in reading.files:
        digest, path = app.storage.store_blob(part.payload, part.filename)
        stored.append(StoredFile(
            filename=part.filename[:255] or "附件", content_type=part.content_type[:100],
            kind=kind, size=len(part.payload), sha256=digest, stored_path=str(path),
        ))
    return stored


def _unit_of(named: Unit | None, own: list[Unit]) -> Unit | None:
    """The unit a piece counts for: the one named, if the sender may send for it."""
    if named is not None and named.id in {u.id for u in own}:
        return named
    return own[0] if len(own) == 1 else None


def _publish(app: App, submission: Submission, unit: str, files: list[StoredFile]) -> None:
    month = f"{app.local(submission.received_at):%Y-%m}"
    folder = f"{submission.tracking_no} {submission.title}"
    for stored in files:
        app.storage.publish(Path(stored.stored_path), unit, month, folder, stored.filename)


def _finish(
    app: App, mailbox: Mailbox, ref: MailRef, message: InboundMessage | None, report: CycleReport
) -> None:
    if message is None:
        return  # another process owns it and will move it
    report.count(message.outcome)
    _move(app, mailbox, ref, message)


def _move(app: App, mailbox: Mailbox, ref: MailRef, message: InboundMessage) -> None:
    mailbox.move(ref, message.target_folder)
    assert message.id is not None
    filing.mark_moved(app.engine, message.id, app.clock())
