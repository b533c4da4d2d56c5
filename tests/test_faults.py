"""Broken servers and full disks, against real processes: after each fault every
mail is filed exactly once, every reply is sent once, nothing processed is left
in the intake folder, and the daemon is still running.

Faults: SMTP answering 451 for ten minutes of the app's clock; SQLite locked
by another connection for a whole cycle; PostgreSQL connections terminated by
the server in the middle of a cycle; the storage folder on a 1 MB tmpfs that
fills up; Dovecot killed in the middle of a batch under `mailintake run`; and
`mailintake run` itself killed -9 at random points, round after round.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN, fixture_mail
from dovecot import Dovecot
from smtp_server import Smtpd
from sqlmodel import col, select
from tenacity import wait_none
from test_imap_intake import (
    CLI,
    NOW_ARG,
    PASSWORD_ENV,
    alive,
    descendants,
    filed_count,
    make_app,
    wait_until,
    with_message_id,
    write_imap_config,
)
from test_replies import OFFICE, Clock, over_smtp
from test_replies import PASSWORD as SMTP_PASSWORD
from test_replies import PASSWORD_ENV as SMTP_PASSWORD_ENV

from mailintake.app import App
from mailintake.intake import pipeline
from mailintake.replies import smtp
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage, OutboxStatus, Submission

PIECES = ["01_foxmail_gbk_weekly.eml", "02_outlook_rfc2231_website.eml",
          "03_web126_utf8_weibo.eml", "04_general_piece.eml",
          "05_central_school_for_village.eml"]
# Five senders, so 120 mails stay within the replies' rate limit (30 per address in
# 10 minutes) while the clock stands still: every reply is due at once.


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp, "default_retry_wait", wait_none)
    monkeypatch.setenv(PASSWORD_ENV, Dovecot.password)
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SMTP_PASSWORD)


def pieces(prefix: str, count: int) -> list[bytes]:
    """``count`` different mails, each a fixture piece under its own Message-ID."""
    return [with_message_id(fixture_mail(PIECES[i % len(PIECES)]), f"{prefix}-{i}@x.test")
            for i in range(count)]


def deliver_all(app: App, raws: list[bytes]) -> None:
    assert app.config.mailbox.path is not None
    box = mailbox.Maildir(app.config.mailbox.path, create=True)
    for raw in raws:
        box.add(raw)


def cycle(app: App) -> pipeline.CycleReport:
    box = app.open_mailbox()
    try:
        return pipeline.run_cycle(app, box)
    finally:
        box.close()


def waiting(app: App) -> int:
    box = app.open_mailbox()
    try:
        return len(box.list_new())
    finally:
        box.close()


def assert_exactly_once(app: App, prefix: str, count: int) -> None:
    """Every mail recorded and moved once, filed once, and its reply sent."""
    with session(app.engine) as db:
        messages = [m for m in db.exec(select(InboundMessage)).all()
                    if m.message_id.startswith(prefix)]
        assert Counter(m.message_id for m in messages) == Counter(
            f"{prefix}-{i}@x.test" for i in range(count)), "a mail lost or recorded twice"
        assert all(m.moved_at is not None for m in messages)
        assert [m.reasons for m in messages if m.outcome == "quarantined"] == []
        submissions = db.exec(select(Submission).where(
            col(Submission.message_id).in_([m.id for m in messages]))).all()
        assert len(submissions) == count, "a piece filed twice or not at all"
        replies = db.exec(select(OutboxMessage).where(
            col(OutboxMessage.inbound_id).in_([m.id for m in messages]))).all()
        assert sorted(r.inbound_id or 0 for r in replies) == sorted(m.id or 0 for m in messages)
        assert {r.status for r in replies} == {OutboxStatus.SENT}


# --------------------------------------------------------------------- SMTP


def test_smtp_refusing_for_ten_minutes_then_every_reply_goes_out_once(app: App) -> None:
    """451 for every reply during ten minutes of the app's clock, then each reply arrives once."""
    clock = Clock()
    app.clock = clock
    deliver_all(app, pieces("smtp", 6))
    with Smtpd(users={OFFICE: SMTP_PASSWORD}) as server:
        over_smtp(app, server)
        refusing_until = clock.now + timedelta(minutes=10)
        refused = 0
        for _step in range(120):  # two fake hours, a cycle a minute
            server.refusals = ["451 4.3.0 请稍后再试"] * 50 if clock.now < refusing_until else []
            cycle(app)
            refused += 50 - len(server.refusals) if clock.now < refusing_until else 0
            clock.now += timedelta(minutes=1)
            if len(server.received) == 6:
                break
        assert refused > 0, "the server never refused anything"
        cycle(app)  # nothing more to send
        replied_to = Counter(r.message["In-Reply-To"] for r in server.received)
    assert len(replied_to) == 6 and set(replied_to.values()) == {1}
    assert_exactly_once(app, "smtp", 6)


# ----------------------------------------------------------------- databases


def test_sqlite_locked_for_a_whole_cycle_fails_it_cleanly_and_the_next_files_all(
    tmp_path: Path, config_sqlite: App
) -> None:
    """Another connection holding the write lock makes the cycle fail; nothing is half done."""
    app = config_sqlite
    deliver_all(app, pieces("locked", 8))
    url = app.engine.url.database
    assert url is not None
    holder = sqlite3.connect(url, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            cycle(app)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert waiting(app) == 8  # nothing moved while nothing was recorded
    cycle(app)
    assert waiting(app) == 0
    assert_exactly_once(app, "locked", 8)


@pytest.fixture
def config_sqlite(tmp_path: Path) -> Iterator[App]:
    """An app on SQLite whose busy timeout is half a second, so a held lock fails a cycle fast."""
    from conftest import FIXTURES, NOW, write_config

    from mailintake.config.settings import load_config
    from mailintake.office.registry import import_rows, read_rows
    from mailintake.store.database import upgrade

    app = App.from_config(load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'db'}")),
                          lambda: NOW)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    app.engine.dispose()

    def short_wait(connection: sqlite3.Connection, _record: object) -> None:
        connection.execute("PRAGMA busy_timeout = 500")

    sa.event.listen(app.engine, "connect", short_wait)
    yield app
    app.engine.dispose()


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[tuple[App, str]]:
    """An app on a PostgreSQL database of its own, and that database's name."""
    import uuid

    from conftest import FIXTURES, NOW, write_config

    from mailintake.config.settings import load_config
    from mailintake.office.registry import import_rows, read_rows
    from mailintake.store.database import upgrade

    name = f"mi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    app = App.from_config(load_config(write_config(tmp_path, url)), lambda: NOW)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    yield app, name
    app.engine.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_postgresql_connections_killed_mid_cycle_lose_nothing(pg_app: tuple[App, str]) -> None:
    """The server terminating our connections three times during a cycle: every mail once."""
    app, name = pg_app
    deliver_all(app, pieces("pgkill", 30))
    kills: list[int] = []
    done = threading.Event()

    def terminate() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            while len(kills) < 3 and not done.is_set():
                time.sleep(0.15)
                gone = admin.execute(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()) AS t", (name,),
                ).fetchone()
                if gone and gone[0]:
                    kills.append(gone[0])

    killer = threading.Thread(target=terminate)
    killer.start()
    failures = 0
    try:
        for _round in range(10):
            try:
                cycle(app)
            except sa.exc.OperationalError:
                failures += 1
            if waiting(app) == 0 and len(kills) >= 3:
                break
    finally:
        done.set()
        killer.join()
    cycle(app)
    assert len(kills) == 3
    assert waiting(app) == 0
    assert_exactly_once(app, "pgkill", 30)


# ------------------------------------------------------------------ the disk


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs as the storage folder (root only: a real ENOSPC, not a mock)."""
    folder = tmp_path / "files"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_storage_disk_full_leaves_mail_waiting_until_there_is_room(
    tiny_disk: Path, config_sqlite: App
) -> None:
    """Mail that does not fit on the full disk waits in the intake; with room, all are filed."""
    app = config_sqlite
    assert app.storage.root.resolve() == tiny_disk.resolve()
    deliver_all(app, pieces("full", 12))  # about 2 MB archived and stored: twice the disk
    failures = 0
    for _round in range(3):
        try:
            cycle(app)
        except OSError:
            failures += 1
    assert failures > 0, "the disk never filled"
    assert 0 < waiting(app) < 12
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    cycle(app)
    assert waiting(app) == 0
    assert_exactly_once(app, "full", 12)


# ----------------------------------------------------------- the daemon itself


def kill_tree(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the daemon and its reading workers, as the OOM killer or a power cut would."""
    for pid in [proc.pid, *descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.communicate()


def unsent(db_file: Path, *, due_only: bool = False) -> int:
    """Replies still waiting in the outbox, read while the daemon writes.

    ``due_only``: not those claimed by a process that was killed before it
    sent them; they wait out their lease (LEASE) and then go.
    """
    from conftest import NOW

    from mailintake.replies.outbox import LEASE

    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("SELECT next_attempt_at FROM outbox WHERE status != 'sent'").fetchall()
    if not due_only:
        return len(rows)
    # Stored as UTC; a lease ends LEASE after the (frozen) time it was taken.
    leased = NOW.astimezone(UTC).replace(tzinfo=None) + LEASE
    return sum(datetime.fromisoformat(when) < leased for (when,) in rows)


def start_run(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, "--config", str(config), NOW_ARG, "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def assert_imap_exactly_once(d: Dovecot, config: Path, prefix: str, count: int) -> None:
    from conftest import NOW

    from mailintake.config.settings import load_config

    assert d.folder_uids("INBOX") == []
    app = App.from_config(load_config(config), lambda: NOW)
    try:
        assert_exactly_once(app, prefix, count)
    finally:
        app.engine.dispose()


def test_dovecot_killed_mid_batch_under_run_loses_nothing(tmp_path: Path) -> None:
    """Dovecot SIGKILLed while `run` works through 80 mails, then restarted: all filed once."""
    db_file = tmp_path / "mailintake.db"
    with Dovecot() as d:
        d.append_many(pieces("dovekill", 80))
        config = write_imap_config(tmp_path, d, f"sqlite:///{db_file}",
                                   mailbox="poll_interval = 1.0")
        make_app(config).engine.dispose()
        proc = start_run(config)
        try:
            wait_until(lambda: filed_count(db_file, "dovekill", moved=False) >= 10, 60,
                       "the batch under way")
            d.kill()
            time.sleep(1.0)
            d.start()
            wait_until(lambda: filed_count(db_file, "dovekill") == 80, 90, "every mail filed")
            wait_until(lambda: d.folder_uids("INBOX") == [], 30, "INBOX emptied")
            wait_until(lambda: unsent(db_file) == 0, 30, "every reply sent")
            assert proc.poll() is None, "the daemon died with the server"
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=20)
        assert_imap_exactly_once(d, config, "dovekill", 80)


def test_run_killed_9_at_random_points_over_many_rounds_loses_nothing(tmp_path: Path) -> None:
    """`mailintake run` SIGKILLed at random moments six times and restarted: all filed once."""
    rng = random.Random(919)
    db_file = tmp_path / "mailintake.db"
    count = 120
    with Dovecot() as d:
        d.append_many(pieces("runkill", count))
        config = write_imap_config(tmp_path, d, f"sqlite:///{db_file}",
                                   mailbox="poll_interval = 1.0")
        make_app(config).engine.dispose()
        kills = 0
        for _round in range(6):
            proc = start_run(config)
            time.sleep(rng.uniform(0.8, 3.0))
            kill_tree(proc)
            assert not [p for p in descendants(proc.pid) if alive(p)]
            kills += 1
        proc = start_run(config)
        try:
            wait_until(lambda: filed_count(db_file, "runkill") == count, 120, "every mail filed")
            wait_until(lambda: d.folder_uids("INBOX") == [], 30, "INBOX emptied")
            wait_until(lambda: unsent(db_file, due_only=True) == 0, 30, "every reply sent")
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
        assert kills == 6
        # A reply claimed by a killed process goes once its lease is over.
        from conftest import NOW

        from mailintake.replies.outbox import LEASE

        later = f"--now={(NOW + LEASE + timedelta(minutes=1)).isoformat()}"
        subprocess.run([*CLI, "--config", str(config), later, "poll", "--once"],
                       check=True, capture_output=True)
        assert unsent(db_file) == 0
        assert_imap_exactly_once(d, config, "runkill", count)
