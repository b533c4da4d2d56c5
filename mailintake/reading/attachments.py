"""The files a mail carries: attachments, pictures shown in the body (Content-ID,
Apple Mail), those inside forwarded mails and inside Outlook's winmail.dat;
each with a decoded name that is safe to show and store."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from email.message import Message
from typing import Any

from mailintake.reading.bodies import disposition, is_body_text, is_forward
from mailintake.reading.charsets import decode_header, decode_param
from mailintake.reading.headers import normalize_message_id
from mailintake.reading.payloads import decode_payload
from mailintake.reading.winmail import unpack_winmail
from mailintake.storage import sanitize_filename

_TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")


@dataclass(frozen=True)
class MailPart:
    """A file carried by the mail: an attachment or a picture shown in the body."""

    filename: str  # decoded and sanitized: safe to show, never a path
    content_type: str
    payload: bytes
    content_id: str = ""
    inline: bool = False
    origin: str = ""  # "" for the mail itself, "forwarded" or "winmail.dat"


def mail_files(message: Message, defects: list[str], max_parts: int
               ) -> tuple[list[MailPart], str]:
    """Every file in the mail, inside forwarded mails and winmail.dat too, and the
    body text of the first winmail.dat that has one.

    Past ``max_parts`` files nothing more is decoded, only listed.
    """
    files: list[MailPart] = []
    tnef_body = ""
    origin = {id(p): "" for p in message.walk()}
    for part in message.walk():
        if is_forward(part):
            for inner in part.walk():
                if inner is not part:
                    origin[id(inner)] = "forwarded"
        if part.is_multipart() or is_body_text(part):
            continue
        data = decode_payload(part) if len(files) < max_parts else b""
        ctype = part.get_content_type()
        name = _filename(part, defects)
        if data and (ctype in _TNEF_TYPES or name.lower() == "winmail.dat"):
            unpacked = unpack_winmail(data, defects, max_parts)
            if unpacked is not None:
                files.extend(_winmail_parts(unpacked.files))
                tnef_body = tnef_body or unpacked.body
                continue
        cid = normalize_message_id(decode_header(part.get("Content-ID")))
        files.append(MailPart(
            filename=_safe_name(name, ctype, cid, len(files) + 1),
            content_type=ctype, payload=data, content_id=cid,
            inline=disposition(part) == "inline" or (bool(cid) and disposition(part) == ""),
            origin=origin.get(id(part), ""),
        ))
    return files, tnef_body


def _winmail_parts(found: list[tuple[str, bytes]]) -> list[MailPart]:
    """The files of a winmail.dat, each typed by its name."""
    parts = []
    for number, (name, payload) in enumerate(found, 1):
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        parts.append(MailPart(
            filename=_safe_name(name, ctype, "", number), content_type=ctype,
            payload=payload, origin="winmail.dat",
        ))
    return parts


def _filename(part: Message, defects: list[str]) -> str:
    """The file name, preferring RFC 2231 ``filename*`` over RFC 2047 words."""
    candidates: list[Any] = []
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        for param, value in part.get_params(header=header, unquote=True) or []:
            if param.lower() == key:
                candidates.append(value)
    candidates.sort(key=lambda value: not isinstance(value, tuple))
    for value in candidates:
        name = decode_param(value, defects)
        if name:
            return name
    return ""


def _safe_name(name: str, ctype: str, cid: str, number: int) -> str:
    """A name safe to show and store; pictures shown in the body get one from their
    Content-ID (Outlook's ``image001.png@01DC…``) or their type."""
    if not name and cid and "." in cid.split("@", 1)[0]:
        name = cid.split("@", 1)[0]
    extension = mimetypes.guess_extension(ctype) or ".bin"
    fallback = f"{'图片' if ctype.startswith('image/') else '附件'}{number}{extension}"
    return sanitize_filename(name, fallback) if name else fallback
