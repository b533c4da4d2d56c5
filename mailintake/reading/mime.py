"""MIME to plain data: who sent it, the decoded subject, the body, the files.

The standard library parses the structure (``mimetree``: raw 8-bit headers
kept as they came); ``charsets`` decodes every header, name and body without
losing a character; mail-parser lists the defects. A forwarded mail
(message/rfc822) is read from inside, Outlook's winmail.dat is unpacked
(``winmail``), and pictures shown in the body (Content-ID, Apple Mail) are
parts like any other (``attachments``). Limits are checked on the parsed
structure before anything is decoded. mail-parser, inscriptis and tnefparse
are loaded when first needed: the main process only unpickles what the
readers made of a mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import Message

from mailintake.reading.attachments import MailPart, mail_files
from mailintake.reading.bodies import body_text, is_forward
from mailintake.reading.charsets import decode_header
from mailintake.reading.fromline import read_from
from mailintake.reading.headers import (
    decoded_headers,
    normalize_message_id,
    overlong_header,
    sent_at,
)
from mailintake.reading.mimetree import parse_tree

__all__ = [
    "Forwarded", "MailPart", "ParseError", "ParsedMail", "normalize_message_id", "parse_mail",
]

log = logging.getLogger("mailintake.reading.mime")

MAX_REFUSED_HEADER = 2000  # what is kept of each header of a refused mail
MAX_DEFECTS = 50


class ParseError(Exception):
    """The bytes are not a mail we can read at all."""


@dataclass(frozen=True)
class Forwarded:
    """A mail carried inside this one (message/rfc822): a piece passed on."""

    subject: str
    from_addr: str
    from_name: str
    message_id: str


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
    forwarded: list[Forwarded] = field(default_factory=list)
    # Why the mail was not read beyond its envelope (a limit's code), or "".
    refused: str = ""
    # Why From names no single plain mailbox (``fromline``), or "": then from_addr is "".
    from_problem: str = ""
    # Every value of each header that occurs more than once (``headers`` has the last).
    repeated: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        """Every value of the header ``name`` (lower case), in the mail's order."""
        if name in self.repeated:
            return self.repeated[name]
        return [self.headers[name]] if name in self.headers else []


def parse_mail(raw: bytes, max_parts: int = 1000) -> ParsedMail:
    """Read one raw mail; ParseError when it has no headers at all.

    Only the first ``max_parts`` files are decoded; the rest are listed with
    an empty payload. A mail with an absurdly long header is not read
    further: it comes back with ``refused`` set.
    """
    message = parse_tree(raw)
    if not message.keys():
        raise ParseError("no headers")
    defects: list[str] = []
    overlong = overlong_header(message)
    if overlong:
        defects.append(f"limits.header_size: {overlong}")
        return _envelope(message, defects, refused="limits.header_size")
    body = body_text(message, defects)
    parts, tnef_body = mail_files(message, defects, max_parts)
    envelope = _envelope(message, defects)
    return replace(
        envelope,
        body=body or tnef_body,
        parts=parts,
        # After decoding: the standard library notes bad base64 only when it decodes.
        # mail-parser decodes every text part whole again: not for a body over the limit.
        defects=(envelope.defects + ([] if "limits.body_size" in defects
                                     else _mailparser_defects(message)))[:MAX_DEFECTS],
        forwarded=[_forwarded(p) for p in message.walk() if is_forward(p)],
    )


def _envelope(message: Message, defects: list[str], refused: str = "") -> ParsedMail:
    """Who sent it, when, and about what; headers cut short when the mail is refused."""
    cut = MAX_REFUSED_HEADER if refused else None

    def header(value: str | None) -> str | None:
        return value[:cut] if cut and value else value

    sender = read_from([header(v) or "" for v in message.get_all("From") or []], defects)
    headers, repeated = decoded_headers(message, defects, cut)
    return ParsedMail(
        message_id=normalize_message_id(decode_header(header(message.get("Message-ID")))),
        from_addr=sender.address,
        from_name=sender.name,
        subject=decode_header(header(message.get("Subject")), defects),
        sent_at=sent_at(header(message.get("Date"))),
        headers=headers,
        body="",
        defects=list(defects),
        content_type=message.get_content_type(),
        refused=refused,
        from_problem=sender.problem,
        repeated=repeated,
    )


def _forwarded(part: Message) -> Forwarded:
    inner = part.get_payload(0)
    assert isinstance(inner, Message)  # is_forward: a parsed message/rfc822
    sender = read_from(inner.get_all("From") or [])
    return Forwarded(
        subject=decode_header(inner.get("Subject")), from_addr=sender.address,
        from_name=sender.name,
        message_id=normalize_message_id(decode_header(inner.get("Message-ID"))),
    )


def _mailparser_defects(message: Message) -> list[str]:
    """mail-parser's defects (MIME, address, date, charset), one line each."""
    import mailparser

    try:
        parsed = mailparser.MailParser(message)
    except Exception:  # its extra checks must never cost us the mail
        log.warning("mail-parser failed on this mail", exc_info=True)
        return ["mailparser.failed"]
    lines: list[str] = []
    for entry in parsed.defects:
        for where, found in entry.items():
            lines.extend(f"{where}: {text}"[:300] for text in found)
    return lines
