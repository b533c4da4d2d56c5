"""Raw bytes to the standard library's MIME tree, fed in chunks, with headers
kept as they came (8-bit bytes as surrogate escapes).

The feed parser's line buffer is replaced, for mailintake's own parser
objects only (nothing of the standard library is patched), by one that hands
base64 bodies over in runs of lines and tests only lines starting with "--"
as boundaries: the tree it builds is the standard library's own. It pays
6-9 % of a poll's time (bench/ingest.py, c/a, paired runs).
"""

from __future__ import annotations

import email.feedparser
import re
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import Compat32
from typing import Any

FEED_CHUNK = 64 * 1024


class RawHeaders(Compat32):
    """compat32, but header values come back as the raw text (8-bit bytes as
    surrogate escapes) instead of a Header object that has already guessed."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


RAW_HEADERS = RawHeaders()
_FEEDPARSER: Any = email.feedparser  # what is used below is not in its stubs

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


def parse_tree(raw: bytes, chunk: int = FEED_CHUNK) -> Message:
    """The MIME tree, fed in chunks: given 40 MB at once, the parser holds every
    line of it at the same time (300 MB for a mail of 40)."""
    parser = BytesFeedParser(policy=RAW_HEADERS)
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
