"""Everything at once, for the lists a clerk reads: every piece with its mail and
findings, every mail, every unit with its correspondents. Oldest first (units by
name)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
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


@dataclass(slots=True)  # not frozen: a frozen dataclass costs 3 µs more a piece
class ListedPiece:
    """A piece, what the list shows of the mail it came in, its unit's name ("" when
    none) and its findings' codes."""

    tracking_no: str | None
    unit: str
    column: str
    title: str
    status: str
    word_count: int
    picture_count: int
    received_at: datetime
    message_id: str
    from_addr: str
    # How it came: "" by mail; "qq", "paper" or "other" when a clerk filed it.
    via: str
    findings: list[str]


def iter_pieces(engine: Engine, batch: int = 2000) -> Iterator[ListedPiece]:
    """Every piece, in the order filed, one at a time: the pieces and their findings are
    read side by side from two server-side cursors, both in the order of the piece, so
    forty thousand pieces are never all in memory (nor their texts, never read)."""
    s, m = Submission, InboundMessage
    query = (sa.select(col(s.id), col(s.tracking_no), col(s.unit_id), col(s.column),
                       col(s.title), col(s.status), col(s.word_count), col(s.picture_count),
                       col(s.received_at), col(m.message_id), col(m.from_addr),
                       col(m.via))
             .join(m, col(s.message_id) == col(m.id)).order_by(col(s.id)))
    codes = sa.select(col(Finding.submission_id), col(Finding.code)).order_by(
        col(Finding.submission_id), col(Finding.id))
    with session(engine) as db:
        connection = db.connection()
        units = dict(connection.execute(sa.select(col(Unit.id), col(Unit.name))).all())
        streamed = connection.execution_options(stream_results=True, yield_per=batch)
        findings = iter(streamed.execute(codes))
        pending = next(findings, None)
        for (sid, tracking_no, unit_id, column, title, status, word_count, picture_count,
             received_at, message_id, from_addr, via) in streamed.execute(query):
            found = []
            assert sid is not None  # a primary key
            while pending is not None and pending[0] <= sid:
                if pending[0] == sid:
                    found.append(pending[1])
                pending = next(findings, None)
            yield ListedPiece(tracking_no, units.get(unit_id, "") if unit_id else "", column,
                              title, status, word_count, picture_count, received_at,
                              message_id, from_addr, via, found)

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
