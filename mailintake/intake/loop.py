"""The daemon's mail loop: take in what is waiting, wait for more, repeat.

With IMAP IDLE the server says within a second that mail arrived, and a cycle
runs at once; one IDLE lasts at most ``MAX_IDLE_SECONDS`` (servers drop it
after 30 minutes). Without IDLE, or with ``idle = false``, the mailbox is
polled every ``poll_interval`` seconds. A dropped connection, a timeout or a
database that went away is retried with exponential backoff (tenacity), one
log line per failed attempt, until it works again; what only a person can
mend (a full disk, a read-only database, a folder that is a file: see
``problems.transient``) stops the loop, and the command says it in one line.
One lock keeps two cycles from ever running at once, whichever thread asks.

``Intake`` is a plain object: ``mailintake run`` drives it from the main
thread, a scheduler may drive it from another; a ``threading.Event`` stops it
between two mails.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

import tenacity
from tenacity.wait import wait_base

from mailintake import problems
from mailintake.app import App
from mailintake.intake import pipeline
from mailintake.mailbox.base import Mailbox, MailboxError
from mailintake.mailbox.imap import MAX_IDLE_SECONDS, ImapMailbox, default_retry_wait
from mailintake.reading import workers as readers
from mailintake.store import runtime
from mailintake.store.messages import DatabaseUnavailable

log = logging.getLogger("mailintake.intake.loop")

# What a cycle may fail with that time mends: the mail server or the database away.
TRANSIENT = (MailboxError, DatabaseUnavailable)
#: How often a wait looks at the stop event (and calls the heartbeat).
SLICE_SECONDS = 1.0


def _never() -> bool:
    return False


class Intake:
    """Takes in the office mailbox's mail, cycle after cycle.

    ``heartbeat`` (e.g. a systemd watchdog ping) is called after each cycle
    and at least every ``SLICE_SECONDS`` while waiting for mail.
    """

    def __init__(
        self,
        app: App,
        *,
        retry_wait: wait_base | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.retry_wait = retry_wait if retry_wait is not None else default_retry_wait()
        self.heartbeat = heartbeat or (lambda: None)
        self.last_report: pipeline.CycleReport | None = None
        self._lock = threading.Lock()
        self._mailbox: Mailbox | None = None
        # Set while a cycle() waits for the mailbox, so run_forever leaves IDLE for it;
        # cleared when none is waiting any more (a count: the first of several to get
        # its turn must not clear it for the others, who would then wait out an IDLE).
        self._wanted = threading.Event()
        self._waiting = 0
        self._count = threading.Lock()

    def cycle(self, stop: Callable[[], bool] = _never) -> pipeline.CycleReport:
        """Take in every waiting mail now; waits while another cycle runs."""
        with self._count:
            self._waiting += 1
            self._wanted.set()
        with self._lock:
            with self._count:
                self._waiting -= 1
                if not self._waiting:
                    self._wanted.clear()
            try:
                mailbox = self._open()
                report = pipeline.run_cycle(self.app, mailbox, stop)
                record_cycle(self.app, mailbox.name, report, self.app.clock())
            except TRANSIENT:
                self._drop()  # its state is unknown now; the next cycle reconnects
                raise
        self.last_report = report
        self.heartbeat()
        if report.seen or (report.replies and (report.replies.sent or report.replies.failed)):
            log.info(
                "cycle: %d seen, %d filed, %d rejected, %d quarantined, %d ignored, "
                "%d repaired, %d replies sent",
                report.seen, report.filed, report.rejected, report.quarantined,
                report.ignored, report.repaired, report.replies.sent if report.replies else 0,
            )
        return report

    def run_forever(self, stop: threading.Event) -> None:
        """Cycle and wait until ``stop`` is set; failures are retried with backoff.

        Setting ``stop`` ends a wait within a second and a cycle after the mail
        in hand; the mailbox connection is closed on the way out.
        """
        box = self.app.config.mailbox
        how = "IDLE where offered" if box.idle else f"polling every {box.poll_interval:.0f} s"
        log.info("intake of %s started (%s)", box.username or box.path, how)
        readers.warm_up()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(problems.transient),
            wait=self.retry_wait,
            stop=tenacity.stop_when_event_set(stop),
            sleep=self._sleeper(stop),
            before_sleep=self._log_failure,
            reraise=True,
        )
        try:
            while not stop.is_set():
                try:
                    retrying(self._step, stop)
                except TRANSIENT:
                    if not stop.is_set():
                        raise
        finally:
            self.close()
            log.info("intake stopped")

    def close(self) -> None:
        """Log out of the mailbox (the next cycle opens it again)."""
        with self._lock:
            self._drop()

    # ---------------------------------------------------------------- internals

    def _step(self, stop: threading.Event) -> None:
        self.cycle(stop.is_set)
        if not stop.is_set():
            self._wait(stop)

    def _open(self) -> Mailbox:
        if self._mailbox is None:
            self._mailbox = self.app.open_mailbox()
        return self._mailbox

    def _drop(self) -> None:
        mailbox, self._mailbox = self._mailbox, None
        if mailbox is not None:
            mailbox.close()

    def _interrupted(self, stop: threading.Event) -> Callable[[], bool]:
        def interrupted() -> bool:
            self.heartbeat()
            return stop.is_set() or self._wanted.is_set()

        return interrupted

    def _wait(self, stop: threading.Event) -> None:
        """Until mail may have arrived, ``stop`` is set or another thread wants a cycle."""
        config = self.app.config.mailbox
        interrupted = self._interrupted(stop)
        with self._lock:
            mailbox = self._open()
            if config.idle and isinstance(mailbox, ImapMailbox) and mailbox.supports_idle:
                try:
                    mailbox.wait_for_mail(MAX_IDLE_SECONDS, interrupted=interrupted)
                except TRANSIENT:
                    self._drop()
                    raise
                return
        deadline = time.monotonic() + config.poll_interval
        while not interrupted() and (remaining := deadline - time.monotonic()) > 0:
            stop.wait(min(remaining, SLICE_SECONDS))

    def _sleeper(self, stop: threading.Event) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            # A stop request cuts the backoff short; the heartbeat goes on, so
            # a watchdog sees a process that waits on purpose, not a hung one.
            deadline = time.monotonic() + seconds
            while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
                self.heartbeat()
                stop.wait(min(remaining, SLICE_SECONDS))

        return sleep

    def _log_failure(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        what = "mailbox" if isinstance(exc, MailboxError) else "database"
        # ImapError already names host and operation; a database error is told by its
        # driver's text, without the statement and its parameters (a mail's sender).
        cause = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s unavailable, attempt %d: %s; retrying in %.0f s",
                    what, state.attempt_number, cause, delay)
        if isinstance(exc, MailboxError):
            record_error(self.app, cause, self.app.clock())


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def mailbox_name(app: App) -> str:
    """The name the mailbox's cycles are recorded under (``Mailbox.name``)."""
    box = app.config.mailbox
    if box.kind == "maildir":
        assert box.path is not None
        return f"maildir:{box.path.resolve()}"
    return f"imap://{box.username}@{box.host}:{box.port}/{box.folder}"


def record_error(app: App, cause: str, now: datetime) -> None:
    """Remember why the mailbox could not be read, for the console's status page."""
    try:
        runtime.record_error(app.engine, mailbox_name(app), cause, now)
    except Exception as exc:  # the database away too: the log line above says it all
        log.debug("mailbox error not recorded: %s", type(exc).__name__)


def record_cycle(app: App, mailbox: str, report: pipeline.CycleReport, now: datetime) -> None:
    """Remember this cycle as the mailbox's last successful one."""
    runtime.record_cycle(app.engine, runtime.LastCycle(
        mailbox=mailbox, instance=instance_name(), at=now, seen=report.seen,
        filed=report.filed, rejected=report.rejected, quarantined=report.quarantined,
        replies_sent=report.replies.sent if report.replies else 0,
    ))
