"""Bytes and headers to text without losing a character.

Chinese mail clients label GBK text as GB2312, send raw 8-bit headers and
leave bodies unlabelled. Every member of the GB2312 family is decoded as
GB18030 (a superset), so 镕, 堃 and 喆 survive; text without a usable label is
tried as UTF-8, then GB18030 or Big5, and only then handed to
charset-normalizer. U+FFFD appears only when nothing at all fits, and then a
defect says so.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

from charset_normalizer import from_bytes

# Labels whose text is really GBK or wider: decode all as GB18030.
_GB_FAMILY = {
    "gb2312", "gbk", "x-gbk", "euc-cn", "cp936", "gb_2312-80", "csgb2312", "gb18030",
    "x-euc-cn", "ms936", "windows-936", "chinese", "iso-ir-58", "csiso58gb231280",
}
_BIG5_FAMILY = {"big5", "big5-hkscs", "big5hkscs", "cp950", "x-big5", "csbig5", "x-x-big5"}
# Labels clients put on text they never looked at: they say nothing about 8-bit bytes.
_WEAK_LABELS = {
    "us-ascii", "ascii", "iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252",
    "unknown-8bit", "x-unknown", "unknown", "x-user-defined", "default", "8bit", "none",
}
# Codecs Python knows that are no character set of mail text: a label naming one is
# treated as unknown. (Bytes-to-bytes and text-to-text codecs such as base64, zlib
# and rot13 are left out by ``codecs`` itself: see ``charset_codec``.)
_NOT_CHARSETS = {"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape",
                 "charmap"}
# What a codec may raise on bytes from anyone: UnicodeError for the text it cannot
# decode, LookupError and ValueError for names it does not take.
CODEC_ERRORS = (UnicodeError, LookupError, ValueError, TypeError)
# Shorter than this, charset-normalizer cannot tell GBK from Big5; GBK is far likelier here.
_MIN_DETECT_BYTES = 8

# The charset may be empty (=??B?...?=): decoded by guessing, never left as text the
# mail library would decode again, into surrogates, when a reply quotes it.
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
# Control characters in a decoded header: a form feed or U+2028 ends a line for the
# mail library, so a subject carrying one could not be quoted in the reply.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def charset_codec(label: str | None) -> str | None:
    """The Python codec to decode text labelled ``label`` with, or None if unknown."""
    if not label:
        return None
    # RFC 2231 allows a language after "*": "gb2312*zh-cn".
    name = label.strip().strip('"').split("*", 1)[0].lower()
    if name in _GB_FAMILY:
        return "gb18030"
    if name in _BIG5_FAMILY:
        return "big5hkscs"
    try:
        info = codecs.lookup(name)
    except CODEC_ERRORS:  # unknown, or no name at all ("\x00")
        return None
    if not info._is_text_encoding or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, label: str | None = None, defects: list[str] | None = None) -> str:
    """Text from ``data``: by its label when that fits, else by what the bytes are."""
    weak = not label or label.strip().strip('"').lower() in _WEAK_LABELS
    codec = None if weak else charset_codec(label)
    if codec is not None:
        try:
            return data.decode(codec)
        except CODEC_ERRORS:
            _note(defects, f"charset.mislabelled:{_shown(label)}")
    elif not weak:
        _note(defects, f"charset.unknown:{_shown(label)}")
    if data.isascii():
        return data.decode("ascii")
    text = _guess(data)
    if text is None:
        _note(defects, "charset.undecodable")
        return data.decode("gb18030", errors="replace")
    return text


def _guess(data: bytes) -> str | None:
    """Decode unlabelled 8-bit text: UTF-8, then GB18030 or Big5, then anything."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    fits = []
    for codec in ("gb18030", "big5hkscs"):
        try:
            fits.append((codec, data.decode(codec)))
        except UnicodeDecodeError:
            continue
    if len(fits) == 1 or (fits and len(data) < _MIN_DETECT_BYTES):
        return fits[0][1]
    if fits:
        best = from_bytes(data, cp_isolation=["gb18030", "big5"]).best()
        if best is not None and best.encoding == "big5":
            return dict(fits)["big5hkscs"]
        return fits[0][1]
    best = from_bytes(data).best()
    return str(best) if best is not None else None


def _shown(label: str | None) -> str:
    """A label as a defect line names it: short, and no control character in it."""
    return _CONTROLS.sub("?", str(label))[:40]


def _note(defects: list[str] | None, defect: str) -> None:
    if defects is not None and defect not in defects:
        defects.append(defect)


def _word_bytes(encoding: str, text: str) -> bytes | None:
    """The bytes of one RFC 2047 encoded-word, leniently; None if it is not one."""
    try:
        if encoding in "bB":
            return base64.b64decode(text + "=" * (-len(text) % 4))
        return binascii.a2b_qp(text.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_header(value: object, defects: list[str] | None = None) -> str:
    """A header as a person reads it: RFC 2047 words and raw 8-bit bytes decoded.

    Encoded-words are found anywhere, quoted strings included (Foxmail writes
    ``"=?gbk?B?...?=" <addr>``); adjacent words in one charset are joined as
    bytes before decoding, so a character split across two words survives.
    """
    if value is None:
        return ""
    text = _FOLD.sub("", str(value))
    # (bytes, charset) for encoded-words; (bytes, None) for raw text between them.
    chunks: list[tuple[bytes, str | None]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            continue  # left in place as literal text
        between = text[position:match.start()]
        if between and not (between.isspace() and chunks and chunks[-1][1] is not None):
            chunks.append((_raw(between), None))
        charset = match.group(1).split("*", 1)[0].lower()
        if chunks and chunks[-1][1] == charset:
            chunks[-1] = (chunks[-1][0] + data, charset)
        else:
            chunks.append((data, charset))
        position = match.end()
    if position < len(text):
        chunks.append((_raw(text[position:]), None))
    decoded = "".join(decode_bytes(data, charset, defects) for data, charset in chunks)
    # Lone surrogates (bytes no codec took) become U+FFFD: they cannot be encoded again.
    decoded = decoded.encode("utf-8", "replace").decode("utf-8", "replace")
    return _CONTROLS.sub(" ", decoded).strip()


def _raw(text: str) -> bytes:
    """Header text back to its bytes: the parser keeps 8-bit bytes as surrogate escapes."""
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # already decoded text, from somewhere other than the parser
        return text.encode("utf-8", "surrogateescape")


def decode_param(value: str | tuple[str, str, str] | None, defects: list[str] | None = None) -> str:
    """A MIME parameter value: RFC 2231 (continuations joined by the parser) or RFC 2047."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        charset, _language, text = value
        data = text.encode("latin-1", "surrogateescape")
        return decode_bytes(data, charset or None, defects).strip()
    return decode_header(value, defects)
