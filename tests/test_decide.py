"""The decision on one mail, from plain values alone: no database, no mailbox."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import SHANGHAI
from pieces import LI, news, piece_mail
from test_rules import CONFIG, UNITS

from mailintake.reading.mail import read_mail
from mailintake.reading.mime import parse_mail
from mailintake.rules.auth import Verdict
from mailintake.rules.columns import SubjectMatcher
from mailintake.rules.decide import Office, decide, lookup
from mailintake.rules.gates import NOTE_EVERY, Case, Known, Reply
from mailintake.rules.values import Registry, Sender

NOW = datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)
REGISTRY = Registry(tuple(UNITS.values()), {LI: Sender(4, "李娜", (UNITS["实验小学"],))})
OFFICE = Office(CONFIG, SubjectMatcher(CONFIG.columns, REGISTRY.names()))
PIECE = piece_mail(LI, "实验小学（李娜）开展秋季趣味运动会", news(400, seed=1))


def case(robot: str | None = None, verdict: Verdict | None = None) -> Case:
    """The piece from 李娜 as read, with what its headers say of its sender."""
    reading = read_mail(PIECE, CONFIG.limits)
    return Case(mail=reading.mail, reading=reading, size=len(PIECE), key="mail:abc",
                robot=robot, verdict=verdict or Verdict())


def known(duplicate_of: int | None = None, registered: bool = True) -> Known:
    return Known(sender=REGISTRY.sender(LI) if registered else None, duplicate_of=duplicate_of)


@pytest.mark.parametrize(
    ("the_case", "the_known", "gate", "outcome", "reasons", "reply"),
    [
        (Case(mail=None, error="boom"), known(), "unreadable", "quarantined", ["parse.error"],
         None),
        (case(), known(duplicate_of=7), "duplicate", "ignored", ["duplicate.message"], None),
        (case(robot="auto.submitted"), known(), "robot", "ignored", ["auto.submitted"], None),
        (case(verdict=Verdict(failures=["dmarc=fail (mx)"])), known(), "spoofed",
         "quarantined", ["sender.auth_failed"], None),
        (case(), known(registered=False), "unregistered", "quarantined", ["sender.unregistered"],
         None),
        (case(verdict=Verdict(passed=True)), known(registered=False), "unregistered", "quarantined",
         ["sender.unregistered"], Reply("unregistered", every=NOTE_EVERY)),
    ],
)
def test_the_first_gate_that_holds_decides(
    the_case: Case, the_known: Known, gate: str, outcome: str, reasons: list[str],
    reply: Reply | None,
) -> None:
    """Each gate stops its mail with its outcome and reasons; only an authenticated
    stranger hears how to register, and nothing stopped by a gate is a piece."""
    decision = decide(the_case, the_known, OFFICE, NOW)
    assert (decision.gate, decision.outcome, decision.reasons) == (gate, outcome, reasons)
    assert decision.reply == reply
    assert decision.entry is None
    assert lookup(the_case, the_known, OFFICE, NOW) is None


def test_an_oversize_mail_is_answered_only_when_no_later_gate_would_stop_it() -> None:
    """An oversize mail from a registered sender gets the notice; delivered again, or
    from a stranger, it is held all the same but nobody hears of it."""
    head = parse_mail(PIECE.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
    oversize = Case(mail=head, size=50 * 1024 * 1024, oversize=True, key="head:abc")
    told = decide(oversize, known(), OFFICE, NOW)
    assert (told.outcome, told.reasons, told.reply) == (
        "quarantined", ["limits.message_size"], Reply("oversize"))
    assert told.claim == "head:abc"
    again = decide(oversize, known(duplicate_of=3), OFFICE, NOW)
    assert (again.reasons, again.reply, again.claim, again.duplicate_of) == (
        ["limits.message_size"], None, "", 3)
    assert decide(oversize, known(registered=False), OFFICE, NOW).reply is None


def test_a_piece_is_filed_for_its_unit_with_a_receipt() -> None:
    """A registered sender's piece passes every gate, asks the store for its unit's
    history, and is filed with its findings and a receipt."""
    wanted = lookup(case(), known(), OFFICE, NOW)
    assert wanted is not None and wanted.unit_id == UNITS["实验小学"].id
    decision = decide(case(), known(), OFFICE, NOW)
    assert decision.entry is not None and decision.entry.unit == UNITS["实验小学"]
    assert decision.outcome in {"filed", "rejected"}
    assert decision.reply == Reply("receipt" if decision.entry.accepted else "rejection")
    assert decision.reasons == [f.code for f in decision.entry.findings]
    assert (decision.claim, decision.folder) == ("mail:abc", "filed" if decision.entry.accepted
                                                  else "rejected")
