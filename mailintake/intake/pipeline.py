"""The flow of mail, top to bottom.

    list the intake folder
      -> repair: mails already recorded are only moved (a crash after commit),
         their stored files written again if a power cut took them
      -> fetch raw bytes -> archive them -> read (MIME, Word, pictures),
         in worker processes a few mails ahead of the one being filed
      -> duplicate? robot? spoofed (DMARC/SPF)? unregistered sender? -> record, no reply
      -> match the subject to a column -> run every check
      -> file the submission and queue its reply in ONE transaction
      -> only then move the mail to 已处理 / 已退回 / 待人工
    and deliver the outbox: a few replies whenever the readers are behind,
    the rest at the end.

Every mail that arrives ends recorded with an outcome and its reasons; one
that breaks something is set aside for a person (待人工), never retried in a
tight loop and never lost. Moves go in batches, each mail's only after its
own commit, and only once its files and its record are on disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import make_transient
from sqlmodel import Session

from mailintake.app import App
from mailintake.intake import prefetch
from mailintake.intake.prefetch import Prefetch
from mailintake.mailbox.base import (
    FOLDER_FILED,
    FOLDER_REJECTED,
    FOLDER_REVIEW,
    Mailbox,
    MailboxError,
    MailRef,
)
from mailintake.reading import sameness
from mailintake.reading import workers as readers
from mailintake.reading.mail import Reading
from mailintake.reading.workers import Prepared
from mailintake.replies import bounces
from mailintake.replies import compose as answers
from mailintake.replies.outbox import FlushReport, Sender
from mailintake.rules import Piece, auth, run_checks
from mailintake.rules.columns import SubjectMatcher
from mailintake.rules.robots import no_reply_reason
from mailintake.storage import Storage
from mailintake.store import filing, history
from mailintake.store.database import session as open_session
from mailintake.store.filing import AlreadyClaimed, Filing, StoredFile
from mailintake.store.history import Earlier
from mailintake.store.models import InboundMessage, Outcome, Status, Submission, Unit
from mailintake.store.units import Registry, unit_names

log = logging.getLogger("mailintake.intake.pipeline")

#: Mails moved per round trip.
MOVE_BATCH = 50
#: While waiting for the readers, the due replies are dealt with at most this
#: often (seconds), and at most IDLE_REPLIES at a time: a flush's own queries
#: cost about what sending a reply does, so each should send several.
IDLE_EVERY = 0.25
IDLE_REPLIES = 50

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


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Context:
    """What every mail of a cycle is judged against, read once for the cycle."""

    registry: Registry
    matcher: SubjectMatcher
    # Earlier pieces read as duplicate candidates so far (see history.recall).
    earlier: dict[int, Earlier | None] = field(default_factory=dict)

    @classmethod
    def load(cls, app: App) -> Context:
        with open_session(app.engine) as db:
            registry = Registry.load(db)
        return cls(registry, SubjectMatcher(app.config.columns, unit_names(registry.units)))


def run_cycle(app: App, mailbox: Mailbox, stop: Callable[[], bool] = _never) -> CycleReport:
    """Take in everything waiting in the mailbox, then deliver the outbox.

    ``stop`` is asked after each mail: once it says so, the mails filed so far
    are moved and the rest is left for the next cycle (none of it committed).
    """
    refs = mailbox.list_new()
    report = CycleReport(seen=len(refs))
    known = filing.recorded(app.engine, mailbox.name, (r.source_key for r in refs))
    moves = _Moves(app, mailbox)
    unmoved = [(ref, known[ref.source_key]) for ref in refs if ref.source_key in known]
    _restore(app, mailbox, unmoved)
    for ref, recorded in unmoved:
        moves.add(ref, recorded)
        report.repaired += 1
    moves.flush()
    fresh = [r for r in refs if r.source_key not in known]
    limit = app.config.limits.max_message_bytes
    for ref in fresh:
        if ref.size > limit:
            _finish(moves, ref, _oversize(app, mailbox, ref), report)
    context = Context.load(app) if fresh else None
    with _Outbox(app) as outbox:
        fetched = _fetch(mailbox, [r for r in fresh if r.size <= limit])
        with closing(fetched), closing(readers.read_ahead(
                fetched, app.config.limits, app.storage.root, idle=outbox.some)) as ready:
            for ref, prepared in ready:
                message = process_prepared(app, mailbox.name, ref, prepared, context)
                _finish(moves, ref, message, report)
                if stop():
                    break
        moves.flush()
        if not stop():
            outbox.rest()
        report.replies = outbox.report
    return report


def _restore(app: App, mailbox: Mailbox, unmoved: list[tuple[MailRef, InboundMessage]]) -> None:
    """Write again the stored files of recorded mails that a power cut took.

    Files are synced before their mails are moved, not before they are
    recorded (see ``_Moves``): a power cut in between can keep a record and
    lose, or cut short, a file. The mail is still in the intake folder; it is
    read again, and its files land where the record says, by their content.
    """
    lost = [ref for ref, message in unmoved if message.raw_sha256 and not _stored(app, message)]
    for ref, raw in mailbox.fetch(lost):
        readers.prepare(raw, app.config.limits, app.storage.root)
        log.warning("mail %s: its stored files were incomplete and are written again",
                    ref.source_key)


def _stored(app: App, message: InboundMessage) -> bool:
    """Whether every file the record of ``message`` refers to is on disk, whole."""
    assert message.id is not None
    files: list[tuple[str | Path, int]] = [(app.storage.raw_path(message.raw_sha256),
                                            message.size)]
    files += filing.stored_files(app.engine, message.id)
    return all(app.storage.holds(path, size) for path, size in files)


def _fetch(mailbox: Mailbox, refs: list[MailRef]) -> Prefetch | Generator[tuple[MailRef, bytes]]:
    """The mails of ``refs``, fetched in groups of at most ``prefetch.FETCH_BYTES`` (a
    few big mails never sit in memory at once): a group ahead, on a thread, where the
    mailbox waits on a network; close it when done."""
    if mailbox.fetch_on_thread:
        return Prefetch(mailbox, refs)
    return (item for group in prefetch.groups(refs) for item in mailbox.fetch(group))


def deliver(app: App) -> FlushReport:
    """Send the replies that are due through the configured sender."""
    with _Outbox(app) as outbox:
        outbox.rest()
        return outbox.report


class _Outbox:
    """A cycle's replies, through one sender (one SMTP login) opened when first needed.

    ``some`` deals with the replies due by then while the main process would
    otherwise wait for the readers, every IDLE_EVERY seconds at most; ``rest``
    with all that are due, at the end. Once the server proves unavailable,
    only ``rest`` tries it again. The report counts each reply once, as one
    flush at the end would.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.report = FlushReport()
        self._sender: Sender | None = None
        self._unavailable = False
        self._last = time.monotonic()

    def some(self) -> bool:
        """Deal with up to IDLE_REPLIES due replies, unless that was done less than
        IDLE_EVERY ago; False when there was nothing (more) to do now."""
        if self._unavailable or time.monotonic() - self._last < IDLE_EVERY:
            return False
        self._last = time.monotonic()
        done = self._flush(IDLE_REPLIES)
        if done.waiting:  # due again at once: ``rest`` tries them, and counts them
            self._unavailable = True
            self.report.deferred -= done.waiting
            self.report.waiting -= done.waiting
        return done.handled > 0 and not self._unavailable

    def rest(self) -> None:
        self._flush(500)

    def _flush(self, limit: int) -> FlushReport:
        from mailintake.replies.outbox import flush

        done = flush(self.app.engine, self._open(), self.app.clock(),
                     rules=self.app.config.replies, limit=limit)
        self.report.add(done)
        return done

    def _open(self) -> Sender:
        if self._sender is None:
            smtp = self.app.config.smtp
            if smtp.kind == "folder":
                from mailintake.replies.outbox import FolderSender

                assert smtp.path is not None
                self._sender = FolderSender(smtp.path)
            else:
                from mailintake.replies.smtp import SmtpSender

                self._sender = SmtpSender.from_config(smtp)
        return self._sender

    def __enter__(self) -> _Outbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._sender is not None:
            self._sender.close()


def process(app: App, mailbox_name: str, ref: MailRef, raw: bytes) -> InboundMessage | None:
    """Decide and record one mail; None when another process claimed it first."""
    prepared = readers.prepare(raw, app.config.limits, app.storage.root)
    return process_prepared(app, mailbox_name, ref, prepared)


def process_prepared(
    app: App, mailbox_name: str, ref: MailRef, prepared: Prepared, context: Context | None = None
) -> InboundMessage | None:
    """Decide and record one mail already archived and read (see ``readers``).

    ``context`` is the cycle's (read now when None).
    """
    now = app.clock()
    message = InboundMessage(
        mailbox=mailbox_name, source_key=ref.source_key, folder=ref.folder,
        uidvalidity=ref.uidvalidity, uid=ref.uid, raw_sha256=prepared.raw_sha256,
        size=prepared.size, received_at=now, outcome=Outcome.QUARANTINED,
        target_folder=FOLDER_REVIEW,
    )
    reading = prepared.reading
    if reading is None:
        log.error("cannot read mail %s: %s", ref.source_key, prepared.error)
        log.debug("mail %s: where reading failed:\n%s", ref.source_key, prepared.trace)
        return _record(app, message, Outcome.QUARANTINED, ["parse.error"], error=prepared.error)
    _describe(message, reading)
    if reading.refused:  # over a limit that kept it from being read (a 1 MB header)
        return _record(app, message, Outcome.QUARANTINED, [reading.refused])
    try:
        context = context or Context.load(app)
        with open_session(app.engine) as db:
            return _decide(app, db, context, message, reading, now=now,
                           content=prepared.content_sha256)
    except AlreadyClaimed:
        log.info("mail %s was claimed by another process", ref.source_key)
        return None
    except OperationalError:
        # The database, not the mail (connection lost, locked): nothing of this mail was
        # committed, so the cycle stops and the next one reads it again.
        raise
    except Exception as exc:
        log.exception("cannot file mail %s", ref.source_key)
        # The failed transaction may have flushed the row (it has an id) and
        # then rolled it back: record it afresh, or the UPDATE finds no row.
        make_transient(message)
        message.id, message.business_key, message.duplicate_of_id = None, None, None
        return _record(app, message, Outcome.QUARANTINED, ["internal.error"], error=repr(exc))


def _decide(
    app: App, db: Session, context: Context, message: InboundMessage, reading: Reading, *,
    now: datetime, content: str,
) -> InboundMessage:
    mail = reading.mail
    # The same mail delivered again, not merely one with the same Message-ID (see sameness).
    key = filing.business_key(content)
    first = filing.first_delivery(
        db, key, filing.legacy_key(mail.message_id, message.raw_sha256),
        same=partial(sameness.archived_same, app.storage, content))
    if first is not None:
        message.duplicate_of_id = first
        return _settle(db, message, Outcome.IGNORED, ["duplicate.message"])
    message.business_key = key
    archived = app.storage.root / app.storage.raw_path(message.raw_sha256)
    robot = no_reply_reason(mail, app.replies.address)
    if robot is not None:
        if mail.content_type == "multipart/report":  # about one of our replies? mark it bouncing
            bounces.record_report(db, archived.read_bytes(), message, now=now,
                                  hold_days=app.config.replies.bounce_hold_days)
        return _settle(db, message, Outcome.IGNORED, [robot])
    if mail.from_problem:  # no single plain mailbox in From: forged or broken, never answered
        log.warning("mail %s has a forged From: %s", message.message_id, mail.from_problem)
        return _settle(db, message, Outcome.QUARANTINED, ["sender.forged", mail.from_problem])
    # Spoofed (DMARC/SPF failed): never the unit's piece, and no reply to the forged address.
    verdict = auth.verdict(auth.head_of(archived), mail.from_addr,
                           app.config.auth.trusted_authserv_ids)
    if verdict.failed:
        log.warning("mail %s from %s failed authentication: %s", message.message_id,
                    mail.from_addr, ", ".join(verdict.failures))
        return _settle(db, message, Outcome.QUARANTINED, ["sender.auth_failed"])
    sender = context.registry.sender(mail.from_addr)
    if sender is None:
        if verdict.passed:  # a real person, so telling them how to register is no backscatter
            answers.queue_unregistered_note(app, db, message, mail, now)
        return _settle(db, message, Outcome.QUARANTINED, ["sender.unregistered"])
    match = context.matcher.match(mail.subject, app.local(now).date())
    unit = _unit_of(match.unit if match else None, sender.units)
    document = reading.documents[0] if reading.documents else None
    # Earlier pieces this one may duplicate or correct, for the checks to judge.
    past = history.recall(db, app.config, unit_id=unit.id if unit else None,
                          subject=mail.subject, fingerprint=reading.fingerprint, now=now,
                          seen=context.earlier)
    piece = Piece(
        mail=mail, sender=sender, match=match, documents=reading.documents,
        document_errors=reading.document_errors, attached_pictures=reading.pictures,
        other_parts=[p for p, kind in reading.files if kind == "other"],
        now=now, config=app.config, history=past, file_errors=reading.file_errors,
    )
    findings = run_checks(piece)
    rejected = any(f.severity == "reject" for f in findings)
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
        pictures=reading.picture_rows(), received_at=now,
    )
    outcome = Outcome.REJECTED if rejected else Outcome.FILED
    message.outcome, message.target_folder = outcome, FOLDER_OF[outcome]
    message.reasons = [f.code for f in findings]
    files = _store_files(app, reading)
    history.stamp(submission, past)
    filing.save(db, Filing(message, submission, findings, files))
    history.remember(db, submission, past)  # a correction supersedes the earlier version
    filing.number(db, submission, f"{app.local(now):%Y%m%d}")
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


@runtime_checkable
class HeaderPeek(Protocol):
    """A mailbox that can hand over a mail's headers without its body."""

    def fetch_headers(self, ref: MailRef) -> bytes: ...


def _oversize(app: App, mailbox: Mailbox, ref: MailRef) -> InboundMessage | None:
    """A mail over the size limit is recorded without ever being downloaded.

    Where the mailbox can read the headers alone, a registered sender gets a
    polite refusal naming the limit.
    """
    now = app.clock()
    message = InboundMessage(
        mailbox=mailbox.name, source_key=ref.source_key, folder=ref.folder,
        uidvalidity=ref.uidvalidity, uid=ref.uid, raw_sha256="", size=ref.size,
        received_at=now, outcome=Outcome.QUARANTINED, target_folder=FOLDER_REVIEW,
    )
    head = mailbox.fetch_headers(ref) if isinstance(mailbox, HeaderPeek) else b""
    try:
        with open_session(app.engine) as db:
            if head:
                answers.queue_oversize_notice(app, db, message, head, now)
            return _settle(db, message, Outcome.QUARANTINED, ["limits.message_size"])
    except AlreadyClaimed:
        return None


def _store_files(app: App, reading: Reading) -> list[StoredFile]:
    stored = []
    for index, (part, kind) in enumerate(reading.files):
        if index < len(reading.kept):
            # Already on disk, stored by the reader (which kept only its size here).
            digest, path, size = reading.kept[index]
        else:
            digest, blob = app.storage.store_blob(part.payload, part.filename)
            path, size = str(blob), len(part.payload)
        picture = reading.file_pictures.get(index)  # its size as displayed, when a picture
        stored.append(StoredFile(
            filename=part.filename[:255] or "附件", content_type=part.content_type[:100],
            kind=kind, size=size, sha256=digest, stored_path=str(path),
            width=picture.width if picture else None, height=picture.height if picture else None,
        ))
    return stored


def _unit_of(named: Unit | None, own: list[Unit]) -> Unit | None:
    """The unit a piece counts for: the one named, if the sender may send for it."""
    if named is not None and named.id in {u.id for u in own}:
        return named
    return own[0] if len(own) == 1 else None


def _publish(app: App, submission: Submission, unit: str, files: list[StoredFile]) -> None:
    """Link a filed piece's files into its unit's folder for the office to browse.

    The piece is committed by then and its files are in the store: a folder
    that cannot be written (a full disk) costs the browsing copy, not the
    piece, so the mail still moves on.
    """
    month = f"{app.local(submission.received_at):%Y-%m}"
    folder = f"{submission.tracking_no} {submission.title}"
    try:
        app.storage.publish([(Path(f.stored_path), f.filename) for f in files], unit, month,
                            folder)
    except OSError as exc:
        log.warning("piece %s is filed, but its files were not published for %s: %s",
                    submission.tracking_no, unit, exc)


def _finish(
    moves: _Moves, ref: MailRef, message: InboundMessage | None, report: CycleReport
) -> None:
    if message is None:
        return  # another process owns it and will move it
    report.count(message.outcome)
    moves.add(ref, message)


class _Moves:
    """Mails recorded (committed) and waiting to be moved, sent off in batches.

    Only a committed mail is ever added, so a batch never moves a mail ahead
    of its own commit. Before a batch moves, what it depends on is made
    durable: the stored files (one sync of the file system) and the records
    (the note of the move is a durable commit, and every commit before it is
    on disk with it). The move is noted before it is made: a crash in between
    leaves the mail recorded and still listed, and the next cycle's repair
    moves it; noted after, a crash would leave it moved but never noted. A
    move the mailbox refuses takes the note back from the mails it left behind.

    The sync waits for the disk (some 40 ms for a batch of 50 mails, the
    files the readers wrote), so it runs in the background while the next
    mails are filed; the batch moves at the first mail filed after it is done.
    """

    def __init__(self, app: App, mailbox: Mailbox) -> None:
        self.app, self.mailbox = app, mailbox
        self.pending: list[tuple[MailRef, InboundMessage]] = []
        self._syncing: list[tuple[MailRef, InboundMessage]] = []
        self._sync: _Sync | None = None

    def add(self, ref: MailRef, message: InboundMessage) -> None:
        self.pending.append((ref, message))
        if self._sync is not None and self._sync.done():
            self._move_synced()
        if self._sync is None and len(self.pending) >= MOVE_BATCH:
            self._start_sync()

    def flush(self) -> None:
        """Move every mail added so far (once its files are synced)."""
        self._move_synced()
        if self.pending:
            self._start_sync()
            self._move_synced()

    def _start_sync(self) -> None:
        self._syncing, self.pending = self.pending, []
        self._sync = _Sync(self.app.storage)

    def _move_synced(self) -> None:
        if self._sync is None:
            return
        sync, batch = self._sync, self._syncing
        self._sync, self._syncing = None, []
        sync.wait()
        ids = [m.id for _ref, m in batch if m.id is not None]
        filing.mark_moved_many(self.app.engine, ids, self.app.clock())
        try:
            self.mailbox.move_many([(ref, m.target_folder) for ref, m in batch])
        except MailboxError as exc:  # the note is taken back from every mail left behind
            moved = {ref.source_key for ref in exc.moved}
            filing.unmark_moved(self.app.engine, [
                m.id for ref, m in batch if m.id is not None and ref.source_key not in moved])
            raise


class _Sync(threading.Thread):
    """``Storage.sync`` on its own thread (the system call lets go of the GIL)."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(name="sync-files", daemon=True)
        self.storage = storage
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.storage.sync()
        except BaseException as exc:  # raised again in the thread that waits
            self.error = exc

    def done(self) -> bool:
        return not self.is_alive()

    def wait(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error
