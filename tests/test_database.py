"""The schema: migrations match the models, and times stay aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel, select

from mailintake.store.database import (
    HEAD,
    MIGRATIONS,
    current_revisions,
    durable,
    make_engine,
    pending_migrations,
    session,
    upgrade,
)
from mailintake.store.models import Unit


def test_migrations_build_exactly_the_models(db_url: str) -> None:
    """After `db upgrade` the database has every table and column the models declare."""
    engine = make_engine(db_url)
    assert pending_migrations(engine)
    upgrade(engine)
    upgrade(engine)  # a second run changes nothing
    assert not pending_migrations(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []
    engine.dispose()


def test_head_is_the_newest_migration() -> None:
    """``upgrade`` skips Alembic when the database is at HEAD: HEAD must be Alembic's head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_a_database_behind_is_upgraded_past_the_quick_check(db_url: str) -> None:
    """A database at an older revision is not taken for current."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0005_points'")
    assert pending_migrations(engine)
    assert current_revisions(engine) == {"0005_points"}
    engine.dispose()


def test_times_come_back_aware_and_naive_ones_are_refused(db_url: str) -> None:
    """A stored time reads back as the same instant, and a naive time is never stored."""
    engine = make_engine(db_url)
    upgrade(engine)
    beijing = datetime(2026, 11, 19, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    with session(engine) as db:
        db.add(Unit(name="实验小学", kind="学校", created_at=beijing))
        db.commit()
    with session(engine) as db:
        unit = db.exec(select(Unit)).one()
        assert unit.created_at == beijing and unit.created_at.tzinfo is not None
        assert unit.created_at.utcoffset() == timedelta(0)
        db.add(Unit(name="一幼", kind="幼儿园", created_at=datetime(2026, 1, 1)))  # noqa: DTZ001
        with pytest.raises(Exception, match="naive datetime"):
            db.commit()
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    """SQLite connections use WAL and enforce foreign keys."""
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_durable_commits_sync_the_log_and_leave_the_connection_as_it_was(tmp_path: Path) -> None:
    """Inside ``durable`` SQLite syncs its log at each commit (and so every commit before);
    the pooled connection goes back to syncing at checkpoints only."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        with durable(connection), connection.begin():
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            connection.execute(Unit.__table__.insert().values(  # type: ignore[attr-defined]
                name="实验小学", kind="学校", aliases=[], created_at=datetime.now(UTC)))
        assert level == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    with session(engine) as db:
        assert db.exec(select(Unit)).one().name == "实验小学"
    engine.dispose()
