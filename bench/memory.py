"""Peak memory of every process of `mailintake poll --once`, for each memory bomb.

    .venv/bin/python bench/memory.py [NAME ...]

Each bomb of ``tests/memory_bombs.py`` (a mail under the size limit built to
make some stage inflate, decode, convert or fingerprint too much) is put in a
fresh Maildir with SQLite, followed by one ordinary mail, and read by the real
command. Every process below it is sampled every 20 ms for its VmHWM (the
kernel's own peak, so a spike between samples is not missed): the main
process, the readers' forkserver, each reading worker, LibreOffice. One line
per bomb: the peaks in MB by process, the outcome and the seconds taken.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from memory_bombs import BOMBS, MAX_RSS_MB, deliver, messages, poll, setup  # noqa: E402

NORMAL = ROOT / "fixtures" / "mail" / "03_web126_utf8_weibo.eml"
ROLES = ("main", "forkserver", "worker", "libreoffice")


def main(names: list[str]) -> int:
    print(f"{'bomb':<28} {'mail MB':>7} {'main':>5} {'fork':>5} {'workers':>11} "
          f"{'soffice':>7} {'s':>5}  outcome")
    worst = 0
    with tempfile.TemporaryDirectory(prefix="mailintake-memory-") as folder:
        for name in names or list(BOMBS):
            raw = BOMBS[name].build()
            config = setup(Path(folder) / name)
            deliver(config, raw, NORMAL.read_bytes())
            started = time.perf_counter()
            peaks, _out, _err = poll(config)
            elapsed = time.perf_counter() - started
            roles = peaks.by_role()
            row = next(r for k, r in messages(config).items() if k.startswith("memory-"))
            workers = "/".join(str(mb) for mb in roles.get("worker", [])) or "-"
            soffice = str(max(roles.get("libreoffice", [0]))) if "libreoffice" in roles else "-"
            print(f"{name:<28} {len(raw) / 1024 / 1024:7.1f} {max(roles.get('main', [0])):5} "
                  f"{max(roles.get('forkserver', [0])):5} {workers:>11} {soffice:>7} "
                  f"{elapsed:5.1f}  {row['outcome']} {','.join(map(str, row['reasons']))}",
                  flush=True)
            worst = max(worst, peaks.largest())
    print(f"largest peak of any process: {worst} MB (limit {MAX_RSS_MB} MB)")
    return 0 if worst < MAX_RSS_MB else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
