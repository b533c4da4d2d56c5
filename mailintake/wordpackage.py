"""A checked Word package opened with python-docx, reading only what is read.

``docx.Document(stream)`` unpacks every member and parses every XML part. Here
python-docx's own package reader and unmarshaller are driven from the members
``extract`` has already unpacked and checked (no DTD, within the limits): the
main document and its pictures become python-docx parts, any other part stays
the bytes it is, and the styles part is read for its names only, once per
distinct styles part.

This module imports python-docx: ``extract`` loads it at the first Word file,
and the readers' forkserver loads it ahead for every worker.
"""

from __future__ import annotations

import hashlib
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

from mailintake.extract import W_STYLE_ID, W_VAL


class _CheckedReader:
    """python-docx's zip reader (``_ZipPkgReader``), but the XML members come
    from the check that unpacked them already; pictures are read from the zip."""

    def __init__(self, archive: zipfile.ZipFile, xml: dict[str, bytes]) -> None:
        self._archive = archive
        self._xml = xml

    def blob_for(self, pack_uri: PackURI) -> bytes:
        blob = self._xml.get(pack_uri.membername)
        return blob if blob is not None else self._archive.read(pack_uri.membername)

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


def _part(partname: PackURI, content_type: str, reltype: str, blob: bytes,
          package: Package) -> Part:
    """python-docx's own part for what is read here (the document, its pictures);
    any other part is kept as the bytes it is, never parsed: the styles are
    read by ``_styles_of`` instead, the rest is not read at all."""
    if content_type == CT.WML_DOCUMENT_MAIN or reltype == RT.IMAGE:
        return cast(Part, PartFactory(partname, content_type, reltype, blob, package))
    return cast(Part, Part.load(partname, content_type, blob, package))


# python-docx's loader below its entry point, which has no type hints.
_READER: Any = PackageReader
_CONTENT_TYPES: Any = _ContentTypeMap
_UNMARSHALLER: Any = Unmarshaller


def open_document(archive: zipfile.ZipFile, xml: dict[str, bytes]
                   ) -> tuple[Any, dict[str, str] | None]:
    """What ``docx.Document(stream)`` opens, from the checked archive: the same
    package reader and unmarshaller, with the bytes above and ``_part``; and
    the names of its styles, when it has a styles part (see ``_styles_of``)."""
    physical = _CheckedReader(archive, xml)
    content_types = _CONTENT_TYPES.from_xml(physical.content_types_xml)
    package_rels = _READER._srels_for(physical, PACKAGE_URI)
    parts = _READER._load_serialized_parts(physical, package_rels, content_types)
    package = Package()
    _UNMARSHALLER.unmarshal(_READER(content_types, package_rels, parts), package, _part)
    document_part = package.main_document_part
    if document_part.content_type != CT.WML_DOCUMENT_MAIN:
        raise ValueError(f"not a Word file, content type is '{document_part.content_type}'")
    return document_part.document, _styles_of(document_part)


# Style names by the SHA-256 of the styles part they were read from. Parsing
# styles.xml (often a few hundred KB) costs more than the rest of a Word file,
# and the Word files of one school tend to carry the same one.
_STYLE_CACHE: dict[bytes, dict[str, str]] = {}
_STYLE_CACHE_ENTRIES = 64
# Characters of style ids and names kept for one styles part (Word's own: about 5000);
# a styles part with more is read each time, so the cache stays under a few MB.
_STYLE_CACHE_MAX_CHARS = 64 * 1024


def _styles_of(document_part: Any) -> dict[str, str] | None:
    """The style names of the document's styles part (kept as bytes by ``_part``);
    None when python-docx should find them (no styles part, or an odd one)."""
    try:
        part = document_part.part_related_by(RT.STYLES)
    except (KeyError, ValueError):
        return None
    if type(part) is not Part or part.content_type != CT.WML_STYLES:
        return None
    digest = hashlib.sha256(part.blob).digest()
    names = _STYLE_CACHE.get(digest)
    if names is None:
        names = style_names(parse_xml(part.blob))
        if sum(len(key) + len(value) for key, value in names.items()) <= _STYLE_CACHE_MAX_CHARS:
            if len(_STYLE_CACHE) >= _STYLE_CACHE_ENTRIES:
                del _STYLE_CACHE[next(iter(_STYLE_CACHE))]
            _STYLE_CACHE[digest] = names
    return dict(names)


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
