"""Reading what schools really send: every client's Chinese MIME, Word files, pictures.

The client fixtures (``fixtures/mail/clients/``) carry one piece of 人文学院 as
Foxmail, Outlook, QQ mail, 126 web mail and an iPhone send it; each must read
exactly as a person sees it, character for character.
"""

from __future__ import annotations

import base64
import binascii
import io
import pickle
import re
import shutil
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import docx
import msoffcrypto.format.ooxml
import olefile
import pytest
from conftest import FIXTURES, deliver
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from mailintake.app import App
from mailintake.config.settings import LimitsConfig
from mailintake.intake import pipeline
from mailintake.reading import mimetree, payloads
from mailintake.reading.convert import ConvertError, to_docx
from mailintake.reading.mail import Reading, read_mail
from mailintake.reading.mime import parse_mail
from mailintake.rules import CATALOGUE
from mailintake.store.database import session
from mailintake.store.models import Attachment, Submission

CLIENTS = FIXTURES / "mail" / "clients"
SUBJECT = "人文学院信息（2026.11.18）“喆思讲坛”邀请赵镕教授谈经典阅读"
DOC = f"{SUBJECT}.docx"
PHOTO = "讲坛现场（张堃摄）.jpg"
# The Word file as a reader sees it: title, text, the table row by row, both captions.
TEXT = """“喆思讲坛”邀请赵镕教授谈经典阅读
11月17日下午，人文学院“喆思讲坛”第十二期在图书馆报告厅举行。南京大学文学院赵镕教授以“经典阅读与青年成长”为题作专题报告，学院师生200余人到场聆听。
本期讲坛安排如下：
时间\t环节\t主讲人
14:30\t开场致辞\t王堃
14:40\t专题报告\t赵镕
16:00\t互动交流\t李喆
图 1 赵镕教授作专题报告
报告会上，赵镕教授结合自己四十年的读书经历，从“为什么读经典”“读哪些经典”“怎样读经典”三个方面，深入浅出地讲解了经典阅读的方法，勉励同学们沉下心来读原著、读原文。
图为互动环节同学们踊跃提问
互动环节，同学们踊跃提问，赵镕教授一一作答。学院党委书记王堃主持报告会并作总结。（张堃）"""
# 字数 as Word counts it: each Chinese character and full-width mark one, "14:30" one.
WORDS = 277
# (width, height, floating, caption) of the two pictures in the Word file.
DOC_PICTURES = [(1600, 1200, False, "图 1 赵镕教授作专题报告"),
                (1200, 800, True, "图为互动环节同学们踊跃提问")]
MAIL_TEXT = "老师好：\n    附件是人文学院报送的网站信息一篇，请审核。\n\n人文学院  张堃"

# file: (subject, files, pictures outside the Word file as (name, width, height), body)
EXPECTED = {
    "12_foxmail_gbk_8bit.eml": (SUBJECT, [DOC], [], MAIL_TEXT),
    "13_outlook_rfc2231_continued.eml": (SUBJECT, [DOC, PHOTO], [(PHOTO, 1600, 1200)], MAIL_TEXT),
    "14_outlook_winmail_dat.eml": (SUBJECT, [DOC, PHOTO], [(PHOTO, 1600, 1200)], MAIL_TEXT),
    "15_qqmail_gb18030.eml": (
        SUBJECT, [DOC, PHOTO], [(PHOTO, 1600, 1200)],
        "王䶮老师：\n    您好！附件是人文学院的稿件和一张现场照片，请审核。\n\n张堃",
    ),
    "16_web126_utf8_base64.eml": (SUBJECT, [DOC], [], MAIL_TEXT),
    "17_iphone_heic_inline.eml": (
        SUBJECT, ["IMG_0231.HEIC", "IMG_0232.HEIC", "IMG_0233.JPG", DOC],
        # A portrait HEIC (rotated by HEIF itself) and a JPEG stored sideways (EXIF 6).
        [("IMG_0231.HEIC", 1600, 1200), ("IMG_0232.HEIC", 1200, 1600),
         ("IMG_0233.JPG", 900, 1200)],
        MAIL_TEXT + "\n\n发自我的iPhone",
    ),
    "18_forwarded_as_attachment.eml": (
        f"转发：{SUBJECT}", [DOC, PHOTO], [(PHOTO, 1600, 1200)],
        "王老师好，转发李喆同学的稿件，请审核。\n张堃\n\n"
        "张老师好：\n    讲坛的稿子和照片写好了，您看看。\n李喆",
    ),
}
LIMITS = LimitsConfig()


def read(name: str) -> Reading:
    return read_mail((CLIENTS / name).read_bytes(), LIMITS)


def check_piece(reading: Reading) -> None:
    [document] = reading.documents
    assert document.title == "“喆思讲坛”邀请赵镕教授谈经典阅读"
    assert document.text == TEXT
    assert document.word_count == WORDS
    assert [(p.width, p.height, p.floating, p.caption) for p in document.pictures] == DOC_PICTURES
    assert document.captions == ["图 1 赵镕教授作专题报告", "图为互动环节同学们踊跃提问"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_client_reads_exactly_as_a_person_sees_it(name: str) -> None:
    """Subject, sender, file names, body, Word text, 字数 and pictures decode character
    for character, whatever the client did to the Chinese."""
    subject, files, pictures, body = EXPECTED[name]
    reading = read(name)
    mail = reading.mail
    assert mail.subject == subject
    assert (mail.from_name, mail.from_addr) == ("张堃", "zhangkun@qq.com")
    assert [p.filename for p in mail.parts] == files
    assert mail.body == body
    assert "\ufffd" not in mail.subject + mail.body + "".join(files)
    check_piece(reading)
    assert [(p.filename, p.width, p.height) for p in reading.pictures] == pictures
    assert len(reading.all_pictures) == 2 + len(pictures)
    assert not reading.document_errors and not reading.file_errors


def test_a_reading_is_plain_data_that_crosses_processes() -> None:
    """What was read survives pickling unchanged, so worker processes can hand it over."""
    reading = read("17_iphone_heic_inline.eml")
    assert pickle.loads(pickle.dumps(reading)) == reading  # noqa: S301 - our own bytes


def test_outlook_winmail_dat_is_unpacked_into_its_files() -> None:
    """Outlook's winmail.dat never reaches the clerk: its Word file and photo do."""
    reading = read("14_outlook_winmail_dat.eml")
    assert [(p.filename, p.origin) for p in reading.mail.parts] == [
        (DOC, "winmail.dat"), (PHOTO, "winmail.dat")]


def test_forwarded_mail_is_read_from_inside() -> None:
    """A piece forwarded as an attachment counts with its inner files and sender."""
    reading = read("18_forwarded_as_attachment.eml")
    [inner] = reading.mail.forwarded
    assert (inner.from_name, inner.from_addr, inner.subject) == ("李喆", "lizhe@163.com", SUBJECT)
    assert {p.origin for p in reading.mail.parts} == {"forwarded"}


def test_iphone_photos_in_the_body_count_as_pictures() -> None:
    """Photos an iPhone shows in the mail body (Content-ID) are pictures of the piece."""
    reading = read("17_iphone_heic_inline.eml")
    inline = [p for p in reading.mail.parts if p.inline]
    assert [p.content_id != "" for p in inline] == [True, True, True]
    assert [(p.source, p.format) for p in reading.pictures] == [
        ("inline", "HEIF"), ("inline", "HEIF"), ("inline", "JPEG")]


def test_raw_8bit_gbk_headers_are_recorded_as_defects_yet_read() -> None:
    """Foxmail's raw 8-bit GBK headers decode fully, and mail-parser's complaints are kept."""
    reading = read("12_foxmail_gbk_8bit.eml")
    assert any("AddressHeaderDefect" in d for d in reading.mail.defects)
    assert any("CharsetDecodeDefect" in d for d in reading.mail.defects)


# --- legacy Word and WPS ---------------------------------------------------------------------

LEGACY = ["19_foxmail_legacy_doc.eml", "20_foxmail_kingsoft_wps.eml"]


def _soffice_or_skip() -> None:
    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        pytest.skip("LibreOffice (libreoffice-writer-nogui) is not installed: "
                    ".doc/.wps conversion cannot be tested here")


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_word_and_wps_read_like_the_docx(name: str) -> None:
    """A .doc or Kingsoft .wps is converted by LibreOffice and reads as the .docx did."""
    _soffice_or_skip()
    reading = read(name)
    suffix = ".doc" if "doc" in name else ".wps"
    assert [p.filename for p in reading.mail.parts] == [f"{SUBJECT}{suffix}"]
    check_piece(reading)
    assert reading.documents[0].converted_from == suffix


def test_legacy_word_without_libreoffice_asks_for_docx(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """Where LibreOffice is not installed, a .doc gets the finding that asks for a .docx."""
    monkeypatch.setenv("PATH", str(tmp_path))
    reading = read(LEGACY[0])
    assert [(n, c) for n, c, _d in reading.document_errors] == [(f"{SUBJECT}.doc",
                                                                 "document.legacy")]
    assert "另存为” .docx" in CATALOGUE["document.legacy"].hint


def _orphans() -> list[str]:
    """Processes of a conversion whose temporary folder is gone: left behind by a kill.
    (A conversion running elsewhere at the same time still has its folder.)"""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        for folder in re.findall(r"(/[^\x00\s]*?mailintake-convert-[^/\x00\s]+)", command):
            if not Path(folder).exists():
                found.append(proc.name)
    return found


def test_a_conversion_that_hangs_is_stopped_whole_at_its_timeout() -> None:
    """LibreOffice that takes too long is killed with all its children, and the .doc
    gets the finding that it could not be converted."""
    _soffice_or_skip()
    data = parse_mail((CLIENTS / LEGACY[0]).read_bytes()).parts[0].payload
    with pytest.raises(ConvertError) as caught:
        to_docx(data, ".doc", timeout=0.3)
    assert caught.value.code == "document.unconvertible"
    for _ in range(50):  # SIGKILL is delivered at once, but dying takes a moment
        if not _orphans():
            break
        time.sleep(0.05)
    assert _orphans() == []


# --- Word files that cannot be taken -----------------------------------------------------------


def lecture_docx() -> bytes:
    return next(p.payload for p in read("16_web126_utf8_base64.eml").mail.parts)


def mail_with(filename: str, data: bytes, ctype: str = "application/octet-stream") -> bytes:
    """A plain UTF-8 mail from 张堃 carrying one attachment."""
    return (
        "From: =?utf-8?B?5byg5aCD?= <zhangkun@qq.com>\n"
        f"Subject: =?utf-8?B?{base64.b64encode(SUBJECT.encode()).decode()}?=\n"
        "Message-ID: <t@example.test>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain; charset=utf-8\n\n附件请查收。\n--b\n"
        f"Content-Type: {ctype}\nContent-Transfer-Encoding: base64\n"
        f"Content-Disposition: attachment; filename*=utf-8''{quote(filename)}\n\n"
        f"{base64.encodebytes(data).decode()}--b--\n"
    ).encode()


def encrypted_docx() -> bytes:
    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(lecture_docx())).encrypt("123456", out)
    return out.getvalue()


def macro_docx() -> bytes:
    """The lecture with a VBA project added, as Word saves a .docm renamed to .docx."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(lecture_docx())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macros")
    return out.getvalue()


def encrypted_doc() -> bytes:
    """A .doc with Word's "encrypted" flag set in its WordDocument stream."""
    source = parse_mail((CLIENTS / LEGACY[0]).read_bytes()).parts[0].payload
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "locked.doc")
        path.write_bytes(source)
        with olefile.OleFileIO(str(path), write_mode=True) as ole:
            stream = bytearray(ole.openstream("WordDocument").read())
            stream[0x0B] |= 0x01  # fEncrypted is bit 8 of the flags word at 0x0A
            ole.write_stream("WordDocument", bytes(stream))
        return path.read_bytes()


def broken_zip() -> bytes:
    return b"PK\x03\x04 this zip ends here"


def renamed_text() -> bytes:
    return "一段纯文本，只是改了扩展名".encode()


@pytest.mark.parametrize(("filename", "make", "code"), [
    ("稿件.docx", encrypted_docx, "document.encrypted"),
    ("稿件.doc", encrypted_doc, "document.encrypted"),
    ("稿件.docx", macro_docx, "document.macro"),
    ("稿件.docm", lecture_docx, "document.macro"),
    ("稿件.docx", broken_zip, "document.corrupt"),
    ("稿件.docx", renamed_text, "document.corrupt"),
])
def test_word_files_that_cannot_be_read_get_their_own_finding(
    filename: str, make: Callable[[], bytes], code: str
) -> None:
    """Encrypted, macro-enabled and corrupt Word files each get the finding that says so."""
    reading = read_mail(mail_with(filename, make()), LIMITS)
    assert [(n, c) for n, c, _d in reading.document_errors] == [(filename, code)]
    assert not reading.documents
    assert CATALOGUE[code].message and CATALOGUE[code].hint


# --- a Word file is unpacked once, and only what is read is parsed ------------------------------

DTD = '<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def rezip(docx: bytes, members: dict[str, bytes], *, twice: bool = False) -> bytes:
    """The package with these members' bytes instead (or added); with ``twice``,
    the changed members are added as second members of the same name."""
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(io.BytesIO(docx)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of a duplicate name
        for info in src.infolist():
            replaced = info.filename in members and not twice
            dst.writestr(info.filename, members[info.filename] if replaced else src.read(info))
        for name, data in members.items():
            if twice or name not in src.namelist():
                dst.writestr(name, data)
    return out.getvalue()


def member(docx: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return archive.read(name).decode()


def with_dtd(xml: str) -> str:
    return re.sub(r"(<\?xml[^>]*\?>)", lambda m: m.group(1) + DTD, xml, count=1)


@pytest.mark.parametrize(("name", "codec"), [
    ("word/document.xml", "utf-8"),
    ("word/settings.xml", "utf-8"),  # a part python-docx is not asked to parse
    ("word/styles.xml", "utf-16-le"),
    ("word/styles.xml", "utf-16-be"),
])
def test_a_dtd_in_any_xml_member_is_refused(name: str, codec: str) -> None:
    """Every XML member is looked at for a DTD, in UTF-8 or UTF-16, whether read or not."""
    docx = lecture_docx()
    poisoned = rezip(docx, {name: with_dtd(member(docx, name)).encode(codec)})
    reading = read_mail(mail_with("稿件.docx", poisoned), LIMITS)
    assert [c for _n, c, _d in reading.document_errors] == ["document.unsafe"]


@pytest.mark.parametrize("prolog", [
    "<!-- a comment that writes <w:document> -->",
    "<?mso-application progid='Word.Document'?>\n" * 200,  # past the first read
    "<!--" + " " * (70 * 1024) + "-->",  # past the longest prolog read in steps
])
def test_a_dtd_behind_a_long_prolog_is_refused(prolog: str) -> None:
    """Comments and processing instructions before the DTD, however long, hide nothing."""
    poisoned = rezip(lecture_docx(), {"word/settings.xml": f"{prolog}{DTD}<x/>".encode()})
    reading = read_mail(mail_with("稿件.docx", poisoned), LIMITS)
    assert [c for _n, c, _d in reading.document_errors] == ["document.unsafe"]


def test_a_doctype_inside_the_root_element_is_no_dtd() -> None:
    """A DTD stands before the root element or nowhere: text after it is not looked at
    in a part nobody reads, and a parser refuses it in one that is read."""
    docx = lecture_docx()
    unread = rezip(docx, {"customXml/item9.xml": f"<x>{DTD}</x>".encode()})
    assert not read_mail(mail_with("稿件.docx", unread), LIMITS).document_errors
    xml = member(docx, "word/document.xml")
    inside = rezip(docx, {"word/document.xml": xml.replace("<w:body>", f"<w:body>{DTD}").encode()})
    reading = read_mail(mail_with("稿件.docx", inside), LIMITS)
    assert [c for _n, c, _d in reading.document_errors] == ["document.corrupt"]


def _flip_last_byte_of(docx: bytes, name: str, size: int) -> bytes:
    """The package with ``name`` stored (not compressed) at ``size`` bytes, its last byte
    changed after the fact, so that unpacking it whole fails its CRC."""
    xml = member(docx, name)
    cut = xml.rindex("</")
    padded = (xml[:cut] + " " * (size - len(xml.encode())) + xml[cut:]).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = padded if info.filename == name else src.read(info)
            dst.writestr(info.filename, data, zipfile.ZIP_STORED if info.filename == name
                         else zipfile.ZIP_DEFLATED)
    raw = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo(name)
    end = info.header_offset + 30 + len(name.encode()) + len(info.extra) + info.compress_size
    raw[end - 1] ^= 0x01
    return bytes(raw)


def test_parts_nobody_reads_are_never_unpacked() -> None:
    """A settings part is read up to its root element only: a fault further in costs
    nothing, where the same fault in the main document refuses the file."""
    docx = lecture_docx()
    settings = _flip_last_byte_of(docx, "word/settings.xml", 64 * 1024)
    reading = read_mail(mail_with("稿件.docx", settings), LIMITS)
    assert not reading.document_errors
    check_piece(reading)
    document = _flip_last_byte_of(docx, "word/document.xml", 64 * 1024)
    reading = read_mail(mail_with("稿件.docx", document), LIMITS)
    assert [c for _n, c, _d in reading.document_errors] == ["document.corrupt"]


def test_a_member_named_twice_is_checked_twice_and_read_as_zipfile_reads_it() -> None:
    """Both members of one name are checked; the text is read from the last, as zipfile does."""
    docx = lecture_docx()
    xml = member(docx, "word/document.xml")
    twice = rezip(docx, {"word/document.xml": xml.replace("南京大学", "北京大学").encode()},
                  twice=True)
    [document] = read_mail(mail_with("稿件.docx", twice), LIMITS).documents
    assert document.text == TEXT.replace("南京大学", "北京大学")
    hidden = rezip(rezip(docx, {"word/document.xml": with_dtd(xml).encode()}),
                   {"word/document.xml": xml.encode()}, twice=True)
    reading = read_mail(mail_with("稿件.docx", hidden), LIMITS)
    assert [c for _n, c, _d in reading.document_errors] == ["document.unsafe"]


def test_parts_nobody_reads_are_checked_but_never_parsed() -> None:
    """settings.xml and numbering.xml say nothing a reader sees: broken ones do not cost
    the piece (they are still checked for a DTD, above)."""
    docx = lecture_docx()
    broken = rezip(docx, {"word/settings.xml": b"<w:settings><unclosed>",
                          "word/numbering.xml": b"not xml at all"})
    reading = read_mail(mail_with("稿件.docx", broken), LIMITS)
    assert not reading.document_errors
    check_piece(reading)
    unreadable = rezip(docx, {"word/document.xml": b"<w:document><unclosed>"})
    reading = read_mail(mail_with("稿件.docx", unreadable), LIMITS)
    assert [c for _n, c, _d in reading.document_errors] == ["document.corrupt"]


def test_captions_follow_each_document_own_style_names() -> None:
    """A paragraph is a caption by its style's name in its own document's styles, also
    when a document with the same styles, or other ones, was read just before."""
    word = docx.Document()
    word.add_paragraph("讲坛现场", style="Caption")
    out = io.BytesIO()
    word.save(out)
    captioned = out.getvalue()
    styles = member(captioned, "word/styles.xml")
    assert '<w:name w:val="caption"/>' in styles
    renamed = rezip(captioned, {"word/styles.xml": styles.replace(
        '<w:name w:val="caption"/>', '<w:name w:val="plain text"/>').encode()})
    broken = rezip(captioned, {"word/styles.xml": styles[:-20].encode()})
    for data, captions in [(captioned, ["讲坛现场"]), (renamed, []), (captioned, ["讲坛现场"]),
                           (renamed, [])]:
        [document] = read_mail(mail_with("稿件.docx", data), LIMITS).documents
        assert document.captions == captions
    reading = read_mail(mail_with("稿件.docx", broken), LIMITS)
    assert [c for _n, c, _d in reading.document_errors] == ["document.corrupt"]


# --- decoding that never loses a character -------------------------------------------------------


def _b(text: str, codec: str) -> str:
    return base64.b64encode(text.encode(codec)).decode()


def raw_mail(headers: str, body: bytes = b"", content_type: str = "text/plain") -> bytes:
    head = f"From: a@example.test\nContent-Type: {content_type}\n{headers}\n"
    return head.encode("latin-1", "surrogateescape") + b"\n" + body


SPLIT = "赵镕".encode()  # six bytes; the encoded-words split it inside 镕
# fmt: off
SUBJECTS = [
    ("GBK text labelled gb2312", f"=?gb2312?B?{_b('赵镕与张堃', 'gbk')}?=", "赵镕与张堃"),
    ("a character split across two encoded-words",
     f"=?utf-8?B?{base64.b64encode(SPLIT[:4]).decode()}?=\n "
     f"=?utf-8?B?{base64.b64encode(SPLIT[4:]).decode()}?=", "赵镕"),
    ("Q encoding in GBK", "=?gbk?Q?=D5=C5=88=D2?=", "张堃"),
    ("GB18030-only character", f"=?gb18030?B?{_b('王䶮', 'gb18030')}?=", "王䶮"),
    ("raw 8-bit UTF-8", "王喆的稿件".encode().decode("latin-1"), "王喆的稿件"),
    ("raw 8-bit GBK", "王喆的稿件".encode("gbk").decode("latin-1"), "王喆的稿件"),
    ("raw 8-bit Big5", "東街小學開展冬季消防安全演練".encode("big5").decode("latin-1"),
     "東街小學開展冬季消防安全演練"),
    ("encoded-word labelled utf-8 holding GBK", f"=?utf-8?B?{_b('赵镕教授讲座', 'gbk')}?=",
     "赵镕教授讲座"),
    ("Big5 label", f"=?big5?B?{_b('東街小學', 'big5')}?=", "東街小學"),
]
# fmt: on


@pytest.mark.parametrize(("case", "header", "expected"), SUBJECTS, ids=[c[0] for c in SUBJECTS])
def test_subjects_decode_without_losing_a_character(case: str, header: str,
                                                    expected: str) -> None:
    """However a client encoded the subject, every character comes back."""
    reading = read_mail(raw_mail(f"Subject: {header}"), LIMITS)
    assert reading.mail.subject == expected


def test_rfc2231_continuations_with_charset_and_language() -> None:
    """A file name split over filename*0*, filename*1* (mid-character) reads whole."""
    encoded = "".join(f"%{b:02X}" for b in "张堃的稿件.docx".encode("gb18030"))
    header = (
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: application/octet-stream\n"
        f"Content-Disposition: attachment;\n filename*0*=gb18030'zh-cn'{encoded[:9]};\n"
        f" filename*1*={encoded[9:]}\n\nZGF0YQ==\n--b--"
    )
    reading = read_mail(raw_mail("", content_type=header.split(": ", 1)[1]), LIMITS)
    assert [p.filename for p in reading.mail.parts] == ["张堃的稿件.docx"]


# fmt: off
BODIES = [
    ("labelled gb2312, written in GBK", "text/plain; charset=gb2312", "孙璟作安全形势分析", "gbk"),
    ("labelled utf-8, written in GBK", "text/plain; charset=utf-8", "处长孙璟作形势分析", "gbk"),
    ("no charset, 8-bit GBK", "text/plain", "保卫处处长孙璟作安全形势分析", "gbk"),
    ("labelled iso-8859-1, 8-bit UTF-8", "text/plain; charset=iso-8859-1", "王喆老师好", "utf-8"),
    ("Big5", "text/plain; charset=big5", "東街小學開展冬季消防安全演練", "big5"),
]
# fmt: on


@pytest.mark.parametrize(("case", "ctype", "text", "codec"), BODIES, ids=[b[0] for b in BODIES])
def test_bodies_with_missing_or_wrong_labels_keep_every_character(
    case: str, ctype: str, text: str, codec: str
) -> None:
    """A body's real charset is found when its label is missing or wrong."""
    reading = read_mail(raw_mail("Subject: x", text.encode(codec), ctype), LIMITS)
    assert reading.mail.body == text


def test_html_only_body_reads_as_text() -> None:
    """A mail with only an HTML body is read as the text a browser would show."""
    html = ('<div style="font-family:Arial"><div>老师好：</div><div>附件是稿件，请审核。</div>'
            "<div><br></div><p>张堃&nbsp;敬上</p><script>track()</script>"
            '<span style="display:none">隐藏</span></div>')
    reading = read_mail(raw_mail("Subject: x", html.encode(), "text/html; charset=utf-8"), LIMITS)
    assert reading.mail.body == "老师好：\n附件是稿件，请审核。\n\n张堃 敬上"


def test_file_names_are_sanitized_never_paths() -> None:
    """A file name that tries to be a path is kept as a plain, safe name."""
    reading = read_mail(mail_with("../../etc/cron.d/稿件.docx", lecture_docx()), LIMITS)
    [part] = reading.mail.parts
    assert part.filename == "稿件.docx"


# --- the MIME tree is the standard library's, however fast it is built ---------------------------

NESTED = b"""From: a@example.test
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

--\x20
a signature under its dash-dash line
--inner-but-not-the-boundary
--outer-- does not end it either
--inner--
the inner epilogue
--outer
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAAA
--outer--
the epilogue
"""
# Runs of base64 lines wherever a line can stand: headers, preamble, parts, epilogue,
# a delivery report, a forwarded mail, a header block with no blank line after it.
BASE64_EVERYWHERE = b"""From: a@example.test
Content-Type: multipart/mixed; boundary="b"
QUFBQQ==
QkJC

QUFB
QkJC
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
QUFBQQ
QkJC

Final-Recipient: rfc822; x@example.test
--b
Content-Type: message/rfc822

Subject: forwarded
Content-Transfer-Encoding: base64

QUFBQUFBQUFBQUFB
QkJCQkJC
--b
Content-Type: image/png
QUFB
QkJC
--b
From
Content-Type: text/plain

From QUFB
QUFB
=====
--b--
QUFB
QkJC
"""
MIME_CASES = {
    "nested": NESTED,
    "CRLF": NESTED.replace(b"\n", b"\r\n"),
    "CR only": NESTED.replace(b"\n", b"\r"),
    "inner never closed": NESTED.replace(b"--inner--\n", b""),
    "outer never closed": NESTED.replace(b"--outer--\n", b""),
    "no line break at the end": NESTED.rstrip(),
    "base64 everywhere": BASE64_EVERYWHERE,
    "base64 everywhere, CRLF": BASE64_EVERYWHERE.replace(b"\n", b"\r\n"),
    "base64 everywhere, CR only": BASE64_EVERYWHERE.replace(b"\n", b"\r"),
    "base64 to the end": BASE64_EVERYWHERE.rsplit(b"--b--", 1)[0] + b"QUFB\nQkJC",
    **{path.name: path.read_bytes() for path in sorted((FIXTURES / "mail").rglob("*.eml"))},
}


def _shape(message: Message) -> list[Any]:
    return [(part.items(), part.preamble, part.epilogue, [type(d).__name__ for d in part.defects],
             None if part.is_multipart() else part.get_payload()) for part in message.walk()]


@pytest.mark.parametrize("raw", MIME_CASES.values(), ids=MIME_CASES.keys())
def test_the_mime_tree_is_the_one_the_standard_parser_builds(raw: bytes) -> None:
    """Only boundary lines are tested as boundaries: the parts, preambles, epilogues and
    defects are those of the standard library's own line buffer."""
    expected = BytesParser(policy=mimetree.RAW_HEADERS).parsebytes(raw)
    assert _shape(mimetree.parse_tree(raw)) == _shape(expected)


# Lines a MIME tree is made of, in any order, with any line break.
_MIME_LINES = st.sampled_from([
    "From: a@example.test", "Content-Type: multipart/mixed; boundary=b",
    "Content-Type: multipart/alternative; boundary=c", "Content-Type: message/rfc822",
    "Content-Type: message/delivery-status", "Content-Transfer-Encoding: base64",
    "X-Folded: a", " continued", "", "--b", "--b--", "--c", "--c--", "-- ", "--b-- trailing",
    "QUFBQUFBQUFBQUFB", "QkJC", "QUE=", "====", "From", "From QUFB", "text: with a colon",
    "plain words", "Subject: 校园读书节", "QUFB 读书",
])


_MIME_HEAD = st.sampled_from([
    ["Content-Type: multipart/mixed; boundary=b", ""], ["Content-Type: message/rfc822", ""],
    ["From: a@example.test", ""], [],
])
_MIME_PART = st.sampled_from([
    ["--b", "Content-Type: multipart/alternative; boundary=c", "", "--c"],
    ["--b", "Content-Type: message/delivery-status", ""], ["--b", "", "QUFBQUFB", "QkJC"],
    ["--b", "Content-Transfer-Encoding: base64", "", "QUFBQUFB", "QkJC", "QUE="],
    ["--c", "", "QUFB", "QUFB"], ["--c--"], ["--b--"], [""], ["QUFBQUFB", "QkJC"],
])


@settings(max_examples=300, deadline=None)
@given(head=_MIME_HEAD,
       blocks=st.lists(st.one_of(_MIME_PART, st.lists(_MIME_LINES, max_size=3)), max_size=12),
       eols=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=3),
       end=st.sampled_from(["", "\n", "QUFB"]), chunk=st.integers(1, 64))
def test_any_mime_tree_is_the_one_the_standard_parser_builds(
    head: list[str], blocks: list[list[str]], eols: list[str], end: str, chunk: int
) -> None:
    """Whatever the lines, their breaks and where the feed cuts them, the tree is the same."""
    lines = [*head, *(line for block in blocks for line in block)]
    raw = ("".join(line + eols[n % len(eols)] for n, line in enumerate(lines)) + end).encode()
    expected = BytesParser(policy=mimetree.RAW_HEADERS).parsebytes(raw)
    assert _shape(mimetree.parse_tree(raw, chunk)) == _shape(expected)


@settings(max_examples=1000, deadline=None)
@given(text=st.text(alphabet="ABCDabcd0189+/=\r\n -.\x00é", max_size=40))
def test_base64_is_taken_from_pybase64_only_where_binascii_reads_the_same(text: str) -> None:
    """Stray characters, misplaced padding, 8-bit text: pybase64's reading is kept
    only when it cannot differ from the standard library's."""
    fast = payloads.plain_base64(text)
    if fast:
        assert fast == binascii.a2b_base64(text)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=1, max_size=400), eol=st.sampled_from(["\n", "\r\n", "\r"]))
def test_plain_base64_in_lines_is_taken_from_pybase64(data: bytes, eol: str) -> None:
    text = base64.encodebytes(data).decode().replace("\n", eol)
    assert payloads.plain_base64(text) == data


# --- what was read is stored with the submission ---------------------------------------------


def test_what_was_read_is_filed_with_the_submission(app: App) -> None:
    """The filed piece keeps its text, 字数, and every picture with its size and caption;
    each photo's attachment row knows its width and height."""
    deliver(app.config, (CLIENTS / "17_iphone_heic_inline.eml").read_bytes())
    box = app.open_mailbox()
    try:
        pipeline.run_cycle(app, box)
    finally:
        box.close()
    with session(app.engine) as db:
        submission = db.exec(select(Submission)).one()
        files = db.exec(select(Attachment).order_by(col(Attachment.id))).all()
    assert (submission.status, submission.text, submission.word_count) == ("accepted", TEXT, WORDS)
    assert submission.picture_count == 5
    assert [(p["source"], p["width"], p["height"], p["caption"]) for p in submission.pictures] == [
        ("document", 1600, 1200, "图 1 赵镕教授作专题报告"),
        ("document", 1200, 800, "图为互动环节同学们踊跃提问"),
        ("inline", 1600, 1200, ""), ("inline", 1200, 1600, ""), ("inline", 900, 1200, ""),
    ]
    assert [(f.filename, f.kind, f.width, f.height) for f in files] == [
        ("IMG_0231.HEIC", "picture", 1600, 1200), ("IMG_0232.HEIC", "picture", 1200, 1600),
        ("IMG_0233.JPG", "picture", 900, 1200), (DOC, "document", None, None),
    ]
