"""The database: engine set-up, sessions and migrations.

SQLite gets WAL (readers never block the writer) and foreign keys on every
connection, and syncs its log only at checkpoints and where ``durable`` asks
(a commit then survives a crash of the process, and a power cut once the
next durable commit is through); PostgreSQL is used as it comes. The schema is owned by Alembic:
``upgrade`` brings any database to the newest revision and is safe to call at
every start. A database already there costs one query: Alembic (a fifth of a
second to import and read its scripts) is loaded only when there is work for
it.

Only ``mailintake db upgrade`` (and the demo) creates a database. Every other
command opens the one that is there (``ready``): a mistyped SQLite path or a
database without the tables is an error naming what was looked for, not a new
empty database that takes every sender for a stranger.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session

from mailintake.errors import EXIT_SETUP, Problem
from mailintake.store import search
from mailintake.store.errors import shown_url, sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Engine and Session are named here so the rest of the package can hold an engine (``App``)
# and pass a transaction along without importing SQLAlchemy.
__all__ = [
    "HEAD", "MIGRATIONS", "DatabaseError", "DatabaseNotReady", "DatabaseUnavailable", "Engine",
    "Session", "check", "close", "current_revisions", "durable", "make_engine",
    "pending_migrations", "postgresql", "ready", "session", "shown", "upgrade",
]

#: What a database that went away raises (the server down or restarting, a file locked):
#: time may mend it, so a loop retries it.
DatabaseUnavailable = OperationalError
#: Any error from the database or its driver.
DatabaseError = SQLAlchemyError

MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest migration's revision (a test keeps it equal to Alembic's head).
HEAD = "0010_briefing_notes"


class DatabaseNotReady(Problem):
    """There is no database, or no mailintake tables in it; the message says which."""

    exit_code = EXIT_SETUP


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``. With ``create``, a SQLite file (and its folder) is made
    when first used; without, only one that exists is ever opened."""
    if url.startswith("sqlite"):
        file = sqlite_file(url)
        if file is not None and create:
            file.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        if file is not None and not create:
            sa.event.listen(engine, "do_connect", _open_existing)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True)
    sa.event.listen(engine, "connect", _postgresql_settings)
    return engine


def _postgresql_settings(dbapi_connection: Any, _record: Any) -> None:
    """No JIT compilation: the planner's cost of a correlated subquery (the points
    ledger's checks) crosses ``jit_above_cost`` and compiling took 136 ms of a 240 ms
    query; none of mailintake's queries runs long enough to win it back."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def _open_existing(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]
                   ) -> None:
    """Open the SQLite file read-write, never create it (SQLite's ``mode=rw``)."""
    cargs[0] = "file:" + quote(str(Path(cargs[0]).absolute())) + "?mode=rw"
    cparams["uri"] = True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    search.register(dbapi_connection)  # the full-text index's triggers call it


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


def postgresql(engine: Engine) -> bool:
    """Whether ``engine`` is a PostgreSQL database (several hosts may share it)."""
    return engine.dialect.name == "postgresql"


def shown(engine: Engine) -> str:
    """Where the database is, for a person: its URL without the password."""
    return engine.url.render_as_string(hide_password=True)


def close(engine: Engine) -> None:
    """Close every pooled connection (at the end of a command)."""
    engine.dispose()


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
    """Apply every pending migration (none: one query); creates the tables of a new database."""
    revisions = current_revisions(engine)
    if revisions == {HEAD}:
        return
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(_alembic_config(engine), "head")
    except CommandError as exc:  # a revision this version does not know
        raise DatabaseNotReady(
            f"数据库 {shown_url(str(engine.url))} 的表结构版本（{'、'.join(sorted(revisions))}）"
            "不是这个版本的 mailintake 建的：可能已被更新的版本升级过，请安装那个版本"
        ) from exc


def ready(engine: Engine) -> None:
    """Check that the database is there with mailintake's tables, and apply pending
    migrations; raise DatabaseNotReady, naming what was looked for, when not."""
    if check(engine) != {HEAD}:
        upgrade(engine)


def check(engine: Engine) -> set[str]:
    """The revisions of a database that is there with mailintake's tables; raise
    DatabaseNotReady otherwise. Changes nothing."""
    url = engine.url.render_as_string(hide_password=False)
    file = sqlite_file(url)
    if file is not None and not file.is_file():
        raise DatabaseNotReady(
            f"找不到数据库文件 {file}：新安装请先运行 mailintake db upgrade 建库；"
            "否则请检查配置 [database] url 是否写错")
    revisions = current_revisions(engine)
    if not revisions:
        raise DatabaseNotReady(
            f"数据库 {file or shown_url(url)} 中没有 mailintake 的表：新安装请先运行 "
            "mailintake db upgrade；否则请检查配置 [database] url 是否指错了数据库")
    return revisions


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
