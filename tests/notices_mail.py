"""Mails as Foxmail sends them, for the notices' rules tests: a GBK subject and
body, the Word file (python-docx, ``pieces.word_file``) named in GBK, and
optionally the mail it forwards (message/rfc822); plus the few steps every
such test takes: deliver, run a cycle at a given ``now``, read the replies.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import SHANGHAI
from office_pieces import make_app

from mailintake.app import App

_serial = itertools.count(1)
_BOUNDARY = "----=_001_NextPart{n:012d}_=----"


def _gbk_word(text: str) -> str:
    return f"=?gbk?B?{base64.b64encode(text.encode('gbk')).decode('ascii')}?="


def foxmail(
    sender: str,
    name: str,
    subject: str,
    document: bytes | None,
    *,
    body: str = "各位老师：\n    您好！现报送本单位稿件一篇，请查收。",
    sent: datetime | None = None,
    forwards: bytes | None = None,
) -> bytes:
    """A Foxmail mail from ``name`` <``sender``>: GBK subject and body, the Word file
    named after the subject, and ``forwards`` (a whole mail) carried as message/rfc822."""
    n = next(_serial)
    boundary = _BOUNDARY.format(n=n)
    when = (sent or datetime(2026, 11, 19, 9, 0, tzinfo=SHANGHAI)).astimezone(SHANGHAI)
    lines = [
        f"Date: {when:%a, %d %b %Y %H:%M:%S %z}",
        f'From: "{_gbk_word(name)}" <{sender}>',
        'To: "xxbs@126.com" <xxbs@126.com>',
        f"Subject: {_gbk_word(subject)}",
        "X-Mailer: Foxmail 7.2.25.228[cn]",
        "Mime-Version: 1.0",
        f"Message-ID: <2026111909{n:010d}@{sender.split('@')[1]}>",
        f'Content-Type: multipart/mixed;\n\tboundary="{boundary}"',
        "",
        "This is a multi-part message in MIME format.",
        "",
        f"--{boundary}",
        'Content-Type: text/plain;\n\tcharset="gbk"',
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(body.encode("gbk")).decode("ascii").rstrip("\n"),
        "",
    ]
    if document is not None:
        filename = _gbk_word(f"{subject[:30]}.docx")
        lines += [
            f"--{boundary}",
            "Content-Type: application/vnd.openxmlformats-officedocument."
            f'wordprocessingml.document;\n\tname="{filename}"',
            "Content-Transfer-Encoding: base64",
            f'Content-Disposition: attachment;\n\tfilename="{filename}"',
            "",
            base64.encodebytes(document).decode("ascii").rstrip("\n"),
            "",
        ]
    if forwards is not None:
        lines += [
            f"--{boundary}",
            "Content-Type: message/rfc822",
            "Content-Disposition: attachment",
            "",
            forwards.decode("utf-8").replace("\r\n", "\n").rstrip("\n"),
            "",
        ]
    lines.append(f"--{boundary}--")
    return "\r\n".join(line.replace("\n", "\r\n") for line in lines).encode("utf-8") + b"\r\n"


Office = Callable[..., App]


@pytest.fixture
def office(tmp_path: Path, db_url: str) -> Iterator[Office]:
    """Makes the app of an office with the fixture units and ``extra`` config, on each
    backend; every app made is closed after the test."""
    made: list[App] = []

    def make(extra: str = "") -> App:
        app = make_app(tmp_path / f"office{len(made)}", db_url, extra,
                       lambda: datetime.now(SHANGHAI))
        made.append(app)
        return app

    yield make
    for app in made:
        app.engine.dispose()



def replies(app: App) -> list[EmailMessage]:
    """Every reply written to the outbox folder, oldest first."""
    folder = app.config.smtp.path or Path()
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    ]
