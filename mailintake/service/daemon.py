"""``mailintake run``: the intake and the scheduled jobs, side by side.

The main thread keeps the mailbox connection (IMAP IDLE or polling, see
``intake.py``); an APScheduler ``BackgroundScheduler`` runs, in its own
threads, what time rather than mail calls for: delivering the outbox,
reminders, the weekly digest and points settlement. The jobs never touch the
IMAP connection, so neither side waits for the other.

Each job is safe to repeat: reminders and the digest are keyed by their
period in the outbox, points by their ledger keys, and the outbox claims a
reply before sending it. So the scheduler only has to look often enough; a
job that is still running when its next turn comes is skipped (max_instances
= 1) and turns missed while the machine slept are run once (coalesce).

Several instances may share one PostgreSQL database and one mailbox: an
advisory lock (``IntakeLock``) lets one take in the mail and run the jobs; the
others wait and take over when it goes.

SIGTERM (systemd stop) or SIGINT: the mail in hand is finished, running jobs
end, the process exits 0. SIGHUP is logged and otherwise ignored: the config
and the templates are read at start only, so a change needs
``systemctl restart mailintake`` (README, "Changing the configuration").
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

import mailintake
from mailintake.app import App
from mailintake.intake import pipeline
from mailintake.intake.loop import Intake
from mailintake.service.systemd import Notifier
from mailintake.store.database import DatabaseUnavailable, postgresql
from mailintake.store.runtime import AdvisoryLock

log = logging.getLogger("mailintake.service.daemon")

#: How often each job looks (seconds). Period-keyed jobs may look often; it costs a query.
DELIVER_EVERY = 60.0
REMIND_EVERY = 300.0
DIGEST_EVERY = 300.0
POINTS_EVERY = 600.0
CALENDAR_EVERY = 3600.0
#: How often a waiting instance asks for the intake lock.
LOCK_RETRY_SECONDS = 5.0


def _deliver(app: App) -> None:
    report = pipeline.deliver(app)
    if report.sent or report.failed:
        log.info("outbox: %d sent, %d failed", report.sent, report.failed)


def _remind(app: App) -> None:
    from mailintake.office import solicitations
    from mailintake.office.reminders import queue_reminders

    now = app.clock()
    queued = queue_reminders(app, now)
    if queued:
        log.info("reminders queued: %d", queued)
    # Requests for pieces (约稿) whose deadline nears: once per request and unit.
    if solicited := solicitations.queue_reminders(app, now):
        log.info("solicitation reminders queued: %d", solicited)
    if queued or solicited:
        _deliver(app)


def _digest(app: App) -> None:
    from mailintake.office.digest import queue_digest

    if queue_digest(app, app.clock()):
        log.info("weekly digest queued")
        _deliver(app)


def _settle(app: App) -> None:
    from mailintake.office.points import settle_points

    settle_points(app, app.clock())


class CalendarWatch:
    """Logs what the teaching calendar does not know about the next four weeks
    (``doctor``'s 教学日历 line) at most once per local day."""

    def __init__(self) -> None:
        self.warned_on: date | None = None

    def __call__(self, app: App) -> None:
        from mailintake.service.doctor import calendar_warnings

        now = app.clock()
        today = app.local(now).date()
        if self.warned_on == today:
            return
        gaps = calendar_warnings(app.config, now)
        for gap in gaps:
            log.warning("teaching calendar: %s", gap)
        if gaps:
            self.warned_on = today


JOBS: dict[str, tuple[Callable[[App], None], float]] = {
    "deliver": (_deliver, DELIVER_EVERY),
    "reminders": (_remind, REMIND_EVERY),
    "digest": (_digest, DIGEST_EVERY),
    "points": (_settle, POINTS_EVERY),
    "calendar": (CalendarWatch(), CALENDAR_EVERY),
}


def _guarded(name: str, job: Callable[[App], None], app: App) -> Callable[[], None]:
    """A job whose failure is one log line; the next turn tries again."""

    def run() -> None:
        try:
            job(app)
        except Exception:  # the database or the mail server away: the next turn retries
            log.exception("job %s failed; it runs again at its next turn", name)

    return run


def make_scheduler(app: App, first_run: datetime | None = None) -> BackgroundScheduler:
    """The scheduler with every job, not started; all jobs first run at ``first_run``."""
    scheduler = BackgroundScheduler(
        timezone=app.config.office.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for name, (shared, seconds) in JOBS.items():
        # The calendar's once-a-day memory belongs to this scheduler, not to the module.
        job = CalendarWatch() if isinstance(shared, CalendarWatch) else shared
        scheduler.add_job(_guarded(name, job, app), "interval", id=name, name=name,
                          seconds=seconds, next_run_time=first_run)
    return scheduler


def lock_key(app: App) -> int:
    """A stable 63-bit advisory lock key for the configured mailbox."""
    box = app.config.mailbox
    name = f"mailintake:{box.host}:{box.port}:{box.username}:{box.folder}:{box.path}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


class IntakeLock:
    """One intake per mailbox among the instances sharing a PostgreSQL database.

    A session-level ``pg_try_advisory_lock`` on a connection held for the whole
    run: the others wait, asking every ``LOCK_RETRY_SECONDS``, and take over
    when the holder stops or dies (PostgreSQL drops the lock with its
    connection). On SQLite there is one host and nothing to take: the unique
    keys alone keep a second process from filing or replying twice.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self._lock = AdvisoryLock(app.engine, lock_key(app))

    def acquire(self, stop: threading.Event, heartbeat: Callable[[], None]) -> bool:
        """Wait for the lock; False if ``stop`` was set first."""
        if not postgresql(self.app.engine):
            return True
        waiting = False
        while not stop.is_set():
            try:
                if self._lock.take():
                    log.info("intake lock taken: this instance takes in the mail")
                    return True
                if not waiting:
                    log.info("another instance takes in this mailbox; waiting to take over")
                    waiting = True
            except DatabaseUnavailable as exc:
                log.warning("database unavailable while waiting for the intake lock: %s",
                            " ".join(str(exc.orig).split())[:200])
            deadline = time.monotonic() + LOCK_RETRY_SECONDS
            while not stop.is_set() and time.monotonic() < deadline:
                heartbeat()
                stop.wait(1.0)
        return False

    def release(self) -> None:
        self._lock.release()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (systemd) or SIGINT (Ctrl-C); SIGHUP only logs."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("%s received: finishing the mail in hand, then stopping",
                 signal.Signals(signum).name)
        stop.set()

    def hangup(_signum: int, _frame: object) -> None:
        log.warning("SIGHUP received: the config and templates are read at start only; "
                    "run `systemctl restart mailintake` to apply changes")

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGHUP, hangup)
    return stop


def run(app: App, **intake_options: Any) -> None:
    """Run until SIGTERM/SIGINT: intake in this thread, jobs in the scheduler's."""
    log.info("mailintake %s starting", mailintake.__version__)
    stop = stop_on_signals()
    notifier = Notifier()
    intake = Intake(app, heartbeat=lambda: notifier.heartbeat(intake.last_report),
                    **intake_options)
    notifier.ready()
    lock = IntakeLock(app)
    scheduler: BackgroundScheduler | None = None
    try:
        # Only the instance that takes in the mail runs the jobs, too.
        if lock.acquire(stop, notifier.heartbeat):
            # The first cycle delivers what is due; the other jobs look once at start.
            start = datetime.now(app.config.office.tz) + timedelta(seconds=5)
            scheduler = make_scheduler(app, first_run=start)
            scheduler.start()
            intake.run_forever(stop)
    finally:
        notifier.stopping()
        if scheduler is not None:
            scheduler.shutdown(wait=True)  # a job in the middle of a send ends first
        lock.release()
        log.info("mailintake stopped")
