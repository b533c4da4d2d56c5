"""Subject lines: the formats a clerk writes in config, compiled to matchers.

A clerk writes ``"{单位}信息（{日期}）{标题}"`` exactly as the notice prints it;
this module turns it into a pattern that also accepts what people really type:
half-width or full-width brackets, 【】, stray spaces, a ``转发：`` or
``更正：`` in front (or ``回复：【退回】…：`` of an answer to one of our replies),
``（更正）`` or ``.docx`` behind, the marker of an answer to a request for a piece
(``【约稿2026-003】``) anywhere, and dates such as
``2019.11.17``, ``2019-11-17``, ``2019年11月17日``, ``19.11.17``, ``20191117``
or ``11月17日`` (the year then being the one that puts the date nearest
before the day the mail arrived).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from mailintake.config.settings import ColumnConfig
from mailintake.rules.answers import answered_subject, quoted, without_solicitation_marker
from mailintake.rules.values import UnitRef

_OPEN = "【〔［[〖《"
_CLOSE = "】〕］]〗》"
_BRACKETS = str.maketrans(_OPEN + _CLOSE, "(" * len(_OPEN) + ")" * len(_CLOSE))
# Prefixes mail clients and people put in front of a subject; matched after
# NFKC folding, so the full-width colon is already ":".
_PREFIX = re.compile(
    r"^(?:(?:fwd?|fw|re|转发|转|回复|答复|回覆|更正|修正|修改|重发|补发)\s*:\s*"
    r"|\((?:更正|修正|修改|重发|补发)[版稿]?\)\s*)+",
    re.IGNORECASE,
)
# What people put behind: a correction mark, or the Word file's name.
_SUFFIX = re.compile(
    r"(?:\s*\((?:更正|修正|修改|重发|补发)[版稿]?\)|\s*\.(?:docx?|wps))+$", re.IGNORECASE
)

_SEP = r"\s*[.\-/。]\s*"
_DATE = (
    r"(?P<date>"
    rf"(?:\d{{4}}|\d{{2}})\s*(?:年|{_SEP})\s*\d{{1,2}}\s*(?:月|{_SEP})\s*\d{{1,2}}\s*日?"
    r"|\d{8}"
    rf"|\d{{1,2}}\s*(?:月|{_SEP})\s*\d{{1,2}}\s*日?"
    r")"
)
_FIELDS = {
    "单位": r"(?P<unit>.+?)",
    "日期": _DATE,
    "周次": r"(?P<week>\d{1,2}|[零〇一二三四五六七八九十两廿]{1,4})",
    "标题": r"(?P<title>.+?)",
    "作者": r"(?P<author>[^()]{2,12}?)",
}
# A bracket where the author goes that holds only a date: the event's date
# (``实验小学（2019.11.17）开展活动``), not an author called "2019.11.17".
_DATE_ONLY = re.compile(rf"^\s*{_DATE}\s*$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
# A date without its year is taken from the year before when, in the arrival
# year, it would lie this many days or more in the future (12.30 sent on 1.2).
_NEXT_YEAR_DAYS = 183


class TemplateError(ValueError):
    """A subject format names a field we do not know."""


def normalize_subject(subject: str) -> str:
    """The subject as matched: full-width folded, brackets unified, spaces tidied, and
    without the marker of an answer to a request for a piece (【约稿2026-003】)."""
    return _normalized(without_solicitation_marker(subject))[0]


def subject_key(subject: str) -> str:
    """The subject as compared for corrections: normalized, no spaces, case folded."""
    return "".join(normalize_subject(subject).split()).casefold()


def unit_key(name: str) -> str:
    """A unit name as looked up: folded, without spaces or surrounding brackets."""
    return "".join(normalize_subject(name).split()).strip("()").casefold()


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
    suffix = _SUFFIX.search(text)
    if suffix is not None and suffix.start() > 0:
        text = text[:suffix.start()].rstrip()
    cut = _prefixed(text, 0)
    # An answer to one of our replies, with a piece: the subject our reply quoted.
    ours = quoted(text[cut:]) if answered_subject(text) else 0
    if ours:
        cut = _prefixed(text, cut + ours)
    return text[cut:], origin[cut:len(text)]


def _prefixed(text: str, start: int) -> int:
    """Where ``text`` goes on behind the prefixes and spaces from ``start`` on."""
    prefix = _PREFIX.match(text[start:])
    cut = start + (prefix.end() if prefix else 0)
    return cut + len(text[cut:]) - len(text[cut:].lstrip())


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


def fill_format(fmt: str, values: dict[str, str]) -> str:
    """A subject written in format ``fmt``, e.g. the right one for a hint."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), fmt)


@dataclass(frozen=True)
class SubjectMatch:
    column: ColumnConfig
    unit_text: str
    unit: UnitRef | None
    title: str
    date_text: str = ""
    event_date: date | None = None
    week_text: str = ""
    week: int | None = None
    author: str = ""


def parse_date(text: str, today: date | None = None) -> date | None:
    """The date in ``text``; a year left out is taken from ``today``.

    Two-digit years are this century's (``19.11.17`` is 2019-11-17).
    """
    numbers = re.findall(r"\d+", text)
    if len(numbers) == 1 and len(numbers[0]) == 8:
        numbers = [numbers[0][:4], numbers[0][4:6], numbers[0][6:]]
    try:
        if len(numbers) == 3:
            year = int(numbers[0])
            return date(year + 2000 if len(numbers[0]) == 2 else year, *map(int, numbers[1:]))
        if len(numbers) == 2 and today is not None:
            month, day = map(int, numbers)
            guess = date(today.year, month, day)
            if (guess - today).days >= _NEXT_YEAR_DAYS:
                guess = date(today.year - 1, month, day)
            return guess
    except ValueError:  # 2月30日, 13月, or 29 February of the year before
        return None
    return None


def parse_week(text: str) -> int | None:
    import cn2an  # 0.3 s to import: only for a subject that names a week

    try:
        return int(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError):
        return None


def week_numeral(number: int) -> str:
    """A week number as the notices write it: 12 -> 十二."""
    import cn2an  # see parse_week

    return str(cn2an.an2cn(number))


class SubjectMatcher:
    """Matches subjects against the configured columns and the known units."""

    def __init__(self, columns: list[ColumnConfig], units: Mapping[str, UnitRef]) -> None:
        # Most literal text first, so 微博信息 is tried before 信息.
        compiled = [(c, compile_format(c.subject)) for c in columns]
        self._columns = sorted(compiled, key=lambda cp: -len(_PLACEHOLDER.sub("", cp[0].subject)))
        self._units = {unit_key(name): unit for name, unit in units.items()}
        # The last subject matched and its match: a mail is matched when the decision
        # asks what to look up for it, and again when it decides.
        self._last: tuple[tuple[str, date | None], SubjectMatch | None] | None = None

    def unit(self, text: str) -> UnitRef | None:
        """The unit a subject names, by full name or alias, spaces and brackets ignored."""
        return self._units.get(unit_key(text))

    def match(self, subject: str, today: date | None = None) -> SubjectMatch | None:
        """The best match: one naming a known unit if any, else the first.

        ``today`` (the office's date of arrival) completes dates written
        without a year.
        """
        if self._last is not None and self._last[0] == (subject, today):
            return self._last[1]
        found = self._match(subject, today)
        self._last = ((subject, today), found)
        return found

    def _match(self, subject: str, today: date | None) -> SubjectMatch | None:
        # The 约稿 marker is no part of the format: the subject is matched without it.
        subject = without_solicitation_marker(subject)
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
            date_text, week_text = groups.get("date", ""), groups.get("week", "")
            date_raw = hit.group("date") if date_text else ""
            author = groups.get("author", "")
            if author and not date_text and _DATE_ONLY.match(hit.group("author")):
                date_text, date_raw, author = author, hit.group("author"), ""
            found.append(SubjectMatch(
                column=column,
                unit_text=unit_text,
                unit=self.unit(unit_text),
                title=groups.get("title", ""),
                date_text=date_text,
                event_date=parse_date(date_raw, today) if date_text else None,
                week_text=week_text,
                week=parse_week(hit.group("week")) if week_text else None,
                author=author,
            ))
        known = [m for m in found if m.unit is not None]
        return next(iter(known or found), None)
