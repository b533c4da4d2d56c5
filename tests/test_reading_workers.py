"""Mails read in the worker processes come back complete, however big they are."""

from __future__ import annotations

import email
import email.policy
import hashlib
import pickle
import random
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import FIXTURES, deliver, fixture_mail
from sqlmodel import select

from mailintake import collector
from mailintake.app import App
from mailintake.cli import entry
from mailintake.config.settings import LimitsConfig
from mailintake.intake import pipeline
from mailintake.reading import workers as readers
from mailintake.reading.mail import Limits
from mailintake.store.database import session
from mailintake.store.models import Attachment, InboundMessage


def test_big_mail_read_from_the_archive_keeps_every_file(app: App) -> None:
    """A piece with a video too big for the pipe is filed with the video stored byte for byte."""
    message = email.message_from_bytes(
        fixture_mail("02_outlook_rfc2231_website.eml"), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    video = random.Random(3).randbytes(readers.VIA_DISK + 1024 * 1024)
    message.add_attachment(video, maintype="video", subtype="mp4", filename="活动现场.mp4")
    raw = message.as_bytes()
    assert len(raw) > readers.VIA_DISK  # goes to its worker through the archive
    deliver(app.config, raw)
    box = app.open_mailbox()
    try:
        report = pipeline.run_cycle(app, box)
    finally:
        box.close()
    assert report.filed == 1
    with session(app.engine) as db:
        inbound = db.exec(select(InboundMessage)).one()
        stored = db.exec(select(Attachment).where(Attachment.filename == "活动现场.mp4")).one()
    assert inbound.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert stored.size == len(video)
    assert (app.config.storage.dir / stored.stored_path).read_bytes() == video


# The libraries only reading needs; the main process must do without them.
READING_LIBRARIES = {"docx", "lxml", "PIL", "pillow_heif", "mailparser", "inscriptis",
                     "tnefparse", "word_count", "numpy", "openpyxl", "alembic"}


def _run(code: str, *args: str) -> list[str]:
    """Top-level modules ``code`` reports (one per line), run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, timeout=120)
    return done.stdout.split()


def test_the_main_process_files_without_the_reading_libraries(tmp_path: Path) -> None:
    """Filing what a worker read needs none of python-docx, Pillow, numpy ...: the
    main process starts without them (a fifth of a second, and tens of MB)."""
    heic = FIXTURES / "mail" / "clients" / "17_iphone_heic_inline.eml"
    prepared = readers.prepare(heic.read_bytes(), LimitsConfig(), tmp_path)
    assert prepared.reading is not None and prepared.reading.pictures
    (tmp_path / "prepared.pickle").write_bytes(pickle.dumps(prepared))
    loaded = _run(
        "import pickle, sys\n"
        "import mailintake.cli.main, mailintake.intake.pipeline, mailintake.mailbox.imap\n"
        "import mailintake.replies.outbox, mailintake.replies.smtp, mailintake.office.samples\n"
        "import mailintake.service.daemon\n"
        "with open(sys.argv[1], 'rb') as f: pickle.load(f)\n"
        "print(*{m.split('.')[0] for m in sys.modules})",
        str(tmp_path / "prepared.pickle"),
    )
    assert READING_LIBRARIES.isdisjoint(loaded)


def test_the_workers_load_no_configuration_nor_database_layer() -> None:
    """What the forkserver loads for the workers, and the job they are handed (the
    limits as plain data), needs neither pydantic nor SQLAlchemy: a faster start."""
    job = pickle.dumps(Limits.of(LimitsConfig()))
    loaded = _run(
        "import pickle, sys\n"
        "import mailintake.reading.workers, mailintake.reading.preload\n"
        "pickle.loads(bytes.fromhex(sys.argv[1]))\n"
        "print(*{m.split('.')[0] for m in sys.modules})",
        job.hex(),
    )
    assert {"pydantic", "sqlalchemy", "sqlmodel"}.isdisjoint(loaded)


@pytest.mark.parametrize(("args", "name"), [
    (["poll", "--once"], "poll"), (["--config", "run", "db", "upgrade"], "db"),
    (["--now", "2026-11-19T10:00:00+08:00", "-v", "run"], "run"), (["--version"], ""),
    (["--config=x.toml", "poll"], "poll"),
])
def test_the_command_knows_its_subcommand_before_parsing(args: list[str], name: str) -> None:
    """The entry point starts the forkserver only for a subcommand that reads mail."""
    assert entry.subcommand(args) == name


def test_the_forkserver_preloads_everything_reading_imports() -> None:
    """A worker forked after ``mailintake.reading.preload`` imports no library at its first
    mails."""
    mails = [*sorted((FIXTURES / "mail" / "clients").glob("1[2-8]_*.eml")),
             *sorted((FIXTURES / "mail").glob("0*.eml"))]
    new = _run(
        "import sys\n"
        "import mailintake.reading.preload\n"
        "from mailintake.config.settings import LimitsConfig\n"
        "from mailintake.reading.mail import read_mail\n"
        "before = set(sys.modules)\n"
        "for path in sys.argv[1:]:\n"
        "    with open(path, 'rb') as f: read_mail(f.read(), LimitsConfig())\n"
        "new = set(sys.modules) - before\n"
        "print(*sorted(m for m in new if m.split('.')[0] not in sys.stdlib_module_names))",
        *map(str, mails),
    )
    assert new == []


def test_the_command_and_the_forkserver_leave_what_they_loaded_to_no_collection() -> None:
    """Modules are loaded with the garbage collector off, and frozen then: no
    later collection examines them, in the command or in a worker."""
    state = ("import gc\n"
             "print(gc.isenabled(), gc.get_freeze_count() > 20_000, gc.get_threshold()[0])")
    command = _run(
        "import sys\n"
        "from mailintake.cli import entry\n"
        "sys.argv = ['mailintake', '--version']\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit:\n"
        "    pass\n" + state
    )
    forkserver = _run("import mailintake.reading.workers, mailintake.reading.preload\n" + state)
    settled = ["True", "True", str(collector.YOUNG_THRESHOLD)]
    assert command[-3:] == settled
    assert forkserver == settled
