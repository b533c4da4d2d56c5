"""Mail built to take memory stays under 300 MB in every process, and Word XML is
parsed, never pattern-matched.

The memory bombs (``memory_bombs.py``) go through the real ``mailintake poll
--once`` on a Maildir and SQLite, each followed by an ordinary mail; every
process below it is measured (VmHWM), the main process, the readers'
forkserver, each reading worker and LibreOffice.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from memory_bombs import (
    BOMBS,
    GB,
    MAX_RSS_MB,
    ROOT,
    Member,
    deflated,
    deliver,
    docx_mail,
    docx_with,
    good_docx,
    messages,
    poll,
    setup,
    zeros_crc,
    zeros_deflated,
)

from mailintake.config.settings import LimitsConfig
from mailintake.reading import convert
from mailintake.reading.fingerprint import (
    MAX_CHARS,
    Fingerprint,
    bands,
    head_of,
    normalize_text,
    shingles,
)
from mailintake.reading.mail import read_mail
from mailintake.reading.wordzip import DocumentError, read_member

NORMAL = "03_web126_utf8_weibo.eml"
NORMAL_ID = "5e6a3f2b.7c41.19a95d3c1f7.Coremail.zhangkun@qq.com"


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_memory_bomb_stays_under_300_mb_in_every_process(name: str, tmp_path: Path) -> None:
    """The bomb ends with its outcome and reason, the next mail is filed, nothing is lost,
    and no process (main, forkserver, reading workers, LibreOffice) passes 300 MB."""
    bomb = BOMBS[name]
    if name.startswith("rtf") and shutil.which("soffice") is None:
        pytest.skip("LibreOffice is not installed")
    raw = bomb.build()
    assert len(raw) < LimitsConfig().max_message_bytes
    config = setup(tmp_path)
    deliver(config, raw, (ROOT / "fixtures" / "mail" / NORMAL).read_bytes())
    peaks, out, _err = poll(config)
    roles = peaks.by_role()
    print(name, roles)
    assert "main" in roles and "worker" in roles, roles  # measured, not assumed
    assert peaks.largest() < MAX_RSS_MB, roles
    rows = messages(config)
    mine = rows[f"memory-{_tag(raw)}"]
    reasons = mine["reasons"]
    assert isinstance(reasons, list)
    assert mine["outcome"] == bomb.outcome, mine
    if bomb.reason:
        assert bomb.reason in reasons, mine
    assert (rows[NORMAL_ID]["outcome"], rows[NORMAL_ID]["reasons"]) == ("filed", [])
    assert all(row["folder"] for row in rows.values())  # both moved out of the intake
    digest = hashlib.sha256(raw).hexdigest()
    kept = config.parent / "files" / "raw" / digest[:2] / digest[2:4] / f"{digest}.eml"
    assert kept.read_bytes() == raw  # the bomb itself is archived whole
    assert "本轮收到 2 封" in out


def _tag(raw: bytes) -> str:
    found = re.search(rb"Message-ID: <memory-([^>]+)@163.com>", raw)
    assert found is not None
    return found.group(1).decode() + "@163.com"


# --- members inflated in bounded steps ---------------------------------------------------------


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_member_lying_about_its_size_is_refused_within_a_few_megabytes(method: int) -> None:
    """A member declaring 1 KB that inflates to 1 GB (or any size, in bzip2 or LZMA) is
    corrupt, and reading it never holds more than a few MB."""
    if method == zipfile.ZIP_DEFLATED:
        bomb = Member("x", zeros_deflated(GB), declared=1024, crc=zeros_crc(GB))
    else:
        import bz2
        import lzma

        data = bytes(64 * 1024 * 1024)
        stored = bz2.compress(data) if method == zipfile.ZIP_BZIP2 else lzma.compress(
            data, format=lzma.FORMAT_ALONE)
        bomb = Member("x", stored, method=method, declared=1024)
    docx = docx_with({"word/media/image1.jpg": bomb})
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        tracemalloc.start()
        try:
            with pytest.raises(DocumentError) as refused:
                read_member(archive, archive.getinfo("word/media/image1.jpg"))
            _now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert refused.value.code == "document.corrupt"
    assert peak < 8 * 1024 * 1024


# --- Word XML: parsed with entities off, whatever the part is called or encoded ------------------

DTD = '<!DOCTYPE w:settings [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
SETTINGS = ('<w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/'
            'main"><w:zoom w:percent="100"/></w:settings>')
OVERRIDE = ('<Override PartName="/word/extra.bin" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.settings+xml"/>')


def _xml(declaration: str, codec: str, bom: bool = False) -> bytes:
    text = f'<?xml version="1.0" encoding="{declaration}"?>{DTD}{SETTINGS}'
    data = text.encode(codec)
    if bom:
        data = ("\ufeff" + text).encode(codec)
    return data


def _types_with_override() -> bytes:
    with zipfile.ZipFile(io.BytesIO(good_docx())) as archive:
        types = archive.read("[Content_Types].xml").decode()
    return types.replace("</Types>", OVERRIDE + "</Types>").encode()


def _with(name: str, data: bytes) -> bytes:
    return docx_with({name: deflated(data)})


def _document() -> str:
    with zipfile.ZipFile(io.BytesIO(good_docx())) as archive:
        return archive.read("word/document.xml").decode()


# name: the poisoned package
UNSAFE: dict[str, bytes] = {
    "upper_case_part_name": _with("word/SETTINGS.XML", _xml("UTF-8", "utf-8")),
    "mixed_case_extension": _with("word/settings.Xml", _xml("UTF-8", "utf-8")),
    "utf16_le_no_bom": _with("word/settings.xml", _xml("UTF-16", "utf-16-le")),
    "utf16_be_with_bom": _with("word/settings.xml", _xml("UTF-16", "utf-16-be", bom=True)),
    "utf8_bom": _with("word/settings.xml", _xml("UTF-8", "utf-8", bom=True)),
    "declared_gb18030": _with("word/settings.xml", _xml("GB18030", "gb18030")),
    "external_dtd_only": _with("word/settings.xml", (
        '<?xml version="1.0"?><!DOCTYPE w:settings SYSTEM "http://evil.example/x.dtd">'
        + SETTINGS).encode()),
    "xml_content_type_other_name": docx_with({
        "word/extra.bin": deflated(_xml("UTF-8", "utf-8")),
        "[Content_Types].xml": deflated(_types_with_override())}),
    "upper_case_rels": _with("word/_rels/extra.xml.RELS", _xml("UTF-8", "utf-8")),
    "styles_part_utf16": _with("word/styles.xml", _xml("UTF-16", "utf-16")),
    "main_document_utf16": _with("word/document.xml", (
        f'<?xml version="1.0" encoding="UTF-16"?>{DTD}'
        + re.sub(r"<\?xml[^>]*\?>", "", _document())).encode("utf-16")),
}


@pytest.mark.parametrize("name", list(UNSAFE))
def test_a_dtd_is_refused_whatever_the_part_is_called_or_encoded(name: str) -> None:
    """Every XML part is parsed by libxml2 with entities off: a DTD is found in a part
    named in another case, known only by its content type, or in another encoding."""
    reading = read_mail(docx_mail(UNSAFE[name], tag=f"xml-{name}"), LimitsConfig())
    assert [c for _n, c, _d in reading.document_errors] == ["document.unsafe"]
    assert not reading.documents


def test_an_unread_part_that_is_no_xml_costs_nothing_and_a_clean_file_is_read() -> None:
    """A broken part nobody reads is no DTD; the same package without it is read whole."""
    broken = _with("word/settings.xml", b"<w:settings><unclosed>")
    reading = read_mail(docx_mail(broken, tag="xml-broken"), LimitsConfig())
    assert not reading.document_errors and reading.documents
    clean = read_mail(docx_mail(good_docx(), tag="xml-clean"), LimitsConfig())
    assert clean.documents and clean.documents[0].word_count > 100


# --- the fingerprint is bounded -----------------------------------------------------------------


def test_a_long_text_is_fingerprinted_by_its_beginning_and_hashed_whole() -> None:
    """Past MAX_CHARS only the hash sees the text: the same beginning gives the same
    bands, a different end a different hash; a usual text keeps its stored hash."""
    start = "区教育局召开秋季学期信息员培训会，各校信息员参加。" * 2000
    one = Fingerprint.of(start + "结尾甲" * 100_000)
    other = Fingerprint.of(start + "结尾乙" * 100_000)
    assert one is not None and other is not None
    assert one.bands == other.bands and one.hash != other.hash
    assert len(one.normalized) <= MAX_CHARS
    assert set(one.grams) == shingles(head_of(start))
    usual = "区教育局召开二〇二六年秋季学期信息员培训会，各校信息员参加。"
    fingerprint = Fingerprint.of(usual)
    assert fingerprint is not None
    assert fingerprint.hash == hashlib.sha256(normalize_text(usual).encode()).hexdigest()
    assert list(fingerprint.bands) == bands(shingles(normalize_text(usual)))


def test_characters_that_nfkc_multiplies_are_fingerprinted_within_bounds() -> None:
    """A text of U+FDFA (18 characters each under NFKC) is fingerprinted in bounded memory."""
    tracemalloc.start()
    try:
        fingerprint = Fingerprint.of("\ufdfa" * 1_300_000)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fingerprint is not None and len(fingerprint.normalized) == MAX_CHARS
    assert peak < 64 * 1024 * 1024


# --- LibreOffice's output is capped -------------------------------------------------------------


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_a_conversion_writing_past_the_cap_gives_a_finding(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """With the output capped below what LibreOffice writes, the .doc gets a finding
    (no .docx is read) rather than a huge file."""
    rtf = b"{\\rtf1\\ansi " + b"\\par lorem ipsum dolor sit amet" * 2000 + b"}"
    assert convert.to_docx(rtf, ".rtf").startswith(b"PK")
    monkeypatch.setattr(convert, "MAX_OUTPUT_BYTES", 2000)
    with pytest.raises(convert.ConvertError) as refused:
        convert.to_docx(rtf, ".rtf")
    assert refused.value.code in ("document.too_large", "document.unconvertible")
