"""What a change to the registry changes, as a clerk reviews it: each unit's own
fields and its correspondents', compared before and after (in the same
transaction, so a preview shows exactly what applying would do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, col, select

from mailintake.store.models import Correspondent, CorrespondentAddress, CorrespondentUnit, Unit


@dataclass(frozen=True)
class Change:
    """One difference a registration makes, as the clerk reviews it before applying."""

    kind: Literal["added", "changed", "removed"]
    unit: str
    # The correspondent concerned; "" for a change to the unit itself.
    person: str = ""
    # What changed, in Chinese: "联系电话：137… → 138…"; "" for an addition or removal.
    detail: str = ""


class RegistryError(Exception):
    """A change to the registry that cannot be made (Chinese, for the clerk)."""


@dataclass(frozen=True)
class UnitEdit:
    """What a clerk changes of one unit; None leaves a field as it is."""

    kind: str | None = None
    aliases: list[str] | None = None
    leader: str | None = None
    active: bool | None = None
    quota: int | None = None
    # Back to its kind's quota (``[quotas]``), dropping the unit's own.
    kind_quota: bool = False


@dataclass(frozen=True)
class _UnitState:
    """A unit as a clerk compares it: its own fields and its correspondents'."""

    fields: dict[str, str]
    # name -> {field: value} of each correspondent who sends for it.
    people: dict[str, dict[str, str]]


_UNIT_FIELDS = {"kind": "类别", "aliases": "简称", "leader": "负责领导", "active": "状态",
                "quota": "定额"}
_PERSON_FIELDS = {"title": "职务", "phone": "联系电话", "emails": "邮箱"}


def states(db: Session, names: list[str]) -> dict[str, _UnitState]:
    """The units named (those registered), each with its correspondents, as they stand."""
    found = db.exec(select(Unit).where(col(Unit.name).in_(names))).all()
    states: dict[str, _UnitState] = {}
    for unit in found:
        people: dict[str, dict[str, str]] = {}
        rows = db.exec(
            select(Correspondent).join(CorrespondentUnit)
            .where(CorrespondentUnit.unit_id == unit.id, col(Correspondent.active))
        ).all()
        for person in sorted(rows, key=lambda p: p.id or 0):
            addresses = db.exec(select(CorrespondentAddress.address)
                                .where(CorrespondentAddress.correspondent_id == person.id)).all()
            people[person.name] = {"title": person.title, "phone": person.phone,
                                   "emails": "、".join(sorted(addresses))}
        states[unit.name] = _UnitState(
            fields={"kind": unit.kind, "aliases": "、".join(unit.aliases), "leader": unit.leader,
                    "active": "启用" if unit.active else "停用",
                    "quota": "按类别" if unit.quota is None else str(unit.quota)},
            people=people,
        )
    return {name: states[name] for name in names if name in states}  # in the form's order


def differences(before: dict[str, _UnitState], after: dict[str, _UnitState]) -> list[Change]:
    changes: list[Change] = []
    for name, now in after.items():
        was = before.get(name)
        if was is None:
            changes.append(Change("added", name))
            changes += [Change("added", name, person) for person in now.people]
            continue
        changes += [Change("changed", name, "", detail) for detail in
                    _compared(was.fields, now.fields, _UNIT_FIELDS)]
        for person, fields in now.people.items():
            if person not in was.people:
                changes.append(Change("added", name, person))
            else:
                changes += [Change("changed", name, person, detail) for detail in
                            _compared(was.people[person], fields, _PERSON_FIELDS)]
        changes += [Change("removed", name, person)
                    for person in was.people if person not in now.people]
    return changes


def _compared(was: dict[str, str], now: dict[str, str], labels: dict[str, str]) -> list[str]:
    return [f"{label}：{was[key] or '（空）'} → {now[key] or '（空）'}"
            for key, label in labels.items() if was[key] != now[key]]
