"""What the decision knows beyond the mail itself, as plain values.

The store reads them (``store.senders.registry``, ``store.history.recall``,
``store.messages.first_delivery``) and hands them over; the rules never ask
the database, so every rule can be tried on values a test writes by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mailintake.reading.fingerprint import Fingerprint


@dataclass(frozen=True)
class UnitRef:
    """A registered unit, by its id, its name and the short names a subject may use."""

    id: int
    name: str
    aliases: tuple[str, ...] = ()
    # Its 负责领导 as the registration form names it; "" when it names none.
    leader: str = ""


@dataclass(frozen=True)
class Sender:
    """A registered correspondent and the units they may send for.

    ``correspondent_id`` is None for a sender nobody registered whose mail a clerk
    filed for a unit anyway (``messages retry --unit``).
    """

    correspondent_id: int | None
    name: str
    units: tuple[UnitRef, ...] = ()


@dataclass(frozen=True)
class Registry:
    """Every active sender (by lower-case address) and unit, read once a cycle."""

    units: tuple[UnitRef, ...] = ()
    senders: Mapping[str, Sender] = field(default_factory=dict)

    def sender(self, address: str) -> Sender | None:
        return self.senders.get(address.lower())

    def names(self) -> dict[str, UnitRef]:
        """Every name and alias a subject may use, mapped to its unit (the first unit
        to claim a name keeps it)."""
        names: dict[str, UnitRef] = {}
        for unit in self.units:
            for name in (unit.name, *unit.aliases):
                names.setdefault(name, unit)
        return names


@dataclass(frozen=True)
class Earlier:
    """A piece already filed, as the checks and the receipt name it."""

    id: int
    tracking_no: str
    unit_id: int | None
    unit: str
    title: str
    received_at: datetime
    version: int
    subject_key: str
    text_hash: str
    text: str


@dataclass(frozen=True)
class History:
    """What the office already has that bears on one new piece."""

    fingerprint: Fingerprint | None = None
    subject_key: str = ""
    # The version this piece corrects, if it is a correction.
    replaces: Earlier | None = None
    # Filed pieces with the same hash or a shared band, oldest first; never
    # the versions of the piece this one corrects.
    candidates: list[Earlier] = field(default_factory=list)


@dataclass(frozen=True)
class Lookup:
    """What to ask the store for a piece's history: its unit, subject and text."""

    unit_id: int | None
    subject: str
    fingerprint: Fingerprint | None
