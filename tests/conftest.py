"""Shared fixtures: a config on a temp folder, on SQLite and on PostgreSQL.

PostgreSQL runs on 127.0.0.1:5432 on the test machines (``scripts/test``
starts it); each test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import mailbox
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from mailintake.app import App
from mailintake.config.settings import Config, load_config
from mailintake.office.registry import import_rows, read_rows
from mailintake.store.database import upgrade

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The fixture mails are dated 17–19 November 2026.
NOW = datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailintake.db'}"
        return
    name = f"mi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


MAILDIR = """
kind = "maildir"
path = "Maildir"
"""


def write_config(folder: Path, db: str, extra: str = "", *, mailbox: str = MAILDIR) -> Path:
    """A config for a mailbox (a local Maildir by default) and a reply folder under ``folder``."""
    path = folder / "mailintake.toml"
    path.write_text(
        f"""
[office]
name = "测试教育局办公室"
addresses = ["office@example.test"]

[mailbox]
{mailbox}

[smtp]
kind = "folder"
path = "outbox"
from = "教育信息报送 <xxbs@126.com>"

[database]
url = "{db}"

[storage]
dir = "files"

[[calendar.semesters]]
name = "2026秋"
week1_monday = 2026-09-07
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Config:
    return load_config(write_config(tmp_path, db_url))


@pytest.fixture
def clock() -> Callable[[], datetime]:
    return lambda: NOW


@pytest.fixture
def app(config: Config, clock: Callable[[], datetime]) -> Iterator[App]:
    """An app with the fixture units registered."""
    app = App.from_config(config, clock)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    yield app
    app.engine.dispose()


def deliver(config: Config, *raws: bytes) -> None:
    """Put mails into the test Maildir's intake folder."""
    assert config.mailbox.path is not None
    box = mailbox.Maildir(config.mailbox.path, create=True)
    for raw in raws:
        box.add(raw)


def fixture_mail(name: str) -> bytes:
    return (FIXTURES / "mail" / name).read_bytes()
