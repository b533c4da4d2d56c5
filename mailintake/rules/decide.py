"""What becomes of one mail: one pure function, one ``Decision``.

The decision walks the gates (``rules.gates``) and, for a mail that passes
them all, matches its subject, picks the unit it counts for and runs every
content check. It sees only values: what was read (``Case``), what the store
answered (``Known``), the office's rules and the time. Filing the decision,
queueing its reply and moving the mail are the intake's business.

The content checks compare a piece with earlier ones, which only the store
can look up, and only a piece needs them: ``lookup`` says what to ask for
(nothing when a gate stops the mail), and the answer goes into ``Known``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from mailintake.config.settings import ColumnConfig, Config
from mailintake.rules import Finding, answers, deadline, run_checks
from mailintake.rules.base import Piece
from mailintake.rules.columns import SubjectMatch, SubjectMatcher
from mailintake.rules.gates import Case, Gate, Known, Outcome, Reply, first_stop
from mailintake.rules.values import History, Lookup, Sender, UnitRef

#: The folder a mail ends in, by the part it plays (the mailbox names them).
Folder = Literal["filed", "rejected", "review"]
FOLDER_OF: dict[Outcome, Folder] = {
    "filed": "filed", "ignored": "filed", "rejected": "rejected", "quarantined": "review",
}


@dataclass(frozen=True)
class Office:
    """What every mail of a cycle is judged against."""

    config: Config
    matcher: SubjectMatcher


@dataclass(frozen=True)
class Entry:
    """A piece as it goes into the register: accepted or rejected, with its findings."""

    unit: UnitRef | None
    correspondent_id: int | None
    column: ColumnConfig | None
    title: str
    author: str
    event_date: date | None
    week_no: int | None
    accepted: bool
    word_count: int
    picture_count: int
    text: str
    # Every picture read, as stored with the piece (``Reading.picture_rows``).
    pictures: list[dict[str, Any]]
    findings: list[Finding]
    # What it was compared with: a correction supersedes the version it replaces.
    history: History = field(default_factory=History)
    # The moment it counts at for quotas and reports (``Submission.counted_at``):
    # None counts it at its arrival.
    counted_at: datetime | None = None
    # The request for a piece (约稿) it answers, by number ("2026-003"): named by the
    # marker in its subject, or in the subject of our request it replies to; "" for none.
    # Whether that request asked its unit, and is still open, is the store's to say.
    solicited: str = ""


@dataclass(frozen=True)
class Decision:
    """What becomes of one mail."""

    outcome: Outcome
    reasons: list[str]
    # The gate that stopped the mail; "" for a piece the checks judged.
    gate: str = ""
    # The piece to file, for a mail that passed every gate.
    entry: Entry | None = None
    reply: Reply | None = None
    # The claim on "this mail" to record (``Case.key``), when this is its first delivery.
    claim: str = ""
    duplicate_of: int | None = None
    # A delivery report: the addresses it names as gone stop getting our replies.
    bounces: bool = False
    # Worth a warning in the log (a forged or spoofed sender).
    alarming: bool = False

    @property
    def folder(self) -> Folder:
        return FOLDER_OF[self.outcome]


def lookup(case: Case, known: Known, office: Office, now: datetime) -> Lookup | None:
    """What the checks need the store to look up for this mail; None when a gate stops it."""
    if first_stop(case, _body(case, known, office, now)) is not None:
        return None
    assert case.mail is not None and case.reading is not None and known.sender is not None
    unit = _unit_of(_match(case, office, now), known.sender)
    return Lookup(unit.id if unit else None, case.mail.subject, case.reading.fingerprint)


def decide(case: Case, known: Known, office: Office, now: datetime) -> Decision:
    """The decision on one mail: the first gate that stops it, else the checks' verdict."""
    known = _body(case, known, office, now)
    stop = first_stop(case, known)
    if stop is not None:
        return _stopped(case, known, *stop)
    return _judged(case, known, office, now)


def _body(case: Case, known: Known, office: Office, now: datetime) -> Known:
    """``known``, saying whether the body of an answer to one of our replies is a piece:
    its subject (behind the prefix and our tag) names a column that needs no Word file."""
    mail = case.mail
    if (mail is None or not mail.body.strip() or known.body_piece
            or all(column.require_document for column in office.config.columns)
            or not (known.answering or answers.looks_like_answer(mail.subject))):
        return known
    match = _match(case, office, now)
    if match is None or match.column.require_document:
        return known
    return replace(known, body_piece=True)


def _stopped(case: Case, known: Known, gate: Gate, reasons: list[str]) -> Decision:
    mail = case.mail
    return Decision(
        outcome=gate.outcome, reasons=reasons, gate=gate.name,
        reply=gate.reply if gate.reply is not None and gate.answers(case, known) else None,
        claim=case.key if known.duplicate_of is None else "",
        duplicate_of=known.duplicate_of,
        bounces=gate.name == "robot" and mail is not None
        and mail.content_type == "multipart/report",
        alarming=gate.alarming,
    )


def _judged(case: Case, known: Known, office: Office, now: datetime) -> Decision:
    mail, reading, sender = case.mail, case.reading, known.sender
    assert mail is not None and reading is not None and sender is not None
    match = _match(case, office, now)
    piece = Piece(
        mail=mail, sender=sender, match=match, documents=reading.documents,
        document_errors=reading.document_errors, attached_pictures=reading.pictures,
        other_parts=[p for p, kind in reading.files if kind == "other"],
        now=now, config=office.config, history=known.history, file_errors=reading.file_errors,
        answering=known.answering or (mail.subject if answers.looks_like_answer(mail.subject)
                                      else ""),
    )
    findings = run_checks(piece)
    accepted = not any(f.severity == "reject" for f in findings)
    document = piece.document
    entry = Entry(
        unit=_unit_of(match, sender), correspondent_id=sender.correspondent_id,
        column=match.column if match else None,
        title=(match.title if match else "") or mail.subject,
        author=match.author if match else "",
        event_date=match.event_date if match else None, week_no=match.week if match else None,
        accepted=accepted, word_count=document.word_count if document else 0,
        picture_count=len(piece.pictures), text=document.text if document else mail.body,
        pictures=reading.picture_rows(), findings=findings, history=known.history,
        counted_at=deadline.counted_at(piece),
        solicited=(answers.solicitation_number(mail.subject)
                   or answers.solicitation_number(known.answering)),
    )
    return Decision(
        outcome="filed" if accepted else "rejected", reasons=[f.code for f in findings],
        entry=entry, reply=Reply("receipt" if accepted else "rejection"), claim=case.key,
    )


def _match(case: Case, office: Office, now: datetime) -> SubjectMatch | None:
    assert case.mail is not None
    return office.matcher.match(case.mail.subject, now.astimezone(office.config.office.tz).date())


def _unit_of(match: SubjectMatch | None, sender: Sender) -> UnitRef | None:
    """The unit a piece counts for: the one its subject names, if the sender may send
    for it, else the sender's only unit."""
    named = match.unit if match else None
    if named is not None and named.id in {u.id for u in sender.units}:
        return named
    return sender.units[0] if len(sender.units) == 1 else None
