"""Subject lines: the formats a clerk writes in config, compiled to matchers.

A clerk writes ``"{单位}信息（{日期}）{标题}"`` exactly as the notice prints it;
this module turns it into a pattern that also accepts what people really type:
half-width or full-width brackets, 【】, stray spaces, and dates such as
``2019.11.17``, ``2019-11-17`` or ``2019年11月17日``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import cn2an

from mailintake.config import ColumnConfig
from mailintake.models import Unit

_OPEN = "【〔［[〖《"
_CLOSE = "】〕］]〗》"
_BRACKETS = str.maketrans(_OPEN + _CLOSE, "(" * len(_OPEN) + ")" * len(_CLOSE))
_FORWARD = re.compile(r"^(?:(?:fwd?|fw|转发|转|回复|re)\s*[:：]\s*)+", re.IGNORECASE)

_FIELDS = {
    "单位": r"(?P<unit>.+?)",
    "日期": r"(?P<date>\d{4}\s*[.\-/年]\s*\d{1,2}\s*[.\-/月]\s*\d{1,2}\s*日?)",
    "周次": r"(?P<week>\d{1,2}|[零〇一二三四五六七八九十两]{1,4})",
    "标题": r"(?P<title>.+?)",
    "作者": r"(?P<author>[^()]{2,12}?)",
}
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class TemplateError(ValueError):
    """A subject format names a field we do not know."""


def normalize_subject(subject: str) -> str:
    """The subject as matched: full-width folded, brackets unified, spaces tidied."""
    return _normalized(subject)[0]


def _normalized(subject: str) -> tuple[str, list[int]]:
    """The normalized subject and, for each of its characters, where it came from.

    Matching runs on the normalized text; fields such as the title are cut
    from the original, so 「人机分离，学习更专注」 keeps its full-width comma.
    """
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(subject):
        for folded in unicodedata.normalize("NFKC", char).translate(_BRACKETS):
            if folded.isspace() and (not chars or chars[-1] == " "):
                continue
            chars.append(" " if folded.isspace() else folded)
            origin.append(index)
    text = "".join(chars).rstrip()
    prefix = _FORWARD.match(text)
    cut = prefix.end() if prefix else 0
    cut += len(text[cut:]) - len(text[cut:].lstrip())
    return text[cut:], origin[cut:len(text)]


def _cut(subject: str, origin: list[int], start: int, end: int) -> str:
    """The original text behind normalized positions [start, end)."""
    if end <= start:
        return ""
    return subject[origin[start]:origin[end - 1] + 1].strip()


def _literal(text: str) -> str:
    # Any literal character may be surrounded by stray spaces.
    chars = [re.escape(c) for c in normalize_subject(text) if not c.isspace()]
    return r"\s*".join(chars)


def compile_format(fmt: str) -> re.Pattern[str]:
    """A regular expression for one subject format."""
    pieces, position = [], 0
    for match in _PLACEHOLDER.finditer(fmt):
        field = match.group(1)
        if field not in _FIELDS:
            raise TemplateError(f"未知的字段 {{{field}}}，可用：{'、'.join(_FIELDS)}")
        pieces.append(_literal(fmt[position:match.start()]))
        pieces.append(_FIELDS[field])
        position = match.end()
    pieces.append(_literal(fmt[position:]))
    return re.compile(r"^\s*" + r"\s*".join(p for p in pieces if p) + r"\s*$")


@dataclass(frozen=True)
class SubjectMatch:
    column: ColumnConfig
    unit_text: str
    unit: Unit | None
    title: str
    date_text: str = ""
    event_date: date | None = None
    week: int | None = None
    author: str = ""


def parse_date(text: str) -> date | None:
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if len(numbers) != 3:
        return None
    try:
        return date(*numbers)
    except ValueError:
        return None


def parse_week(text: str) -> int | None:
    try:
        return int(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError):
        return None


class SubjectMatcher:
    """Matches subjects against the configured columns and the known units."""

    def __init__(self, columns: list[ColumnConfig], units: dict[str, Unit]) -> None:
        # Most literal text first, so 微博信息 is tried before 信息.
        compiled = [(c, compile_format(c.subject)) for c in columns]
        self._columns = sorted(compiled, key=lambda cp: -len(_PLACEHOLDER.sub("", cp[0].subject)))
        self._units = units

    def match(self, subject: str) -> SubjectMatch | None:
        """The best match: one naming a known unit if any, else the first."""
        text, origin = _normalized(subject)
        found: list[SubjectMatch] = []
        for column, pattern in self._columns:
            hit = pattern.match(text)
            if hit is None:
                continue
            groups = {
                name: _cut(subject, origin, *hit.span(name)) if hit.group(name) else ""
                for name in hit.groupdict()
            }
            unit_text = groups.get("unit", "")
            found.append(SubjectMatch(
                column=column,
                unit_text=unit_text,
                unit=self._units.get(unit_text),
                title=groups.get("title", ""),
                date_text=groups.get("date", ""),
                event_date=parse_date(groups["date"]) if groups.get("date") else None,
                week=parse_week(groups["week"]) if groups.get("week") else None,
                author=groups.get("author", ""),
            ))
        known = [m for m in found if m.unit is not None]
        return next(iter(known or found), None)
