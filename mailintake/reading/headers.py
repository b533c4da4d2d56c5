"""A mail's headers as plain text: every value decoded (``charsets``), the
Message-ID without its brackets, the date with its time zone, and the limit
on a header's length."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime
from email.message import Message

from mailintake.reading.charsets import decode_header

# RFC 5322 allows 998 characters a line; real headers (References, DKIM)
# reach a few kilobytes. Anything near this is an attack or a broken client.
MAX_HEADER_CHARS = 64 * 1024


def normalize_message_id(value: str) -> str:
    """The Message-ID without angle brackets or surrounding white space."""
    value = value.strip()
    match = re.search(r"<([^<>]+)>", value)
    return (match.group(1) if match else value).strip()


def overlong_header(message: Message) -> str:
    """The name of the first header in any part longer than MAX_HEADER_CHARS, or ""."""
    for part in message.walk():
        for name, value in part.items():
            if len(value) > MAX_HEADER_CHARS:
                return name
    return ""


def decoded_headers(message: Message, defects: list[str], cut: int | None = None
                    ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every header by its lower-case name, the last value of each, decoded; and every
    value of each header that occurs more than once. Raw values are cut to ``cut``
    characters first when given."""
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for key, value in message.items():
        name = key.lower()
        text = decode_header(value[:cut] if cut and value else value, defects)
        if name in headers:
            repeated.setdefault(name, [headers[name]]).append(text)
        headers[name] = text
    return headers, repeated


def sent_at(value: str | None) -> datetime | None:
    """The Date header as a time with its zone; None when missing, unreadable or zoneless."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):  # a year of 30 digits
        return None
    return when if when.tzinfo is not None else None
