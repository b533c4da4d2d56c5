"""Benchmark of rankings and reports on a large office: 2,000 units and five
years of pieces (about 500,000), on SQLite and on PostgreSQL.

    .venv/bin/python bench/report.py [--backend sqlite|postgresql|both]
                                     [--units 2000] [--pieces 500000]

Prints the time of the monthly ranking (target: at most 1 s on either) and
of the yearly Excel report. The data is bulk-inserted (executemany on
SQLite, COPY on PostgreSQL on 127.0.0.1:5432) into a throwaway database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy as sa

from mailintake.config.settings import Config
from mailintake.office.excel import report_bytes
from mailintake.office.periods import parse_period
from mailintake.office.points import settle
from mailintake.office.reports import build_report, piece_rows
from mailintake.store.database import make_engine, upgrade
from mailintake.store.models import (
    Adoption,
    Correspondent,
    CorrespondentAddress,
    CorrespondentUnit,
    InboundMessage,
    PointEntry,
    Submission,
    Unit,
)

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TZ = ZoneInfo("Asia/Shanghai")
FIRST_YEAR, YEARS = 2022, 5
NOW = datetime(2026, 12, 31, 18, tzinfo=TZ)
KINDS = ["学校"] * 16 + ["幼儿园"] * 2 + ["部门", "学院"]
COLUMNS = ["weekly", "website", "weibo", "general"]
CHANNELS = ["weekly", "college", "video", "hot", "weibo", "news", "headline"]
CHUNK = 50_000


def config(url: str) -> Config:
    semesters = []
    for year in range(FIRST_YEAR, FIRST_YEAR + YEARS):
        for name, first in (("春", date(year, 2, 20)), ("秋", date(year, 9, 1))):
            monday = first + timedelta(days=(7 - first.weekday()) % 7)
            semesters.append({"name": f"{year}{name}", "week1_monday": monday, "weeks": 20})
    return Config.model_validate({
        "mailbox": {"kind": "maildir", "path": "/nonexistent"},
        "smtp": {"kind": "folder", "path": "/nonexistent", "from": "x <x@example.test>"},
        "database": {"url": url},
        "calendar": {"semesters": semesters},
    })


def rows(units: int, pieces: int) -> dict[str, Callable[[], Iterator[dict[str, Any]]]]:
    """Row generators per table, deterministic."""
    start = datetime(FIRST_YEAR, 1, 1, tzinfo=TZ).timestamp()
    span = datetime(FIRST_YEAR + YEARS, 1, 1, tzinfo=TZ).timestamp() - start
    created = datetime(2021, 12, 1, tzinfo=UTC)

    def unit_rows() -> Iterator[dict[str, Any]]:
        for i in range(1, units + 1):
            yield {"id": i, "name": f"单位{i:04d}", "aliases": [], "kind": KINDS[i % len(KINDS)],
                   "active": True, "quota": None, "created_at": created}

    def people() -> Iterator[dict[str, Any]]:
        for i in range(1, units + 1):
            yield {"id": i, "name": f"信息员{i:04d}", "title": "", "phone": "", "active": True}

    def links() -> Iterator[dict[str, Any]]:
        for i in range(1, units + 1):
            yield {"correspondent_id": i, "unit_id": i}

    def addresses() -> Iterator[dict[str, Any]]:
        for i in range(1, units + 1):
            yield {"id": i, "correspondent_id": i, "address": f"x{i}@example.test"}

    def times() -> Iterator[tuple[int, datetime, int]]:
        rng = random.Random(7)
        moments = sorted(start + rng.random() * span for _ in range(pieces))
        for n, moment in enumerate(moments, start=1):
            yield n, datetime.fromtimestamp(moment, UTC), rng.randint(1, units)

    def messages() -> Iterator[dict[str, Any]]:
        for n, when, _ in times():
            yield {"id": n, "mailbox": "bench", "source_key": f"k{n}", "folder": "INBOX",
                   "uidvalidity": None, "uid": None, "business_key": f"mid:{n}@bench",
                   "duplicate_of_id": None, "message_id": f"{n}@bench", "raw_sha256": f"{n:064x}",
                   "size": 300_000, "from_addr": "", "from_name": "", "subject": "",
                   "sent_at": None, "received_at": when, "outcome": "filed", "reasons": [],
                   "error": "", "defects": [], "target_folder": "已处理", "moved_at": when}

    def submissions() -> Iterator[dict[str, Any]]:
        for n, when, unit in times():
            yield {"id": n, "tracking_no": f"{when:%Y%m%d}-{n:06d}", "message_id": n,
                   "unit_id": unit, "correspondent_id": unit, "column": COLUMNS[n % 4],
                   "title": f"单位{unit:04d}开展第{n}次教研活动", "author": "",
                   "event_date": None, "week_no": None,
                   "status": "rejected" if n % 10 == 0 else "accepted",
                   "word_count": 280, "picture_count": 2, "text": "", "received_at": when,
                   "counted_at": when}

    def adoptions() -> Iterator[dict[str, Any]]:
        for n, when, unit in times():
            if n % 20 == 1:
                adopted = when + timedelta(days=n % 9 + 1)
                yield {"id": n, "submission_id": n, "channel": CHANNELS[n % 7], "brief": False,
                       "shares": {str(unit): 1.0}, "adopted_at": adopted, "revoked_at": None,
                       "created_at": adopted, "_unit": unit}

    return {"unit": unit_rows, "correspondent": people, "correspondent_unit": links,
            "correspondent_address": addresses, "inbound_message": messages,
            "submission": submissions, "adoption": adoptions}


def fill(engine: sa.Engine, units: int, pieces: int) -> None:
    """Bulk-insert every table, chunk by chunk; adoption points go straight to the ledger."""
    models: dict[str, Any] = {str(m.__tablename__): m for m in (
        Unit, Correspondent, CorrespondentUnit, CorrespondentAddress, InboundMessage,
        Submission, Adoption)}
    points = PointEntry.__table__  # type: ignore[attr-defined]
    for name, make in rows(units, pieces).items():
        model = models[name]
        columns = [c.name for c in model.__table__.columns]
        batch: list[dict[str, Any]] = []
        defaults: dict[str, Any] | None = None
        for row in make():
            if defaults is None:
                # Columns the rows leave out get the model's defaults, once.
                sample = model(**{k: v for k, v in row.items() if not k.startswith("_")})
                defaults = {c: getattr(sample, c) for c in columns if c not in row}
            batch.append(defaults | row)
            if len(batch) == CHUNK:
                _insert(engine, model.__table__, points, batch)
                batch = []
        if batch:
            _insert(engine, model.__table__, points, batch)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("unit", "correspondent", "correspondent_address", "inbound_message",
                          "submission", "adoption", "point"):
                connection.exec_driver_sql(  # our own table names, no input
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 1) FROM {table}))")
            connection.exec_driver_sql("ANALYZE")


def _insert(engine: sa.Engine, table: sa.Table, points: sa.Table,
            batch: list[dict[str, Any]]) -> None:
    # Bench correspondents have the id of their unit.
    ledger = [{"unit_id": (unit := r.pop("_unit")), "correspondent_id": unit,
               "submission_id": r["submission_id"], "adoption_id": r["id"], "kind": "adoption",
               "channel": r["channel"], "quantity": 1, "points": 10.0, "reason": "采用",
               "period": "", "earned_at": r["adopted_at"], "entry_key": None,
               "created_at": r["adopted_at"]} for r in batch if "_unit" in r]
    if engine.dialect.name == "postgresql":
        _copy(engine, table, batch)
        if ledger:
            _copy(engine, points, ledger)
        return
    with engine.begin() as connection:
        connection.execute(table.insert(), batch)
        if ledger:
            connection.execute(points.insert(), ledger)


def _copy(engine: sa.Engine, table: sa.Table, batch: list[dict[str, Any]]) -> None:
    """COPY through psycopg, values bound by SQLAlchemy's types (JSON, aware times)."""
    import json

    columns = list(batch[0])
    quoted = ", ".join(f'"{c}"' for c in columns)  # "column" is a reserved word
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(  # type: ignore[attr-defined]
            f"COPY {table.name} ({quoted}) FROM STDIN"
        ) as copy:
            for row in batch:
                copy.write_row([json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict)
                                else v for v in (row[c] for c in columns)])
        raw.commit()
    finally:
        raw.close()


def timed(label: str, fn: Callable[[], Any], repeat: int = 1) -> Any:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    best = min(times)
    extra = f" (best of {repeat}, median {statistics.median(times):.3f} s)" if repeat > 1 else ""
    print(f"  {label:<34} {best:8.3f} s{extra}", flush=True)
    return result


def run(url: str, units: int, pieces: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    cfg = config(url)
    timed(f"bulk insert of {pieces:,} pieces", lambda: fill(engine, units, pieces))
    timed("settle the points ledger (first)", lambda: settle(engine, cfg, NOW))
    if engine.dialect.name == "postgresql":
        # Autovacuum would analyze after half a million new ledger lines; without
        # statistics the planner scans the whole ledger for max(submission_id).
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    timed("settle again (nothing new)", lambda: settle(engine, cfg, NOW), repeat=3)
    month = parse_period("2026-11")
    report = timed("monthly ranking (2026-11)",
                   lambda: build_report(engine, cfg, month, "unit", NOW), repeat=5)
    assert len(report.rows) == units and report.rows[0]["rank"] == 1
    timed("monthly ranking by correspondent",
          lambda: build_report(engine, cfg, month, "correspondent", NOW), repeat=3)
    year = parse_period("2026")

    def yearly() -> int:
        found = build_report(engine, cfg, year, "unit", NOW)
        pieces_of_year = piece_rows(engine, cfg, *year.bounds(TZ))
        return len(report_bytes(found, pieces_of_year))

    size = timed("yearly Excel report (2026)", yearly)
    print(f"  {'':<34} {size / 1e6:8.1f} MB workbook")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--pieces", type=int, default=500_000)
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            print(f"SQLite ({args.units} units):", flush=True)
            run(f"sqlite:///{Path(folder) / 'bench.db'}", args.units, args.pieces)
    if args.backend in ("postgresql", "both"):
        name = f"mi_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            print(f"PostgreSQL ({args.units} units):", flush=True)
            run(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args.units, args.pieces)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
