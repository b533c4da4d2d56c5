"""What a Word file contains: its text in document order, its 字数, its
pictures with their pixel sizes and captions.

Everything is read from bytes in memory and checked against limits before
python-docx is let loose on it: a .docx is a zip, and a 335 KB zip can expand
to 300 MB (python-docx then needs twice that). The sizes the zip declares are
checked first, and every member is then inflated in bounded steps and never
past the size it declared: a member that lies about its size fails there,
whatever its compression claims to be (only Word's own, deflate, or none, is
read at all). Every XML part is parsed by libxml2 with entities off and its
limits on, and refused if it has a DTD (Word never writes one): whatever its
name, its case or its encoding, a part is judged by what the parser reads,
not by a pattern (``wordpackage``).

The text is walked from the XML rather than taken from python-docx's
``paragraph.text``, which skips content controls, tracked insertions and
text boxes that a reader of the document does see. python-docx itself is
reached through ``wordpackage``, loaded at the first Word file: the main
process only unpickles ``Document``.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mailintake.reading.mime import MailPart
from mailintake.reading.pictures import Picture, PictureError, picture_info, read_picture

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
# The main document is parsed into a tree (some 20 times its size for tiny
# elements), and each paragraph becomes an object: bound both.
MAX_DOCUMENT_XML = 4 * 1024 * 1024
MAX_PARAGRAPHS = 100_000
# Compressions read at all: Word's (deflate) and none. zipfile inflates the
# others (bzip2, LZMA) a whole member at a time, however small its read.
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Bytes inflated per step: zipfile inflates no more than asked for.
_CHUNK = 1 << 20

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
    """Refuse a .docx too big unpacked or carrying macros; return the members
    every Word file needs unpacked whole, by name: the content types and the
    relationships, each parsed already (``check_xml``).

    The other XML parts are parsed when python-docx has told which is which
    (``wordpackage``). A name the zip holds twice keeps its last member, as
    zipfile reads it; each is checked.
    """
    members = archive.infolist()
    if len(members) > MAX_DOCX_MEMBERS:
        raise DocumentError("document.too_complex", f"{len(members)} parts")
    if sum(m.file_size for m in members) > MAX_DOCX_UNCOMPRESSED:
        raise DocumentError("document.too_large", "uncompressed size over the limit")
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names:
        raise DocumentError("document.corrupt", "not a Word package")
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise DocumentError("document.macro", "contains macros")
    whole = {}
    for member in members:
        if member.filename == "[Content_Types].xml" or member.filename.lower().endswith(".rels"):
            whole[member.filename] = b"".join(check_xml(archive, member, keep=True))
    return whole


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A member's bytes, inflated in bounded steps (see ``chunks``)."""
    return b"".join(chunks(archive, member))


def chunks(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes, _CHUNK at a time, never more than it declared.

    zipfile itself stops at the declared size, but a whole-member read asks
    zlib for up to 2 GB in one step: a member that declares 1 KB and
    inflates to 1 GB took that gigabyte before its CRC failed. Here no step
    inflates more than _CHUNK, and a member that goes on past its size fails.
    """
    if member.compress_type not in _METHODS:
        raise DocumentError("document.corrupt",
                            f"{member.filename}: compression {member.compress_type}")
    left = member.file_size
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(min(_CHUNK, left + 1)):
                left -= len(chunk)
                if left < 0:
                    raise DocumentError("document.corrupt",
                                        f"{member.filename}: larger than it declares")
                yield chunk
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
            zlib.error) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an exotic compression.
        raise DocumentError("document.corrupt", f"{member.filename}: {exc}") from exc


class _NoDtd:
    """An lxml parser target that builds nothing and refuses a DTD."""

    def __init__(self, name: str) -> None:
        self.name = name

    def doctype(self, name: str, public_id: str | None, system_url: str | None) -> None:
        raise DocumentError("document.unsafe", f"{self.name} declares a DTD ({name})")

    def close(self) -> None:
        return None


def check_xml(archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, keep: bool = False,
              read: bool = True) -> list[bytes]:
    """Parse a member as XML, chunk by chunk, with entities off and libxml2's limits
    on, building nothing; its bytes when ``keep`` (else ``[]``).

    A DTD, or a size over the limits, refuses the file. A part that is not
    well-formed (or fails its CRC) refuses it only when it is ``read``: in a
    part nobody reads, the parser stops there, and no parser would find a
    DTD beyond that point.

    libxml2 reads the part as python-docx's parser (the same library) would:
    whatever its encoding (a byte order mark, UTF-16, a declared one), a DTD
    is seen where the parser sees one.
    """
    from lxml import etree  # type: ignore[import-untyped]

    if member.file_size > MAX_XML_PART:
        raise DocumentError("document.too_large", f"{member.filename} is {member.file_size} bytes")
    parser = etree.XMLParser(target=_NoDtd(member.filename), resolve_entities=False,
                             no_network=True, huge_tree=False, load_dtd=False)
    kept: list[bytes] = []
    try:
        for chunk in chunks(archive, member):
            parser.feed(chunk)
            if keep:
                kept.append(chunk)
        parser.close()
    except DocumentError as exc:
        if exc.code == "document.corrupt" and not read:
            return []
        raise
    except etree.LxmlError as exc:
        if not read:
            return []
        raise DocumentError("document.corrupt", f"{member.filename}: {exc}"[:300]) from exc
    return kept


def check_tree(element: Any, name: str) -> None:
    """Refuse a part parsed (by python-docx) that has a DTD: see ``check_xml``."""
    info = element.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise DocumentError("document.unsafe", f"{name} declares a DTD")


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

    from mailintake.reading.wordpackage import style_names

    with _open_zip(data) as archive:
        document, styles = _read_package(archive, data, _check_members(archive))
        if styles is None:
            styles = style_names(document.styles.element)
        paragraphs = list(itertools.islice(_walk(document.element.body, styles),
                                           MAX_PARAGRAPHS + 1))
        if len(paragraphs) > MAX_PARAGRAPHS:
            raise DocumentError("document.too_complex", f"over {MAX_PARAGRAPHS} paragraphs")
        pictures, errors = _pictures(archive, document, paragraphs)
    captions = [p.text.strip() for p in paragraphs if _is_caption(p)]
    text = _text(paragraphs)
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
    from mailintake.reading.wordpackage import open_document

    try:
        return open_document(archive, data, xml)
    except DocumentError:
        raise
    except Exception as exc:
        # python-docx raises ValueError for a .docm or a template, KeyError for
        # a missing part, lxml's XMLSyntaxError for broken XML, and more for
        # packages nobody foresaw: all of them mean Word could not open it either.
        # Unless a part has a DTD (the parser may stop at its entities before
        # the part is checked): that is said instead.
        for member in archive.infolist():
            if member.file_size <= MAX_XML_PART:
                check_xml(archive, member, read=False)
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


def _pictures(archive: zipfile.ZipFile, document: Any, paragraphs: list[_Paragraph]
              ) -> tuple[list[Picture], list[tuple[str, str]]]:
    """Each picture with its size and the caption that follows it, unpacked one at
    a time (python-docx was given none of their bytes, see ``wordpackage``)."""
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
                blob = read_member(archive, archive.getinfo(part.partname.membername))
                pictures.append(read_picture(blob, "document", caption=caption,
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
