"""Mail built to hurt: each gets a finding or is set aside with its reason, in
bounded memory, and the next mail is filed as if nothing happened.

The hostile mails are built here, small on disk however large they unpack
(a 300 MB zip bomb is 300 KB; a 30 000 × 30 000 PNG is 110 KB).
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from conftest import ROOT, deliver, fixture_mail

from mailintake.app import App
from mailintake.cli.views import message_rows
from mailintake.intake import pipeline

SENDER = ("刘晓燕", "liuxy@163.com")
SUBJECT = "组织部信息（2026.11.18）我校多措并举扎实推进党的建设"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_RSS_MB = 300


def good_docx() -> bytes:
    """The Word file of fixture 02, a piece that is filed without findings."""
    from mailintake.reading.mime import parse_mail

    return parse_mail(fixture_mail("02_outlook_rfc2231_website.eml")).parts[0].payload


def mail(*files: tuple[str, str, bytes], subject: str = SUBJECT, tag: str = "x") -> bytes:
    """A plain mail from 刘晓燕 with these (name, content type, bytes) attached."""
    msg = EmailMessage()
    msg["From"] = f"{SENDER[0]} <{SENDER[1]}>"
    msg["To"] = "xxbs@126.com"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 18 Nov 2026 10:05:21 +0800"
    msg["Message-ID"] = f"<hostile-{tag}@163.com>"
    msg.set_content("您好！附件为组织部报送的网站信息，请审核。\n刘晓燕\n")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    msg.set_boundary("==hostile==")
    return msg.as_bytes(policy=default.clone(linesep="\n"))


def with_member(docx: bytes, name: str, write: Callable[[io.BufferedIOBase], object]) -> bytes:
    """``docx`` with one member replaced or added, written as a stream."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info, src.read(info))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w") as member:
            write(member)  # type: ignore[arg-type]
    return out.getvalue()


# --- the hostile mails -------------------------------------------------------------------------


def truncated_base64() -> bytes:
    """The connection dropped halfway through the Word file's base64."""
    raw = mail(("稿件.docx", DOCX, good_docx()), tag="truncated")
    start = raw.index(b"Content-Disposition: attachment")
    return raw[: start + (len(raw) - start) // 2] + b"QUJD\n"


def missing_boundary() -> bytes:
    """multipart/mixed without its boundary: the parts cannot be found."""
    raw = mail(("稿件.docx", DOCX, good_docx()), tag="boundary")
    return raw.replace(b'; boundary="==hostile=="', b"", 1)


def zip_bomb() -> bytes:
    """A .docx with a 300 MB member of zeros (about 300 KB compressed)."""
    def zeros(member: io.BufferedIOBase) -> None:
        block = bytes(1024 * 1024)
        for _ in range(300):
            member.write(block)

    return mail(("稿件.docx", DOCX, with_member(good_docx(), "word/media/image9.png", zeros)),
                tag="zipbomb")


def xxe_entity() -> bytes:
    """document.xml declares an external entity reading /etc/passwd and uses it."""
    docx = good_docx()
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        xml = archive.read("word/document.xml").decode()
    declaration = '<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    xml = re.sub(r"(<\?xml[^>]*\?>)", r"\1" + declaration, xml, count=1)
    xml = xml.replace("<w:t>", "<w:t>&xxe;", 1)
    poisoned = with_member(docx, "word/document.xml", lambda m: m.write(xml.encode()))
    return mail(("稿件.docx", DOCX, poisoned), tag="xxe")


def png_bomb(size: int = 30000) -> bytes:
    """A 30 000 × 30 000 one-bit PNG of zeros: 110 KB that would decode to 900 M pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    compressor, row = zlib.compressobj(9), bytes(1 + size // 8)
    idat = b"".join(compressor.compress(row) for _ in range(size)) + compressor.flush()
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0))
           + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return mail(("稿件.docx", DOCX, good_docx()), ("现场.png", "image/png", png), tag="pngbomb")


def many_attachments() -> bytes:
    """The Word file and 499 more attachments: 500 in all."""
    extra = [(f"附件{n}.txt", "text/plain", f"第{n}个".encode()) for n in range(1, 500)]
    return mail(("稿件.docx", DOCX, good_docx()), *extra, tag="many")


def long_header() -> bytes:
    """A subject line of 1 MB, never folded."""
    raw = mail(("稿件.docx", DOCX, good_docx()), tag="header")
    line = b"Subject: " + base64.b64encode(bytes(768 * 1024)) + b"\n"
    return re.sub(rb"Subject: [^\n]*\n(?: [^\n]*\n)*", lambda _m: line, raw, count=1)


def largest_allowed() -> bytes:
    """Not hostile, only big: a mail just under the 40 MB limit, its Word file 29 MB."""
    def photo(member: io.BufferedIOBase) -> None:
        member.write(random.Random(7).randbytes(28 * 1024 * 1024))

    return mail(("稿件.docx", DOCX, with_member(good_docx(), "word/media/image1.jpg", photo)),
                tag="largest")


# name: (builder, outcome, the reason it must carry)
HOSTILE: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "truncated_base64": (truncated_base64, "rejected", "document.corrupt"),
    "missing_boundary": (missing_boundary, "rejected", "document.missing"),
    "zip_bomb_300mb": (zip_bomb, "rejected", "document.too_large"),
    "xxe_entity": (xxe_entity, "rejected", "document.unsafe"),
    "png_30000x30000": (png_bomb, "rejected", "picture.bomb"),
    "500_attachments": (many_attachments, "rejected", "limits.attachments"),
    "1mb_header_line": (long_header, "quarantined", "limits.header_size"),
}


BUILDERS = {**{name: build for name, (build, _o, _r) in HOSTILE.items()},
            "largest_allowed_40mb": largest_allowed}


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every hostile mail, built once and written to disk."""
    folder = tmp_path_factory.mktemp("hostile")
    for name, build in BUILDERS.items():
        (folder / f"{name}.eml").write_bytes(build())
    return folder


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_mail_gets_its_reason_and_the_next_mail_is_filed(
    name: str, app: App, hostile_dir: Path
) -> None:
    """The hostile mail ends rejected or set aside with its reason; the next one is filed."""
    _build, outcome, reason = HOSTILE[name]
    deliver(app.config, (hostile_dir / f"{name}.eml").read_bytes(),
            fixture_mail("03_web126_utf8_weibo.eml"))
    box = app.open_mailbox()
    try:
        pipeline.run_cycle(app, box)
    finally:
        box.close()
    rows = {row["from"]: row for row in message_rows(app)}
    hostile, normal = rows[SENDER[1]], rows["zhangkun@qq.com"]
    assert hostile["outcome"] == outcome
    assert reason in hostile["reasons"]
    assert (normal["outcome"], normal["reasons"]) == ("filed", [])


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent
# (pytest, which built the bombs), while VmHWM belongs to the new program alone.
_MEASURE = """
import re, sys
from pathlib import Path
from mailintake.config.settings import LimitsConfig
from mailintake.reading.mail import read_mail
reading = read_mail(Path(sys.argv[1]).read_bytes(), LimitsConfig())
codes = [c for _n, c, _d in reading.document_errors + reading.file_errors]
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(peak_kb // 1024, reading.refused, *codes)
"""


@pytest.mark.parametrize("name", list(BUILDERS))
def test_hostile_mail_is_read_in_bounded_memory(name: str, hostile_dir: Path) -> None:
    """Reading a hostile mail, or the largest mail allowed, never takes more than 300 MB."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(hostile_dir / f"{name}.eml")],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
    )
    peak_mb, *codes = result.stdout.split()
    print(json.dumps({"mail": name, "peak_rss_mb": int(peak_mb), "codes": codes}))
    assert int(peak_mb) <= MAX_RSS_MB
