"""What a piece contains: the Word file's text, its 字数 and its pictures.

Everything is read from bytes in memory and checked against limits before a
library is let loose on it: a .docx is a zip, and a small zip can expand to
gigabytes.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from PIL import Image, UnidentifiedImageError
from word_count import count_words

from mailintake.parse import MailPart

DOCUMENT_SUFFIXES = (".docx", ".doc", ".wps", ".docm", ".dotx", ".rtf")
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".heic", ".heif", ".tif")

MAX_DOCX_MEMBERS = 2000
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024


class DocumentError(Exception):
    """The Word file cannot be read; ``code`` names why for the findings."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Picture:
    source: str  # "document" or "attachment"
    format: str
    width: int
    height: int
    caption: str = ""

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class Document:
    filename: str
    title: str
    text: str
    word_count: int
    pictures: list[Picture] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)


def suffix(filename: str) -> str:
    return PurePosixPath(filename.lower()).suffix


def is_document(part: MailPart) -> bool:
    return suffix(part.filename) in DOCUMENT_SUFFIXES


def is_picture(part: MailPart) -> bool:
    return part.content_type.startswith("image/") or suffix(part.filename) in PICTURE_SUFFIXES


def picture_info(data: bytes, source: str, caption: str = "") -> Picture | None:
    """Format and size from the picture's header; None when it is no picture."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return Picture(source, image.format or "", image.width, image.height, caption)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        return None


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DocumentError("document.corrupt", "not a zip package") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_DOCX_MEMBERS:
            raise DocumentError("document.too_complex", f"{len(members)} parts")
        if sum(m.file_size for m in members) > MAX_DOCX_UNCOMPRESSED:
            raise DocumentError("document.too_large", "uncompressed size over the limit")
        names = {m.filename for m in members}
        if "word/vbaProject.bin" in names:
            raise DocumentError("document.macro", "contains macros")
        if "EncryptionInfo" in names or "[Content_Types].xml" not in names:
            raise DocumentError("document.corrupt", "not a Word package")


def _paragraph_blocks(document: docx.document.Document) -> list[tuple[str, str]]:
    """(style, text) for every paragraph, tables included, in document order."""
    blocks: list[tuple[str, str]] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            blocks.append((block.style.name if block.style else "", block.text))
        elif isinstance(block, Table):
            for row in block.rows:
                for cell in row.cells:
                    blocks.extend(("", p.text) for p in cell.paragraphs)
    return blocks


def _pictures(document: docx.document.Document, captions: list[str]) -> list[Picture]:
    pictures: list[Picture] = []
    related = document.part.related_parts
    blips = document.element.body.iter(qn("a:blip"))
    for index, blip in enumerate(blips):
        rid = blip.get(qn("r:embed"))
        part = related.get(rid) if rid else None
        if part is None:
            continue
        caption = captions[index] if index < len(captions) else ""
        info = picture_info(part.blob, "document", caption)
        if info is not None:
            pictures.append(info)
    return pictures


def read_docx(filename: str, data: bytes) -> Document:
    """Read a .docx; raise DocumentError with a finding code when it cannot be."""
    _check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DocumentError("document.corrupt", str(exc)) from exc
    blocks = _paragraph_blocks(document)
    captions = [text.strip() for style, text in blocks if style == "Caption" and text.strip()]
    lines = [text for _style, text in blocks if text.strip()]
    title = lines[0].strip() if lines else ""
    text = "\n".join(lines)
    return Document(
        filename=filename,
        title=title,
        text=text,
        word_count=count_words(text),
        pictures=_pictures(document, captions),
        captions=captions,
    )
