"""The files and body text inside Outlook's winmail.dat (TNEF), counted against
limits before tnefparse, loaded at the first one, is let loose on it."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import Any

from mailintake.reading.charsets import decode_bytes

log = logging.getLogger("mailintake.reading.winmail")

#: Attributes of a winmail.dat unpacked at most (Outlook writes some ten per
#: file): tnefparse copies the rest of the file for each one.
MAX_TNEF_OBJECTS = 1000
_TNEF_OBJECT = struct.Struct("<BHHI")  # level, name, type, length; then data, checksum
_TNEF_ATTACHMENT = 0x9002  # attAttachRenddata: each attachment starts with it
_LONG_FILENAME = 0x3707  # PR_ATTACH_LONG_FILENAME


@dataclass(frozen=True)
class Winmail:
    """What a winmail.dat holds: its files, (decoded name, bytes), and its body text."""

    files: list[tuple[str, bytes]]
    body: str


def unpack_winmail(data: bytes, defects: list[str], max_parts: int = 1000) -> Winmail | None:
    """The files and body text inside a winmail.dat; None if it is unreadable, or
    holds more than ``max_parts`` files or MAX_TNEF_OBJECTS attributes (then it
    is kept as it is, one file)."""
    from tnefparse.tnef import TNEF

    objects, files = _counts(data)
    if objects > MAX_TNEF_OBJECTS or files > max_parts:
        log.warning("winmail.dat not unpacked: %d attributes, %d files", objects, files)
        defects.append("tnef.too_many")
        return None
    try:
        tnef = TNEF(data, do_checksum=False)
        attachments = list(tnef.attachments)
    except Exception:  # a third-party parser on bytes from anyone: any failure is "unreadable"
        log.warning("unreadable winmail.dat", exc_info=True)
        defects.append("tnef.unreadable")
        return None
    codepage = tnef.codepage or "cp1252"
    found = [(_name(attachment, codepage, defects),
              attachment.data if isinstance(attachment.data, bytes) else b"")
             for attachment in attachments]
    body = tnef.body
    if isinstance(body, bytes):
        body = decode_bytes(body.rstrip(b"\x00"), codepage, defects)
    return Winmail(found, (body or "").strip())


def _counts(data: bytes) -> tuple[int, int]:
    """How many attributes and files a winmail.dat holds, counted up to just past
    the limits without copying anything."""
    objects = files = 0
    offset = 6  # signature and key
    while offset + _TNEF_OBJECT.size < len(data) and objects <= MAX_TNEF_OBJECTS:
        _level, name, _kind, length = _TNEF_OBJECT.unpack_from(data, offset)
        objects += 1
        files += name == _TNEF_ATTACHMENT
        offset += _TNEF_OBJECT.size + length + 2
    return objects, files


def _name(attachment: Any, codepage: str, defects: list[str]) -> str:
    """The long file name (Unicode in MAPI), else the 8.3 title in the sender's code page."""
    for prop in attachment.mapi_attrs:
        if prop.name == _LONG_FILENAME:
            value = prop.data
            return value if isinstance(value, str) else decode_bytes(value, codepage, defects)
    # tnefparse decodes the title as UTF-8 and fails on GBK; take its raw bytes.
    raw = attachment._name
    if isinstance(raw, bytes):
        return decode_bytes(raw.rstrip(b"\x00"), codepage, defects)
    return str(raw).rstrip("\x00")
