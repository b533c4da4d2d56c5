"""Shared fixtures: a config on a temp folder, on SQLite and on PostgreSQL.

PostgreSQL runs on 127.0.0.1:5432 on the test machines (``scripts/test``
starts it); each test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import mailbox
import shutil
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
from mailintake.store.database import make_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The fixture mails are dated 17–19 November 2026.
NOW = datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A database at the newest migration on each backend, made once per run: a new
    test database is a copy of it (migrating each one took a third of a second)."""
    made: dict[str, str] = {}
    yield made
    if "postgresql" in made:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{made["postgresql"]}" WITH (FORCE)')


def _template(backend: str, made: dict[str, str], factory: pytest.TempPathFactory) -> str:
    if backend not in made:
        if backend == "sqlite":
            file = factory.mktemp("template") / "mailintake.db"
            url, made[backend] = f"sqlite:///{file}", str(file)
        else:
            name = f"mi_template_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            url, made[backend] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    return made[backend]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _templates: dict[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database on each backend with mailintake's tables (empty, with no
    tables at all, for a test marked ``empty_database``)."""
    empty = request.node.get_closest_marker("empty_database") is not None
    template = None if empty else _template(request.param, _templates, tmp_path_factory)
    if request.param == "sqlite":
        file = tmp_path / "mailintake.db"
        if template is not None:  # (WAL: the log is merged when the last connection closes)
            shutil.copyfile(template, file)
        yield f"sqlite:///{file}"
        return
    name = f"mi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"' +
                      ("" if template is None else f' TEMPLATE "{template}"'))
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
