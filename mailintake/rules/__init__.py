"""The checks a piece goes through, in the order their findings are listed.

To add a check: write a module with ``RULES`` and ``check(piece)``, and add it
to ``MODULES`` below. The README's catalogue is tested against ``RULES``.
"""

from __future__ import annotations

from types import ModuleType

from mailintake.rules import (
    content,
    deadline,
    document,
    duplicates,
    forwarded,
    length,
    limits,
    pictures,
    subject,
    timeliness,
)
from mailintake.rules.base import Finding, Hit, Piece, Rule

# The order findings are listed in a reply: the subject first, as the
# correspondent reads it, then the file, its length and pictures, then copies
# and forwarded drafts.
MODULES: list[ModuleType] = [
    subject, timeliness, deadline, document, limits, length, pictures, content, duplicates,
    forwarded,
]

CATALOGUE: dict[str, Rule] = {rule.code: rule for m in MODULES for rule in m.RULES}


def finding(hit: Hit, piece: Piece | None = None) -> Finding:
    """The finding for a hit, with the severity config sets: the column's
    ``severity``, else the office-wide ``[checks] severity``, else the rule's."""
    rule = CATALOGUE[hit.code]
    column = piece.column if piece else None
    office = piece.config.checks.severity if piece else {}
    severity = office.get(rule.code, rule.severity)
    if column is not None:
        severity = column.severity.get(rule.code, severity)
    return Finding(
        code=rule.code,
        severity=severity,
        message=rule.message.format(**hit.values),
        hint=rule.hint.format(**hit.values),
    )


def run_checks(piece: Piece) -> list[Finding]:
    """Every finding for ``piece``, from every check."""
    return [finding(hit, piece) for module in MODULES for hit in module.check(piece)]


__all__ = ["CATALOGUE", "Finding", "Piece", "Rule", "run_checks"]
