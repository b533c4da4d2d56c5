"""CSV that a spreadsheet opens as data, never as formulas.

Unit names, titles, subjects and addresses come from mail. A text cell that a
spreadsheet would take for a formula (``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM(…)``)
is written with a leading apostrophe, as the OWASP guidance on CSV injection
advises: a cell that begins with ``= + - @``, a tab or a carriage return, also
after leading spaces or invisible characters, and also in the full-width and
other compatibility forms of those signs (``＝``, ``﹢``, ``－``, ``＠``). Every text
cell is quoted, so a separator inside it never starts a new cell. Numbers stay
numbers. JSON output is never passed through here: it stays exact.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterable
from typing import Any, TextIO

_FORMULA_SIGNS = frozenset("=+-@")
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def _looks_like_formula(text: str) -> bool:
    if text[:1] in ("\t", "\r"):
        return True
    for char in text:
        if char.isspace() or unicodedata.category(char) in _INVISIBLE:
            continue  # a spreadsheet may trim these before it looks for a sign
        return unicodedata.normalize("NFKC", char)[:1] in _FORMULA_SIGNS
    return False


def csv_cell(value: Any) -> Any:
    """``value`` as one CSV cell: lists and mappings as JSON text, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)
    return "'" + text if _looks_like_formula(text) else text


def write_csv(out: TextIO, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """A header line, then one line per row, every cell through ``csv_cell``."""
    # The header is ours (plain keys), written bare as before; text cells are quoted.
    csv.writer(out).writerow(csv_cell(key) for key in header)
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow(csv_cell(value) for value in row)
