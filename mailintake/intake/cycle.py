"""How the stages of one cycle overlap, and what makes them durable.

The pipeline (``intake.pipeline``) says what happens to each mail; this
module is the machinery around it:

- repair: mails recorded by an earlier cycle but never moved (a crash after
  the commit) are only moved now, their stored files written again first if
  a power cut took them;
- fetching a group of mails ahead on a thread, and reading them in worker
  processes a few mails ahead of the one being decided;
- moves in batches, each mail's only after its own commit, and only once its
  files and its record are on disk; the file system's sync runs in the
  background while the next mails are filed;
- the outbox, flushed a little whenever the readers are behind, and at the end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mailintake.app import App
from mailintake.intake import prefetch
from mailintake.intake.prefetch import Prefetch
from mailintake.mailbox.base import Mailbox, MailboxError, MailRef
from mailintake.reading import workers as readers
from mailintake.reading.workers import Prepared
from mailintake.replies.outbox import FlushReport, Sender
from mailintake.rules.columns import SubjectMatcher
from mailintake.rules.decide import Office
from mailintake.rules.values import Earlier, Registry
from mailintake.storage import Storage
from mailintake.store import messages, senders
from mailintake.store.models import InboundMessage, Outcome

log = logging.getLogger("mailintake.intake.cycle")

#: Mails moved per round trip.
MOVE_BATCH = 50
#: While waiting for the readers, the due replies are dealt with at most this
#: often (seconds), and at most IDLE_REPLIES at a time: a flush's own queries
#: cost about what sending a reply does, so each should send several.
IDLE_EVERY = 0.25
IDLE_REPLIES = 50


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

    def finish(self, moves: Moves, ref: MailRef, message: InboundMessage | None) -> None:
        """Count a recorded mail and queue its move; None: another process owns it and
        will move it."""
        if message is not None:
            self.count(message.outcome)
            moves.add(ref, message)


@dataclass(frozen=True)
class Context:
    """What every mail of a cycle is judged against, read once for the cycle."""

    registry: Registry
    office: Office
    # Earlier pieces read as duplicate candidates so far (see ``store.history.recall``).
    earlier: dict[int, Earlier | None] = field(default_factory=dict)

    @classmethod
    def load(cls, app: App) -> Context:
        registry = senders.registry(app.engine)
        matcher = SubjectMatcher(app.config.columns, registry.names())
        return cls(registry, Office(app.config, matcher))


# ------------------------------------------------------------------ repair


def repair(
    app: App, mailbox: Mailbox, refs: list[MailRef], moves: Moves, report: CycleReport
) -> list[MailRef]:
    """Move the mails of ``refs`` already recorded (their files made whole first); the
    rest, fresh mail, is returned in order."""
    known = messages.recorded(app.engine, mailbox.name, (r.source_key for r in refs))
    unmoved = [(ref, known[ref.source_key]) for ref in refs if ref.source_key in known]
    _restore(app, mailbox, unmoved)
    for ref, recorded in unmoved:
        moves.add(ref, recorded)
        report.repaired += 1
    moves.flush()
    return [r for r in refs if r.source_key not in known]


def _restore(app: App, mailbox: Mailbox, unmoved: list[tuple[MailRef, InboundMessage]]) -> None:
    """Write again the stored files of recorded mails that a power cut took.

    Files are synced before their mails are moved, not before they are
    recorded (see ``Moves``): a power cut in between can keep a record and
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
    files += messages.stored_files(app.engine, message.id)
    return all(app.storage.holds(path, size) for path, size in files)


# ------------------------------------------------------------------ fetch and read


@contextmanager
def read_ahead(
    app: App, mailbox: Mailbox, refs: list[MailRef], outbox: Outbox
) -> Iterator[Iterator[tuple[MailRef, Prepared]]]:
    """Each mail of ``refs``, fetched, archived and read, a few ahead of the one in hand;
    while the readers are behind, the outbox sends a few replies."""
    fetched = _fetch(mailbox, refs)
    with closing(fetched), closing(readers.read_ahead(
            fetched, app.config.limits, app.storage.root, idle=outbox.some)) as ready:
        yield ready


def _fetch(mailbox: Mailbox, refs: list[MailRef]) -> Prefetch | Generator[tuple[MailRef, bytes]]:
    """The mails of ``refs``, fetched in groups of at most ``prefetch.FETCH_BYTES`` (a
    few big mails never sit in memory at once): a group ahead, on a thread, where the
    mailbox waits on a network; close it when done."""
    if mailbox.fetch_on_thread:
        return Prefetch(mailbox, refs)
    return (item for group in prefetch.groups(refs) for item in mailbox.fetch(group))


# ------------------------------------------------------------------ the outbox


def deliver(app: App) -> FlushReport:
    """Send the replies that are due through the configured sender."""
    with Outbox(app) as outbox:
        outbox.rest()
        return outbox.report


class Outbox:
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

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._sender is not None:
            self._sender.close()


# ------------------------------------------------------------------ moves


class Moves:
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
        messages.mark_moved_many(self.app.engine, ids, self.app.clock())
        try:
            self.mailbox.move_many([(ref, m.target_folder) for ref, m in batch])
        except MailboxError as exc:  # the note is taken back from every mail left behind
            moved = {ref.source_key for ref in exc.moved}
            messages.unmark_moved(self.app.engine, [
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
