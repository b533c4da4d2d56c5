"""Rankings (排名): overall, and within each unit kind with its last place (末位).

Seed 001 ranks 社区 and 部门 separately, and the last place of each explains
itself at the next meeting. Rows are ranked by points, then by accepted
pieces; equal points share a rank (1, 2, 2, 4). Within a kind every unit with
the lowest points is marked 末位 (ties all marked); a kind of one unit, or
one whose units all have equal points, has no last place: nobody is behind
anybody.

Pure: rows are the report's dicts (``points``, ``accepted``, and ``unit`` and
``kind`` or ``correspondent``); the functions add ``rank``, ``kind_rank``
and ``last`` to them.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]
LAST = "末位"


def _name(row: Row) -> str:
    return str(row.get("unit") or row.get("correspondent") or "")


def _order(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (-r["points"], -r["accepted"], _name(r)))


def _number(rows: list[Row], key: str) -> None:
    """Give ``rows`` (already in order) their ranks under ``key``; equal points, equal rank."""
    for index, row in enumerate(rows):
        same = index and rows[index - 1]["points"] == row["points"]
        row[key] = rows[index - 1][key] if same else index + 1


def rank(rows: list[Row], *, by_kind: bool = True) -> list[Row]:
    """``rows`` in ranking order with ``rank``; with ``by_kind``, also ``kind_rank``
    (类内名次) and ``last`` (``"末位"`` or ``""``) within each row's ``kind``."""
    ordered = _order(rows)
    _number(ordered, "rank")
    if not by_kind:
        return ordered
    kinds: dict[str, list[Row]] = {}
    for row in ordered:
        kinds.setdefault(str(row.get("kind") or ""), []).append(row)
    for members in kinds.values():
        _number(members, "kind_rank")
        lowest = members[-1]["points"]
        behind = len(members) > 1 and members[0]["points"] != lowest
        for row in members:
            row["last"] = LAST if behind and row["points"] == lowest else ""
    return ordered


def last_places(rows: list[Row]) -> dict[str, list[str]]:
    """Kind -> the names marked 末位, kinds in the order they first appear."""
    found: dict[str, list[str]] = {}
    for row in rows:
        if row.get("last"):
            found.setdefault(str(row.get("kind") or ""), []).append(_name(row))
    return found
