"""What a Word file contains: its text in document order, its 字数, its
pictures with their pixel sizes and captions.

Everything is read from bytes in memory and checked against limits before
python-docx is let loose on it (``wordzip``). The text is walked from the
XML (``wordtext``) rather than taken from python-docx's ``paragraph.text``,
which skips content controls, tracked insertions and text boxes that a
reader of the document does see; the pictures are unpacked one at a time
(``wordpictures``). python-docx itself is reached through ``wordpackage``,
loaded at the first Word file: the main process only unpickles ``Document``.
"""

from __future__ import annotations

import itertools
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mailintake.reading.attachments import MailPart
from mailintake.reading.pictures import Picture, picture_info
from mailintake.reading.wordpictures import document_pictures
from mailintake.reading.wordtext import Paragraph, is_caption, paragraphs, plain_text, title
from mailintake.reading.wordzip import (
    MAX_XML_PART,
    DocumentError,
    check_members,
    check_xml,
    open_zip,
)

__all__ = [
    "Document", "DocumentError", "Picture", "docx_pictures", "is_document", "is_picture",
    "picture_info", "read_docx", "suffix",
]

DOCUMENT_SUFFIXES = (".docx", ".doc", ".wps", ".docm", ".dotx", ".rtf", ".wpt", ".dot")
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".heic", ".heif", ".tif",
                    ".tiff")
_DOCUMENT_TYPES = ("application/msword", "application/vnd.openxmlformats-officedocument.word",
                   "application/vnd.ms-word", "application/wps-office", "application/rtf",
                   "application/kswps")

# Each paragraph becomes an object: bound them (the main document's XML is bounded
# by ``wordzip.MAX_DOCUMENT_XML``).
MAX_PARAGRAPHS = 100_000


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


def read_docx(filename: str, data: bytes) -> Document:
    """Read a .docx; raise DocumentError with a finding code when it cannot be."""
    from word_count import count_words

    with open_zip(data) as archive:
        document, found = _paragraphs(archive, data)
        pictures, errors = document_pictures(archive, document, found)
    captions = [p.text.strip() for p in found if is_caption(p)]
    text = plain_text(found)
    return Document(
        filename=filename,
        title=title(found),
        text=text,
        word_count=count_words(text),
        pictures=pictures,
        captions=captions,
        picture_errors=errors,
    )


def docx_pictures(data: bytes) -> list[tuple[Picture, bytes]]:
    """The pictures of a .docx in document order, each with its bytes (those
    ``read_docx`` counts: a linked or unreadable one is left out); DocumentError when
    the file cannot be read. For laying a filed piece out again (the office's 简报)."""
    with open_zip(data) as archive:
        document, found = _paragraphs(archive, data)
        blobs: list[bytes] = []
        pictures, _errors = document_pictures(archive, document, found, blobs)
    return list(zip(pictures, blobs, strict=True))


def _paragraphs(archive: zipfile.ZipFile, data: bytes) -> tuple[Any, list[Paragraph]]:
    """python-docx's document, checked, and its paragraphs in reading order."""
    from mailintake.reading.wordpackage import style_names

    document, styles = _read_package(archive, data, check_members(archive))
    if styles is None:
        styles = style_names(document.styles.element)
    found = list(itertools.islice(paragraphs(document.element.body, styles),
                                  MAX_PARAGRAPHS + 1))
    if len(found) > MAX_PARAGRAPHS:
        raise DocumentError("document.too_complex", f"over {MAX_PARAGRAPHS} paragraphs")
    return document, found


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
