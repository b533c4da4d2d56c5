"""The database: engine set-up, sessions and migrations.

SQLite gets WAL (readers never block the writer) and foreign keys on every
connection, and syncs its log only at checkpoints and where ``durable`` asks
(a commit then survives a crash of the process, and a power cut once the
next durable commit is through); PostgreSQL is used as it comes. The schema is owned by Alembic:
``upgrade`` brings any database to the newest revision and is safe to call at
every start. A database already there costs one query: Alembic (a fifth of a
second to import and read its scripts) is loaded only when there is work for
it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest migration's revision (a test keeps it equal to Alembic's head).
HEAD = "0006_service"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder if needed."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def durable(connection: Connection) -> Iterator[Connection]:
    """A connection whose commits are on disk when they return, and every commit
    before them with them (SQLite syncs its whole log then). PostgreSQL's are anyway."""
    if connection.dialect.name != "sqlite":
        yield connection
        return
    _pragma(connection, "synchronous=FULL")
    try:
        yield connection
    finally:
        _pragma(connection, "synchronous=NORMAL")


def _pragma(connection: Connection, setting: str) -> None:
    connection.exec_driver_sql(f"PRAGMA {setting}")
    connection.commit()  # SQLAlchemy's own transaction: SQLite began none for a PRAGMA


def session(engine: Engine) -> Session:
    # Objects stay readable after commit: callers hand them to replies and logs.
    return Session(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (none: one query)."""
    if current_revisions(engine) == {HEAD}:
        return
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at; empty for a new database."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return set()
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        return {row[0] for row in rows}


def pending_migrations(engine: Engine) -> bool:
    """True when the database is behind the newest migration."""
    return current_revisions(engine) != {HEAD}
