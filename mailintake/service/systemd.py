"""Telling systemd how the daemon is doing (Type=notify): READY once intake
runs, STATUS with the last cycle's figures, WATCHDOG while it is alive.

Outside systemd (no NOTIFY_SOCKET) every call does nothing. STATUS is for
the administrator's `systemctl status`, like the logs, so it is English (and
sdnotify sends Latin-1 only).
"""

from __future__ import annotations

import time

import sdnotify

from mailintake.intake.pipeline import CycleReport

#: Watchdog pings at most this often; WatchdogSec in the unit is far longer.
PING_SECONDS = 5.0


class Notifier:
    def __init__(self) -> None:
        self._systemd = sdnotify.SystemdNotifier()
        self._last_ping = 0.0
        self._reported: CycleReport | None = None

    def ready(self) -> None:
        self._systemd.notify("READY=1\nSTATUS=started, waiting for mail")

    def stopping(self) -> None:
        self._systemd.notify("STOPPING=1")

    def heartbeat(self, report: CycleReport | None = None) -> None:
        """Ping the watchdog; publish the figures of a cycle not reported yet."""
        now = time.monotonic()
        if now - self._last_ping >= PING_SECONDS:
            self._last_ping = now
            self._systemd.notify("WATCHDOG=1")
        if report is not None and report is not self._reported:
            self._reported = report
            self._status(report)

    def _status(self, report: CycleReport) -> None:
        sent = report.replies.sent if report.replies else 0
        self._systemd.notify(
            f"STATUS=last cycle {time.strftime('%H:%M:%S')}: {report.seen} seen, "
            f"{report.filed} filed, {report.rejected} rejected, "
            f"{report.quarantined} quarantined, {report.ignored} ignored, {sent} replies sent"
        )
