"""What the console's actions look up: a unit with its correspondents, the piece a mail
became, a piece's adoptions still standing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from mailintake.store.database import Engine, session
from mailintake.store.models import (
    Correspondent,
    CorrespondentAddress,
    CorrespondentUnit,
    Submission,
    Unit,
)


@dataclass(frozen=True)
class Person:
    """One correspondent of a unit, as the clerk edits them."""

    name: str
    title: str
    phone: str
    emails: list[str]
    id: int = 0


def unit(engine: Engine, unit_id: int) -> Unit | None:
    with session(engine) as db:
        return db.get(Unit, unit_id)


def unit_named(engine: Engine, name: str) -> Unit | None:
    """The active unit of this name, if there is one."""
    with session(engine) as db:
        return db.exec(select(Unit).where(Unit.name == name, col(Unit.active))).first()


def people(engine: Engine, unit_id: int) -> list[Person]:
    """The active correspondents who send for the unit, in the order registered."""
    with session(engine) as db:
        found = db.exec(
            select(Correspondent).join(CorrespondentUnit)
            .where(CorrespondentUnit.unit_id == unit_id, col(Correspondent.active))
            .order_by(col(Correspondent.id))
        ).all()
        listed = []
        for person in found:
            addresses = db.exec(select(CorrespondentAddress.address)
                                .where(CorrespondentAddress.correspondent_id == person.id)
                                .order_by(col(CorrespondentAddress.id))).all()
            listed.append(Person(person.name, person.title, person.phone, list(addresses),
                                 person.id or 0))
        return listed


def tracking_no_of(engine: Engine, message_id: int) -> str | None:
    """The tracking number of the piece filed from an inbound mail, if one was."""
    with session(engine) as db:
        return db.exec(select(Submission.tracking_no)
                       .where(Submission.message_id == message_id)).first()

