"""How fast mailintake takes in mail, against a throwaway Dovecot, in one run.

    .venv/bin/python bench/ingest.py [-n 300] [--latency 50] [--big-mb 40]

Loads N realistic submissions (``bench/submissions.py``, ~340 KB each) into
the test Dovecot and prints:

  (a) a bare imapclient FETCH of all of them (the floor),
  (b) getmail6 fetching the same mails into a Maildir (a fetch-only peer;
      ``pip install getmail6`` into the venv, it is no dependency of ours),
  (c) `mailintake poll --once` filing them all (SQLite, replies to a folder),
  (d) c/a, c/b and mails per second,
  (e) peak RSS of the intake's processes while a mail of --big-mb MB goes
      through (limits raised so it is read, not refused),
  (f) with `mailintake run` in IDLE, arrival-to-filed latency p50 / p95 over
      --latency mails APPENDed one by one.

Times are wall-clock seconds on this machine; run it on a quiet one. The
package's bytecode is compiled first, as installing it does (see ``compiled``).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from dovecot import Dovecot  # noqa: E402  (tests and bench are not packages)
from submissions import submission  # noqa: E402

BIN = Path(sys.executable).parent
MAILINTAKE = [str(BIN / "mailintake")]
NOW = "--now=2026-11-19T10:00:00+08:00"
PASSWORD_ENV = "MAILINTAKE_BENCH_IMAP_PASSWORD"  # noqa: S105  (a variable name)
BATCH = 50
#: How often ``Memory`` looks at the intake's processes.
SAMPLE_SECONDS = 0.1


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# ------------------------------------------------------------------ (a)


def bare_fetch(d: Dovecot) -> int:
    """Every body in INBOX, BATCH per FETCH, as a client that does nothing else would."""
    total = 0
    client = IMAPClient(d.host, port=d.port, ssl=False)
    client.login(d.user, d.password)
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    for start in range(0, len(uids), BATCH):
        data = client.fetch(uids[start:start + BATCH], ["BODY.PEEK[]"])
        total += sum(len(item[b"BODY[]"]) for item in data.values())
    client.logout()
    return total


# ------------------------------------------------------------------ (b)


def getmail(d: Dovecot, work: Path) -> int:
    """getmail6 into a Maildir; as root it insists on delivering as another user."""
    home = work / "getmail"
    maildir = home / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    user_line = ""
    if os.geteuid() == 0:
        user_line = "user = nobody"
        for path in (maildir, *(maildir / s for s in ("new", "cur", "tmp"))):
            shutil.chown(path, "nobody")
    (home / "getmailrc").write_text(f"""
[retriever]
type = SimpleIMAPRetriever
server = {d.host}
port = {d.port}
username = {d.user}
password = {d.password}
mailboxes = ("INBOX",)

[destination]
type = Maildir
path = {maildir}/
{user_line}

[options]
read_all = true
delete = false
verbose = 0
""")
    command = [str(BIN / "getmail"), "--rcfile", str(home / "getmailrc"), "--getmaildir", str(home)]
    subprocess.run(command, check=True, capture_output=True)
    return len(list((maildir / "new").iterdir()))


# --------------------------------------------------------------- (c) (e) (f)


def write_config(work: Path, d: Dovecot, limits: str = "") -> Path:
    path = work / "mailintake.toml"
    path.write_text(f"""
[office]
name = "测试教育局办公室"

[mailbox]
kind = "imap"
host = "{d.host}"
port = {d.port}
security = "none"
username = "{d.user}"
password_env = "{PASSWORD_ENV}"
batch_size = {BATCH}

[smtp]
kind = "folder"
path = "outbox"
from = "教育信息报送 <xxbs@126.com>"

[database]
url = "sqlite:///{work / 'mailintake.db'}"

[storage]
dir = "files"

[[calendar.semesters]]
name = "2026秋"
week1_monday = 2026-09-07

{limits}
""", encoding="utf-8")
    cli(path, "db", "upgrade")
    cli(path, "units", "import", str(ROOT / "fixtures" / "units.csv"))
    return path


def cli(config: Path, *args: str) -> str:
    done = subprocess.run([*MAILINTAKE, "--config", str(config), NOW, *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mailintake {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


class Memory:
    """Peak RSS of a process and everything below it, sampled every SAMPLE_SECONDS.

    Each process's own peak comes from VmHWM, which the kernel keeps, so a
    short spike between two samples is not missed; the sum of all processes'
    RSS at one moment is sampled. The sampling runs beside what it measures,
    on the same two cores: every 20 ms it took 6 % of one core from (c).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, tuple[str, int]] = {}
        self.total = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo += [int(c) for c in task.read_text().split()]
                except OSError:
                    continue
        return found

    def _sample(self) -> None:
        while not self._done.is_set():
            total = 0
            for pid in self._tree():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if "VmHWM" not in fields:
                    continue
                hwm, rss = (int(fields[k].split()[0]) * 1024 for k in ("VmHWM", "VmRSS"))
                role = "worker" if b"forkserver" in cmdline else "main"
                if pid != self.pid and role == "main":
                    continue  # not ours (getmail's children do not run here)
                self.peaks[pid] = (role, max(hwm, self.peaks.get(pid, ("", 0))[1]))
                total += rss
            self.total = max(self.total, total)
            self._done.wait(SAMPLE_SECONDS)

    def report(self) -> str:
        main = max((peak for role, peak in self.peaks.values() if role == "main"), default=0)
        workers = [peak for role, peak in self.peaks.values() if role == "worker"]
        mb = 1024 * 1024
        return (f"main {main / mb:.0f} MB, largest worker/forkserver "
                f"{max(workers, default=0) / mb:.0f} MB, all processes at once "
                f"{self.total / mb:.0f} MB")


def poll_once(config: Path) -> tuple[float, str, Memory]:
    started = time.perf_counter()
    proc = subprocess.Popen([*MAILINTAKE, "--config", str(config), NOW, "poll", "--once"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = Memory(proc.pid)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    memory.stop()
    if proc.returncode != 0:
        raise SystemExit(f"poll --once failed:\n{err[-3000:]}")
    return elapsed, out.strip(), memory


def recorded(db_file: Path, message_id: str) -> bool:
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=10) as db:
        row = db.execute("SELECT 1 FROM inbound_message WHERE message_id = ?",
                         (message_id,)).fetchone()
    return row is not None


def wait_recorded(db_file: Path, message_id: str, timeout: float = 60) -> float:
    deadline = time.perf_counter() + timeout
    while not recorded(db_file, message_id):
        if time.perf_counter() > deadline:
            raise SystemExit(f"{message_id} was not filed within {timeout} s")
        time.sleep(0.005)
    return time.perf_counter()


def idle_latency(d: Dovecot, work: Path, count: int) -> list[float]:
    config = write_config(work, d)
    db_file = work / "mailintake.db"
    proc = subprocess.Popen([*MAILINTAKE, "--config", str(config), NOW, "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        d.append(submission(100_000, tag="warm"))
        wait_recorded(db_file, "warm-100000@bench.example.test")
        time.sleep(1.0)
        latencies = []
        for n in range(count):
            raw = submission(200_000 + n, tag="idle")
            d.append(raw)
            arrived = time.perf_counter()
            filed = wait_recorded(db_file, f"idle-{200_000 + n}@bench.example.test")
            latencies.append(filed - arrived)
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    return latencies


@contextmanager
def dovecot_with(raws: list[bytes]) -> Iterator[Dovecot]:
    """A fresh Dovecot with ``raws`` in INBOX (MULTIAPPEND, 25 at a time)."""
    with Dovecot() as d:
        for start in range(0, len(raws), 25):
            d.append_many(raws[start:start + 25])
        yield d


def measure_throughput(raws: list[bytes], work: Path) -> None:
    with dovecot_with(raws) as d:
        bare = min(timed(lambda: bare_fetch(d)) for _ in range(3))
        print(f"(a) bare imapclient FETCH      {bare:6.2f} s")
        peer = timed(lambda: getmail(d, work))
        print(f"(b) getmail6 into a Maildir    {peer:6.2f} s")
        config = write_config(work, d)
        ours, summary, memory = poll_once(config)
        print(f"(c) mailintake poll --once     {ours:6.2f} s   ({summary})")
        print(f"(d) c/a = {ours / bare:.1f}   c/b = {ours / peer:.2f}   "
              f"{len(raws) / ours:.0f} mails/s")
        print(f"    peak RSS during (c): {memory.report()}")


def measure_big_mail(raws: list[bytes], work: Path, big_mb: int) -> None:
    video = os.urandom(int(big_mb * 1024 * 1024 * 3 / 4) - 400_000)
    big = submission(900_000, tag="big", extra=video)
    limits = (f"[limits]\nmax_message_bytes = {(big_mb + 8) * 1024 * 1024}\n"
              f"max_attachment_bytes = {(big_mb + 8) * 1024 * 1024}\n")
    work_e = work / "e"
    work_e.mkdir()
    with dovecot_with([big, *raws[:10]]) as d:
        elapsed, summary, memory = poll_once(write_config(work_e, d, limits))
    print(f"(e) a {len(big) / 1024 / 1024:.0f} MB mail and 10 others in {elapsed:.1f} s "
          f"({summary})\n    peak RSS: {memory.report()}")


def measure_latency(work: Path, count: int) -> None:
    work_f = work / "f"
    work_f.mkdir()
    with Dovecot() as d:
        latencies = idle_latency(d, work_f, count)
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    worst = max(latencies)
    print(f"(f) IDLE arrival-to-filed over {len(latencies)} mails: "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {worst * 1000:.0f} ms")


def compiled() -> None:
    """Compile mailintake's bytecode, as ``pip install`` does and imapclient's and
    getmail6's already is. This checkout is installed in editable mode, and where
    PYTHONDONTWRITEBYTECODE is set (CI, this sandbox) every start of the command
    would otherwise compile all its modules again, a tenth of a second."""
    compileall.compile_dir(ROOT / "mailintake", quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="submissions (default 300)")
    parser.add_argument("--latency", type=int, default=50, help="mails for (f) (default 50)")
    parser.add_argument("--big-mb", type=int, default=40, help="size of the big mail for (e)")
    parser.add_argument("--skip", default="", help="parts to skip: c (a-d), e, f")
    args = parser.parse_args()
    os.environ[PASSWORD_ENV] = Dovecot.password
    compiled()
    work = Path(tempfile.mkdtemp(prefix="mailintake-bench-"))
    work.chmod(0o755)
    try:
        print(f"generating {args.n} submissions ...", file=sys.stderr)
        raws = [submission(n) for n in range(args.n)]
        size = sum(map(len, raws))
        print(f"{args.n} submissions, {size / args.n / 1024:.0f} KB each on average\n")
        if "c" not in args.skip:
            measure_throughput(raws, work)
        if "e" not in args.skip:
            measure_big_mail(raws, work, args.big_mb)
        if "f" not in args.skip:
            measure_latency(work, args.latency)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
