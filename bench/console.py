"""How fast the web console answers on a big office: N units, M pieces.

Seeds a fresh database (SQLite in a temporary folder, and/or a throwaway
PostgreSQL database on 127.0.0.1:5432) with ``--units`` units and ``--pieces``
pieces (texts of common Chinese characters; one piece in 500 holds the rare
word 防汛; one in ten is rejected with a finding), then asks the real
console (Starlette, through its TestClient, logged in as a clerk) for

- the pieces list (one of its first five pages),
- a filtered list (one unit's accepted pieces; a unit kind within a month),
- a piece's page,
- a search for a rare two-character word, and for a common one,

``--runs`` times each after a warm-up, and prints the median and p95 in ms
(target: ≤ 150 ms median, ≤ 400 ms p95). The seeded pieces have no Word file
on disk, so a piece's page here costs its queries and template, not mammoth.

    .venv/bin/python bench/console.py --units 2000 --pieces 50000
    .venv/bin/python bench/console.py --backend sqlite --pieces 500000
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa
from starlette.testclient import TestClient

from mailintake.app import App
from mailintake.config.settings import load_config
from mailintake.store import accounts
from mailintake.store.database import upgrade
from mailintake.store.models import Finding, InboundMessage, Submission, Unit
from mailintake.web.app import create_app
from mailintake.web.passwords import hash_password

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
POOL = (
    "学校教师学生开展活动组织召开会议工作推进落实安全教育课堂教学家长社区志愿服务读书"
    "运动体育艺术科技实验劳动党建培训交流研讨检查评比表彰总结部署要求提高能力质量水平"
    "发展特色品牌文化建设管理制度规范服务保障健康心理成长快乐阳光校园班级年级同学老师"
)
KINDS = ["学校", "幼儿园", "部门", "学院", "社区"]
COLUMNS = ["general", "website", "weibo", "weekly"]
RARE, COMMON = "防汛", "学校"
START = datetime(2024, 9, 1, tzinfo=UTC)
CONFIG = """
[office]
name = "测试教育局办公室"
[mailbox]
kind = "maildir"
path = "Maildir"
[smtp]
kind = "folder"
path = "outbox"
from = "教育信息报送 <xxbs@126.com>"
[database]
url = "{url}"
[storage]
dir = "files"
"""


@contextmanager
def database(backend: str, folder: Path, keep: str = "") -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'console.db'}"
        return
    if keep:  # seeded once, kept for the next run
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 (keep,)).fetchone():
                admin.execute(f'CREATE DATABASE "{keep}"')
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{keep}"
        return
    name = f"mi_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def text(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(POOL, k=length))


def seed(app: App, units: int, pieces: int, batch: int = 5000) -> None:
    rng = random.Random(20261203)
    engine = app.engine
    with engine.begin() as db:
        db.execute(sa.insert(Unit), [
            {"name": f"第{n:04d}单位", "aliases": [], "kind": KINDS[n % len(KINDS)],
             "active": True, "leader": "", "created_at": START} for n in range(1, units + 1)])
    done = 0
    while done < pieces:
        size = min(batch, pieces - done)
        messages, submissions, findings = [], [], []
        for n in range(done + 1, done + size + 1):
            when = START + timedelta(minutes=n * 2)
            messages.append({
                "id": n, "mailbox": "bench", "source_key": f"k{n}", "folder": "INBOX",
                "raw_sha256": f"{n:064x}", "size": 300_000, "received_at": when,
                "outcome": "filed", "reasons": [], "defects": [], "error": "",
                "target_folder": "已处理", "message_id": f"m{n}@bench", "subject": "",
                "from_addr": f"u{n % units}@bench.test", "from_name": "",
                "business_key": f"mail:{n}"})
            body = text(rng, rng.randint(250, 500))
            if n % 500 == 0:
                cut = rng.randint(0, len(body))
                body = body[:cut] + RARE + body[cut:]
            rejected = n % 10 == 0
            submissions.append({
                "id": n, "tracking_no": f"{when:%Y%m%d}-{n:05d}", "message_id": n,
                "unit_id": rng.randint(1, units), "column": COLUMNS[n % len(COLUMNS)],
                "title": text(rng, rng.randint(8, 20)), "author": "", "status":
                "rejected" if rejected else "accepted", "word_count": len(body),
                "picture_count": 1, "text": body, "pictures": [], "received_at": when,
                "counted_at": when, "text_hash": "", "subject_key": "", "version": 1})
            if rejected:
                findings.append({"submission_id": n, "code": "pictures.too_few",
                                 "severity": "reject", "message": "网站信息栏目要求至少 1 张图片",
                                 "hint": ""})
        with engine.begin() as db:
            db.execute(sa.insert(InboundMessage), messages)
            db.execute(sa.insert(Submission), submissions)
            if findings:
                db.execute(sa.insert(Finding), findings)
        done += size
        print(f"\r  seeded {done}/{pieces}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    with engine.begin() as db:
        if engine.dialect.name == "postgresql":
            db.exec_driver_sql(
                "SELECT setval('submission_id_seq', (SELECT max(id) FROM submission))")
            db.exec_driver_sql(
                "SELECT setval('inbound_message_id_seq', (SELECT max(id) FROM inbound_message))")
        else:
            db.exec_driver_sql("ANALYZE")
    if engine.dialect.name == "postgresql":
        # As autovacuum would have by then: statistics, and the GIN index's pending
        # list merged (a search otherwise reads the whole list at every query).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.exec_driver_sql("VACUUM ANALYZE")


def measure(name: str, runs: int, ask: Callable[[int], str], check: Callable[[str], bool]
            ) -> tuple[str, float, float]:
    for warm in range(3):
        assert check(ask(warm)), f"{name}: unexpected answer"
    times = []
    for n in range(runs):
        began = time.perf_counter()
        answer = ask(n)
        times.append((time.perf_counter() - began) * 1000)
        assert check(answer), f"{name}: unexpected answer"
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    return name, statistics.median(times), p95


def run(backend: str, units: int, pieces: int, runs: int, keep: str = "") -> None:
    with (tempfile.TemporaryDirectory() as scratch,
          database(backend, Path(scratch), keep) as url):
        folder = Path(scratch)
        (folder / "mailintake.toml").write_text(CONFIG.format(url=url), encoding="utf-8")
        app = App.from_config(load_config(folder / "mailintake.toml"))
        upgrade(app.engine)
        with app.engine.connect() as db:
            seeded = db.exec_driver_sql("SELECT count(*) FROM submission").scalar_one()
        if seeded and seeded != pieces:
            sys.exit(f"{keep} holds {seeded} pieces, not {pieces}: drop it or ask for {seeded}")
        if not seeded:
            began = time.perf_counter()
            seed(app, units, pieces)
            print(f"{backend}: {units} units, {pieces} pieces seeded in "
                  f"{time.perf_counter() - began:.0f} s", flush=True)
        if accounts.user(app.engine, "bench") is None:
            accounts.add_user(app.engine, "bench", "clerk", hash_password("bench-password"))
        client = TestClient(create_app(app), follow_redirects=False)
        login = client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', login)
        assert token is not None
        client.post("/login", data={"username": "bench", "password": "bench-password",
                                    "csrf": token.group(1)})
        rng = random.Random(7)
        rows = lambda body: body.count('<td><a href="/pieces/') > 0  # noqa: E731

        def get(path: str, **params: str) -> str:
            answer = client.get(path, params=params)
            assert answer.status_code == 200, (path, params, answer.status_code)
            return answer.text

        month = START + timedelta(minutes=pieces)  # the middle of the seeded months
        results = [
            measure("pieces list", runs, lambda n: get("/pieces", page=str(n % 5 + 1)), rows),
            measure("filtered: a unit's accepted pieces", runs, lambda _n: get(
                "/pieces", unit=str(rng.randint(1, units)), status="accepted"),
                lambda _body: True),
            measure("filtered: unit kind within a month", runs, lambda n: get(
                "/pieces", kind=KINDS[n % len(KINDS)], **{"from": f"{month:%Y-%m}-01",
                                                          "to": f"{month:%Y-%m}-28"}), rows),
            measure("a piece's page", runs, lambda _n: get(
                f"/pieces/{_number(app, rng.randint(1, pieces))}"),
                lambda body: "登记号" in body),
            measure(f"search: rare word {RARE}", runs, lambda _n: get("/pieces", q=RARE), rows),
            measure(f"search: common word {COMMON}", runs,
                    lambda n: get("/pieces", q=COMMON, page=str(n % 3 + 1)), rows),
        ]
        print(f"{'':44} {'median':>8} {'p95':>8}")
        for name, median, p95 in results:
            mark = "" if median <= 150 and p95 <= 400 else "   (over the target)"
            print(f"{backend + ': ' + name:44} {median:7.1f}ms {p95:7.1f}ms{mark}", flush=True)
        client.close()
        app.engine.dispose()


def _number(_app: App, n: int) -> str:
    when = START + timedelta(minutes=n * 2)
    return f"{when:%Y%m%d}-{n:05d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--pieces", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--keep", metavar="NAME", default="",
                        help="PostgreSQL: seed database NAME once and keep it for later runs")
    args = parser.parse_args()
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        run(backend, args.units, args.pieces, args.runs, args.keep)


if __name__ == "__main__":
    main()
