"""The schema: migrations match the models, and times stay aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
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
from mailintake.store.search import SEARCH_TABLES


@pytest.mark.empty_database
def test_migrations_build_exactly_the_models(db_url: str) -> None:
    """After `db upgrade` the database has every table and column the models declare."""
    engine = make_engine(db_url)
    assert pending_migrations(engine)
    upgrade(engine)
    upgrade(engine)  # a second run changes nothing
    assert not pending_migrations(engine)
    # The full-text index is made by SQL of its own (store.search), not by a model.
    opts = {"include_name": lambda name, kind, _parent: not (
        kind == "table" and str(name).startswith(SEARCH_TABLES))}
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts=opts),
                                SQLModel.metadata)
    assert diff == []
    engine.dispose()


def test_head_is_the_newest_migration() -> None:
    """``upgrade`` skips Alembic when the database is at HEAD: HEAD must be Alembic's head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


@pytest.mark.empty_database
def test_a_database_behind_is_upgraded_past_the_quick_check(db_url: str) -> None:
    """A database at an older revision is not taken for current."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0005_points'")
    assert pending_migrations(engine)
    assert current_revisions(engine) == {"0005_points"}
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_connections_compile_no_queries(db_url: str) -> None:
    """JIT is off on every PostgreSQL connection (its compiling cost more than the
    ledger's short queries it was meant to speed up)."""
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW jit").scalar_one() == "off"
        connection.rollback()
    with engine.connect() as connection:  # the pooled connection keeps it
        assert connection.exec_driver_sql("SHOW jit").scalar_one() == "off"
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


@pytest.mark.empty_database
def test_pieces_and_replies_filed_before_keep_their_meaning_after_0007(db_url: str) -> None:
    """A database at 0006 with a piece, an adoption and a queued reply upgrades: the piece
    counts at its arrival as before, the adoption is of the whole piece, and the reply's
    Message-ID is read from its header so an answer to it is recognised."""
    from alembic import command

    from mailintake.store.database import _alembic_config

    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0006_service")
    arrived = datetime(2026, 11, 20, 2, tzinfo=UTC)
    raw = b"Subject: x\r\nMessage-ID: <reply.1@mailintake.test>\r\n\r\nbody"
    rows = [
        "INSERT INTO unit (id, name, aliases, kind, active, created_at) "
        "VALUES (1, '实验小学', '[]', '学校', true, :at)",
        "INSERT INTO inbound_message (id, mailbox, source_key, folder, raw_sha256, size, "
        "from_addr, from_name, subject, received_at, outcome, reasons, error, defects, "
        "target_folder, message_id) VALUES (1, 'm', 'k', 'INBOX', 'x', 1, '', '', '', :at, "
        "'filed', '[]', '', '[]', '已处理', 'a@b')",
        "INSERT INTO submission (id, tracking_no, message_id, unit_id, \"column\", title, "
        "author, status, word_count, picture_count, text, pictures, received_at, text_hash, "
        "subject_key, version) VALUES (1, '20261120-00001', 1, 1, 'general', 't', '', "
        "'accepted', 1, 0, '', '[]', :at, '', '', 1)",
        "INSERT INTO adoption (id, submission_id, channel, brief, shares, adopted_at, "
        "created_at) VALUES (1, 1, 'weekly', false, '{}', :at, :at)",
        "INSERT INTO outbox (id, dedup_key, kind, recipient, subject, raw, status, attempts, "
        "last_error, created_at, next_attempt_at) VALUES (1, 'reply:1', 'receipt', 'a@b', "
        "'x', :raw, 'sent', 1, '', :at, :at)",
    ]
    with engine.begin() as db:
        for row in rows:
            db.execute(text(row), {"at": arrived, "raw": raw})
    upgrade(engine)
    with engine.connect() as db:
        counted, received = db.exec_driver_sql(
            "SELECT counted_at, received_at FROM submission").one()
        assert counted == received
        assert db.exec_driver_sql("SELECT item FROM adoption").scalar_one() == 0
        assert db.exec_driver_sql(
            "SELECT message_id FROM outbox").scalar_one() == "reply.1@mailintake.test"
        assert db.exec_driver_sql("SELECT leader FROM unit").scalar_one() == ""
    engine.dispose()


MESSAGE_ROW = (
    "INSERT INTO inbound_message (id, mailbox, source_key, folder, raw_sha256, size, "
    "from_addr, from_name, subject, received_at, outcome, reasons, error, defects, "
    "target_folder, message_id) VALUES (:id, 'm', :key, 'INBOX', 'x', 1, '', '', '', :at, "
    "'filed', '[]', '', '[]', '已处理', :key)")
PIECE_ROW = (
    "INSERT INTO submission (id, tracking_no, message_id, \"column\", title, author, "
    "status, word_count, picture_count, text, pictures, received_at, counted_at, "
    "text_hash, subject_key, version) VALUES (:id, :no, :id, 'general', :title, '', "
    "'accepted', 1, 0, :body, '[]', :at, :at, '', '', 1)")


@pytest.mark.empty_database
def test_pieces_filed_before_0008_are_found_by_search_and_downgrade_undoes_it(
    db_url: str,
) -> None:
    """A database at 0007 with pieces upgrades: the search index holds them, new and
    edited pieces join it through the triggers, and 0008 downgrades cleanly."""
    from alembic import command

    from mailintake.store import browse
    from mailintake.store.database import _alembic_config

    engine = make_engine(db_url)
    config = _alembic_config(engine)
    command.upgrade(config, "0007_notices")
    arrived = datetime(2026, 11, 20, 2, tzinfo=UTC)
    message, piece = MESSAGE_ROW, PIECE_ROW
    with engine.begin() as db:
        db.execute(text(message), {"id": 1, "key": "k1", "at": arrived})
        db.execute(text(piece), {"id": 1, "no": "20261120-00001", "title": "开展防汛演练",
                                 "body": "全校师生参加。", "at": arrived})
    upgrade(engine)

    def found(word: str) -> list[str]:
        rows, _more = browse.pieces(engine, browse.PieceFilter(words=word))
        return [row.tracking_no for row in rows]

    assert found("防汛") == ["20261120-00001"] and found("师生") == ["20261120-00001"]
    assert found("汛演练") == ["20261120-00001"] and found("演防") == []
    with engine.begin() as db:
        db.execute(text(message), {"id": 2, "key": "k2", "at": arrived})
        db.execute(text(piece), {"id": 2, "no": "20261120-00002", "title": "读书节",
                                 "body": "Reading Week 开幕", "at": arrived})
        db.exec_driver_sql("UPDATE submission SET text = '家长开放日' WHERE id = 1")
    assert found("reading") == ["20261120-00002"] and found("开放") == ["20261120-00001"]
    assert found("师生") == []
    command.downgrade(config, "0007_notices")
    assert current_revisions(engine) == {"0007_notices"}
    with engine.begin() as db:  # no trigger is left calling a function that is gone
        db.exec_driver_sql("UPDATE submission SET title = '改' WHERE id = 2")
    engine.dispose()


@pytest.mark.parametrize("rare_matches", [2000, 2])
def test_search_finds_the_same_pieces_for_a_rare_word_and_a_common_one(
    db_url: str, monkeypatch: pytest.MonkeyPatch, rare_matches: int
) -> None:
    """On PostgreSQL a word in few pieces is looked up by its matches, one in many by
    walking the newest pieces: either way the same pieces, newest first, filters kept."""
    from mailintake.store import browse

    monkeypatch.setattr(browse, "RARE_MATCHES", rare_matches)
    engine = make_engine(db_url)
    upgrade(engine)
    arrived = datetime(2026, 11, 20, 2, tzinfo=UTC)
    with engine.begin() as db:
        for n in range(1, 8):
            db.execute(text(MESSAGE_ROW), {"id": n, "key": f"k{n}", "at": arrived})
            db.execute(text(PIECE_ROW), {
                "id": n, "no": f"20261120-{n:05d}", "title": f"第{n}篇",
                "body": "开展防汛演练" if n % 2 else "读书节", "at": arrived})
        db.exec_driver_sql("UPDATE submission SET status = 'rejected' WHERE id = 5")

    def found(wanted: browse.PieceFilter) -> list[int]:
        rows, _more = browse.pieces(engine, wanted, limit=2)
        return [row.id for row in rows]

    assert found(browse.PieceFilter(words="防汛")) == [7, 5]
    assert found(browse.PieceFilter(words="防汛", status="accepted")) == [7, 3]
    assert found(browse.PieceFilter(words="读书")) == [6, 4]
    assert found(browse.PieceFilter(words="汛防")) == []
    engine.dispose()
