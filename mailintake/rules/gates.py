"""The gates: what stops a mail before its content is ever judged.

A table of rows, tried in order; the first whose test holds decides the
mail's outcome and reasons, and whether anyone hears of it. Adding a gate is
adding a row. A mail that passes every gate is a piece, judged by the
content checks (``rules.decide``).

Replies here are rare on purpose (no backscatter to forged addresses): an
oversize mail is answered only when no later gate would stop it, and an
unregistered sender only when the provider vouches for them. An answer to
one of our own replies that brings no new piece is a question for a person,
acknowledged at most once a day (``rules.answers``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from mailintake.reading.mail import Reading
from mailintake.reading.mime import ParsedMail
from mailintake.rules import answers
from mailintake.rules.auth import Verdict
from mailintake.rules.values import History, Sender

Outcome = Literal["filed", "rejected", "quarantined", "ignored"]

#: An unregistered sender hears how to register at most this often.
NOTE_EVERY = timedelta(days=7)
#: A correspondent whose question was passed on hears so at most this often.
ACK_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class Case:
    """One mail as the decision sees it: what was read of it, or why nothing was."""

    # Its headers as read; None when not even they could be read.
    mail: ParsedMail | None
    # All that was read; None for a mail read by its headers alone (oversize) or not at all.
    reading: Reading | None = None
    size: int = 0
    # Over ``[limits] max_message_bytes``: never downloaded, known by its headers.
    oversize: bool = False
    # Why it could not be read (the reader's error), "" when it was.
    error: str = ""
    # The claim on "this mail" (see ``store.messages.business_key``); "" when it cannot be
    # told: unread, set aside unread, or an oversize mail without a Message-ID.
    key: str = ""
    # Why it must get no reply (``robots.no_reply_reason``), None when a person sent it.
    robot: str | None = None
    # What the provider's trusted headers say of its sender (``auth.verdict``).
    verdict: Verdict = field(default_factory=Verdict)

    @property
    def refused(self) -> str:
        """The limit that kept a downloaded mail from being read, "" when none did."""
        return self.reading.refused if self.reading is not None else ""


@dataclass(frozen=True)
class Known:
    """What the office knows that bears on one mail, as the store answered."""

    # The registered correspondent the mail comes from, None when nobody is.
    sender: Sender | None = None
    # The mail first recorded as this same mail, when this is a delivery again.
    duplicate_of: int | None = None
    # The earlier pieces it may copy or correct (asked only for a mail that passes the gates).
    history: History = field(default_factory=History)
    # The subject of our mail this one answers (found by In-Reply-To / References, or
    # by its subject behind a reply prefix), "" when it answers none of ours.
    answering: str = ""
    # Whether its body is a piece: its subject names a column that takes pieces written
    # in the body, and it has one (filled by ``rules.decide`` from the office's columns).
    body_piece: bool = False
    # A clerk read the mail and vouched for its sender (``messages retry --trust``):
    # a failed DMARC/SPF check no longer holds it.
    vouched: bool = False


@dataclass(frozen=True)
class Reply:
    """The reply to queue: its template, and how often one may go to an address."""

    kind: str
    every: timedelta | None = None


@dataclass(frozen=True)
class Gate:
    """One row of the table: when it stops a mail, what becomes of it."""

    name: str
    # The reasons recorded when the gate stops the mail; None when it lets it through.
    test: Callable[[Case, Known], list[str] | None]
    outcome: Outcome
    # The reply it sends, if any, and to whom.
    reply: Reply | None = None
    answers: Callable[[Case, Known], bool] = lambda _case, _known: False
    # Logged as a warning: something a person may want to look at.
    alarming: bool = False


def _unreadable(case: Case, _known: Known) -> list[str] | None:
    return ["parse.error"] if case.mail is None and not case.oversize else None


def _refused(case: Case, _known: Known) -> list[str] | None:
    return [case.refused] if case.refused else None


def _oversize(case: Case, _known: Known) -> list[str] | None:
    return ["limits.message_size"] if case.oversize else None


def _duplicate(_case: Case, known: Known) -> list[str] | None:
    return ["duplicate.message"] if known.duplicate_of is not None else None


def _robot(case: Case, _known: Known) -> list[str] | None:
    return [case.robot] if case.robot is not None else None


def _forged(case: Case, _known: Known) -> list[str] | None:
    """No single plain mailbox in From: forged or broken, never answered."""
    problem = case.mail.from_problem if case.mail is not None else ""
    return ["sender.forged", problem] if problem else None


def _spoofed(case: Case, known: Known) -> list[str] | None:
    """DMARC/SPF failed: never the unit's piece, and no reply to the forged address,
    unless a clerk vouched for the sender."""
    return ["sender.auth_failed"] if case.verdict.failed and not known.vouched else None


def _unregistered(_case: Case, known: Known) -> list[str] | None:
    return ["sender.unregistered"] if known.sender is None else None


def _question(case: Case, known: Known) -> list[str] | None:
    """An answer to one of our replies that brings no new piece: a question for a person.
    An answer that brings a corrected Word file is a piece, checked as one."""
    mail, reading = case.mail, case.reading
    if mail is None or reading is None:
        return None
    if not (known.answering or answers.looks_like_answer(mail.subject)):
        return None
    if answers.carries_piece(reading) or known.body_piece:
        return None
    return ["reply.question"]


def _always(_case: Case, _known: Known) -> bool:
    return True


def _may_hear_from_us(case: Case, known: Known) -> bool:
    """Whether no gate after the oversize one would stop the mail: the sender is
    registered, who they say, no robot, and has not been answered for it before."""
    after = GATES[[gate.name for gate in GATES].index("oversize") + 1:]
    return case.mail is not None and all(gate.test(case, known) is None for gate in after)


def _authenticated(case: Case, _known: Known) -> bool:
    """A real person, so telling them how to register is no backscatter."""
    return case.verdict.passed


GATES: list[Gate] = [
    Gate("unreadable", _unreadable, "quarantined"),
    Gate("refused", _refused, "quarantined"),  # over a limit that kept it unread (a 1 MB header)
    Gate("oversize", _oversize, "quarantined", Reply("oversize"), _may_hear_from_us),
    Gate("duplicate", _duplicate, "ignored"),  # the same mail delivered again
    Gate("robot", _robot, "ignored"),
    Gate("forged", _forged, "quarantined", alarming=True),
    Gate("spoofed", _spoofed, "quarantined", alarming=True),
    Gate("unregistered", _unregistered, "quarantined",
         Reply("unregistered", every=NOTE_EVERY), _authenticated),
    # After the sender is known to be registered, before any content check.
    Gate("question", _question, "quarantined", Reply("question", every=ACK_EVERY), _always),
]


def first_stop(case: Case, known: Known) -> tuple[Gate, list[str]] | None:
    """The first gate that stops the mail, with its reasons; None when every gate lets it by."""
    for gate in GATES:
        reasons = gate.test(case, known)
        if reasons is not None:
            return gate, reasons
    return None
