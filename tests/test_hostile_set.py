"""The hostile-attachment set (``fixtures/make_hostile.py``) through the whole
pipeline, each mail in a process of its own: each gets its finding or is set
aside with its reason, peak memory stays under 300 MB, and every file written
lies inside the storage folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT

sys.path.insert(0, str(FIXTURES))
import make_hostile

MAX_RSS_MB = 300

# name: (outcome, a reason it must carry)
EXPECTED = {
    "billion_laughs": ("rejected", "document.unsafe"),
    "docx_10000_parts": ("rejected", "document.too_complex"),
    "jpeg_65500x65500": ("rejected", "picture.bomb"),
    "heic_bogus_size": ("filed", "picture.unreadable"),  # the Word file still counts
    "docm_macro": ("rejected", "document.macro"),
    "encrypted_docx": ("rejected", "document.encrypted"),
    "exe_named_docx": ("rejected", "document.corrupt"),
    "traversal_names": ("rejected", "document.corrupt"),  # "owned" is no Word file
}

# One process runs every mail, each on a fresh app and Maildir in its own
# folder, and prints what became of it; the process's peak memory (VmHWM, see
# test_reading_hostile for why not ru_maxrss) bounds every one of them.
_RUN = """
import json, re, sys
from pathlib import Path
sys.path.insert(0, "tests")
from conftest import FIXTURES, NOW, deliver, write_config
from sqlmodel import select
from mailintake.intake import pipeline
from mailintake.app import App
from mailintake.config.settings import load_config
from mailintake.store.database import session, upgrade
from mailintake.store.models import InboundMessage
from mailintake.office.registry import import_rows, read_rows
results = {}
for eml in sys.argv[2:]:
    eml = Path(eml)
    work = Path(sys.argv[1]) / eml.stem
    work.mkdir()
    config = load_config(write_config(work, f"sqlite:///{work / 'mailintake.db'}"))
    app = App.from_config(config, lambda: NOW)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    deliver(config, eml.read_bytes())
    box = app.open_mailbox()
    pipeline.run_cycle(app, box)
    box.close()
    with session(app.engine) as db:
        [row] = db.exec(select(InboundMessage)).all()
        results[eml.stem] = {"outcome": str(row.outcome), "reasons": row.reasons,
                             "error": row.error, "storage": str(app.storage.root)}
    app.engine.dispose()
peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())
print(json.dumps({"peak_mb": int(peak.group(1)) // 1024, "mails": results}))
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every hostile mail, built and run through the pipeline in one process."""
    paths = make_hostile.build_all(tmp_path_factory.mktemp("hostile_set"))
    work = tmp_path_factory.mktemp("runs")
    result = subprocess.run(
        [sys.executable, "-c", _RUN, str(work), *map(str, paths.values())],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps({"hostile_set_peak_rss_mb": found["peak_mb"]}))
    found["work"] = work
    return found


def test_the_hostile_set_is_read_in_under_300_mb(outcomes: dict[str, Any]) -> None:
    """Running every attack in one process never takes more than 300 MB."""
    assert outcomes["peak_mb"] <= MAX_RSS_MB


@pytest.mark.parametrize("name", list(EXPECTED))
def test_hostile_attachment_gets_its_reason_and_writes_only_inside_storage(
    name: str, outcomes: dict[str, Any]
) -> None:
    """Each attack ends with its finding and writes nothing outside [storage] dir."""
    found = outcomes["mails"][name]
    print(json.dumps({"mail": name, **found}, ensure_ascii=False))
    outcome, reason = EXPECTED[name]
    assert (found["outcome"], found["error"]) == (outcome, ""), found
    assert reason in found["reasons"], found
    work: Path = outcomes["work"] / name
    storage = Path(found["storage"]).resolve()
    allowed = [storage, work / "Maildir", work / "outbox"]
    for written in work.rglob("*"):
        if written.is_file() and not written.name.startswith("mailintake."):
            assert any(written.resolve().is_relative_to(a.resolve()) for a in allowed), written
