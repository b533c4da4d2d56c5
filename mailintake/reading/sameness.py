"""Whether two deliveries are the same mail.

The same mail delivered again comes as the same bytes (a folder recreated
with a new UIDVALIDITY, a clerk moving mail back to the inbox) or with the
servers' trace in front of it (sent to two of the office's addresses, passed
on by a forwarder): Received, Delivered-To, Return-Path,
Authentication-Results, ARC and whatever else servers add. What the
author's client wrote stays as it was. So a mail is known by a digest of the
header fields in AUTHORED, Message-ID among them, and of its body, with line
endings made alike. A different mail reusing a Message-ID differs in its
sender, its date, its subject or its text, and is a mail of its own.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from mailintake.storage import Storage

#: The header fields a mail client writes; servers on the way leave them be.
AUTHORED = frozenset({
    b"from", b"sender", b"reply-to", b"to", b"cc", b"subject", b"date", b"message-id",
    b"in-reply-to", b"references", b"mime-version", b"content-type",
    b"content-transfer-encoding", b"content-disposition",
})
#: The body is hashed this much at a time, so no copy of it is ever made whole.
CHUNK = 1024 * 1024

_HEADER_END = re.compile(rb"\r?\n\r?\n")


def digest(raw: bytes) -> str:
    """The mail's authored header fields and its body, as sha256 hex."""
    return _digest(raw, whole=True)


def head_digest(head: bytes) -> str:
    """The authored header fields alone (all an oversize mail is read for), as sha256 hex."""
    return _digest(head, whole=False)


def archived_same(storage: Storage, expected: str, raw_sha256: str, *, whole: bool = True) -> bool:
    """Whether the mail archived as ``raw_sha256`` has the digest ``expected``.

    A mail recorded without an archive (an oversize mail, never downloaded) or
    whose archive is gone cannot be told apart: it counts as the same.
    """
    path = storage.root / Path(storage.raw_path(raw_sha256)) if raw_sha256 else None
    if path is None or not path.is_file():
        return True
    return _digest(path.read_bytes(), whole=whole) == expected


def _digest(raw: bytes, *, whole: bool) -> str:
    end = _HEADER_END.search(raw)
    head, body_start = (raw[:end.start()], end.end()) if end else (raw, len(raw))
    hashed = hashlib.sha256()
    for field in sorted(_authored(head)):
        hashed.update(field + b"\n")
    hashed.update(b"\n")
    if whole:
        _hash_body(hashed, memoryview(raw)[body_start:])
    return hashed.hexdigest()


def _authored(head: bytes) -> list[bytes]:
    """The authored fields, each as ``name:value`` unfolded, its spaces made single."""
    fields: list[list[bytes]] = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)  # a folded line goes on with the field above
        else:
            fields.append([line])
    kept = []
    for lines in fields:
        name, colon, value = b" ".join(lines).partition(b":")
        name = name.strip().lower()
        if colon and name in AUTHORED:
            kept.append(name + b":" + b" ".join(value.split()))
    return kept


def _hash_body(hashed: hashlib._Hash, body: memoryview) -> None:
    """Hash ``body`` with CRLF as LF, the line ends after its last line left out."""
    end = len(body)
    while end:
        start = max(0, end - CHUNK)
        left = len(bytes(body[start:end]).rstrip(b"\r\n"))
        end = start + left
        if left:
            break
    carry = b""
    for start in range(0, end, CHUNK):
        chunk = carry + bytes(body[start:min(start + CHUNK, end)])
        carry = b""
        if chunk.endswith(b"\r"):  # its \n may start the next chunk
            chunk, carry = chunk[:-1], b"\r"
        hashed.update(chunk.replace(b"\r\n", b"\n"))
    hashed.update(carry)
