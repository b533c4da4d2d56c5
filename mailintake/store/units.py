"""Units and correspondents: registering them, and looking them up.

``register`` writes what a checked registration form says (reading and
checking the form is ``mailintake.office.registry``): for each unit named,
its correspondents become exactly those listed. An address belongs to one
person; a person is found again by one of their addresses and their name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session, col, delete, select

from mailintake.store.database import Engine, session
from mailintake.store.models import Correspondent, CorrespondentAddress, CorrespondentUnit, Unit
from mailintake.store.unitchanges import (
    Change,
    RegistryError,
    UnitEdit,
    differences,
    states,
)


@dataclass(frozen=True)
class UnitEntry:
    """A unit as the registration form gives it."""

    name: str
    kind: str
    aliases: list[str]
    # Its 负责领导; None when the form has no such column (the stored one stays).
    leader: str | None = None


@dataclass(frozen=True)
class PersonEntry:
    """A correspondent as the registration form gives them: every address they gave,
    and the units (by name) they send for."""

    name: str
    title: str
    phone: str
    emails: list[str]
    units: list[str]


@dataclass
class ImportSummary:
    units_created: int = 0
    units_updated: int = 0
    correspondents: int = 0
    addresses: int = 0
    unit_names: list[str] = field(default_factory=list)
    # What the registration changed (or, not applied, would change), unit by unit.
    changes: list[Change] = field(default_factory=list)


def same_person(name: str) -> str:
    """A name as compared: full-width letters and spaces (王 喆, 王　喆) do not count."""
    return "".join(unicodedata.normalize("NFKC", name).split())


def register(engine: Engine, units: list[UnitEntry], people: list[PersonEntry],
             *, apply: bool = True) -> ImportSummary:
    """Write ``units`` and ``people`` in one transaction; each listed unit's
    correspondents become exactly the people listed for it.

    The summary lists every change, unit by unit. With ``apply=False`` the same
    writes are made and rolled back: the clerk sees exactly what an import would
    do before doing it.
    """
    summary = ImportSummary()
    with session(engine) as db:
        names = [entry.name for entry in units]
        before = states(db, names)
        ids: dict[str, int] = {}
        for entry in units:
            unit_id = _upsert_unit(db, entry, summary).id
            assert unit_id is not None
            ids[entry.name] = unit_id
        db.exec(delete(CorrespondentUnit).where(col(CorrespondentUnit.unit_id).in_(ids.values())))
        registered: set[int] = set()
        for person in people:
            person_id = _upsert_person(db, person, summary).id
            assert person_id is not None
            registered.add(person_id)
            for name in person.units:
                if db.get(CorrespondentUnit, (person_id, ids[name])) is None:
                    db.add(CorrespondentUnit(correspondent_id=person_id, unit_id=ids[name]))
                    db.flush()
        summary.changes = differences(before, states(db, names))
        if apply:
            db.commit()
        else:
            db.rollback()
    summary.correspondents = len(registered)
    summary.unit_names = [entry.name for entry in units]
    return summary


def _upsert_unit(db: Session, entry: UnitEntry, summary: ImportSummary) -> Unit:
    unit = db.exec(select(Unit).where(Unit.name == entry.name)).first()
    if unit is None:
        unit = Unit(name=entry.name, kind=entry.kind, aliases=entry.aliases)
        summary.units_created += 1
    else:
        unit.kind, unit.aliases, unit.active = entry.kind, entry.aliases, True
        summary.units_updated += 1
    if entry.leader is not None:
        unit.leader = entry.leader
    db.add(unit)
    db.flush()
    return unit


def _upsert_person(db: Session, entry: PersonEntry, summary: ImportSummary,
                   known_here: Correspondent | None = None) -> Correspondent:
    """The registered person who owns one of the addresses under this name, else
    ``known_here`` (the same name in the unit being edited), else a new one; the
    addresses move to them (from another person, once theirs)."""
    known = db.exec(
        select(Correspondent)
        .join(CorrespondentAddress)
        .where(col(CorrespondentAddress.address).in_(entry.emails))
        .order_by(col(CorrespondentAddress.id))
    ).all()
    person = next((p for p in known if same_person(p.name) == same_person(entry.name)),
                  known_here)
    if person is None:
        person = Correspondent(name=entry.name)
    person.name, person.title, person.phone = entry.name, entry.title, entry.phone
    person.active = True
    db.add(person)
    db.flush()
    assert person.id is not None
    for address in entry.emails:
        existing = db.exec(
            select(CorrespondentAddress).where(CorrespondentAddress.address == address)
        ).first()
        if existing is None:
            db.add(CorrespondentAddress(correspondent_id=person.id, address=address))
            summary.addresses += 1
        else:
            existing.correspondent_id = person.id  # the address moved to a new correspondent
            db.add(existing)
    db.flush()
    return person


@dataclass(frozen=True)
class Sender:
    """A registered correspondent and the units they may send for."""

    correspondent: Correspondent
    units: list[Unit]


def find_sender(session: Session, address: str) -> Sender | None:
    """The active correspondent who owns ``address``, or None."""
    row = session.exec(
        select(Correspondent)
        .join(CorrespondentAddress)
        .where(CorrespondentAddress.address == address.lower(), Correspondent.active)
    ).first()
    if row is None:
        return None
    units = session.exec(
        select(Unit)
        .join(CorrespondentUnit)
        .where(CorrespondentUnit.correspondent_id == row.id, Unit.active)
        .order_by(Unit.name)
    ).all()
    return Sender(row, list(units))


@dataclass(frozen=True)
class Registry:
    """Every active sender and unit, read at once.

    The pipeline reads it once a cycle rather than asking the database who
    sent each mail: three queries instead of two a mail. A change to the
    registry (``units import``) shows from the next cycle on.
    """

    units: list[Unit]
    senders: dict[str, Sender]

    @classmethod
    def load(cls, session: Session) -> Registry:
        units = active_units(session)  # in the database's order of names, as find_sender's
        place = {unit.id: index for index, unit in enumerate(units)}
        people = {person.id: person for person in session.exec(
            select(Correspondent).where(Correspondent.active)).all()}
        theirs: dict[int, list[Unit]] = {}
        for link in session.exec(select(CorrespondentUnit)).all():
            if link.unit_id in place:
                theirs.setdefault(link.correspondent_id, []).append(units[place[link.unit_id]])
        for own in theirs.values():
            own.sort(key=lambda unit: place[unit.id])
        senders = {}
        for address in session.exec(select(CorrespondentAddress)).all():
            person = people.get(address.correspondent_id)
            if person is not None:
                senders[address.address] = Sender(
                    person, list(theirs.get(address.correspondent_id, [])))
        return cls(units, senders)

    def sender(self, address: str) -> Sender | None:
        """What ``find_sender`` would answer for ``address``."""
        return self.senders.get(address.lower())


def active_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).where(Unit.active).order_by(Unit.name)).all())


def active_unit_names(engine: Engine) -> set[str]:
    """The names of the units in use."""
    with session(engine) as db:
        return {unit.name for unit in active_units(db)}


def unit_names(units: Iterable[Unit]) -> dict[str, Unit]:
    """Every name and alias a subject may use, mapped to its unit."""
    names: dict[str, Unit] = {}
    for unit in units:
        for name in (unit.name, *unit.aliases):
            names.setdefault(name, unit)
    return names


def load_registry(engine: Engine) -> Registry:
    """``Registry.load`` in a session of its own."""
    with session(engine) as db:
        return Registry.load(db)


def all_units(engine: Engine, *, by_name: bool = True) -> list[Unit]:
    """Every unit, active or not, by name (or in the order registered)."""
    with session(engine) as db:
        order = col(Unit.name) if by_name else col(Unit.id)
        return list(db.exec(select(Unit).order_by(order)).all())


@dataclass(frozen=True)
class UnitInfo:
    """What quota logic needs of a unit, detached from the database."""

    id: int
    name: str
    kind: str
    quota: int | None = None
    # (address id, address, correspondent name) of its active correspondents.
    recipients: tuple[tuple[int, str, str], ...] = field(default=())


def quota_units(engine: Engine) -> list[UnitInfo]:
    """Active units, by name, with the addresses of their active correspondents."""
    with session(engine) as db:
        units = db.exec(select(Unit).where(col(Unit.active)).order_by(col(Unit.name))).all()
        rows = db.exec(
            select(CorrespondentUnit.unit_id, CorrespondentAddress.id,
                   CorrespondentAddress.address, Correspondent.name)
            .join(Correspondent, col(Correspondent.id) == col(CorrespondentUnit.correspondent_id))
            .join(CorrespondentAddress,
                  col(CorrespondentAddress.correspondent_id) == col(Correspondent.id))
            .where(col(Correspondent.active))
            .order_by(col(CorrespondentAddress.id))
        ).all()
    recipients: dict[int, list[tuple[int, str, str]]] = {}
    for unit_id, address_id, address, name in rows:
        recipients.setdefault(unit_id, []).append((address_id or 0, address, name))
    return [
        UnitInfo(id=u.id or 0, name=u.name, kind=u.kind, quota=u.quota,
                 recipients=tuple(recipients.get(u.id or 0, [])))
        for u in units
    ]


#: The most pieces a period may ask of one unit (a typo of extra digits is refused).
MAX_QUOTA = 1000


def edit_unit(engine: Engine, name: str, edit: UnitEdit) -> list[Change]:
    """Change one unit's own fields; the changes made (none when nothing differs)."""
    with session(engine) as db:
        unit = db.exec(select(Unit).where(Unit.name == name)).first()
        if unit is None:
            raise RegistryError(f"没有名为「{name}」的单位")
        before = states(db, [name])
        if edit.kind is not None:
            unit.kind = edit.kind
        if edit.aliases is not None:
            unit.aliases = list(dict.fromkeys(a for a in edit.aliases if a and a != name))
        if edit.leader is not None:
            unit.leader = edit.leader
        if edit.active is not None:
            unit.active = edit.active
        if edit.kind_quota:
            unit.quota = None
        elif edit.quota is not None:
            if not 0 <= edit.quota <= MAX_QUOTA:
                raise RegistryError(f"定额应在 0 到 {MAX_QUOTA} 篇之间")
            unit.quota = edit.quota
        db.add(unit)
        db.flush()
        changes = differences(before, states(db, [name]))
        db.commit()
    return changes


def set_person(engine: Engine, unit_name: str, person: PersonEntry) -> list[Change]:
    """Add a correspondent to one unit, or change one of its correspondents (found by
    name or by an address); the unit's other correspondents stay as they are.

    An address that belongs to somebody else is refused, naming them: the
    registration form decides such moves, where the whole picture is seen.
    """
    if not person.emails:
        raise RegistryError("请至少填写一个邮箱")
    with session(engine) as db:
        unit = db.exec(select(Unit).where(Unit.name == unit_name)).first()
        if unit is None or unit.id is None:
            raise RegistryError(f"没有名为「{unit_name}」的单位")
        before = states(db, [unit_name])
        for address in person.emails:
            owner = db.exec(
                select(Correspondent).join(CorrespondentAddress)
                .where(CorrespondentAddress.address == address)
            ).first()
            if owner is not None and same_person(owner.name) != same_person(person.name):
                raise RegistryError(f"邮箱 {address} 已登记给「{owner.name}」，"
                                    "一个邮箱只能属于一位信息员")
        # The unit's correspondent of that name, whose addresses may all be new.
        here = next((p for p in db.exec(
            select(Correspondent).join(CorrespondentUnit)
            .where(CorrespondentUnit.unit_id == unit.id)).all()
            if same_person(p.name) == same_person(person.name)), None)
        found = _upsert_person(db, person, ImportSummary(), here)
        assert found.id is not None
        if db.get(CorrespondentUnit, (found.id, unit.id)) is None:
            db.add(CorrespondentUnit(correspondent_id=found.id, unit_id=unit.id))
        # Addresses the clerk took off this person are no longer theirs.
        for stale in db.exec(select(CorrespondentAddress).where(
                CorrespondentAddress.correspondent_id == found.id,
                col(CorrespondentAddress.address).not_in(person.emails))).all():
            db.delete(stale)
        db.flush()
        changes = differences(before, states(db, [unit_name]))
        db.commit()
    return changes


def remove_person(engine: Engine, unit_name: str, name: str) -> list[Change]:
    """Take a correspondent off one unit; one left with no unit stops being registered
    (their mail goes to 待人工 as an unregistered sender's)."""
    with session(engine) as db:
        unit = db.exec(select(Unit).where(Unit.name == unit_name)).first()
        if unit is None:
            raise RegistryError(f"没有名为「{unit_name}」的单位")
        before = states(db, [unit_name])
        links = db.exec(select(CorrespondentUnit, Correspondent)
                        .join(Correspondent)
                        .where(CorrespondentUnit.unit_id == unit.id)).all()
        mine = [(link, person) for link, person in links
                if same_person(person.name) == same_person(name)]
        if not mine:
            raise RegistryError(f"「{unit_name}」没有名为「{name}」的信息员")
        for link, person in mine:
            db.delete(link)
            db.flush()
            left = db.exec(select(CorrespondentUnit)
                           .where(CorrespondentUnit.correspondent_id == person.id)).first()
            if left is None:
                person.active = False
                db.add(person)
        db.flush()
        changes = differences(before, states(db, [unit_name]))
        db.commit()
    return changes
