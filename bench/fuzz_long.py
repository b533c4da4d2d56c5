"""The long fuzz run: tests/test_fuzz.py with every example count multiplied.

    .venv/bin/python bench/fuzz_long.py [SCALE]    # default 25: about 24 000 mails

Not derandomized, so each run explores new mails; a failure prints the
falsifying mail like the CI run does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    scale = sys.argv[1] if len(sys.argv) > 1 else "25"
    env = {**os.environ, "MAILINTAKE_FUZZ": "long", "MAILINTAKE_FUZZ_SCALE": scale}
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
               "--hypothesis-show-statistics", str(ROOT / "tests" / "test_fuzz.py")]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
