"""`mailintake run` speaks systemd's notify protocol (the unit is Type=notify)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import FIXTURES, deliver, fixture_mail, write_config

from mailintake.config.settings import load_config


def _messages(sock: socket.socket, until: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(until in m for m in seen):
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            seen.append(sock.recv(4096).decode("utf-8"))
        except TimeoutError:
            break
    return seen


def test_run_reports_ready_status_watchdog_and_stopping(tmp_path: Path) -> None:
    """systemd hears READY, the cycle figures in STATUS, watchdog pings, then STOPPING."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}",
                          extra="").read_text(encoding="utf-8")
    path = tmp_path / "mailintake.toml"
    path.write_text(config.replace('path = "Maildir"', 'path = "Maildir"\npoll_interval = 1'),
                    encoding="utf-8")
    mailintake = Path(sys.executable).with_name("mailintake")
    subprocess.run([mailintake, "--config", path, "db", "upgrade"], check=True,
                   capture_output=True)
    subprocess.run([mailintake, "--config", path, "units", "import", FIXTURES / "units.csv"],
                   check=True, capture_output=True)
    deliver(load_config(path), fixture_mail("02_outlook_rfc2231_website.eml"))
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        env = {**os.environ, "NOTIFY_SOCKET": address}
        log = (tmp_path / "run.log").open("wb")
        daemon = subprocess.Popen([mailintake, "--config", path, "run"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=log)
        try:
            seen = _messages(sock, "1 filed", timeout=30)
            seen += _messages(sock, "WATCHDOG=1", timeout=10)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
            seen += _messages(sock, "STOPPING=1", timeout=5)
        finally:
            daemon.kill()
            daemon.wait()
            log.close()
    text = "\n".join(seen)
    assert text.index("READY=1") < text.index("1 filed")
    assert "WATCHDOG=1" in text and "STOPPING=1" in text
