"""Who may send: the registry of units and correspondents, as the decision sees it."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from mailintake.rules.values import Registry, Sender, UnitRef
from mailintake.store import units
from mailintake.store.database import session as open_session


def registry(engine: Engine) -> Registry:
    """Every active unit and registered address, read at once (three queries).

    The intake reads it once a cycle rather than asking who sent each mail; a
    change to the registry (``units import``) shows from the next cycle on.
    """
    with open_session(engine) as db:
        loaded = units.Registry.load(db)
    refs = {unit.id: UnitRef(unit.id, unit.name, tuple(unit.aliases), unit.leader)
            for unit in loaded.units if unit.id is not None}
    senders = {
        address: Sender(sender.correspondent.id or 0, sender.correspondent.name,
                        tuple(refs[unit.id] for unit in sender.units if unit.id in refs))
        for address, sender in loaded.senders.items()
    }
    return Registry(tuple(refs.values()), senders)
