"""What the office already has: the earlier pieces a new one may duplicate or correct.

Two questions are put to the database for every piece, before the checks run;
the checks see the answers as plain data (``rules.values.History`` on the Piece),
and all the SQL stays here.

- Duplicates: has any unit filed the same text (sha256 of the normalized
  text, so the same document in another file or format is still the same),
  or nearly the same text (Jaccard similarity of 4-character shingles at or
  above ``[duplicates] threshold``)? Comparing with every piece ever filed
  would not scale (some 500,000 pieces in five years), so each accepted piece
  stores the 16 LSH bands of its MinHash signature in ``text_band``, and a new
  piece is compared only with the pieces sharing a band with it. Two texts at
  similarity 0.8 share a band with probability above 0.999, at 0.6 about 0.9,
  and unrelated news pieces (similarity near 0.05) almost never.
- Corrections: did the same unit send the same subject (normalized) within
  ``[corrections] window_days``? Then the new piece, if accepted, replaces
  that version: it becomes version N+1, the earlier one is superseded, and
  the unit's count is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, func, select

from mailintake.config.settings import Config
from mailintake.reading.fingerprint import MAX_CHARS, Fingerprint, keep
from mailintake.rules.columns import subject_key
from mailintake.rules.values import Earlier, History, Lookup
from mailintake.store.models import Status, Submission, TextBand, Unit

# A band shared by very many pieces (boilerplate) must not make one mail read
# thousands of texts: the most recent ones are enough to name an earlier piece.
MAX_CANDIDATES = 50
# Pieces that count as filed: the current version and the versions it replaced.
FILED = (Status.ACCEPTED, Status.SUPERSEDED)


def recall(
    engine: Engine, config: Config, lookup: Lookup, *, now: datetime,
    seen: dict[int, Earlier | None] | None = None,
) -> History:
    """Look up what a new piece from ``lookup.unit_id`` with ``lookup.subject`` and the
    text of ``lookup.fingerprint`` (None: no text) may be.

    ``seen`` keeps the earlier pieces already read, by id, for the next call:
    mail after mail meets the same recent pieces as candidates. Keep it for
    one cycle (a clerk's change shows from the next).
    """
    with engine.connect() as connection:
        return _recall(connection, config, lookup, now, {} if seen is None else seen)


def _recall(
    connection: Connection, config: Config, lookup: Lookup, now: datetime,
    seen: dict[int, Earlier | None],
) -> History:
    unit_id, fingerprint = lookup.unit_id, lookup.fingerprint
    key = subject_key(lookup.subject)
    if fingerprint is not None and len(fingerprint.normalized) < config.duplicates.min_chars:
        fingerprint = None  # too short to say anything about duplicates
    if fingerprint is not None:
        keep(fingerprint)  # this piece's shingles, for the checks and the pieces after it
    replaces = None
    window = config.corrections.window_days
    if unit_id is not None and key and window:
        replaces = _current_version(connection, unit_id, key, now - timedelta(days=window))
    candidates: list[Earlier] = []
    if fingerprint is not None:
        days = config.duplicates.window_days
        since = now - timedelta(days=days) if days else None
        candidates = _candidates(connection, fingerprint, since, seen)
    if replaces is not None:
        thread = (replaces.unit_id, replaces.subject_key)
        candidates = [c for c in candidates if (c.unit_id, c.subject_key) != thread]
    return History(fingerprint, key, replaces, candidates)


def stamp(submission: Submission, history: History) -> None:
    """Mark a new piece with what later pieces compare it by, and the version it corrects.

    Set before the piece is first written, so its row is inserted once,
    complete, rather than inserted and updated.
    """
    submission.subject_key = history.subject_key[:300]
    fingerprint = history.fingerprint
    submission.text_hash = fingerprint.hash if fingerprint else ""
    earlier = history.replaces
    if submission.status == Status.ACCEPTED and earlier is not None:
        submission.version, submission.replaces_id = earlier.version + 1, earlier.id


def remember(db: Session, submission: Submission, history: History) -> None:
    """Store the bands later pieces are found by; apply a correction.

    Runs in the transaction that files ``submission`` (after it has an id).
    """
    assert submission.id is not None
    if submission.status != Status.ACCEPTED:
        return
    run = db.connection().execute
    if history.replaces is not None:
        run(_supersede(), {"earlier": history.replaces.id})
    if history.fingerprint is not None:
        # One executemany, not sixteen ORM objects to build and flush.
        run(insert(TextBand), [
            {"band": band, "submission_id": submission.id} for band in history.fingerprint.bands
        ])


@cache
def _supersede() -> Any:
    """The earlier version, if still the current one, is superseded by its correction."""
    return (
        update(Submission)
        .where(col(Submission.id) == bindparam("earlier"),
               col(Submission.status) == Status.ACCEPTED)
        .values(status=Status.SUPERSEDED)
    )


def _current_version(
    connection: Connection, unit_id: int, key: str, since: datetime
) -> Earlier | None:
    params = {"unit_id": unit_id, "key": key, "since": since}
    row = connection.execute(_queries().current, params).first()
    return Earlier(*row) if row is not None else None


def _candidates(
    connection: Connection, fingerprint: Fingerprint, since: datetime | None,
    seen: dict[int, Earlier | None],
) -> list[Earlier]:
    queries, run = _queries(), connection.execute
    same = run(queries.same_hash, {"hash": fingerprint.hash}).scalars().all()
    banded = run(queries.banded, {"bands": list(fingerprint.bands)}).scalars().all()
    ids = {*same, *banded}
    unknown = sorted(ids - seen.keys())
    if unknown:
        rows = {row[0]: Earlier(*row) for row in run(queries.rows, {"ids": unknown})}
        seen.update({id_: rows.get(id_) for id_ in unknown})  # None: not filed
    found = [e for e in map(seen.get, ids)
             if e is not None and (since is None or e.received_at >= since)]
    return sorted(found, key=lambda e: (e.received_at, e.id))


@dataclass(frozen=True)
class _Queries:
    """The statements asked for every mail, built once.

    Building a statement with its bound values costs several times what the
    database takes to answer it; built once with named parameters, each use
    only binds the values.
    """

    current: Any
    same_hash: Any
    banded: Any
    rows: Any


@cache
def _queries() -> _Queries:
    current = (
        _earlier_rows()
        .where(
            Submission.unit_id == bindparam("unit_id"),
            Submission.subject_key == bindparam("key"),
            Submission.status == Status.ACCEPTED,
            Submission.received_at >= bindparam("since"),
        )
        .order_by(col(Submission.received_at).desc(), col(Submission.id).desc())
        .limit(1)
    )
    # Ids first, each by its own index, then the rows by primary key: a plan
    # that walks submissions in date order looking for band members (as
    # PostgreSQL chose for "IN (bands) ORDER BY date LIMIT" before its first
    # ANALYZE) took seconds at 500,000 pieces.
    same_hash = select(Submission.id).where(
        Submission.text_hash == bindparam("hash"), col(Submission.status).in_(FILED)
    ).limit(MAX_CANDIDATES)
    # Pieces sharing the most bands first: a copy shares several, a piece
    # that merely shares boilerplate with this one usually a single band.
    banded = (
        select(TextBand.submission_id)
        .where(col(TextBand.band).in_(bindparam("bands", expanding=True)))
        .group_by(col(TextBand.submission_id))
        .order_by(func.count().desc(), col(TextBand.submission_id).desc())
        .limit(MAX_CANDIDATES)
    )
    rows = _earlier_rows().where(
        col(Submission.id).in_(bindparam("ids", expanding=True)),
        col(Submission.status).in_(FILED),
    )
    return _Queries(current, same_hash, banded, rows)


def _earlier_rows() -> Any:
    """The columns an ``Earlier`` is made of, in its order.

    Columns, not Submission objects: building up to MAX_CANDIDATES whole
    rows (pictures JSON and all) for every mail cost about 10 ms per mail.
    Of each text, only what is compared (``fingerprint.MAX_CHARS``): a piece
    of megabytes of text is not read whole for every mail it is a candidate for.
    """
    return select(  # type: ignore[call-overload]
        Submission.id, func.coalesce(Submission.tracking_no, ""), Submission.unit_id,
        func.coalesce(Unit.name, ""), Submission.title, Submission.received_at,
        Submission.version, Submission.subject_key, Submission.text_hash,
        func.substr(Submission.text, 1, MAX_CHARS),
    ).outerjoin(Unit, col(Submission.unit_id) == col(Unit.id))
