"""MIME to plain data: who sent it, the decoded subject, the body, the files.

The standard library parses the structure (keeping raw 8-bit headers as
they came); ``charsets`` decodes every header, name and body without losing
a character; mail-parser lists the defects. A forwarded mail
(message/rfc822) is read from inside, Outlook's winmail.dat is unpacked, and
pictures shown in the body (Content-ID, Apple Mail) are parts like any other.
Limits are checked on the parsed structure before anything is decoded.
mail-parser, inscriptis and tnefparse are loaded when first needed: the main
process only unpickles what the readers made of a mail.
"""

from __future__ import annotations

import binascii
import email.feedparser
import email.utils
import logging
import mimetypes
import re
import struct
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import Compat32
from functools import cache
from typing import TYPE_CHECKING, Any

import pybase64

from mailintake.reading.charsets import CODEC_ERRORS, decode_bytes, decode_header, decode_param
from mailintake.reading.fromline import read_from
from mailintake.storage import sanitize_filename

if TYPE_CHECKING:
    from inscriptis.model.config import ParserConfig

log = logging.getLogger("mailintake.reading.mime")

# RFC 5322 allows 998 characters a line; real headers (References, DKIM)
# reach a few kilobytes. Anything near this is an attack or a broken client.
MAX_HEADER_CHARS = 64 * 1024
MAX_REFUSED_HEADER = 2000  # what is kept of each header of a refused mail
MAX_DEFECTS = 50
_FEED_CHUNK = 64 * 1024
_TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")
#: Bytes of a body part read as text. A mail's own text is a few KB, Outlook's
#: HTML some hundred; an HTML body of a million elements took 1.2 GB to turn
#: into text. Past this, the text read ends at the last line that fits (the
#: mail is kept whole in the archive) and ``limits.body_size`` is noted.
MAX_BODY_BYTES = 1024 * 1024
#: Attributes of a winmail.dat unpacked at most (Outlook writes some ten per
#: file): tnefparse copies the rest of the file for each one.
MAX_TNEF_OBJECTS = 1000
_TNEF_OBJECT = struct.Struct("<BHHI")  # level, name, type, length; then data, checksum
_TNEF_ATTACHMENT = 0x9002  # attAttachRenddata: each attachment starts with it


@cache
def html_config() -> ParserConfig:
    """A browser's CSS defaults: no indentation for nested <div>s as web mail writes them."""
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    return ParserConfig(css=CSS_PROFILES["strict"])


class _RawHeaders(Compat32):
    """compat32, but header values come back as the raw text (8-bit bytes as
    surrogate escapes) instead of a Header object that has already guessed."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaders()


class _EolAtEnd:
    """The feed parser's ``NLCRE_eol`` (a line break at the very end), searched
    from the last two characters only.

    After each part the feed parser strips the line break that belongs to the
    next boundary with ``NLCRE_eol.search(payload)``; the regular expression
    engine then tries every line break of the payload in turn, which for a
    photo of 500 KB in base64 costs as much as parsing the whole mail. A
    match can only start in the last two characters, so starting there finds
    the same match. The parser's module constant is replaced for the whole
    process: every user of the standard library gets the same results.
    """

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def search(self, string: str) -> re.Match[str] | None:
        return self.pattern.search(string, max(0, len(string) - 2))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pattern, name)


_FEEDPARSER: Any = email.feedparser  # what is used below is not in its stubs
if getattr(_FEEDPARSER.NLCRE_eol, "pattern", None) == r"(\r\n|\r|\n)\Z":
    _FEEDPARSER.NLCRE_eol = _EolAtEnd(_FEEDPARSER.NLCRE_eol)


_BOUNDARY_START = "(?P<sep>" + re.escape("--")


def _is_boundary(predicate: Any) -> bool:
    """Whether an end-of-part test is the feed parser's boundary expression
    (``boundaryre.match``), which only matches a line starting with "--"."""
    pattern = getattr(predicate, "__self__", None)
    return (isinstance(pattern, re.Pattern) and getattr(predicate, "__name__", "") == "match"
            and isinstance(pattern.pattern, str) and pattern.pattern.startswith(_BOUNDARY_START))


# A run of lines of base64 (the body of every photo and Word file), or any one line.
# The feed parser only ever joins such lines together: none is a header line
# (no colon, no leading space), a boundary (no "-"), or blank. Matched on the
# raw bytes: on text, a single 8-bit byte anywhere in a chunk (a UTF-8 subject
# as Foxmail sends it) makes every character two bytes wide, and the same
# expression takes twice as long.
_LINES = re.compile(rb"(?:[A-Za-z0-9+/=]++(?:\r\n|\n|\r))++|[^\r\n]*+(?:\r\n|\n|\r)|[^\r\n]++")


def _text(line: bytes) -> str:
    """A line as the bytes feed parser makes it: 8-bit bytes as surrogate escapes."""
    return line.decode("ascii", "surrogateescape")


class _Lines(_FEEDPARSER.BufferedSubFile):  # type: ignore[misc]
    """The feed parser's line buffer, fed bytes, with two shortcuts that leave the
    parts, preambles, epilogues and defects as they are.

    A run of base64 lines comes out as one "line". The parser would only
    join those lines again: each of them fails its header, boundary and
    blank-line tests, and so does their concatenation. A photo of 500 KB is
    9000 lines of base64, each of them a trip through the parser's loop.

    And a line only goes through the boundary tests when it starts with "--",
    as every boundary line does. Any other test pushed on the stack (the
    parser's blank-line test for delivery reports) sees every line.
    """

    def __init__(self) -> None:
        super().__init__()
        self._others = 0  # tests on the stack that are no boundary expression
        self._rest = b""  # what follows the last complete line

    def push_bytes(self, data: bytes) -> None:
        raw = self._rest + data if self._rest else data
        # Complete lines end with the last "\n"; a "\r" after it may be half of "\r\n".
        end = raw.rfind(b"\n") + 1
        self._rest = raw[end:]
        if end:
            self._lines.extend(map(_text, _LINES.findall(raw, 0, end)))

    def push(self, data: str) -> None:
        self.push_bytes(data.encode("ascii", "surrogateescape"))

    def close(self) -> None:
        self._lines.extend(map(_text, _LINES.findall(self._rest)))
        self._rest = b""
        self._closed = True

    def push_eof_matcher(self, pred: Any) -> None:
        self._others += not _is_boundary(pred)
        super().push_eof_matcher(pred)

    def pop_eof_matcher(self) -> Any:
        pred = super().pop_eof_matcher()
        self._others -= not _is_boundary(pred)
        return pred

    def readline(self) -> Any:
        lines = self._lines
        if not lines:
            return "" if self._closed else _FEEDPARSER.NeedMoreData
        line = lines.popleft()
        if self._others or line.startswith("--"):
            for ateof in reversed(self._eofstack):
                if ateof(line):
                    lines.appendleft(line)  # the false end of the part: keep the line
                    return ""
        return line


class ParseError(Exception):
    """The bytes are not a mail we can read at all."""


@dataclass(frozen=True)
class MailPart:
    """A file carried by the mail: an attachment or a picture shown in the body."""

    filename: str  # decoded and sanitized: safe to show, never a path
    content_type: str
    payload: bytes
    content_id: str = ""
    inline: bool = False
    origin: str = ""  # "" for the mail itself, "forwarded" or "winmail.dat"


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


def normalize_message_id(value: str) -> str:
    """The Message-ID without angle brackets or surrounding white space."""
    value = value.strip()
    match = re.search(r"<([^<>]+)>", value)
    return (match.group(1) if match else value).strip()


def parse_mail(raw: bytes, max_parts: int = 1000) -> ParsedMail:
    """Read one raw mail; ParseError when it has no headers at all.

    Only the first ``max_parts`` files are decoded; the rest are listed with
    an empty payload. A mail with an absurdly long header is not read
    further: it comes back with ``refused`` set.
    """
    message = _parse(raw)
    if not message.keys():
        raise ParseError("no headers")
    defects: list[str] = []
    overlong = [name for p in message.walk() for name, value in p.items()
                if len(value) > MAX_HEADER_CHARS]
    if overlong:
        defects.append(f"limits.header_size: {overlong[0]}")
        return _envelope(message, defects, refused="limits.header_size")
    body = _body(message, defects)
    parts, tnef_body = _files(message, defects, max_parts)
    envelope = _envelope(message, defects)
    return replace(
        envelope,
        body=body or tnef_body,
        parts=parts,
        # After decoding: the standard library notes bad base64 only when it decodes.
        # mail-parser decodes every text part whole again: not for a body over the limit.
        defects=(envelope.defects + ([] if "limits.body_size" in defects
                                     else _mailparser_defects(message)))[:MAX_DEFECTS],
        forwarded=[_forwarded(p) for p in message.walk() if _is_forward(p)],
    )


def _parse(raw: bytes, chunk: int = _FEED_CHUNK) -> Message:
    """The MIME tree, fed in chunks: given 40 MB at once, the parser holds every
    line of it at the same time (300 MB for a mail of 40)."""
    parser = BytesFeedParser(policy=_POLICY)
    feed: Any = parser
    lines = None
    if type(getattr(feed, "_input", None)) is _FEEDPARSER.BufferedSubFile:
        lines = feed._input = _Lines()  # still unread: the parser reads it from its first line
    view = memoryview(raw)
    for start in range(0, len(raw), chunk):
        if lines is not None:  # what BytesFeedParser.feed does, with bytes kept as bytes
            lines.push_bytes(bytes(view[start:start + chunk]))
            feed._call_parse()
        else:
            parser.feed(bytes(view[start:start + chunk]))
    return parser.close()


def _payload(part: Message) -> bytes:
    """A part's decoded bytes; base64 in one pass, where the standard library
    first splits the text into lines and joins them again."""
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
        try:
            text = part.get_payload()
        except CODEC_ERRORS:  # 8-bit bytes, decoded by the part's charset label: any name
            text = None
        if isinstance(text, str):
            data = _plain_base64(text)
            if data:
                return data
            try:
                return binascii.a2b_base64(text)
            except (binascii.Error, ValueError):
                pass  # bad padding or 8-bit bytes: the lenient path notes the defect
    return _lenient(part)


#: Base64 text longer than this is decoded by ``binascii`` alone: pybase64 would
#: hold a copy of it while decoding, 40 MB more for a 30 MB video.
PYBASE64_MAX_CHARS = 8 * 1024 * 1024


def _plain_base64(text: str) -> bytes:
    """Plain base64 in lines, decoded fast; b"" for anything else.

    pybase64 decodes with SIMD, seven times as fast as ``binascii``, and
    skips what is no base64 character as ``binascii`` does; but the two
    differ on misplaced padding. So its result is taken only when its
    length proves the text plain: every character but the line breaks a
    base64 character, in whole groups of four, "=" only at the end. There
    every decoder reads the same bytes; for anything else ``binascii``
    decides, as before.
    """
    if len(text) > PYBASE64_MAX_CHARS or not text.isascii():
        return b""
    try:
        data = pybase64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        return b""
    letters = len(text) - text.count("\n") - text.count("\r")
    tail = text[-64:].rstrip("\r\n")
    padding = len(tail) - len(tail.rstrip("="))
    if letters % 4 or padding > 2 or len(data) != letters // 4 * 3 - padding:
        return b""
    return data


def _lenient(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _envelope(message: Message, defects: list[str], refused: str = "") -> ParsedMail:
    """Who sent it, when, and about what; headers cut short when the mail is refused."""
    def header(value: str | None) -> str | None:
        return value[:MAX_REFUSED_HEADER] if refused and value else value

    sender = read_from([header(v) or "" for v in message.get_all("From") or []], defects)
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for key, value in message.items():
        name, text = key.lower(), decode_header(header(value), defects)
        if name in headers:
            repeated.setdefault(name, [headers[name]]).append(text)
        headers[name] = text
    return ParsedMail(
        message_id=normalize_message_id(decode_header(header(message.get("Message-ID")))),
        from_addr=sender.address,
        from_name=sender.name,
        subject=decode_header(header(message.get("Subject")), defects),
        sent_at=_date(header(message.get("Date"))),
        headers=headers,
        body="",
        defects=list(defects),
        content_type=message.get_content_type(),
        refused=refused,
        from_problem=sender.problem,
        repeated=repeated,
    )


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        sent_at = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):  # a year of 30 digits
        return None
    return sent_at if sent_at.tzinfo is not None else None


# --- bodies ---------------------------------------------------------------------------------


def _disposition(part: Message) -> str:
    return (part.get_content_disposition() or "").lower()


def _is_body_text(part: Message) -> bool:
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and _disposition(part) != "attachment"
        and not part.get_param("filename", header="content-disposition")
        and not part.get_param("name")
    )


def _is_forward(part: Message) -> bool:
    return part.get_content_type() == "message/rfc822" and part.is_multipart()


def _body(part: Message, defects: list[str]) -> str:
    """The text a person reads: plain text preferred, HTML turned to text,
    Apple Mail's text pieces between pictures joined, forwarded mail included."""
    ctype = part.get_content_type()
    if not part.is_multipart():
        if not _is_body_text(part):
            return ""
        text = _text_of(part, defects)
        return _html_to_text(text) if ctype == "text/html" else text.strip()
    children = [c for c in part.get_payload() if isinstance(c, Message)]
    if ctype == "multipart/alternative":
        texts = [_body(c, defects) for c in children]
        plain = [t for c, t in zip(children, texts, strict=True)
                 if c.get_content_type() == "text/plain" and t]
        return plain[0] if plain else next((t for t in reversed(texts) if t), "")
    if ctype == "multipart/related" and children:
        return _body(children[0], defects)  # the rest are the root's pictures
    texts = [_body(c, defects) for c in children]
    return "\n\n".join(t for t in texts if t)


def _text_of(part: Message, defects: list[str]) -> str:
    payload = _payload(part)  # base64 without the standard library's copies of it
    if len(payload) > MAX_BODY_BYTES:
        defects.append("limits.body_size")
        # At a line break: a character cut in half would change how the rest is decoded.
        end = payload.rfind(b"\n", 0, MAX_BODY_BYTES)
        payload = payload[:end if end > 0 else MAX_BODY_BYTES]
    return decode_bytes(payload, part.get_content_charset(), defects).replace("\r\n", "\n")


def _html_to_text(html: str) -> str:
    from inscriptis import get_text

    text = get_text(html, html_config()) if html.strip() else ""
    lines = [line.rstrip().replace("\xa0", " ") for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- files ----------------------------------------------------------------------------------


def _files(message: Message, defects: list[str], max_parts: int) -> tuple[list[MailPart], str]:
    """Every file in the mail, inside forwarded mails and winmail.dat too.

    Past ``max_parts`` files nothing more is decoded, only listed.
    """
    files: list[MailPart] = []
    tnef_body = ""
    origin = {id(p): "" for p in message.walk()}
    for part in message.walk():
        if _is_forward(part):
            for inner in part.walk():
                if inner is not part:
                    origin[id(inner)] = "forwarded"
        if part.is_multipart() or _is_body_text(part):
            continue
        data = _payload(part) if len(files) < max_parts else b""
        ctype = part.get_content_type()
        name = _filename(part, defects)
        if data and (ctype in _TNEF_TYPES or name.lower() == "winmail.dat"):
            unpacked = _unpack_tnef(data, defects, max_parts)
            if unpacked is not None:
                files.extend(unpacked[0])
                tnef_body = tnef_body or unpacked[1]
                continue
        cid = normalize_message_id(decode_header(part.get("Content-ID")))
        files.append(MailPart(
            filename=_safe_name(name, ctype, cid, len(files) + 1),
            content_type=ctype, payload=data, content_id=cid,
            inline=_disposition(part) == "inline" or (bool(cid) and _disposition(part) == ""),
            origin=origin.get(id(part), ""),
        ))
    return files, tnef_body


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


def _unpack_tnef(data: bytes, defects: list[str], max_parts: int = 1000
                 ) -> tuple[list[MailPart], str] | None:
    """The files and body text inside Outlook's winmail.dat; None if it is unreadable,
    or holds more than ``max_parts`` files or MAX_TNEF_OBJECTS attributes (then it
    is kept as it is, one file)."""
    from tnefparse.tnef import TNEF

    objects, files = _tnef_counts(data)
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
    parts = []
    for number, attachment in enumerate(attachments, 1):
        name = _tnef_name(attachment, codepage, defects)
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        payload = attachment.data if isinstance(attachment.data, bytes) else b""
        parts.append(MailPart(
            filename=_safe_name(name, ctype, "", number), content_type=ctype,
            payload=payload, origin="winmail.dat",
        ))
    body = tnef.body
    if isinstance(body, bytes):
        body = decode_bytes(body.rstrip(b"\x00"), codepage, defects)
    return parts, (body or "").strip()


def _tnef_counts(data: bytes) -> tuple[int, int]:
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


def _tnef_name(attachment: Any, codepage: str, defects: list[str]) -> str:
    """The long file name (Unicode in MAPI), else the 8.3 title in the sender's code page."""
    for prop in attachment.mapi_attrs:
        if prop.name == 0x3707:  # PR_ATTACH_LONG_FILENAME
            value = prop.data
            return value if isinstance(value, str) else decode_bytes(value, codepage, defects)
    # tnefparse decodes the title as UTF-8 and fails on GBK; take its raw bytes.
    raw = attachment._name
    if isinstance(raw, bytes):
        return decode_bytes(raw.rstrip(b"\x00"), codepage, defects)
    return str(raw).rstrip("\x00")


def _forwarded(part: Message) -> Forwarded:
    inner = part.get_payload(0)
    assert isinstance(inner, Message)  # _is_forward: a parsed message/rfc822
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
