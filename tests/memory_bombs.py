"""Mail built to take memory, and the peak memory of every process that reads it.

Each builder returns a mail under the default size limit (40 MB) that would
make some stage inflate, decode, convert or fingerprint far more than it
carries: a zip member lying about its size, a Word file of megabytes of text,
pictures whose headers claim billions of pixels, HTML bodies, winmail.dat.
The mails are built in memory with tricks that keep building them cheap
(a deflate stream of zeros is one flushed segment repeated).

``measure`` runs the real ``mailintake poll --once`` on a Maildir and a SQLite
database and samples every process below it (the main process, the readers'
forkserver and its workers, LibreOffice): each one's peak comes from VmHWM,
which the kernel keeps, so a spike between two samples is not missed.

Used by ``tests/test_hostile_memory.py`` and ``bench/memory.py``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAILINTAKE = str(Path(sys.executable).parent / "mailintake")
NOW = "--now=2026-11-19T10:00:00+08:00"
SENDER = ("刘晓燕", "liuxy@163.com")
SUBJECT = "组织部信息（2026.11.18）我校多措并举扎实推进党的建设"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MB = 1024 * 1024
#: What no process may exceed, whatever the mail (issue: "every process").
MAX_RSS_MB = 300

# --- building blocks -----------------------------------------------------------------------


def good_docx() -> bytes:
    """The Word file of fixture 02, a piece that is filed without findings."""
    from mailintake.reading.mime import parse_mail

    raw = (ROOT / "fixtures" / "mail" / "02_outlook_rfc2231_website.eml").read_bytes()
    return parse_mail(raw).parts[0].payload


def photo(width: int = 1200, height: int = 800) -> bytes:
    """A small real JPEG."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 200)).save(out, "JPEG", quality=60)
    return out.getvalue()


def mail(*files: tuple[str, str, bytes], tag: str, body: str | None = None,
         html: str | None = None, cte: str | None = None) -> bytes:
    """A mail from 刘晓燕 (registered) with these (name, content type, bytes) attached."""
    msg = EmailMessage()
    msg["From"] = f"{SENDER[0]} <{SENDER[1]}>"
    msg["To"] = "xxbs@126.com"
    msg["Subject"] = SUBJECT
    msg["Date"] = "Wed, 18 Nov 2026 10:05:21 +0800"
    msg["Message-ID"] = f"<memory-{tag}@163.com>"
    msg.set_content(body if body is not None else "您好！附件为组织部报送的网站信息，请审核。\n")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="base64")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        if cte and maintype != "text":
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name, cte=cte)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=default.clone(linesep="\n"))


@dataclass
class Member:
    """One zip member as stored: its compressed bytes and what the zip says of it."""

    name: str
    stored: bytes
    method: int = zipfile.ZIP_DEFLATED
    declared: int = 0  # the uncompressed size the zip claims
    crc: int = 0


def deflated(data: bytes) -> Member:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Member("", compressor.compress(data) + compressor.flush(), declared=len(data),
                  crc=zlib.crc32(data))


def zeros_deflated(size: int) -> bytes:
    """A raw deflate stream of ``size`` zero bytes (a multiple of 16 MB), built in
    a moment: a fully flushed segment does not refer back, so it can be repeated."""
    block = 16 * MB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return segment * (size // block) + b"\x03\x00"  # an empty final block


def zeros_crc(size: int) -> int:
    crc, block = 0, bytes(16 * MB)
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    return crc


def write_zip(members: list[Member]) -> bytes:
    """A zip of ``members`` exactly as described, sizes and methods included."""
    out, central = io.BytesIO(), io.BytesIO()
    for m in members:
        name = m.name.encode("utf-8")
        offset = out.tell()
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0x800, m.method, 0, 0x21,
                              m.crc, len(m.stored), m.declared, len(name), 0) + name + m.stored)
        central.write(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0x800, m.method,
                                  0, 0x21, m.crc, len(m.stored), m.declared, len(name), 0, 0, 0,
                                  0, 0, offset) + name)
    directory = central.getvalue()
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(directory), out.tell(), 0)
    return out.getvalue() + directory + end


def docx_with(replace: dict[str, Member], drop: tuple[str, ...] = ()) -> bytes:
    """The good Word file with members replaced or added (by name) and others dropped."""
    members = []
    with zipfile.ZipFile(io.BytesIO(good_docx())) as source:
        for info in source.infolist():
            if info.filename in replace or info.filename in drop:
                continue
            member = deflated(source.read(info))
            member.name = info.filename
            members.append(member)
    for name, member in replace.items():
        member.name = name
        members.append(member)
    return write_zip(members)


def _document_xml() -> str:
    with zipfile.ZipFile(io.BytesIO(good_docx())) as source:
        return source.read("word/document.xml").decode()


def document_with_body(body: str) -> bytes:
    """document.xml of the good Word file with ``body`` (WordprocessingML) in place of its own."""
    xml = _document_xml()
    start = xml.index("<w:body>") + len("<w:body>")
    end = xml.index("<w:sectPr")
    return (xml[:start] + body + xml[end:]).encode("utf-8")


def good_pictures() -> str:
    """The good file's two pictures with their captions (the end of its body): a
    website piece must carry its pictures in the document (seed 003)."""
    xml = _document_xml()
    body = xml[xml.index("<w:body>"):xml.index("<w:sectPr")]
    first = body.index("<w:drawing")
    start = max(body.rfind("<w:p>", 0, first), body.rfind("<w:p ", 0, first))
    return body[start:]


def docx_mail(docx: bytes, tag: str, name: str = "稿件.docx") -> bytes:
    return mail((name, DOCX, docx), ("现场.jpg", "image/jpeg", photo()), tag=tag)


# --- the bombs -----------------------------------------------------------------------------

GB = 1024 * MB


def lying_member(member_name: str) -> Callable[[], bytes]:
    """A member that says it unpacks to 1 KB and inflates to 1 GB of zeros."""
    def build() -> bytes:
        bomb = Member("", zeros_deflated(GB), declared=1024, crc=zeros_crc(GB))
        return docx_mail(docx_with({member_name: bomb}), tag=f"lying-{member_name}")
    return build


def lying_bzip2() -> bytes:
    """A picture member compressed with bzip2 (which zipfile inflates in one call):
    1 KB declared, 256 MB of zeros inside, 200 bytes stored."""
    import bz2

    compressor, block = bz2.BZ2Compressor(9), bytes(64 * MB)
    stored = b"".join(compressor.compress(block) for _ in range(4)) + compressor.flush()
    bomb = Member("", stored, method=zipfile.ZIP_BZIP2, declared=1024, crc=0)
    return docx_mail(docx_with({"word/media/image1.jpg": bomb}), tag="lying-bzip2")


def _paragraphs(text: str, count: int) -> str:
    run = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
    return run * count


def text_one_paragraph() -> bytes:
    """3.9 MB of Chinese text in one paragraph of document.xml (1.3 M characters)."""
    rng = random.Random(16)
    chars = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(1300))
    body = f"<w:p><w:r><w:t>{chars * 1000}</w:t></w:r></w:p>" + good_pictures()
    return docx_mail(docx_with({"word/document.xml": deflated(document_with_body(body))}),
                     tag="text-one")


def text_many_paragraphs() -> bytes:
    """3.9 MB of document.xml in 100 000 one-character paragraphs."""
    # The good file's pictures and captions are 4 more: 100 000 paragraphs, the most read.
    body = _paragraphs("字", 100_000 - 4) + good_pictures()
    return docx_mail(docx_with({"word/document.xml": deflated(document_with_body(body))}),
                     tag="text-many")


def text_empty_paragraphs() -> bytes:
    """3.9 MB of document.xml in 650 000 empty paragraphs: the most elements a tree can get."""
    body = "<w:p/>" * 650_000
    return docx_mail(docx_with({"word/document.xml": deflated(document_with_body(body))}),
                     tag="text-empty")


def text_nfkc_expanding() -> bytes:
    """1.3 M characters that NFKC turns into 18 each (U+FDFA), 3.9 MB of document.xml."""
    body = f"<w:p><w:r><w:t>{chr(0xFDFA) * 1_300_000}</w:t></w:r></w:p>" + good_pictures()
    return docx_mail(docx_with({"word/document.xml": deflated(document_with_body(body))}),
                     tag="text-nfkc")


def text_table_cells() -> bytes:
    """3.9 MB of document.xml as one table of 60 000 cells, a few characters each."""
    cell = "<w:tc><w:p><w:r><w:t>第一二</w:t></w:r></w:p></w:tc>"
    rows = f"<w:tr>{cell * 20}</w:tr>" * 3000
    body = f"<w:tbl>{rows}</w:tbl>" + good_pictures()
    return docx_mail(docx_with({"word/document.xml": deflated(document_with_body(body))}),
                     tag="text-table")


def padded_png(size: int) -> bytes:
    """A valid 100 × 100 PNG followed by ``size`` bytes of zeros (as a picture part)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (100, 100), (200, 60, 60)).save(out, "PNG")
    return out.getvalue() + bytes(size)


def docx_many_big_pictures() -> bytes:
    """Declared honestly: 19 pictures of 5 MB each (95 MB unpacked) in a 100 KB file."""
    png = padded_png(5 * MB)
    body = "".join(
        f'<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/'
        f'drawingml/2006/wordprocessingDrawing"><a:graphic xmlns:a="http://schemas.'
        f'openxmlformats.org/drawingml/2006/main"><a:graphicData><a:blip r:embed="rIdP{n}" '
        f'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/>'
        f"</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
        for n in range(19))
    with zipfile.ZipFile(io.BytesIO(good_docx())) as source:
        rels = source.read("word/_rels/document.xml.rels").decode()
    extra = "".join(
        f'<Relationship Id="rIdP{n}" Type="http://schemas.openxmlformats.org/officeDocument/'
        f'2006/relationships/image" Target="media/big{n}.jpg"/>' for n in range(19))
    rels = rels.replace("</Relationships>", extra + "</Relationships>")
    replace = {"word/document.xml": deflated(document_with_body(body)),
               "word/_rels/document.xml.rels": deflated(rels.encode())}
    replace.update({f"word/media/big{n}.jpg": deflated(png) for n in range(19)})
    return docx_mail(docx_with(replace), tag="pictures-in-docx")


def base64_attachment() -> bytes:
    """A 29 MB attachment in base64 (39 MB of mail): decoded once, kept once."""
    data = random.Random(29).randbytes(29 * MB)
    return mail(("稿件.docx", DOCX, good_docx()), ("视频.mp4", "video/mp4", data), tag="base64")


def quoted_printable_attachment() -> bytes:
    """12 MB of zero bytes as quoted-printable ("=00" each): 37 MB of mail."""
    return mail(("稿件.docx", DOCX, good_docx()), ("数据.bin", "application/octet-stream",
                                                 bytes(12 * MB)), tag="qp",
                cte="quoted-printable")


def broken_base64() -> bytes:
    """A 29 MB attachment whose base64 is broken every line (the lenient decoder's path)."""
    data = base64.encodebytes(random.Random(7).randbytes(28 * MB)).replace(b"\n", b"!\n")
    raw = mail(("稿件.docx", DOCX, good_docx()), ("视频.mp4", "video/mp4", b"x"), tag="badb64")
    return raw.replace(base64.encodebytes(b"x").strip(), data.strip(), 1)


def many_attachments() -> bytes:
    """59 attachments of 500 KB each, the Word file first: 39 MB of mail."""
    rng = random.Random(59)
    files = [(f"附件{n}.bin", "application/octet-stream", rng.randbytes(500 * 1024))
             for n in range(58)]
    return mail(("稿件.docx", DOCX, good_docx()), ("现场.jpg", "image/jpeg", photo()), *files,
                tag="many")


def html_many_elements() -> bytes:
    """An HTML-only body of 28 MB: a million small paragraphs."""
    html = "<html><body>" + "<p>字<b>b</b></p>" * 1_500_000 + "</body></html>"
    return mail(("稿件.docx", DOCX, good_docx()), body="", html=html, tag="html-many")


def html_deep_nesting() -> bytes:
    """An HTML-only body of 20 MB of <div>s nested a million deep."""
    html = "<html><body>" + "<div>字" * 1_000_000 + "</div>" * 1_000_000 + "</body></html>"
    return mail(("稿件.docx", DOCX, good_docx()), body="", html=html, tag="html-deep")


def plain_body_unlabelled() -> bytes:
    """A plain-text body of 28 MB of GB18030 with no charset (detected, not labelled)."""
    text = ("教育信息报送" * 2_400_000).encode("gb18030")
    raw = mail(("稿件.docx", DOCX, good_docx()), body="BODY", tag="plain-big")
    head, _sep, rest = raw.partition(b"\n\nBODY")
    head = head.replace(b'Content-Type: text/plain; charset="utf-8"',
                        b"Content-Type: text/plain")
    head = head.replace(b"Content-Transfer-Encoding: 7bit", b"Content-Transfer-Encoding: 8bit")
    return head + b"\n\n" + text + rest


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, *chunks: bytes) -> bytes:
    """A PNG claiming ``width`` × ``height`` one-bit pixels, with a token IDAT."""
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + b"".join(chunks) + _png_chunk(b"IDAT", zlib.compress(bytes(64)))
            + _png_chunk(b"IEND", b""))


def pixel_bombs() -> bytes:
    """Pictures whose headers claim billions of pixels, one of each format."""
    from PIL import Image

    def saved(fmt: str, **kw: object) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (64, 64)).save(out, fmt, **kw)
        return out.getvalue()

    gif = bytearray(saved("GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    bmp = bytearray(saved("BMP"))
    bmp[18:26] = struct.pack("<ii", 60000, 60000)
    jpeg = bytearray(photo())
    at = jpeg.index(b"\xff\xc0")
    jpeg[at + 5:at + 9] = struct.pack(">HH", 65500, 65500)
    files = [("a.png", "image/png", png_header(60000, 60000)),
             ("b.gif", "image/gif", bytes(gif)), ("c.bmp", "image/bmp", bytes(bmp)),
             ("d.jpg", "image/jpeg", bytes(jpeg))]
    return mail(("稿件.docx", DOCX, good_docx()), *files, tag="pixels")


def png_text_chunks() -> bytes:
    """PNGs whose zTXt and iCCP chunks inflate to 1 GB each."""
    zeros = zlib.compress(bytes(64 * MB), 9) * 1  # one chunk: Pillow caps one, not many
    ztxt = _png_chunk(b"zTXt", b"Comment\x00\x00" + zeros)
    iccp = _png_chunk(b"iCCP", b"icc\x00\x00" + zeros)
    files = [(f"p{n}.png", "image/png", png_header(100, 100, *([ztxt] * 16), iccp))
             for n in range(3)]
    return mail(("稿件.docx", DOCX, good_docx()), *files, tag="png-text")


def many_pictures() -> bytes:
    """59 attached photos of 4000 × 3000 (header only, never decoded)."""
    big = photo(4000, 3000)
    files = [(f"现场{n}.jpg", "image/jpeg", big) for n in range(59)]
    return mail(("稿件.docx", DOCX, good_docx()), *files, tag="many-pictures")


def _tnef_attr(level: int, attr_id: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", checksum)


def tnef(attachments: list[tuple[str, bytes]]) -> bytes:
    """An Outlook winmail.dat carrying ``attachments`` (title, data)."""
    out = [struct.pack("<IH", 0x223E9F78, 0), _tnef_attr(1, 0x00089006, b"\x01\x00\x00\x00")]
    for title, data in attachments:
        out.append(_tnef_attr(2, 0x00069002, bytes(4)))  # attRenddata starts an attachment
        out.append(_tnef_attr(2, 0x00018010, title.encode() + b"\x00"))  # attAttachTitle
        out.append(_tnef_attr(2, 0x0006800F, data))  # attAttachData
    return b"".join(out)


def tnef_big_attachment() -> bytes:
    """winmail.dat with one 28 MB attachment inside."""
    data = random.Random(28).randbytes(28 * MB)
    return mail(("winmail.dat", "application/ms-tnef",
                 tnef([("稿件.docx", good_docx()), ("video.mp4", data)])), tag="tnef-big")


def tnef_many_attachments() -> bytes:
    """winmail.dat with 200 000 tiny attachments (7 MB)."""
    files = [("稿件.docx", good_docx())] + [(f"f{n}.txt", b"x") for n in range(200_000)]
    return mail(("winmail.dat", "application/ms-tnef", tnef(files)), tag="tnef-many")


def rtf_huge_text() -> bytes:
    """An .rtf of 20 MB of text for LibreOffice to convert into a huge .docx."""
    text = ("{\\rtf1\\ansi " + "\\par 教育信息 lorem ipsum dolor sit amet" * 600_000 + "}")
    return mail(("稿件.rtf", "application/rtf", text.encode("utf-8")),
                ("现场.jpg", "image/jpeg", photo()), tag="rtf")


@dataclass(frozen=True)
class Bomb:
    build: Callable[[], bytes]
    # What the mail ends as: its outcome and a reason it must carry ("" for none).
    outcome: str
    reason: str


BOMBS: dict[str, Bomb] = {
    # A .docx member that lies about its size, in every place that is unpacked.
    "docx_lying_picture": Bomb(lying_member("word/media/image1.jpg"), "rejected",
                               "document.corrupt"),
    "docx_lying_document_xml": Bomb(lying_member("word/document.xml"), "rejected",
                                    "document.corrupt"),
    "docx_lying_styles_xml": Bomb(lying_member("word/styles.xml"), "rejected",
                                  "document.corrupt"),
    "docx_lying_bzip2": Bomb(lying_bzip2, "rejected", "document.corrupt"),
    # Word files of megabytes of text, through the walk and the fingerprint.
    "docx_text_one_paragraph": Bomb(text_one_paragraph, "filed", ""),
    "docx_text_many_paragraphs": Bomb(text_many_paragraphs, "filed", ""),
    "docx_text_empty_paragraphs": Bomb(text_empty_paragraphs, "rejected",
                                       "document.too_complex"),
    "docx_text_nfkc": Bomb(text_nfkc_expanding, "filed", ""),
    "docx_text_table": Bomb(text_table_cells, "filed", ""),
    "docx_95mb_pictures": Bomb(docx_many_big_pictures, "filed", ""),
    # Parts decoded from the mail.
    "base64_29mb": Bomb(base64_attachment, "filed", ""),
    "quoted_printable_12mb": Bomb(quoted_printable_attachment, "filed", ""),
    "broken_base64_28mb": Bomb(broken_base64, "filed", ""),
    "59_attachments": Bomb(many_attachments, "filed", ""),
    # Bodies turned into text.
    "html_million_paragraphs": Bomb(html_many_elements, "filed", ""),
    "html_million_deep": Bomb(html_deep_nesting, "filed", ""),
    "plain_body_28mb_unlabelled": Bomb(plain_body_unlabelled, "filed", ""),
    # Pictures, read from their headers.
    "pixel_bombs": Bomb(pixel_bombs, "rejected", "picture.bomb"),
    "png_text_chunks": Bomb(png_text_chunks, "filed", "picture.unreadable"),
    "59_pictures_12mp": Bomb(many_pictures, "filed", ""),
    # Outlook's winmail.dat.
    "tnef_28mb_attachment": Bomb(tnef_big_attachment, "filed", ""),
    "tnef_200000_attachments": Bomb(tnef_many_attachments, "rejected", "document.missing"),
    # LibreOffice.
    "rtf_for_libreoffice": Bomb(rtf_huge_text, "rejected", "document.unconvertible"),
}


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Peaks:
    """Each process's peak RSS (MB) by pid, with its role."""

    roles: dict[int, str] = field(default_factory=dict)
    mb: dict[int, int] = field(default_factory=dict)

    def by_role(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for pid, mb in self.mb.items():
            found.setdefault(self.roles.get(pid, "other"), []).append(mb)
        return {role: sorted(peaks, reverse=True) for role, peaks in found.items()}

    def largest(self) -> int:
        return max(self.mb.values(), default=0)


def _children_files(pid: int) -> list[Path]:
    """The ``children`` file of each of ``pid``'s threads; none once it has exited."""
    try:
        return list(Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:  # the process ended between being listed and being read
        return []


def _role(pid: int, parent: str) -> str:
    """What a process below ``poll`` is, from its command line and its parent's role."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "other"
    if b"soffice" in cmdline or b"oosplash" in cmdline or parent == "libreoffice":
        return "libreoffice"
    if b"forkserver" in cmdline:
        return "worker" if parent == "forkserver" else "forkserver"
    return "other"


class Sampler:
    """Every process below ``pid``, looked at every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.peaks = Peaks()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> Peaks:
        self._done.set()
        self._thread.join()
        return self.peaks

    def _tree(self) -> list[int]:
        """Every process below ``pid`` (itself first), each given its role when first seen."""
        found, todo = [], [self.pid]
        roles = self.peaks.roles
        roles.setdefault(self.pid, "main")
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in _children_files(pid):
                try:
                    children = [int(c) for c in task.read_text().split()]
                except OSError:
                    continue
                for child in children:
                    if roles.get(child, "other") == "other":  # just forked: look again
                        roles[child] = _role(child, roles[pid])
                todo += children
        return found

    def _run(self) -> None:
        while True:
            for pid in self._tree():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        mb = int(line.split()[1]) // 1024
                        self.peaks.mb[pid] = max(mb, self.peaks.mb.get(pid, 0))
            if self._done.wait(self.interval):
                return


CONFIG = """
[office]
name = "测试教育局办公室"
addresses = ["office@example.test"]

[mailbox]
kind = "maildir"
path = "Maildir"

[smtp]
kind = "folder"
path = "outbox"
from = "教育信息报送 <xxbs@126.com>"

[database]
url = "sqlite:///{db}"

[storage]
dir = "files"

[[calendar.semesters]]
name = "2026秋"
week1_monday = 2026-09-07
"""


def cli(config: Path, *args: str, timeout: float = 120) -> str:
    done = subprocess.run([MAILINTAKE, "--config", str(config), NOW, *args],
                          capture_output=True, text=True, check=False, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"mailintake {' '.join(args)} exited {done.returncode}:\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def setup(folder: Path) -> Path:
    """A Maildir, a SQLite database with the fixture units, a reply folder: the config."""
    import mailbox

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "mailintake.toml"
    config.write_text(CONFIG.format(db=folder / "mailintake.db"), encoding="utf-8")
    mailbox.Maildir(folder / "Maildir", create=True)
    cli(config, "db", "upgrade")
    cli(config, "units", "import", str(ROOT / "fixtures" / "units.csv"))
    return config


def deliver(config: Path, *raws: bytes) -> None:
    import mailbox

    box = mailbox.Maildir(config.parent / "Maildir", create=False)
    for raw in raws:
        box.add(raw)


def poll(config: Path, timeout: float = 300) -> tuple[Peaks, str, str]:
    """``mailintake poll --once``, sampled: (peaks, stdout, stderr); raises if it failed."""
    proc = subprocess.Popen([MAILINTAKE, "--config", str(config), NOW, "poll", "--once"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    sampler = Sampler(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        peaks = sampler.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"poll --once exited {proc.returncode}:\n{out[-2000:]}\n{err[-3000:]}")
    return peaks, out, err


def messages(config: Path) -> dict[str, dict[str, object]]:
    """Every mail the intake recorded, by Message-ID."""
    rows = [json.loads(line) for line in
            cli(config, "messages", "list", "--format", "json").splitlines() if line.strip()]
    return {str(row["message_id"]): row for row in rows}
