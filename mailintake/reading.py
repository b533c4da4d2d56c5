"""Reading one mail: MIME, Word files and pictures, with no database in sight.

This stage is pure and CPU-bound, so the pipeline may run it for several
mails at once in other processes; what it returns is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailintake.config import LimitsConfig
from mailintake.extract import (
    Document,
    DocumentError,
    Picture,
    is_document,
    is_picture,
    picture_info,
    read_docx,
    suffix,
)
from mailintake.parse import MailPart, ParsedMail, parse_mail

_LEGACY = {".doc": "document.legacy", ".wps": "document.legacy", ".rtf": "document.legacy",
           ".docm": "document.macro"}


@dataclass
class Reading:
    """What was read from one mail."""

    mail: ParsedMail
    documents: list[Document] = field(default_factory=list)
    document_errors: list[tuple[str, str, str]] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    # Parts kept as files: (part, kind) with kind document / picture / other.
    files: list[tuple[MailPart, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_mail(raw: bytes, limits: LimitsConfig) -> Reading:
    """Parse ``raw`` and read every document and picture it carries."""
    reading = Reading(mail=parse_mail(raw))
    parts = reading.mail.parts
    if len(parts) > limits.max_attachments:
        reading.problems.append("limits.attachments")
        parts = parts[: limits.max_attachments]
    for part in parts:
        if len(part.payload) > limits.max_attachment_bytes:
            reading.problems.append("limits.attachment_size")
            continue
        if is_document(part):
            _read_document(reading, part)
        elif is_picture(part):
            info = picture_info(part.payload, "attachment")
            if info is not None:
                reading.pictures.append(info)
            reading.files.append((part, "picture"))
        elif part.filename:
            reading.files.append((part, "other"))
    return reading


def _read_document(reading: Reading, part: MailPart) -> None:
    reading.files.append((part, "document"))
    legacy = _LEGACY.get(suffix(part.filename))
    if legacy is not None:
        reading.document_errors.append((part.filename, legacy, suffix(part.filename)))
        return
    try:
        reading.documents.append(read_docx(part.filename, part.payload))
    except DocumentError as exc:
        reading.document_errors.append((part.filename, exc.code, str(exc)))
