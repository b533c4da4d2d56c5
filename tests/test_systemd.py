"""The systemd unit an administrator installs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

UNIT = ROOT / "systemd" / "mailintake.service"
INSTALLED = "/opt/mailintake/.venv/bin/mailintake"


@pytest.fixture
def unit_here(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's mailintake, so verify can run it."""
    here = Path(sys.executable).with_name("mailintake")
    copy = tmp_path / "mailintake.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, str(here)),
                    encoding="utf-8")
    return copy


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False)


def test_unit_passes_systemd_analyze_verify(unit_here: Path) -> None:
    """`systemd-analyze verify` accepts the unit: no unknown keys, no bad values."""
    result = _analyze("verify", str(unit_here))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_unit_is_sandboxed(unit_here: Path) -> None:
    """The unit's exposure score, offline, stays in systemd's OK band (below 2.0)."""
    result = _analyze("security", "--offline=true", str(unit_here))
    score = float(result.stdout.rsplit("level for", 1)[1].split(":")[1].split()[0])
    assert score < 2.0, result.stdout[-400:]


def test_unit_declares_what_the_daemon_relies_on() -> None:
    """Type=notify, its own user, credentials for passwords, restart on failure, a watchdog."""
    text = UNIT.read_text(encoding="utf-8")
    for line in ("Type=notify", "DynamicUser=yes", "StateDirectory=mailintake",
                 "LoadCredential=imap-password:", "Restart=on-failure", "WatchdogSec=",
                 "ProtectSystem=strict", "SystemCallFilter=@system-service", "MemoryMax="):
        assert line in text
