"""Reading one mail: MIME, Word files and pictures, with no database in sight.

This stage is pure and CPU-bound, so the pipeline may run it for several
mails at once in other processes; what it returns is plain data.

Limits come first: the message size, the number of attachments and the
header sizes are checked on the parsed structure before any part is decoded
(``mime``), each attachment's size before it is read, a Word file's
unpacked size before python-docx opens it (``wordzip``), and a picture's
pixel count from its header (``pictures``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from mailintake.reading.convert import OLE_MAGIC, ConvertError, ole_kind, soffice, to_docx
from mailintake.reading.fingerprint import Fingerprint
from mailintake.reading.mime import MailPart, ParsedMail, parse_mail
from mailintake.reading.pictures import Picture, PictureError, read_picture
from mailintake.reading.word import (
    Document,
    DocumentError,
    is_document,
    is_picture,
    read_docx,
    suffix,
)

log = logging.getLogger("mailintake.reading.mail")

_CONVERTED = (".doc", ".wps", ".rtf", ".dot", ".wpt")


class ReadLimits(Protocol):
    """The ``[limits]`` a mail is read against (``config.LimitsConfig`` is one)."""

    @property
    def max_message_bytes(self) -> int: ...

    @property
    def max_attachment_bytes(self) -> int: ...

    @property
    def max_attachments(self) -> int: ...


@dataclass(frozen=True)
class Limits:
    """``ReadLimits`` as plain data: what the readers hand their workers, which then
    need not load the configuration's validation (pydantic) to unpickle it."""

    max_message_bytes: int
    max_attachment_bytes: int
    max_attachments: int

    @classmethod
    def of(cls, limits: ReadLimits) -> Limits:
        return cls(limits.max_message_bytes, limits.max_attachment_bytes, limits.max_attachments)
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class Reading:
    """What was read from one mail."""

    mail: ParsedMail
    documents: list[Document] = field(default_factory=list)
    # (file name, rule code, detail) for Word files that could not be read.
    document_errors: list[tuple[str, str, str]] = field(default_factory=list)
    # Pictures attached or shown in the mail body (those in a document are on it).
    pictures: list[Picture] = field(default_factory=list)
    # (file name, rule code, detail) for pictures that could not be taken.
    file_errors: list[tuple[str, str, str]] = field(default_factory=list)
    # Parts kept as files: (part, kind) with kind document / picture / other.
    files: list[tuple[MailPart, str]] = field(default_factory=list)
    # For a picture in ``files``: its index there -> what was read of it.
    file_pictures: dict[int, Picture] = field(default_factory=dict)
    # (sha256, stored path, size in bytes) of each of ``files``, once a reader
    # stored them; see ``drop_kept_payloads``.
    kept: list[tuple[str, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Why the mail is set aside unread (a limit's code), "" when it was read.
    refused: str = ""
    # The first document's text as the duplicate check compares it (None: no text).
    fingerprint: Fingerprint | None = None

    def drop_kept_payloads(self) -> None:
        """Forget the bytes of every file already stored (``kept``).

        A reading worker stores the files itself, so the main process needs
        their names, kinds and sizes, not their bytes: sending a 40 MB video
        back to it (and holding it there while the mail is filed) would
        double its memory. Parts never stored (over a limit) keep their
        bytes, so the checks still measure them.
        """
        stored = self.files[:len(self.kept)]
        emptied = {id(part): replace(part, payload=b"") for part, _kind in stored}
        self.files = [(emptied.get(id(part), part), kind) for part, kind in self.files]
        self.mail.parts[:] = [emptied.get(id(part), part) for part in self.mail.parts]

    @property
    def all_pictures(self) -> list[Picture]:
        return [p for d in self.documents for p in d.pictures] + self.pictures

    def picture_rows(self) -> list[dict[str, Any]]:
        """Every picture, as stored with the submission (JSON)."""
        return [
            {"source": p.source, "filename": p.filename, "format": p.format, "width": p.width,
             "height": p.height, "caption": p.caption, "floating": p.floating}
            for p in self.all_pictures
        ]


def read_mail(raw: bytes, limits: ReadLimits) -> Reading:
    """Parse ``raw`` and read every document and picture it carries.

    A mail over a limit that makes it unreadable comes back with ``refused``
    set and nothing read; ``ParseError`` when it has no headers at all.
    """
    if len(raw) > limits.max_message_bytes:
        # The pipeline refuses these before download; this guards other callers.
        return Reading(mail=parse_mail(raw[:64 * 1024], 0), refused="limits.message_size")
    mail = parse_mail(raw, max_parts=limits.max_attachments)
    reading = Reading(mail=mail, refused=mail.refused)
    if mail.refused:
        return reading
    parts = mail.parts
    if len(parts) > limits.max_attachments:
        reading.problems.append("limits.attachments")
        parts = parts[: limits.max_attachments]
    for part in parts:
        if len(part.payload) > limits.max_attachment_bytes:
            reading.problems.append("limits.attachment_size")  # never opened; see checks.limits
            continue
        if is_document(part):
            _read_document(reading, part)
        elif is_picture(part):
            _read_picture(reading, part)
        elif part.filename:
            reading.files.append((part, "other"))
    if reading.documents:  # the piece's text: computed here, on a reading worker's core
        reading.fingerprint = Fingerprint.of(reading.documents[0].text)
    return reading


def _read_picture(reading: Reading, part: MailPart) -> None:
    source = "inline" if part.inline else "attachment"
    try:
        picture = read_picture(part.payload, source, filename=part.filename)
    except PictureError as exc:
        reading.file_errors.append((part.filename, exc.code, str(exc)))
    else:
        reading.pictures.append(picture)
        reading.file_pictures[len(reading.files)] = picture
    reading.files.append((part, "picture"))


def _read_document(reading: Reading, part: MailPart) -> None:
    reading.files.append((part, "document"))
    try:
        document = _document(part)
    except (DocumentError, ConvertError) as exc:
        reading.document_errors.append((part.filename, exc.code, str(exc)))
        return
    except Exception as exc:  # a file nobody foresaw must not cost the whole mail
        log.exception("cannot read %s", part.filename)
        reading.document_errors.append((part.filename, "document.corrupt", repr(exc)))
        return
    reading.documents.append(document)
    for code, detail in document.picture_errors:
        reading.file_errors.append((f"{part.filename} 中的图片", code, detail))


def _document(part: MailPart) -> Document:
    """Read a Word file by what its bytes are, whatever its name says."""
    data, ending = part.payload, suffix(part.filename)
    if ending == ".docm":
        raise DocumentError("document.macro", "macro-enabled file name")
    if data.startswith(_ZIP_MAGIC):
        return read_docx(part.filename, data)
    if data.startswith(OLE_MAGIC):
        kind = ole_kind(data)
        if kind == "encrypted":
            raise DocumentError("document.encrypted", "password protected")
        if kind == "corrupt" or (kind == "other" and ending not in _CONVERTED):
            raise DocumentError("document.corrupt", f"OLE file ({kind})")
    legacy = data.startswith(OLE_MAGIC) or data.lstrip()[:5] == b"{\\rtf"
    if soffice() is None and (legacy or ending in _CONVERTED):
        raise DocumentError("document.legacy", "LibreOffice is not installed")  # ask for .docx
    if not legacy:
        # LibreOffice would read anything else as plain text and make a
        # "document" of its bytes; WPS 2000's own format it cannot read at all.
        raise DocumentError("document.corrupt", "neither a .docx nor a legacy Word file")
    converted = read_docx(part.filename, to_docx(data, ending))
    return replace(converted, converted_from=ending)
