"""Benchmark of rankings and reports on a large office: by default 500 units and
a year of 100,000 pieces (2026), on SQLite and on PostgreSQL.

    .venv/bin/python bench/report.py [--backend sqlite|postgresql|both]
                                     [--units 500] [--pieces 100000] [--years 1]
                                     [--list 40000] [--runs 3]

Prints the time of the monthly ranking and the monthly 通报, composed and as
the clerk previews it (``bulletin --period 2026-11``; target: at most 1 s on
either), of the yearly Excel report in-process and as the clerk runs it (``report
--period 2026 --xlsx``, target ≤ 3 s), and of ``submissions list`` of
``--list`` pieces as JSON lines and as a table (target ≤ 2 s), each command
in a process of its own with its peak RSS (target < 300 MB). The data is
bulk-inserted (executemany on SQLite, COPY on PostgreSQL on 127.0.0.1:5432)
into throwaway databases.
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import random
import statistics
import subprocess
import sys
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
from mailintake.office.bulletin import bulletin_of, ranking_table
from mailintake.office.excel import period_workbook
from mailintake.office.periods import parse_period
from mailintake.office.points import settle
from mailintake.office.reports import build_report
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
LAST_YEAR = 2026
NOW = datetime(2026, 12, 31, 18, tzinfo=TZ)
KINDS = ["学校"] * 16 + ["幼儿园"] * 2 + ["部门", "学院"]
COLUMNS = ["weekly", "website", "weibo", "general"]
CHANNELS = ["weekly", "college", "video", "hot", "weibo", "news", "headline"]
CHUNK = 50_000


def semesters(years: int) -> list[dict[str, Any]]:
    found = []
    for year in range(LAST_YEAR + 1 - years, LAST_YEAR + 1):
        for name, first in (("春", date(year, 2, 20)), ("秋", date(year, 9, 1))):
            monday = first + timedelta(days=(7 - first.weekday()) % 7)
            found.append({"name": f"{year}{name}", "week1_monday": monday, "weeks": 20})
    return found


def config(url: str, years: int) -> Config:
    return Config.model_validate({
        "office": {"name": "测试教育局办公室"},
        "mailbox": {"kind": "maildir", "path": "/nonexistent"},
        "smtp": {"kind": "folder", "path": "/nonexistent", "from": "x <x@example.test>"},
        "database": {"url": url},
        "calendar": {"semesters": semesters(years)},
    })


def config_file(folder: Path, url: str, years: int) -> Path:
    """The same config as a file, for the commands run as a clerk runs them."""
    terms = "".join(f'[[calendar.semesters]]\nname = "{s["name"]}"\n'
                    f'week1_monday = {s["week1_monday"].isoformat()}\nweeks = {s["weeks"]}\n'
                    for s in semesters(years))
    path = folder / "bench.toml"
    path.write_text(
        f'[office]\nname = "测试教育局办公室"\n[mailbox]\nkind = "maildir"\n'
        f'path = "{folder / "Maildir"}"\n[smtp]\nkind = "folder"\npath = "{folder / "out"}"\n'
        f'from = "x <x@example.test>"\n[database]\nurl = "{url}"\n[storage]\n'
        f'dir = "{folder / "files"}"\n{terms}', encoding="utf-8")
    return path


def rows(units: int, pieces: int, years: int
         ) -> dict[str, Callable[[], Iterator[dict[str, Any]]]]:
    """Row generators per table, deterministic."""
    start = datetime(LAST_YEAR + 1 - years, 1, 1, tzinfo=TZ).timestamp()
    span = datetime(LAST_YEAR + 1, 1, 1, tzinfo=TZ).timestamp() - start
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


def fill(engine: sa.Engine, units: int, pieces: int, years: int) -> None:
    """Bulk-insert every table, chunk by chunk; adoption points go straight to the ledger."""
    models: dict[str, Any] = {str(m.__tablename__): m for m in (
        Unit, Correspondent, CorrespondentUnit, CorrespondentAddress, InboundMessage,
        Submission, Adoption)}
    points = PointEntry.__table__  # type: ignore[attr-defined]
    for name, make in rows(units, pieces, years).items():
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
    extra = f" (median of {repeat}, best {min(times):.3f} s)" if repeat > 1 else ""
    print(f"  {label:<40} {statistics.median(times):8.3f} s{extra}", flush=True)
    return result


# Runs the CLI in this process and leaves its peak RSS (kB) in the file named first:
# VmHWM, not ru_maxrss, which on Linux keeps the forking parent's peak across exec.
_CHILD = """
import re, sys
from mailintake.cli.entry import main
target, sys.argv = sys.argv[1], ["mailintake", *sys.argv[2:]]
try:
    main()
finally:
    status = open("/proc/self/status").read()
    with open(target, "w") as out:
        out.write(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
"""


def command(label: str, cfg: Path, args: list[str], repeat: int) -> None:
    """``mailintake ARGS`` in a process of its own, stdout to /dev/null: the median
    wall time of ``repeat`` runs and the largest peak RSS."""
    times, peaks = [], []
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "rss"
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", _CHILD, str(peak), "--config", str(cfg),
                 "--now", NOW.isoformat(), *args],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": ""})
            times.append(time.perf_counter() - started)
            peaks.append(int(peak.read_text()) / 1024)
    print(f"  {label:<40} {statistics.median(times):8.3f} s (median of {repeat}, best "
          f"{min(times):.3f} s), peak RSS {max(peaks):.0f} MB", flush=True)


def run(url: str, units: int, pieces: int, years: int, repeat: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    cfg = config(url, years)
    timed(f"bulk insert of {pieces:,} pieces", lambda: fill(engine, units, pieces, years))
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
    timed("monthly 通报 (2026-11), composed",
          lambda: ranking_table(bulletin_of(engine, cfg, month, NOW)), repeat=5)
    year = parse_period("2026")

    def yearly() -> int:
        found = build_report(engine, cfg, year, "unit", NOW)
        buffer = io.BytesIO()
        period_workbook(engine, cfg, found, buffer)
        return len(buffer.getvalue())

    size = timed("yearly Excel report (2026), in-process", yearly, repeat=repeat)
    print(f"  {'':<40} {size / 1e6:8.1f} MB workbook")
    engine.dispose()
    with tempfile.TemporaryDirectory() as folder:
        path = config_file(Path(folder), url, years)
        command("CLI bulletin --period 2026-11 (preview)", path,
                ["bulletin", "--period", "2026-11"], repeat)
        command("CLI report --period 2026 --xlsx", path,
                ["report", "--period", "2026", "--format", "json", "--xlsx",
                 str(Path(folder) / "2026.xlsx")], repeat)


def run_list(url: str, pieces: int, repeat: int) -> None:
    """``submissions list`` of ``pieces`` pieces, as JSON lines and as a table."""
    engine = make_engine(url)
    upgrade(engine)
    timed(f"bulk insert of {pieces:,} pieces", lambda: fill(engine, 500, pieces, 1))
    engine.dispose()
    with tempfile.TemporaryDirectory() as folder:
        path = config_file(Path(folder), url, 1)
        command(f"CLI submissions list ({pieces:,}), JSON", path,
                ["submissions", "list", "--format", "json"], repeat)
        command(f"CLI submissions list ({pieces:,}), table", path,
                ["submissions", "list"], repeat)


def postgresql(fn: Callable[[str], None]) -> None:
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        fn(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main() -> None:
    # As pip install does: where PYTHONDONTWRITEBYTECODE is set, every command run
    # below would compile mailintake again (see bench/ingest.py, ``compiled``).
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "mailintake", quiet=1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--pieces", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--list", type=int, default=40_000, help="pieces for submissions list")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(f"{'SQLite' if backend == 'sqlite' else 'PostgreSQL'} ({args.units} units, "
              f"{args.pieces:,} pieces over {args.years} year(s)):", flush=True)
        for job in (lambda url: run(url, args.units, args.pieces, args.years, args.runs),
                    lambda url: run_list(url, args.list, args.runs)):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as folder:
                    job(f"sqlite:///{Path(folder) / 'bench.db'}")
            else:
                postgresql(job)


if __name__ == "__main__":
    main()
