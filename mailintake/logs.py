"""Log lines for journald: one ``key=value`` line per event (logfmt).

journald stamps each line with the time and the unit, so a line carries the
level, the logger and the message, plus any ``extra={...}`` fields a caller
adds. Nothing here ever formats a password or a mail body: callers log
Message-IDs, tracking numbers and counts only (see tests/test_daemon.py).

The libraries that read mail from strangers (mail-parser, tnefparse, Pillow
…) speak about the stranger's bytes ("Email content 'alternative' not
handled"): what matters of that is recorded with the mail as its defects, so
they are heard only with ``-v``. The reading workers log the same way, to
stderr, warnings and errors only (``setup_worker``).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

#: Loggers of the libraries that read mail (see above).
READING_LIBRARIES = ("mailparser", "tnefparse", "PIL", "pillow_heif", "docx", "inscriptis",
                     "charset_normalizer", "chardet", "olefile", "msoffcrypto", "word_count")

# The attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _value(value: object) -> str:
    text = " ".join(str(value).split())  # one event, one line
    if text and all(c not in text for c in ' "=\\'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class LogfmtFormatter(logging.Formatter):
    """``level=info logger=mailintake.intake.pipeline msg="mail <a@b> filed as …"``."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            # The exception type and text only: a traceback spans many lines and
            # journald would split it into unrelated entries.
            exc = record.exc_info[1]
            fields["error"] = f"{type(exc).__name__}: {exc}"
        return " ".join(f"{key}={_value(value)}" for key, value in fields.items())


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so a second ``setup`` replaces it and leaves any other handler alone."""


def setup(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send every log line, logfmt-formatted, to ``stream`` (stdout for journald)."""
    handler = _Handler(stream or sys.stdout)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, _Handler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter (APScheduler's every job run) is noise for the administrator.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    quiet = level > logging.DEBUG
    for name in READING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1 if quiet else logging.NOTSET)


def setup_worker() -> None:
    """In a reading worker (from ``mailintake.reading.preload``): one line per event on stderr,
    warnings and errors only, the reading libraries silent."""
    setup(logging.WARNING, sys.stderr)
