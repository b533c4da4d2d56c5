"""Everything at once, for the lists a clerk reads: every piece with its mail and
findings, every mail, every unit with its correspondents. Oldest first (units by
name)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import col, select

from mailintake.store.database import Engine, session
from mailintake.store.models import (
    Correspondent,
    CorrespondentAddress,
    CorrespondentUnit,
    Finding,
    InboundMessage,
    Submission,
    Unit,
)


@dataclass(frozen=True)
class ListedPiece:
    """A piece, the mail it came in, its unit's name ("" when none) and its findings' codes."""

    submission: Submission
    message: InboundMessage
    unit: str
    findings: list[str]


def pieces(engine: Engine) -> list[ListedPiece]:
    """Every piece, in the order filed."""
    with session(engine) as db:
        units = {u.id: u.name for u in db.exec(select(Unit)).all()}
        findings: dict[int, list[str]] = defaultdict(list)
        for f in db.exec(select(Finding).order_by(col(Finding.id))).all():
            findings[f.submission_id].append(f.code)
        pairs = db.exec(
            select(Submission, InboundMessage)
            .join(InboundMessage, col(Submission.message_id) == col(InboundMessage.id))
            .order_by(col(Submission.id))
        ).all()
    return [
        ListedPiece(submission=s, message=m,
                    unit=units.get(s.unit_id, "") if s.unit_id else "",
                    findings=findings.get(s.id or 0, []))
        for s, m in pairs
    ]


def messages(engine: Engine) -> list[InboundMessage]:
    """Every mail the mailbox delivered, in the order delivered."""
    with session(engine) as db:
        return list(db.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all())


@dataclass(frozen=True)
class ListedPerson:
    """A correspondent of a unit, with their addresses."""

    correspondent: Correspondent
    addresses: list[str]


def units(engine: Engine) -> list[tuple[Unit, list[ListedPerson]]]:
    """Every unit, by name, with its correspondents."""
    with session(engine) as db:
        people = {p.id: p for p in db.exec(select(Correspondent)).all()}
        addresses: dict[int, list[str]] = defaultdict(list)
        for a in db.exec(select(CorrespondentAddress).order_by(col(CorrespondentAddress.id))):
            addresses[a.correspondent_id].append(a.address)
        links: dict[int, list[int]] = defaultdict(list)
        for link in db.exec(select(CorrespondentUnit)).all():
            links[link.unit_id].append(link.correspondent_id)
        found = db.exec(select(Unit).order_by(col(Unit.name))).all()
    return [
        (unit, [ListedPerson(people[c], addresses[c]) for c in links[unit.id or 0]])
        for unit in found
    ]
