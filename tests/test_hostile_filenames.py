"""Hostile attachment names through the whole pipeline: a Maildir, SQLite and a
storage folder. Each name is generated here: every bidirectional control
character, mixtures with zero-width and other format characters, and long
Chinese names with long or multi-byte extensions, sent the way Outlook
(RFC 2231) and Foxmail (RFC 2047) write them.

What the clerk sees is asserted: the piece is filed, the mail moved to 已处理,
the file published under 单位/<单位>/<年-月>/ with its bytes whole, under a
name that shows its real extension and fits the disk, and the stored record
carries the same name.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, NOW, deliver, write_config
from sqlmodel import select
from test_reading_hostile import DOCX, SENDER, good_docx
from test_replies import cycle

from mailintake.app import App
from mailintake.cli.views import message_rows, submission_rows
from mailintake.config.settings import load_config
from mailintake.intake.pipeline import CycleReport
from mailintake.office.registry import import_rows, read_rows
from mailintake.storage import MAX_NAME_BYTES, sanitize_filename
from mailintake.store.database import session, upgrade
from mailintake.store.models import Attachment

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c"]
OTHER_INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e",
                   "\U000e0041", "\x7f", "\x1b", "\x85"]
PAYLOAD = b"MZ\x90\x00 this is not a picture " * 20


def payload(number: int) -> bytes:
    """The bytes of attachment ``number``: each its own, to find it on disk by content."""
    return PAYLOAD + f"#{number}".encode()


def visible(text: str) -> str:
    """``text`` as a person sees it: spaces plain and single, nothing invisible."""
    text = "".join(" " if c.isspace() else c for c in text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Cs"))
    return re.sub(" +", " ", text).strip(" ._")


def shapes() -> Iterator[tuple[str, str, str]]:
    """(id, name as sent, the extension it must keep)."""
    for number, char in enumerate(BIDI):
        yield f"bidi-U+{ord(char):04X}", f"现场照片{number}{char}gpj.exe", ".exe"
    for number, char in enumerate(OTHER_INVISIBLE):
        yield f"invisible-U+{ord(char):04X}", f"活动{number}{char}照片.exe{char}", ".exe"
    yield "override-and-isolates", "\u2067\u202e校园\u200f开放日\u2069\u061cfdp.scr", ".scr"
    yield "every-bidi-at-once", "".join(BIDI) + "报告" + "".join(reversed(BIDI)) + "cod.bat", ".bat"
    yield "override-in-extension", "照片.j\u202egp", ".jgp"
    yield "cjk-300", "图" * 300 + ".jpg", ".jpg"
    yield "cjk-multibyte-extension", "现场照片" * 40 + ".文档资料", ".文档资料"
    yield "cjk-ten-char-extension", "稿" * 200 + ".一二三四五六七八九十", ".一二三四五六七八九十"
    yield "astral-extension", "稿" * 200 + "." + "".join(chr(0x20000 + i) for i in range(10)), (
        "." + "".join(chr(0x20000 + i) for i in range(10)))
    yield "emoji-extension", "📷" * 100 + ".🖼️🖼️🖼️", ".🖼️🖼️🖼️"
    yield "exactly-255-bytes", "图" * 83 + "ab.txt", ".txt"  # 249 + 6 = 255
    yield "one-byte-over", "图" * 83 + "xyz.txt", ".txt"
    yield "long-with-override", "\u202e" + "现场照片" * 30 + "gpj.exe", ".exe"
    yield "line-breaks-and-tabs", "活动\r\n\t照片\n.exe", ".exe"
    yield "ideographic-spaces", "照片\u3000\u3000\u3000\u3000\u3000.jpg\u2003.exe", ".exe"


SHAPES = list(shapes())


def rfc2047_part(name: str, data: bytes = PAYLOAD) -> bytes:
    """An attachment whose name is RFC 2047 words in quotes, as Foxmail writes it."""
    words, chunk = [], b""
    for char in name:
        piece = char.encode("utf-8")
        if len(chunk) + len(piece) > 45:
            words.append(chunk)
            chunk = b""
        chunk += piece
    words.append(chunk)
    encoded = "\r\n ".join(f"=?UTF-8?B?{base64.b64encode(w).decode()}?=" for w in words)
    assert name.encode("utf-8") == b"".join(words)
    return (f'Content-Type: application/octet-stream;\r\n name="{encoded}"\r\n'
            f'Content-Disposition: attachment;\r\n filename="{encoded}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(data)


def rfc2231_part(name: str, data: bytes = PAYLOAD) -> bytes:
    """The same attachment named with RFC 2231 continuations, as Outlook writes it."""
    quoted = [c if c.isalnum() and c.isascii() else "".join(f"%{b:02X}" for b in
              c.encode("utf-8")) for c in name]
    pieces = ["".join(quoted[i:i + 8]) for i in range(0, len(quoted), 8)]  # whole characters
    params = ";\r\n".join(f" filename*{n}*={'utf-8' + chr(39) * 2 if n == 0 else ''}{p}"
                          for n, p in enumerate(pieces))
    return ("Content-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment;\r\n{params}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(data)


def mail_with(part: bytes, title: str = "我校多措并举扎实推进党的建设", tag: str = "x") -> bytes:
    """刘晓燕's website piece (filed without findings) with one more attachment."""
    def word(text: str) -> str:
        return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="

    head = (f"From: {word(SENDER[0])} <{SENDER[1]}>\r\n"
            "To: xxbs@126.com\r\n"
            f"Subject: {word(f'组织部信息（2026.11.18）{title}')}\r\n"
            "Date: Wed, 18 Nov 2026 10:05:21 +0800\r\n"
            f"Message-ID: <names-{tag}@163.com>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="==names=="\r\n\r\n').encode()
    text = (b"--==names==\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n") + base64.encodebytes(
                "您好！附件为组织部报送的网站信息，请审核。\n".encode())
    docx = (f"--==names==\r\nContent-Type: {DOCX}\r\n"
            'Content-Disposition: attachment; filename="gaojian.docx"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(good_docx())
    return (head + text + docx + b"--==names==\r\n" + part + b"--==names==--\r\n")


def new_office(folder: Path) -> App:
    """An office on a Maildir, SQLite and a storage folder, the fixture units registered."""
    app = App.from_config(load_config(write_config(folder, f"sqlite:///{folder / 'db'}")),
                          lambda: NOW)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    return app


@pytest.fixture
def office(tmp_path: Path) -> Iterator[App]:
    app = new_office(tmp_path)
    yield app
    app.engine.dispose()


def published(app: App) -> dict[str, Path]:
    """Every file in the readable tree, by name."""
    return {p.name: p for p in (app.storage.root / "单位").rglob("*") if p.is_file()}


def assert_clean_tree(app: App) -> None:
    """No name anywhere under the storage folder hides characters or is too long."""
    for path in app.storage.root.rglob("*"):
        assert visible(path.name) == path.name, repr(path.name)
        assert len(path.name.encode("utf-8")) <= MAX_NAME_BYTES, path.name


@dataclass
class Filed:
    """One mail carrying every shape, filed: what the clerk and the disk show."""

    app: App
    report: CycleReport
    on_disk: dict[bytes, Path]  # published file by its content
    stored: set[str]  # the file names on record


@pytest.fixture(scope="module", params=["rfc2231", "rfc2047"])
def filed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Filed]:
    """Every shape attached to one mail, named the Outlook or the Foxmail way, filed."""
    make = rfc2231_part if request.param == "rfc2231" else rfc2047_part
    app = new_office(tmp_path_factory.mktemp(request.param))
    parts = b"--==names==\r\n".join(make(name, payload(n)) for n, (_i, name, _e)
                                      in enumerate(SHAPES))
    deliver(app.config, mail_with(parts))
    report = cycle(app)
    on_disk = {p.read_bytes(): p for p in published(app).values()}
    with session(app.engine) as db:
        stored = {a.filename for a in db.exec(select(Attachment)).all()}
    yield Filed(app, report, on_disk, stored)
    app.engine.dispose()


def test_the_mail_with_every_hostile_name_is_filed_and_moved(filed: Filed) -> None:
    """The piece is filed, its mail moved to 已处理, and no name on disk hides anything."""
    assert (filed.report.filed, filed.report.quarantined, filed.report.rejected) == (1, 0, 0)
    [message] = message_rows(filed.app)
    assert (message["outcome"], message["folder"], message["moved"]) == ("filed", "已处理", True)
    assert message["error"] == ""
    [piece] = submission_rows(filed.app)
    assert piece["status"] == "accepted"
    assert len(filed.on_disk) == len(SHAPES) + 1  # every attachment and the Word file
    assert_clean_tree(filed.app)


@pytest.mark.parametrize(("number", "name", "extension"),
                         [(n, name, e) for n, (_i, name, e) in enumerate(SHAPES)],
                         ids=[i for i, _n, _e in SHAPES])
def test_hostile_name_is_published_as_it_really_is(
    filed: Filed, number: int, name: str, extension: str
) -> None:
    """The file is published whole under a visible name that keeps its real extension
    and fits in 255 bytes; the record holds the same name."""
    path = filed.on_disk[payload(number)]
    ours = path.name
    assert ours.endswith(extension)
    assert ours in filed.stored  # the record and the disk give the same name
    assert path.parent.parent.name == "2026-11"
    assert visible(ours) == ours
    assert len(ours.encode("utf-8")) <= MAX_NAME_BYTES
    # Nothing visible is lost but what the length forced (a control character that
    # the header decoder made a space is a space: compared without spaces).
    clean = visible(name).replace(" ", "")
    assert clean.startswith(ours[: -len(extension)].replace(" ", "").rstrip("._"))
    if len(visible(name).encode("utf-8")) <= MAX_NAME_BYTES:
        assert ours.replace(" ", "") == clean


TITLES = {
    "override": "我校\u202e开放日活动\u202e圆满结束",
    "isolates": "我校\u2066开放日\u2067活动\u2068圆满\u2069结束",
    "every-bidi-character": "我校" + "".join(BIDI) + "开放日活动圆满结束",
}


@pytest.mark.parametrize("title", list(TITLES.values()), ids=list(TITLES))
def test_bidi_characters_in_the_title_never_reach_the_folder_name(office: App, title: str
                                                                  ) -> None:
    """A title with bidirectional controls gives a piece folder without them, files inside."""
    deliver(office.config, mail_with(rfc2231_part("照片.exe"), title=title))
    assert cycle(office).filed == 1
    files = published(office)
    assert files["照片.exe"].read_bytes() == PAYLOAD
    folder = files["照片.exe"].parent.name
    assert "我校开放日活动圆满结束" in folder and visible(folder) == folder
    assert_clean_tree(office)


def test_names_that_clean_to_the_same_name_are_both_published(office: App) -> None:
    """Two different files named alike once cleaned are both kept, the second numbered."""
    other = PAYLOAD[::-1]
    deliver(office.config, mail_with(rfc2231_part("照片.exe") + b"--==names==\r\n"
                                     + rfc2231_part("照片\u202e.exe", other)))
    assert cycle(office).filed == 1
    files = published(office)
    assert files["照片.exe"].read_bytes() == PAYLOAD
    assert files["照片 (2).exe"].read_bytes() == other


def test_a_unit_folder_that_cannot_be_written_costs_the_copy_not_the_piece(
    office: App, caplog: pytest.LogCaptureFixture
) -> None:
    """When the unit's folder cannot be made (a file stands in its place), the piece is
    filed once, its mail moved to 已处理, and the files are still in the store."""
    (office.storage.root / "单位").mkdir(parents=True)
    (office.storage.root / "单位" / "组织部").write_bytes(b"not a folder")
    deliver(office.config, mail_with(rfc2231_part("照片.exe")))
    assert cycle(office).filed == 1
    [message] = message_rows(office)
    assert (message["outcome"], message["folder"], message["moved"]) == ("filed", "已处理", True)
    [piece] = submission_rows(office)
    assert piece["status"] == "accepted"
    assert cycle(office).seen == 0  # nothing left behind to take again
    with session(office.engine) as db:
        stored = [office.storage.root / a.stored_path for a in db.exec(select(Attachment))]
    assert PAYLOAD in {path.read_bytes() for path in stored}
    assert any("were not published" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("limit", [255, 143, 64])
@pytest.mark.parametrize(("name", "extension"), [(n, e) for _i, n, e in SHAPES],
                         ids=[i for i, _n, _e in SHAPES])
def test_a_cleaned_name_fits_any_limit_and_cleans_to_itself(
    name: str, extension: str, limit: int
) -> None:
    """On a file system with shorter names (eCryptfs: 143 bytes) the name still fits,
    cut on a character boundary, and cleaning it again changes nothing."""
    clean = sanitize_filename(name, limit=limit)
    assert len(clean.encode("utf-8")) <= limit
    assert visible(clean) == clean
    assert clean.endswith(extension) or len(extension.encode()) >= limit // 2
    assert sanitize_filename(clean, limit=limit) == clean
    clean.encode("utf-8").decode("utf-8")  # whole characters only
