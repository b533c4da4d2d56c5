"""What a Word file contains: its text in document order, its 字数, its
pictures with their pixel sizes and captions.

Everything is read from bytes in memory and checked against limits before
python-docx is let loose on it: a .docx is a zip, and a 335 KB zip can expand
to 300 MB (python-docx then needs twice that). Word never writes a DOCTYPE,
so an XML part with one (an XXE attempt) is refused outright. A DTD can only
stand before an XML document's root element, so that is how far each part is
read for the check; parts nobody reads are never unpacked further.

The text is walked from the XML rather than taken from python-docx's
``paragraph.text``, which skips content controls, tracked insertions and
text boxes that a reader of the document does see. python-docx itself is
reached through ``wordpackage``, loaded at the first Word file: the main
process only unpickles ``Document``.
"""

from __future__ import annotations

import codecs
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mailintake.parse import MailPart
from mailintake.pictures import Picture, PictureError, picture_info, read_picture

__all__ = [
    "Document", "DocumentError", "Picture", "is_document", "is_picture", "picture_info",
    "read_docx", "suffix",
]

DOCUMENT_SUFFIXES = (".docx", ".doc", ".wps", ".docm", ".dotx", ".rtf", ".wpt", ".dot")
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".heic", ".heif", ".tif",
                    ".tiff")
_DOCUMENT_TYPES = ("application/msword", "application/vnd.openxmlformats-officedocument.word",
                   "application/vnd.ms-word", "application/wps-office", "application/rtf",
                   "application/kswps")

MAX_DOCX_MEMBERS = 2000
# python-docx holds every part in memory and parses each XML part into a tree
# several times its size: bound both before it opens anything.
MAX_DOCX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_XML_PART = 10 * 1024 * 1024
_UNSAFE_XML = (b"<!DOCTYPE", b"<!ENTITY", "<!DOCTYPE".encode("utf-16-le"),
               "<!DOCTYPE".encode("utf-16-be"))
_MACRO_TYPE = b"macroEnabled"

_NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "v": "urn:schemas-microsoft-com:vml",
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
}


def _tag(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


W_P, W_T, W_TBL, W_TR, W_TC = (_tag(f"w:{n}") for n in ("p", "t", "tbl", "tr", "tc"))
W_PPR, W_PSTYLE, W_VAL = _tag("w:pPr"), _tag("w:pStyle"), _tag("w:val")
W_STYLE_ID = _tag("w:styleId")
W_R, W_RPR, W_VANISH, W_TXBX = _tag("w:r"), _tag("w:rPr"), _tag("w:vanish"), _tag("w:txbxContent")
A_BLIP, V_IMAGEDATA, WP_ANCHOR = _tag("a:blip"), _tag("v:imagedata"), _tag("wp:anchor")
MC_FALLBACK, R_EMBED, R_ID = _tag("mc:Fallback"), _tag("r:embed"), _tag("r:id")
# Content a reader does not see: old-reader fallbacks, text moved away (tracked).
_UNSEEN = {MC_FALLBACK, _tag("w:moveFrom"), _tag("w:del")}
_BREAKS = {_tag("w:tab"): "\t", _tag("w:ptab"): "\t", _tag("w:br"): "\n", _tag("w:cr"): "\n",
           _tag("w:noBreakHyphen"): "-"}
# Elements that only wrap blocks: their paragraphs and tables are read as if in place.
_BLOCK_WRAPPERS = {_tag(f"w:{n}") for n in ("sdt", "sdtContent", "customXml", "ins", "moveTo",
                                           "smartTag", "body", "tc", "txbxContent")}
_TITLE_STYLES = {"title", "标题"}
_CAPTION_STYLES = {"caption", "题注"}
# Captions typed by hand under a photo: 图为…, 图1 …, 图：…, （图为…）.
_CAPTION_TEXT = re.compile(
    r"^[（(【]?\s*(图片|图|圖)\s*(为|為|[:：]|[0-9０-９一二三四五六七八九十]+)")
_CAPTION_WINDOW = 3  # paragraphs after a picture in which its caption may follow
_ROW_IDS = itertools.count()


class DocumentError(Exception):
    """The Word file cannot be read; ``code`` names why for the findings."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Document:
    filename: str
    title: str
    text: str
    word_count: int
    pictures: list[Picture] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    # (code, detail) for pictures in the document that could not be taken.
    picture_errors: list[tuple[str, str]] = field(default_factory=list)
    converted_from: str = ""  # ".doc" / ".wps" when LibreOffice made the .docx


def suffix(filename: str) -> str:
    return PurePosixPath(filename.lower()).suffix


def is_document(part: MailPart) -> bool:
    if suffix(part.filename) in DOCUMENT_SUFFIXES:
        return True
    return part.content_type.startswith(_DOCUMENT_TYPES) and suffix(part.filename) not in (
        PICTURE_SUFFIXES)


def is_picture(part: MailPart) -> bool:
    return part.content_type.startswith("image/") or suffix(part.filename) in PICTURE_SUFFIXES


# --- the package, before python-docx sees it -------------------------------------------------


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise DocumentError("document.corrupt", "not a zip package") from exc


def _check_members(archive: zipfile.ZipFile) -> dict[str, bytes]:
    """Refuse a .docx too big unpacked, macro-enabled or carrying a DTD; return the
    members unpacked whole for the check, by name: the content types and the
    relationships, which python-docx reads anyway.

    Every other XML member is read up to its root element (``_check_prolog``).
    A name the zip holds twice keeps its last member, as zipfile reads it.
    """
    members = archive.infolist()
    if len(members) > MAX_DOCX_MEMBERS:
        raise DocumentError("document.too_complex", f"{len(members)} parts")
    if sum(m.file_size for m in members) > MAX_DOCX_UNCOMPRESSED:
        raise DocumentError("document.too_large", "uncompressed size over the limit")
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names:
        raise DocumentError("document.corrupt", "not a Word package")
    if "word/vbaProject.bin" in names:
        raise DocumentError("document.macro", "contains macros")
    whole = {}
    for member in members:
        if member.filename == "[Content_Types].xml" or member.filename.endswith(".rels"):
            whole[member.filename] = _check_xml(archive, member)
        elif member.filename.endswith(".xml"):
            _check_prolog(archive, member)
    return whole


# What may stand before an XML document's root element, besides a DTD: white space,
# the XML declaration and other processing instructions, comments.
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->)*+", re.S)
_PROLOG_CHUNK = 4096
# Word writes a prolog of some 60 bytes; a longer one is read to its end like any part.
MAX_PROLOG = 64 * 1024


def _check_prolog(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Refuse a member whose prolog holds a DTD, reading no further than its root element."""
    if member.file_size > MAX_XML_PART:
        raise DocumentError("document.too_large", f"{member.filename} is {member.file_size} bytes")
    head = b""
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_PROLOG_CHUNK):
                head += chunk
                verdict = _dtd_follows(_after_prolog(head))
                if verdict:
                    raise DocumentError("document.unsafe", f"{member.filename} declares a DTD")
                if verdict is False:
                    return
                if len(head) >= MAX_PROLOG:
                    _check_xml(archive, member)
                    return
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise DocumentError("document.corrupt", f"{member.filename}: {exc}") from exc


_DTD = ("<!DOCTYPE", "<!ENTITY")


def _dtd_follows(after: str) -> bool | None:
    """True: a DTD follows the prolog; False: none can (the root element has begun,
    or this is no XML at all); None: the bytes so far end inside the prolog."""
    start = after[:9].upper()
    if start.startswith(_DTD):
        return True
    if after.startswith(("<!--", "<?")) or any(p.startswith(start) for p in (*_DTD, "<!--")):
        return None
    return False


def _after_prolog(head: bytes) -> str:
    """What follows the prolog in the first bytes of an XML part, in UTF-8 or UTF-16."""
    if head.startswith((codecs.BOM_UTF16_LE, b"<\x00")):
        text = head[: len(head) // 2 * 2].decode("utf-16-le", "replace")
    elif head.startswith((codecs.BOM_UTF16_BE, b"\x00<")):
        text = head[: len(head) // 2 * 2].decode("utf-16-be", "replace")
    else:
        text = head.decode("latin-1")  # only the ASCII markup is looked at
    text = text.removeprefix("\ufeff").removeprefix("\xef\xbb\xbf")
    return text[_PROLOG.match(text).end():]  # type: ignore[union-attr]


def _check_xml(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """The member's bytes, once none of them declares a DTD or (for the
    content types) a macro-enabled document."""
    if member.file_size > MAX_XML_PART:
        raise DocumentError("document.too_large", f"{member.filename} is {member.file_size} bytes")
    chunks: list[bytes] = []
    tail = b""
    try:
        with archive.open(member) as stream:
            # Streamed in chunks: the sizes above are what the zip declares,
            # and zipfile stops at the declared size (a lie fails the CRC).
            while chunk := stream.read(1 << 20):
                chunks.append(chunk)
                window = tail + chunk
                # Every unsafe pattern holds a "!" byte; Word's XML rarely does,
                # and one search for it is much cheaper than four for the patterns.
                if b"!" in window and any(pattern in window for pattern in _UNSAFE_XML):
                    raise DocumentError("document.unsafe", f"{member.filename} declares a DTD")
                if member.filename == "[Content_Types].xml" and _MACRO_TYPE in window:
                    raise DocumentError("document.macro", "macro-enabled document")
                tail = window[-32:]
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an exotic compression.
        raise DocumentError("document.corrupt", f"{member.filename}: {exc}") from exc
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Paragraph:
    style: str
    text: str
    row: int | None = None  # table rows: the paragraphs of one row share an id
    cell: int = 0
    # (relationship id, floating) of each picture in the paragraph, in order.
    pictures: list[tuple[str, bool]] = field(default_factory=list)


def read_docx(filename: str, data: bytes) -> Document:
    """Read a .docx; raise DocumentError with a finding code when it cannot be."""
    from word_count import count_words

    from mailintake.wordpackage import style_names

    with _open_zip(data) as archive:
        document, styles = _read_package(archive, data, _check_members(archive))
    if styles is None:
        styles = style_names(document.styles.element)
    paragraphs = list(_walk(document.element.body, styles))
    captions = [p.text.strip() for p in paragraphs if _is_caption(p)]
    text = _text(paragraphs)
    pictures, errors = _pictures(document, paragraphs)
    return Document(
        filename=filename,
        title=_title(paragraphs),
        text=text,
        word_count=count_words(text),
        pictures=pictures,
        captions=captions,
        picture_errors=errors,
    )


def _read_package(archive: zipfile.ZipFile, data: bytes, xml: dict[str, bytes]
                  ) -> tuple[Any, dict[str, str] | None]:
    """python-docx's document; DocumentError when it cannot open the package."""
    from mailintake.wordpackage import open_document

    try:
        return open_document(archive, data, xml)
    except Exception as exc:
        # python-docx raises ValueError for a .docm or a template, KeyError for
        # a missing part, lxml's XMLSyntaxError for broken XML, and more for
        # packages nobody foresaw: all of them mean Word could not open it either.
        raise DocumentError("document.corrupt", f"{type(exc).__name__}: {exc}"[:300]) from exc


def _walk(container: Any, styles: dict[str, str], row: int | None = None,
          cell: int = 0) -> Iterator[_Paragraph]:
    """Every paragraph in document order: body, tables, content controls, text boxes."""
    for child in container.iterchildren():
        tag = child.tag
        if tag == W_P:
            paragraph, boxes = _paragraph(child, styles)
            paragraph.row, paragraph.cell = row, cell
            yield paragraph
            for box in boxes:
                yield from _walk(box, styles)
        elif tag == W_TBL:
            for tr in _rows(child):
                row_id = next(_ROW_IDS)
                for index, tc in enumerate(tr.iterchildren(W_TC)):
                    yield from _walk(tc, styles, row_id, index)
        elif tag in _BLOCK_WRAPPERS:
            yield from _walk(child, styles, row, cell)


def _rows(table: Any) -> Iterator[Any]:
    """A table's own rows, also those wrapped in a content control."""
    for child in table.iterchildren():
        if child.tag == W_TR:
            yield child
        elif child.tag in _BLOCK_WRAPPERS:
            yield from _rows(child)


def _paragraph(p: Any, styles: dict[str, str]) -> tuple[_Paragraph, list[Any]]:
    """A paragraph's own text and pictures, and the text boxes anchored in it."""
    style_id = p.find(f"{W_PPR}/{W_PSTYLE}")
    style = styles.get(style_id.get(W_VAL), "") if style_id is not None else ""
    parts: list[str] = []
    pictures: list[tuple[str, bool]] = []
    boxes: list[Any] = []

    def visit(element: Any, floating: bool) -> None:
        for child in element.iterchildren():
            tag = child.tag
            if tag in _UNSEEN or (tag == W_R and _hidden(child)):
                continue
            if tag == W_TXBX:
                boxes.append(child)
            elif tag == W_T:
                parts.append(child.text or "")
            elif tag in _BREAKS:
                parts.append(_BREAKS[tag])
            elif tag == A_BLIP and child.get(R_EMBED):
                pictures.append((child.get(R_EMBED), floating))
            elif tag == V_IMAGEDATA and child.get(R_ID):
                pictures.append((child.get(R_ID), floating))
            elif tag != W_P:
                visit(child, floating or tag == WP_ANCHOR)

    visit(p, floating=False)
    return _Paragraph(style, "".join(parts), pictures=pictures), boxes


def _hidden(run: Any) -> bool:
    """A run formatted as hidden text (w:vanish), which Word does not show."""
    vanish = run.find(f"{W_RPR}/{W_VANISH}")
    return vanish is not None and vanish.get(W_VAL, "true") not in ("0", "false", "off")


def _text(paragraphs: list[_Paragraph]) -> str:
    """Non-empty paragraphs one per line; a table row's cells on one line, tab-separated."""
    lines: list[str] = []
    index = 0
    while index < len(paragraphs):
        paragraph = paragraphs[index]
        if paragraph.row is None:
            if paragraph.text.strip():
                lines.append(paragraph.text.strip())
            index += 1
            continue
        cells: dict[int, list[str]] = {}
        while index < len(paragraphs) and paragraphs[index].row == paragraph.row:
            current = paragraphs[index]
            if current.text.strip():
                cells.setdefault(current.cell, []).append(current.text.strip())
            index += 1
        if cells:
            lines.append("\t".join(" ".join(cells[c]) for c in sorted(cells)))
    return "\n".join(lines)


def _is_caption(paragraph: _Paragraph) -> bool:
    text = paragraph.text.strip()
    if not text:
        return False
    return paragraph.style in _CAPTION_STYLES or (
        len(text) <= 120 and _CAPTION_TEXT.match(text) is not None)


def _title(paragraphs: list[_Paragraph]) -> str:
    for paragraph in paragraphs:
        if paragraph.style in _TITLE_STYLES and paragraph.text.strip():
            return paragraph.text.strip()
    for paragraph in paragraphs:
        if paragraph.row is None and paragraph.text.strip() and not _is_caption(paragraph):
            return paragraph.text.strip()
    return ""


def _pictures(document: Any, paragraphs: list[_Paragraph]
              ) -> tuple[list[Picture], list[tuple[str, str]]]:
    """Each picture with its size and the caption that follows it."""
    related = document.part.related_parts
    used: set[int] = set()
    pictures: list[Picture] = []
    errors: list[tuple[str, str]] = []
    for index, paragraph in enumerate(paragraphs):
        for rid, floating in paragraph.pictures:
            part = related.get(rid)
            if part is None:
                continue  # a linked picture, not in the file
            caption = _caption_for(paragraphs, index, used)
            try:
                pictures.append(read_picture(part.blob, "document", caption=caption,
                                             filename=PurePosixPath(part.partname).name,
                                             floating=floating))
            except PictureError as exc:
                errors.append((exc.code, str(exc)))
    return pictures, errors


def _caption_for(paragraphs: list[_Paragraph], index: int, used: set[int]) -> str:
    """The first unused caption in the picture's own paragraph or just after it."""
    end = min(len(paragraphs), index + 1 + _CAPTION_WINDOW)
    for position in range(index, end):
        candidate = paragraphs[position]
        if position > index and candidate.pictures:
            break  # the next picture's territory
        if position not in used and _is_caption(candidate):
            used.add(position)
            return candidate.text.strip()
    return ""
