"""The office's own 简报: its issues (第 N 期 of each year), the pieces each carried,
and the pieces a period's best are chosen from.

An issue's number is the year's highest plus one, taken in the transaction that
writes the issue; the unique (year, number) stops two processes taking the same
one, and the loser takes the next. Issues are never deleted, so a number is never
given twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from mailintake.store.database import Engine, session
from mailintake.store.models import (
    Adoption,
    Attachment,
    Briefing,
    BriefingPiece,
    PointEntry,
    Status,
    Submission,
    Unit,
)

log = logging.getLogger("mailintake.store.briefings")

# Tries at the next number when another process took one first.
_TRIES = 20


@dataclass(frozen=True)
class Source:
    """A piece as a 简报 lays it out: the piece, its unit's name, its files."""

    submission: Submission
    unit: str
    attachments: list[Attachment]


def sources(engine: Engine, numbers: list[str]) -> tuple[list[Source], list[str]]:
    """The pieces with these tracking numbers, in the order given, and the numbers no
    piece has."""
    with session(engine) as db:
        found = {s.tracking_no: s for s in db.exec(
            select(Submission).where(col(Submission.tracking_no).in_(numbers))).all()}
        ids = [s.id for s in found.values()]
        units = dict(db.exec(select(Unit.id, Unit.name)).all())
        files: dict[int, list[Attachment]] = {}
        for attachment in db.exec(select(Attachment).where(
                col(Attachment.submission_id).in_(ids)).order_by(col(Attachment.id))).all():
            files.setdefault(attachment.submission_id, []).append(attachment)
    chosen = [Source(found[n], units.get(found[n].unit_id, ""), files.get(found[n].id or 0, []))
              for n in numbers if n in found]
    return chosen, [n for n in numbers if n not in found]


@dataclass(frozen=True)
class Candidate:
    """A piece a period's best may take: what its adoptions earned, when first adopted."""

    tracking_no: str
    title: str
    unit: str
    points: float
    adopted_at: datetime


def best(engine: Engine, since: datetime, until: datetime, limit: int, *,
         skip_channel: str = "") -> list[Candidate]:
    """The pieces adopted in [since, until), the most points their adoptions earned
    first (then the earliest adopted): accepted pieces that no 简报 carried yet, not
    counting adoptions in ``skip_channel`` (the 简报's own)."""
    earned = func.coalesce(func.sum(PointEntry.points), 0)
    first = func.min(Adoption.adopted_at)
    carried = select(BriefingPiece.submission_id)
    query = (
        sa.select(Submission.tracking_no, Submission.title, Unit.name,  # type: ignore[call-overload]
                  earned, first)
        .join(Adoption, col(Adoption.submission_id) == col(Submission.id))
        .join(PointEntry, col(PointEntry.adoption_id) == col(Adoption.id), isouter=True)
        .join(Unit, col(Unit.id) == col(Submission.unit_id), isouter=True)
        .where(col(Adoption.adopted_at) >= since, col(Adoption.adopted_at) < until,
               col(Adoption.revoked_at).is_(None), Adoption.channel != skip_channel,
               Submission.status == Status.ACCEPTED,
               col(Submission.id).not_in(carried))
        .group_by(col(Submission.id), col(Submission.tracking_no), col(Submission.title),
                  col(Unit.name))
        .order_by(earned.desc(), first, col(Submission.id))
        .limit(limit)
    )
    with session(engine) as db:
        return [Candidate(number or "", title, unit or "", float(points or 0), adopted)
                for number, title, unit, points, adopted in db.exec(query).all()]


def next_number(engine: Engine, year: int) -> int:
    """The number the next issue of ``year`` would take now."""
    with session(engine) as db:
        last = db.exec(select(func.max(Briefing.number)).where(Briefing.year == year)).one()
    return (last or 0) + 1


class NumberTaken(Exception):
    """Every number tried was taken by another process at the same moment."""


def create(engine: Engine, *, year: int, title: str, issued_on: date, created_by: str,
           now: datetime, submission_ids: list[int], write: Callable[[Briefing], str]
           ) -> Briefing:
    """A new issue of ``year`` with the next number, carrying the pieces in order.

    ``write`` makes the issue's file once its number is known, inside the
    transaction, and returns where it is (relative to the storage folder): when it
    fails, nothing is written and the number is not taken.
    """
    for _ in range(_TRIES):
        with session(engine) as db:
            last = db.exec(select(func.max(Briefing.number)).where(Briefing.year == year)).one()
            issue = Briefing(year=year, number=(last or 0) + 1, title=title, issued_on=issued_on,
                             created_at=now, created_by=created_by)
            db.add(issue)
            try:
                db.flush()
            except IntegrityError:
                db.rollback()
                log.info("briefing %d/%d taken by another process; trying the next",
                         year, issue.number)
                continue
            issue.stored_path = write(issue)
            db.add(issue)
            for position, submission_id in enumerate(submission_ids, start=1):
                db.add(BriefingPiece(briefing_id=issue.id or 0, submission_id=submission_id,
                                     position=position))
            try:
                db.commit()
            except IntegrityError:
                db.rollback()
                continue
            return issue
    raise NumberTaken(f"no free briefing number for {year} after {_TRIES} tries")


def link_adoption(engine: Engine, briefing_id: int, submission_id: int, adoption_id: int
                  ) -> None:
    """Note the adoption recorded for a piece an issue carried."""
    with session(engine) as db:
        row = db.get(BriefingPiece, (briefing_id, submission_id))
        if row is not None:
            row.adoption_id = adoption_id
            db.add(row)
            db.commit()


def keep_notes(engine: Engine, briefing_id: int, notes: list[str]) -> None:
    """Keep with the issue what the clerk was told when it was made."""
    with session(engine) as db:
        row = db.get(Briefing, briefing_id)
        if row is not None:
            row.notes = list(notes)
            db.add(row)
            db.commit()


@dataclass(frozen=True)
class Issue:
    """An issue as the list shows it."""

    briefing: Briefing
    pieces: list[tuple[str, str]]  # (tracking number, title), in order
    adopted: int


def issues(engine: Engine, limit: int = 200) -> list[Issue]:
    """The newest issues first, each with its pieces."""
    with session(engine) as db:
        rows = list(db.exec(select(Briefing).order_by(
            col(Briefing.year).desc(), col(Briefing.number).desc()).limit(limit)).all())
        ids = [row.id for row in rows]
        carried: dict[int, list[tuple[str, str]]] = {}
        adopted: dict[int, int] = {}
        for briefing_id, number, title, adoption_id in db.exec(
            select(BriefingPiece.briefing_id, Submission.tracking_no, Submission.title,
                   BriefingPiece.adoption_id)
            .join(Submission, col(Submission.id) == col(BriefingPiece.submission_id))
            .where(col(BriefingPiece.briefing_id).in_(ids))
            .order_by(col(BriefingPiece.briefing_id), col(BriefingPiece.position))
        ).all():
            carried.setdefault(briefing_id, []).append((number or "", title))
            adopted[briefing_id] = adopted.get(briefing_id, 0) + (adoption_id is not None)
    return [Issue(row, carried.get(row.id or 0, []), adopted.get(row.id or 0, 0))
            for row in rows]


def issue(engine: Engine, briefing_id: int) -> Briefing | None:
    with session(engine) as db:
        return db.get(Briefing, briefing_id)


def carried_by(engine: Engine, submission_id: int) -> list[Briefing]:
    """The issues that carried the piece, oldest first."""
    with session(engine) as db:
        return list(db.exec(
            select(Briefing).join(BriefingPiece,
                                  col(BriefingPiece.briefing_id) == col(Briefing.id))
            .where(BriefingPiece.submission_id == submission_id)
            .order_by(col(Briefing.year), col(Briefing.number))).all())
