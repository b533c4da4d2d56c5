"""The whole intake on IMAP, against a real throwaway Dovecot: filing, moving,
exactly once under kill -9, IDLE, polling and reconnecting (no IMAP mocks)."""

from __future__ import annotations

import email
import email.policy
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, NOW, fixture_mail, write_config
from dovecot import Dovecot
from sqlmodel import col, func, select

from mailintake.app import App
from mailintake.config.settings import load_config
from mailintake.intake import pipeline
from mailintake.intake.loop import Intake
from mailintake.office.registry import import_rows, read_rows
from mailintake.store.database import session, upgrade
from mailintake.store.models import InboundMessage, OutboxMessage, Submission

PASSWORD_ENV = "MAILINTAKE_TEST_IMAP_PASSWORD"
CLI = [sys.executable, "-m", "mailintake"]
NOW_ARG = "--now=" + NOW.isoformat()
OUTCOME_FOLDERS = ("已处理", "已退回", "待人工")
# What the office expects of the fixture mails, by outcome folder (see test_pipeline).
FIXTURE_FOLDERS = {"已处理": 7, "已退回": 3, "待人工": 1}


def write_imap_config(
    folder: Path, d: Dovecot, db: str, *, mailbox: str = "", extra: str = ""
) -> Path:
    """A config for the test Dovecot's account, a reply folder and a database."""
    account = f"""
kind = "imap"
host = "{d.host}"
port = {d.port}
security = "none"
username = "{d.user}"
password_env = "{PASSWORD_ENV}"
connect_timeout = 5.0
read_timeout = 30.0
{mailbox}
"""
    return write_config(folder, db, extra, mailbox=account)


def make_app(config_path: Path) -> App:
    """The app for a config, its database upgraded and the fixture units registered."""
    app = App.from_config(load_config(config_path), lambda: NOW)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    return app


def fixture_names() -> list[str]:
    return sorted(p.name for p in (FIXTURES / "mail").glob("*.eml"))


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """The same mail under another Message-ID (a different mail to the office)."""
    return re.sub(rb"(?im)^message-id:[^\n]*\n", f"Message-ID: <{message_id}>\n".encode(), raw,
                  count=1)


def cycle(app: App) -> pipeline.CycleReport:
    box = app.open_mailbox()
    try:
        return pipeline.run_cycle(app, box)
    finally:
        box.close()


def folder_counts(d: Dovecot) -> dict[str, int]:
    return {name: len(d.folder_uids(name)) for name in OUTCOME_FOLDERS if d.folder_uids(name)}


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def filed_count(db_file: Path, prefix: str = "", *, moved: bool = True) -> int:
    """Mails recorded (and, with ``moved``, on their way to their folder) so far,
    read while the intake writes."""
    if not db_file.exists():
        return 0
    query = "SELECT count(*) FROM inbound_message WHERE message_id LIKE ?"
    if moved:
        query += " AND moved_at IS NOT NULL"
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=10) as db:
        try:
            return int(db.execute(query, (prefix + "%",)).fetchone()[0])
        except sqlite3.OperationalError:  # the schema is still being created
            return 0


def start(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "--config", str(config), NOW_ARG, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (the reading workers and their forkserver)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    found, todo = [], [pid]
    while todo:
        pid = todo.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found += children
        todo += children
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(autouse=True)
def imap_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config names the password's environment variable; the CLI children inherit it."""
    monkeypatch.setenv(PASSWORD_ENV, Dovecot.password)


@pytest.fixture(scope="module")
def server() -> Iterator[Dovecot]:
    with Dovecot() as d:
        yield d


@pytest.fixture
def dovecot(server: Dovecot) -> Dovecot:
    server.start()
    server.reset()
    return server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mailintake.db'}"


# ------------------------------------------------------------- one cycle


def test_fixture_mails_land_in_their_outcome_folders_once(
    dovecot: Dovecot, tmp_path: Path, db_url: str
) -> None:
    """APPENDed fixture mails are filed into 已处理, rejected into 已退回, set aside in
    待人工; the intake folder ends empty, and a second cycle does nothing."""
    app = make_app(write_imap_config(tmp_path, dovecot, db_url))
    dovecot.append_many(fixture_mail(name) for name in fixture_names())

    report = cycle(app)
    assert (report.seen, report.filed, report.rejected, report.quarantined, report.ignored) == (
        11, 5, 3, 1, 2)
    assert dovecot.folder_uids("INBOX") == []
    assert folder_counts(dovecot) == FIXTURE_FOLDERS

    again = cycle(app)
    assert (again.seen, again.filed, again.repaired) == (0, 0, 0)
    assert folder_counts(dovecot) == FIXTURE_FOLDERS
    with session(app.engine) as db:
        assert db.exec(select(func.count()).select_from(Submission)).one() == 8
        unmoved = db.exec(select(InboundMessage).where(col(InboundMessage.moved_at).is_(None)))
        assert unmoved.all() == []
    app.engine.dispose()


def test_recreated_intake_folder_files_nothing_again(dovecot: Dovecot, tmp_path: Path) -> None:
    """The intake folder deleted and recreated with the same mails (a new UIDVALIDITY, the
    same UIDs) files nothing twice: each mail is recorded as an ignored duplicate and moved."""
    app = make_app(write_imap_config(
        tmp_path, dovecot, f"sqlite:///{tmp_path / 'db.sqlite'}", mailbox='folder = "投稿"'))
    mails = [fixture_mail(n) for n in ("02_outlook_rfc2231_website.eml", "04_general_piece.eml")]
    dovecot.create_folder("投稿")
    dovecot.append_many(mails, folder="投稿")
    first_uids, first_validity = dovecot.folder_uids("投稿"), dovecot.uidvalidity("投稿")
    assert cycle(app).filed == 2

    dovecot.delete_folder("投稿")
    dovecot.create_folder("投稿")
    dovecot.append_many(mails, folder="投稿")
    assert dovecot.folder_uids("投稿") == first_uids
    assert dovecot.uidvalidity("投稿") != first_validity

    report = cycle(app)
    assert (report.seen, report.filed, report.ignored, report.repaired) == (2, 0, 2, 0)
    assert dovecot.folder_uids("投稿") == []
    assert folder_counts(dovecot) == {"已处理": 4}
    with session(app.engine) as db:
        assert db.exec(select(func.count()).select_from(Submission)).one() == 2
        assert db.exec(select(func.count()).select_from(OutboxMessage)).one() == 2
        ignored = db.exec(select(InboundMessage).where(InboundMessage.outcome == "ignored")).all()
        assert [m.reasons for m in ignored] == [["duplicate.message"]] * 2
    app.engine.dispose()


def test_oversized_mail_is_answered_without_its_body_being_downloaded(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """A mail over max_message_bytes is recorded from its headers alone and moved; its
    sender gets a polite refusal naming the limit, and Dovecot never sent its body."""
    app = make_app(write_imap_config(
        tmp_path, dovecot, f"sqlite:///{tmp_path / 'db.sqlite'}",
        extra="[limits]\nmax_message_bytes = 1048576"))
    raw = fixture_mail("02_outlook_rfc2231_website.eml")
    big = raw.replace(b"\n\n", b"\nX-Padding: yes\n\n", 1) + b"\n" + b"x" * 1_500_000 + b"\n"
    dovecot.append(big)

    report = cycle(app)
    assert (report.seen, report.quarantined) == (1, 1)
    assert folder_counts(dovecot) == {"待人工": 1}
    with session(app.engine) as db:
        [message] = db.exec(select(InboundMessage)).all()
        assert message.reasons == ["limits.message_size"] and message.raw_sha256 == ""
        assert message.from_addr == "liuxy@163.com" and message.moved_at is not None
        [reply] = db.exec(select(OutboxMessage)).all()
    assert reply.recipient == "liuxy@163.com"
    assert "每封 1 MB" in _body(reply.raw)
    assert not list((app.config.storage.dir / "raw").rglob("*.eml"))

    # Dovecot's logout line for the intake's session counts what it sent.
    wait_until(lambda: "body_count" in _intake_logout(dovecot), 5, "the intake's logout line")
    logout = _intake_logout(dovecot)
    assert "body_count=0 " in logout
    sent = int(re.search(r" out=(\d+)", logout).group(1))  # type: ignore[union-attr]
    assert sent < 100_000 < len(big)
    app.engine.dispose()


def _body(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body()
    assert body is not None
    return str(body.get_content())


def _intake_logout(d: Dovecot) -> str:
    """The logout line of the last session that sent our IMAP ID."""
    lines = d.log_text().splitlines()
    sessions = [m.group(1) for ln in lines if "ID sent: name=mailintake" in ln
                if (m := re.search(r"(<\d+><[^>]+>)", ln))]
    if not sessions:
        return ""
    return next((ln for ln in lines if sessions[-1] in ln and "Logged out" in ln), "")


# ------------------------------------------------------- exactly once


def kill_after_some_progress(config: Path, db_file: Path, rng: random.Random) -> bool:
    """Start `poll --once`, SIGKILL it after a random number of mails (and a random
    moment within the next few: it files some 80 a second); True when it was killed,
    not finished."""
    target = filed_count(db_file, "kill-", moved=False) + rng.randint(3, 25)
    proc = start(config, "poll", "--once")
    try:
        wait_until(lambda: filed_count(db_file, "kill-", moved=False) >= target
                   or proc.poll() is not None,
                   60, "progress before the kill")
        time.sleep(rng.uniform(0.0, 0.1))
        workers = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.communicate()
    wait_until(lambda: not any(alive(pid) for pid in workers), 10,
               "the reading workers to go with the killed intake")
    return proc.returncode == -signal.SIGKILL


def test_kill_9_at_random_points_files_and_moves_every_mail_exactly_once(tmp_path: Path) -> None:
    """200 mails, `poll --once` SIGKILLed at random points four times and restarted: in
    the end every mail is recorded once, sits in exactly one outcome folder, and every
    filed piece got exactly one reply queued; the killed intake leaves no worker behind."""
    rng = random.Random(20261119)
    names = fixture_names()
    raws = [with_message_id(fixture_mail(names[i % len(names)]), f"kill-{i}@example.test")
            for i in range(200)]
    db_file = tmp_path / "mailintake.db"
    with Dovecot() as d:
        d.append_many(raws)
        config = write_imap_config(tmp_path, d, f"sqlite:///{db_file}")
        make_app(config).engine.dispose()

        kills = 0
        while kills < 4 and filed_count(db_file, "kill-", moved=False) < 185:
            kills += kill_after_some_progress(config, db_file, rng)
        assert kills == 4

        done = subprocess.run([*CLI, "--config", str(config), NOW_ARG, "poll", "--once"],
                              capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        again = subprocess.run([*CLI, "--config", str(config), NOW_ARG, "poll", "--once"],
                               capture_output=True, text=True, timeout=60, check=False)
        assert "本轮收到 0 封" in again.stdout, again.stdout + again.stderr[-2000:]

        assert d.folder_uids("INBOX") == []
        placed: Counter[str] = Counter()
        with d.client() as c:
            for folder in OUTCOME_FOLDERS:
                if not c.folder_exists(folder):
                    continue
                c.select_folder(folder, readonly=True)
                uids = c.search(["ALL"])
                heads = c.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
                for item in heads.values():
                    header = item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode()
                    placed[f"{folder} {header.split('<')[1].split('>')[0]}"] += 1

    assert sum(placed.values()) == 200
    assert len({key.split()[1] for key in placed}) == 200  # each mail in one folder, once
    app = App.from_config(load_config(config), lambda: NOW)
    with session(app.engine) as db:
        messages = db.exec(select(InboundMessage)).all()
        assert len(messages) == 200
        assert all(m.moved_at is not None for m in messages)
        assert Counter(m.message_id for m in messages) == Counter(
            f"kill-{i}@example.test" for i in range(200))
        assert {f"{m.target_folder} {m.message_id}" for m in messages} == set(placed)
        assert not [m for m in messages if "duplicate.message" in m.reasons]
        submissions = db.exec(select(Submission)).all()
        filed = [m for m in messages if m.outcome in ("filed", "rejected")]
        assert len(submissions) == len(filed) > 0
        replies = db.exec(select(OutboxMessage).where(
            col(OutboxMessage.kind).in_(["receipt", "rejection"]))).all()
        assert sorted(r.inbound_id or 0 for r in replies) == sorted(m.id or 0 for m in filed)
    app.engine.dispose()


# ------------------------------------------------------------ the daemon


def test_run_with_idle_files_a_new_mail_within_seconds_and_stops_on_sigterm(
    dovecot: Dovecot, tmp_path: Path, sqlite_url: str
) -> None:
    """`mailintake run` waits in IDLE: a mail APPENDed is filed and moved within a few
    seconds; SIGTERM ends it cleanly with exit status 0."""
    config = write_imap_config(tmp_path, dovecot, sqlite_url, mailbox="poll_interval = 600")
    make_app(config).engine.dispose()
    db_file = tmp_path / "mailintake.db"
    proc = start(config, "run")
    try:
        dovecot.append(with_message_id(fixture_mail("04_general_piece.eml"), "idle-1@x"))
        wait_until(lambda: filed_count(db_file, "idle-1") == 1, 60, "the first mail filed")
        time.sleep(0.5)  # the intake is back in IDLE now
        appended = time.monotonic()
        dovecot.append(with_message_id(fixture_mail("02_outlook_rfc2231_website.eml"), "idle-2@x"))
        wait_until(lambda: filed_count(db_file, "idle-2") == 1, 10, "the second mail filed")
        assert time.monotonic() - appended < 5  # poll_interval is 600 s: IDLE woke it
        assert folder_counts(dovecot) == {"已处理": 2}
        proc.send_signal(signal.SIGTERM)
        err = "".join(proc.communicate(timeout=15))  # logs go to stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert "SIGTERM received" in err and "intake stopped" in err


def test_run_resumes_by_itself_after_dovecot_restarts(tmp_path: Path, sqlite_url: str) -> None:
    """Dovecot stopped and started again under a running `mailintake run`: it logs one
    line per failed attempt, reconnects with backoff, and files new mail again."""
    db_file = tmp_path / "mailintake.db"
    with Dovecot() as d:
        config = write_imap_config(tmp_path, d, sqlite_url, mailbox="poll_interval = 600")
        make_app(config).engine.dispose()
        proc = start(config, "run")
        try:
            d.append(with_message_id(fixture_mail("04_general_piece.eml"), "before@x"))
            wait_until(lambda: filed_count(db_file, "before") == 1, 60, "the first mail filed")
            d.stop()
            time.sleep(2.0)
            d.start()
            d.append(with_message_id(fixture_mail("02_outlook_rfc2231_website.eml"), "after@x"))
            wait_until(lambda: filed_count(db_file, "after") == 1, 30, "filed after the restart")
            proc.send_signal(signal.SIGTERM)
            err = "".join(proc.communicate(timeout=15))  # logs go to stdout
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0
    failures = [ln for ln in err.splitlines() if "mailbox unavailable" in ln]
    assert failures, err[-2000:]
    assert all(f"{d.host}:{d.port}" in ln and "retrying in" in ln for ln in failures)


def test_run_polls_a_server_without_idle(tmp_path: Path, sqlite_url: str) -> None:
    """Against a server that offers no IDLE, `run` looks every poll_interval seconds."""
    db_file = tmp_path / "mailintake.db"
    with Dovecot(drop_capabilities=["IDLE"]) as d:
        assert "IDLE" not in d.capabilities()
        config = write_imap_config(tmp_path, d, sqlite_url, mailbox="poll_interval = 1.0")
        make_app(config).engine.dispose()
        proc = start(config, "run")
        try:
            d.append(with_message_id(fixture_mail("04_general_piece.eml"), "poll-1@x"))
            wait_until(lambda: filed_count(db_file, "poll-1") == 1, 60, "the first mail filed")
            time.sleep(0.3)
            appended = time.monotonic()
            d.append(with_message_id(fixture_mail("02_outlook_rfc2231_website.eml"), "poll-2@x"))
            wait_until(lambda: filed_count(db_file, "poll-2") == 1, 10, "the second mail filed")
            assert time.monotonic() - appended < 4
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0


def test_sigterm_in_the_middle_of_a_batch_leaves_nothing_half_done(
    dovecot: Dovecot, tmp_path: Path, sqlite_url: str
) -> None:
    """SIGTERM while `run` works through 60 mails: it finishes the mail in hand and exits
    0; every mail it recorded has been moved, and the rest still waits in INBOX."""
    config = write_imap_config(tmp_path, dovecot, sqlite_url)
    make_app(config).engine.dispose()
    db_file = tmp_path / "mailintake.db"
    raw = fixture_mail("04_general_piece.eml")
    dovecot.append_many(with_message_id(raw, f"term-{i}@x") for i in range(60))
    proc = start(config, "run")
    try:
        # Recorded, not yet moved: mails move 50 at a time, and by the first move
        # the last ten could be filed before the signal lands.
        wait_until(lambda: filed_count(db_file, "term-", moved=False) >= 3, 60,
                   "some mails filed")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    app = App.from_config(load_config(config), lambda: NOW)
    with session(app.engine) as db:
        recorded = db.exec(select(InboundMessage)).all()
    app.engine.dispose()
    assert all(m.moved_at is not None for m in recorded)
    assert sum(folder_counts(dovecot).values()) == len(recorded) < 60
    assert len(dovecot.folder_uids("INBOX")) == 60 - len(recorded)


def test_cycles_never_overlap_whoever_asks(
    dovecot: Dovecot, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While run_forever idles, cycles asked for from other threads run one at a time,
    and each new mail is filed exactly once."""
    app = make_app(write_imap_config(tmp_path, dovecot, sqlite_url, mailbox="poll_interval = 600"))
    running, most = 0, 0
    guard = threading.Lock()
    real = pipeline.run_cycle

    def counted(*args: object, **kwargs: object) -> pipeline.CycleReport:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # widen the window two overlapping cycles would share
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with guard:
                running -= 1

    monkeypatch.setattr(pipeline, "run_cycle", counted)
    intake = Intake(app)
    stop = threading.Event()
    loop = threading.Thread(target=intake.run_forever, args=(stop,))
    askers = [threading.Thread(target=intake.cycle) for _ in range(4)]
    loop.start()
    try:
        raw = fixture_mail("04_general_piece.eml")
        dovecot.append_many(with_message_id(raw, f"lock-{i}@x") for i in range(6))
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join(30)
        # None waits out the loop's IDLE: each one's turn comes within seconds.
        assert not any(asker.is_alive() for asker in askers)
        wait_until(lambda: folder_counts(dovecot).get("已处理") == 6, 30, "all six filed")
    finally:
        stop.set()
        loop.join(15)
        for asker in askers:
            if asker.ident is not None:
                asker.join(15)
    assert not loop.is_alive()
    assert most == 1
    with session(app.engine) as db:
        assert db.exec(select(func.count()).select_from(InboundMessage)).one() == 6
    app.engine.dispose()
