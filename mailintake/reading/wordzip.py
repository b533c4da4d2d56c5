"""A .docx package checked before python-docx sees it: sizes, macros, and every
XML part parsed with entities off.

A .docx is a zip, and a 335 KB zip can expand to 300 MB (python-docx then
needs twice that). The sizes the zip declares are checked first, and every
member is then inflated in bounded steps and never past the size it
declared: a member that lies about its size fails there, whatever its
compression claims to be (only Word's own, deflate, or none, is read at
all). Every XML part is parsed by libxml2 with entities off and its limits
on, and refused if it has a DTD (Word never writes one): whatever its name,
its case or its encoding, a part is judged by what the parser reads, not by
a pattern (``wordpackage``).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

MAX_DOCX_MEMBERS = 2000
# python-docx holds every part in memory and parses each XML part into a tree
# several times its size: bound both before it opens anything.
MAX_DOCX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_XML_PART = 10 * 1024 * 1024
# The main document is parsed into a tree (some 20 times its size for tiny
# elements): bound it.
MAX_DOCUMENT_XML = 4 * 1024 * 1024
# Compressions read at all: Word's (deflate) and none. zipfile inflates the
# others (bzip2, LZMA) a whole member at a time, however small its read.
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Bytes inflated per step: zipfile inflates no more than asked for.
_CHUNK = 1 << 20


class DocumentError(Exception):
    """The Word file cannot be read; ``code`` names why for the findings."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise DocumentError("document.corrupt", "not a zip package") from exc


def check_members(archive: zipfile.ZipFile) -> dict[str, bytes]:
    """Refuse a .docx too big unpacked or carrying macros; return the members
    every Word file needs unpacked whole, by name: the content types and the
    relationships, each parsed already (``check_xml``).

    The other XML parts are parsed when python-docx has told which is which
    (``wordpackage``). A name the zip holds twice keeps its last member, as
    zipfile reads it; each is checked.
    """
    members = archive.infolist()
    if len(members) > MAX_DOCX_MEMBERS:
        raise DocumentError("document.too_complex", f"{len(members)} parts")
    if sum(m.file_size for m in members) > MAX_DOCX_UNCOMPRESSED:
        raise DocumentError("document.too_large", "uncompressed size over the limit")
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names:
        raise DocumentError("document.corrupt", "not a Word package")
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise DocumentError("document.macro", "contains macros")
    whole = {}
    for member in members:
        if member.filename == "[Content_Types].xml" or member.filename.lower().endswith(".rels"):
            whole[member.filename] = b"".join(check_xml(archive, member, keep=True))
    return whole


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A member's bytes, inflated in bounded steps (see ``chunks``)."""
    return b"".join(chunks(archive, member))


def chunks(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes, _CHUNK at a time, never more than it declared.

    zipfile itself stops at the declared size, but a whole-member read asks
    zlib for up to 2 GB in one step: a member that declares 1 KB and
    inflates to 1 GB took that gigabyte before its CRC failed. Here no step
    inflates more than _CHUNK, and a member that goes on past its size fails.
    """
    if member.compress_type not in _METHODS:
        raise DocumentError("document.corrupt",
                            f"{member.filename}: compression {member.compress_type}")
    left = member.file_size
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(min(_CHUNK, left + 1)):
                left -= len(chunk)
                if left < 0:
                    raise DocumentError("document.corrupt",
                                        f"{member.filename}: larger than it declares")
                yield chunk
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
            zlib.error) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an exotic compression.
        raise DocumentError("document.corrupt", f"{member.filename}: {exc}") from exc


class _NoDtd:
    """An lxml parser target that builds nothing and refuses a DTD."""

    def __init__(self, name: str) -> None:
        self.name = name

    def doctype(self, name: str, public_id: str | None, system_url: str | None) -> None:
        raise DocumentError("document.unsafe", f"{self.name} declares a DTD ({name})")

    def close(self) -> None:
        return None


def check_xml(archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, keep: bool = False,
              read: bool = True) -> list[bytes]:
    """Parse a member as XML, chunk by chunk, with entities off and libxml2's limits
    on, building nothing; its bytes when ``keep`` (else ``[]``).

    A DTD, or a size over the limits, refuses the file. A part that is not
    well-formed (or fails its CRC) refuses it only when it is ``read``: in a
    part nobody reads, the parser stops there, and no parser would find a
    DTD beyond that point.

    libxml2 reads the part as python-docx's parser (the same library) would:
    whatever its encoding (a byte order mark, UTF-16, a declared one), a DTD
    is seen where the parser sees one.
    """
    from lxml import etree  # type: ignore[import-untyped]

    if member.file_size > MAX_XML_PART:
        raise DocumentError("document.too_large", f"{member.filename} is {member.file_size} bytes")
    parser = etree.XMLParser(target=_NoDtd(member.filename), resolve_entities=False,
                             no_network=True, huge_tree=False, load_dtd=False)
    kept: list[bytes] = []
    try:
        for chunk in chunks(archive, member):
            parser.feed(chunk)
            if keep:
                kept.append(chunk)
        parser.close()
    except DocumentError as exc:
        if exc.code == "document.corrupt" and not read:
            return []
        raise
    except etree.LxmlError as exc:
        if not read:
            return []
        raise DocumentError("document.corrupt", f"{member.filename}: {exc}"[:300]) from exc
    return kept


def check_tree(element: Any, name: str) -> None:
    """Refuse a part parsed (by python-docx) that has a DTD: see ``check_xml``."""
    info = element.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise DocumentError("document.unsafe", f"{name} declares a DTD")

