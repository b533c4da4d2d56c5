"""MIME to plain data: who sent it, the decoded subject, the body, the files.

Chinese mail clients label GBK text as GB2312 and send raw 8-bit headers;
decoding every member of that family as GB18030 (a superset) keeps
characters such as 镕, 堃 and 喆 that a strict GB2312 decoder destroys.
"""

from __future__ import annotations

import email
import email.header
import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from charset_normalizer import from_bytes

# Charset labels whose text is really GBK or wider: decode all as GB18030.
_GB_FAMILY = {"gb2312", "gbk", "x-gbk", "euc-cn", "cp936", "gb_2312-80", "csgb2312", "hz-gb-2312"}
_BIG5_FAMILY = {"big5", "big5-hkscs", "cp950", "x-big5"}


class ParseError(Exception):
    """The bytes are not a mail we can read at all."""


@dataclass(frozen=True)
class MailPart:
    """A file carried by the mail: an attachment or an inline picture."""

    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""
    inline: bool = False


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    from_addr: str
    from_name: str
    subject: str
    sent_at: datetime | None
    headers: dict[str, str]
    body: str
    parts: list[MailPart] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    content_type: str = "text/plain"


def charset_codec(label: str | None) -> str | None:
    """The codec to decode text labelled ``label`` with."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    if name in _GB_FAMILY:
        return "gb18030"
    if name in _BIG5_FAMILY:
        return "big5hkscs"
    return name


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Text from ``data``: by its label when that decodes cleanly, else detected."""
    codec = charset_codec(label)
    if codec:
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("gb18030", errors="replace")


def decode_header(value: str | email.header.Header | None) -> str:
    """A header as a person reads it: RFC 2047 words and raw 8-bit bytes decoded."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    pieces: list[str] = []
    for chunk, label in email.header.decode_header(value):
        if isinstance(chunk, str):
            # Raw 8-bit bytes come back from the parser as surrogate escapes.
            pieces.append(decode_bytes(chunk.encode("ascii", "surrogateescape")))
        else:
            pieces.append(decode_bytes(chunk, label))
    # RFC 2047: whitespace between two encoded words is not part of the text,
    # and decode_header already dropped it; folding whitespace remains.
    return re.sub(r"\s*\n\s*", " ", "".join(pieces)).strip()


def normalize_message_id(value: str) -> str:
    """The Message-ID without angle brackets or surrounding white space."""
    value = value.strip()
    match = re.search(r"<([^<>]+)>", value)
    return (match.group(1) if match else value).strip()


def _filename(part: Message) -> str:
    raw = part.get_param("filename", header="content-disposition")
    if raw is None:
        raw = part.get_param("name")
    if raw is None:
        return ""
    if isinstance(raw, tuple):
        # RFC 2231: (charset, language, percent-decoded bytes as latin-1 text)
        charset, _lang, text = raw
        return decode_bytes(text.encode("latin-1", "surrogateescape"), charset or "utf-8")
    return decode_header(raw)


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_content_charset())


def _html_to_text(html: str) -> str:
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _collect(message: Message) -> tuple[str, str, list[MailPart]]:
    plain, html, parts = "", "", []
    for part in message.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if ctype == "text/plain" and not filename and disposition != "attachment":
            plain = plain or _text_of(part)
        elif ctype == "text/html" and not filename and disposition != "attachment":
            html = html or _text_of(part)
        else:
            payload = part.get_payload(decode=True)
            parts.append(
                MailPart(
                    filename=filename,
                    content_type=ctype,
                    payload=payload if isinstance(payload, bytes) else b"",
                    content_id=normalize_message_id(part.get("Content-ID", "")),
                    inline=disposition == "inline",
                )
            )
    return plain, html, parts


def parse_mail(raw: bytes) -> ParsedMail:
    """Read one raw mail; raise ParseError when it has no headers at all."""
    message = email.message_from_bytes(raw)
    if not message.keys():
        raise ParseError("no headers")
    name, addr = email.utils.parseaddr(decode_header(message.get("From")))
    plain, html, parts = _collect(message)
    sent_at = None
    if message.get("Date"):
        try:
            sent_at = email.utils.parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            sent_at = None
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = None
    headers = {key.lower(): decode_header(value) for key, value in message.items()}
    defects = [type(d).__name__ for p in message.walk() for d in p.defects]
    return ParsedMail(
        message_id=normalize_message_id(decode_header(message.get("Message-ID"))),
        from_addr=addr.strip().lower(),
        from_name=name.strip(),
        subject=decode_header(message.get("Subject")),
        sent_at=sent_at,
        headers=headers,
        body=plain or _html_to_text(html),
        parts=parts,
        defects=defects,
        content_type=message.get_content_type(),
    )
