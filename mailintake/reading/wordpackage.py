"""A checked Word package opened with python-docx, reading only what is read.

``docx.Document(stream)`` unpacks every member and parses every XML part. Here
python-docx's own package reader and unmarshaller are driven from the archive
``wordzip`` has checked (within the limits; the content types and the
relationships parsed): the main document becomes a python-docx part, parsed by
python-docx's parser (entities off, no network, libxml2's limits on) and then
refused if it has a DTD; the pictures are parts without their bytes, which
``wordpictures`` unpacks one at a time; the styles part is read for its names only,
once per distinct styles part. Every other XML part (settings, themes, fonts,
a second copy of the styles: any member whose content type or name says XML)
is parsed without building anything (``wordzip.check_xml``). A part seen
before is known by its stored bytes (``_stored_key``), without unpacking it
again: a school's template brings the same styles, theme and fonts each time.

This module imports python-docx: ``word`` loads it at the first Word file,
and the readers' forkserver loads it ahead for every worker.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
from typing import Any, cast

from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.package import Unmarshaller
from docx.opc.packuri import CONTENT_TYPES_URI, PACKAGE_URI, PackURI
from docx.opc.part import Part, PartFactory
from docx.opc.pkgreader import PackageReader, _ContentTypeMap
from docx.oxml.parser import parse_xml
from docx.package import Package

from mailintake.reading.wordtext import W_STYLE_ID, W_VAL
from mailintake.reading.wordzip import (
    MAX_DOCUMENT_XML,
    DocumentError,
    check_tree,
    check_xml,
    read_member,
)

# What a part nobody reads is given instead of its bytes.
_UNREAD = b""


class _CheckedReader:
    """python-docx's zip reader (``_ZipPkgReader``) over the checked archive.

    The content types and relationships come from the check, which unpacked
    them already. Of the other parts, only the main document and the
    pictures are unpacked: ``content_types`` (set once read) tells the rest
    apart, and the styles part is left to ``style_names_of``.
    """

    def __init__(self, archive: zipfile.ZipFile, data: bytes, xml: dict[str, bytes]) -> None:
        self.archive = archive
        self.data = data
        self._xml = xml
        self.content_types: Any = None
        # Members parsed and checked already (a name may stand for two members).
        self.checked: set[zipfile.ZipInfo] = {
            m for m in archive.infolist() if m.filename in xml}

    def blob_for(self, pack_uri: PackURI) -> bytes:
        blob = self._xml.get(pack_uri.membername)
        if blob is not None:
            return blob
        member = self.archive.getinfo(pack_uri.membername)  # KeyError: no such part
        if self.content_types is not None and not _read(self.content_types, pack_uri):
            return _UNREAD
        if member.file_size > MAX_DOCUMENT_XML:
            raise DocumentError("document.too_large",
                                f"{member.filename} is {member.file_size} bytes")
        return read_member(self.archive, member)

    @property
    def content_types_xml(self) -> bytes:
        return self.blob_for(CONTENT_TYPES_URI)

    def rels_xml_for(self, source_uri: PackURI) -> bytes | None:
        try:
            return self.blob_for(source_uri.rels_uri)
        except KeyError:
            return None

    def close(self) -> None:
        """The archive belongs to ``read_docx``, which closes it."""


def _read(content_types: Any, partname: PackURI) -> bool:
    """Whether the part is unpacked for python-docx: the main document only (the
    pictures are unpacked by ``wordpictures``, one at a time)."""
    try:
        content_type: str = content_types[partname]
    except KeyError:
        return False
    return content_type == CT.WML_DOCUMENT_MAIN


def _is_xml(content_types: Any, name: str) -> bool:
    """Whether a member is XML, by its content type (as python-docx looks it up:
    case-insensitively) or by its name in any case; pictures (SVG) are not
    parsed by anyone here."""
    if name.lower().endswith((".xml", ".rels")):
        return True
    try:
        content_type: str = content_types[PackURI("/" + name)]
    except (KeyError, ValueError):
        return False
    content_type = content_type.lower()
    return content_type.endswith(("+xml", "/xml")) and not content_type.startswith("image/")


def _part(partname: PackURI, content_type: str, reltype: str, blob: bytes,
          package: Package) -> Part:
    """python-docx's own part for what is read here (the document, its pictures);
    any other part is kept as the bytes it was given, never parsed: the styles
    are read by ``style_names_of`` instead, the rest is not read at all."""
    if content_type == CT.WML_DOCUMENT_MAIN or reltype == RT.IMAGE:
        return cast(Part, PartFactory(partname, content_type, reltype, blob, package))
    return cast(Part, Part.load(partname, content_type, blob, package))


# python-docx's loader below its entry point, which has no type hints.
_READER: Any = PackageReader
_CONTENT_TYPES: Any = _ContentTypeMap
_UNMARSHALLER: Any = Unmarshaller


def open_document(archive: zipfile.ZipFile, data: bytes, xml: dict[str, bytes]
                  ) -> tuple[Any, dict[str, str] | None]:
    """What ``docx.Document(stream)`` opens, from the checked archive of ``data``:
    the same package reader and unmarshaller, with ``_CheckedReader`` and
    ``_part``; and the names of its styles, when it has a styles part (see
    ``style_names_of``)."""
    physical = _CheckedReader(archive, data, xml)
    content_types = _CONTENT_TYPES.from_xml(physical.content_types_xml)
    physical.content_types = content_types
    package_rels = _READER._srels_for(physical, PACKAGE_URI)
    parts = _READER._load_serialized_parts(physical, package_rels, content_types)
    package = Package()
    _UNMARSHALLER.unmarshal(_READER(content_types, package_rels, parts), package, _part)
    document_part = package.main_document_part
    if document_part.content_type != CT.WML_DOCUMENT_MAIN:
        raise ValueError(f"not a Word file, content type is '{document_part.content_type}'")
    membername = document_part.partname.membername
    check_tree(document_part.element, membername)
    physical.checked.add(physical.archive.getinfo(membername))
    styles = style_names_of(document_part, physical)
    _check_the_rest(physical, content_types)
    return document_part.document, styles


# Keys (``_stored_key``) of XML members parsed and found safe before.
_SAFE: dict[bytes, None] = {}
_SAFE_ENTRIES = 4096


def _check_the_rest(physical: _CheckedReader, content_types: Any) -> None:
    """Parse every XML member not parsed yet (see ``wordzip.check_xml``), each
    distinct stored member once per process."""
    for member in physical.archive.infolist():
        if member in physical.checked or not _is_xml(content_types, member.filename):
            continue
        key = _stored_key(physical.data, member)
        if key is not None and key in _SAFE:
            continue
        check_xml(physical.archive, member, read=False)
        if key is not None:
            if len(_SAFE) >= _SAFE_ENTRIES:
                del _SAFE[next(iter(_SAFE))]
            _SAFE[key] = None


# Style names by the SHA-256 of the styles part's stored (compressed) bytes,
# with its CRC and sizes. Parsing styles.xml (often a few hundred KB) costs
# more than the rest of a Word file, and the Word files of one school tend to
# carry the same one: the same stored bytes unpack to the same part.
_STYLE_CACHE: dict[bytes, dict[str, str]] = {}
_STYLE_CACHE_ENTRIES = 64
# Characters of style ids and names kept for one styles part (Word's own: about 5000);
# a styles part with more is read each time, so the cache stays under a few MB.
_STYLE_CACHE_MAX_CHARS = 64 * 1024
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length


def style_names_of(document_part: Any, physical: _CheckedReader) -> dict[str, str] | None:
    """The style names of the document's styles part (never unpacked for
    python-docx, see ``_read``); None when python-docx should find them (no
    styles part, or an odd one)."""
    try:
        part = document_part.part_related_by(RT.STYLES)
    except (KeyError, ValueError):
        return None
    if type(part) is not Part or part.content_type != CT.WML_STYLES:
        return None
    member = physical.archive.getinfo(part.partname.membername)  # the last of that name
    if member.file_size > MAX_DOCUMENT_XML:
        raise DocumentError("document.too_large", f"{member.filename} is {member.file_size} bytes")
    physical.checked.add(member)
    key = _stored_key(physical.data, member)
    names = _STYLE_CACHE.get(key) if key else None
    if names is None:
        styles = parse_xml(read_member(physical.archive, member))
        check_tree(styles, member.filename)
        names = style_names(styles)
        fits = sum(len(k) + len(v) for k, v in names.items()) <= _STYLE_CACHE_MAX_CHARS
        if key and fits:
            if len(_STYLE_CACHE) >= _STYLE_CACHE_ENTRIES:
                del _STYLE_CACHE[next(iter(_STYLE_CACHE))]
            _STYLE_CACHE[key] = names
    return dict(names)


def _stored_key(data: bytes, member: zipfile.ZipInfo) -> bytes | None:
    """The SHA-256 of a member's stored bytes, its compression, CRC and size: equal
    keys unpack to equal parts (or fail alike). None when its local header
    (APPNOTE 4.3.7) is not where the directory says."""
    offset = member.header_offset
    if offset + _LOCAL_HEADER.size > len(data):
        return None
    signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, offset)
    if signature != b"PK\x03\x04":
        return None
    start = offset + _LOCAL_HEADER.size + name_length + extra_length
    stored = data[start:start + member.compress_size]
    if len(stored) != member.compress_size:
        return None
    digest = hashlib.sha256(stored)
    digest.update(struct.pack("<HIQ", member.compress_type, member.CRC, member.file_size))
    return digest.digest()


def style_names(styles: Any) -> dict[str, str]:
    """Paragraph style id -> lower-case style name ("a3" -> "caption" in a Chinese
    Word), from the root of a styles part."""
    names = {}
    # Each style's first name, in one XPath: a third of the time of find() on each style.
    for name in styles.xpath("w:style/w:name[1]"):
        style_id = name.getparent().get(W_STYLE_ID)
        if style_id:
            names[style_id] = (name.get(W_VAL) or "").lower()
    return names
