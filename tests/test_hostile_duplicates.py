"""A duplicate is the same mail, not the same Message-ID, on SQLite and PostgreSQL.

Another mail that reuses a Message-ID (a stranger's, another unit's, the same
sender's next piece) is read and decided on its own merits; the same mail
delivered again (the same bytes, or with the servers' trace headers added in
front, or a spam filter's behind) is recorded as an ignored duplicate and
answered once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from conftest import NOW, deliver
from office_pieces import make_app
from pieces import LI, WANG, chinese, mail, piece_mail, word_file
from sqlalchemy import update
from sqlmodel import col, select

from mailintake.app import App
from mailintake.cli.views import message_rows
from mailintake.intake import pipeline
from mailintake.reading import sameness
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage, Submission

REUSED = "20261119090000.reused@example.test"
STRANGER = "someone@evil.example"
FIRST_SUBJECT = "实验小学（李娜）开展秋季趣味运动会"


def with_id(raw: bytes, message_id: str | None) -> bytes:
    """``raw`` with its Message-ID replaced by ``message_id`` (or left without one)."""
    head, blank, body = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"message-id:")]
    if message_id is not None:
        lines.append(f"Message-ID: <{message_id}>".encode())
    return b"\r\n".join(lines) + blank + body


@cache  # a mail is built once: built again, its MIME boundary and Word file would differ
def piece(sender: str, subject: str, seed: int, message_id: str | None = REUSED) -> bytes:
    """A news piece of 220 characters with a captioned photo, under ``message_id``."""
    document = word_file("", [chinese(220, seed)], ((1600, 1200, "图为活动现场"),))
    return with_id(piece_mail(sender, subject, document), message_id)


def first_piece(message_id: str | None = REUSED) -> bytes:
    return piece(LI, FIRST_SUBJECT, 1, message_id)


# What receiving servers put in front of a mail they deliver, and filters behind.
TRACE = (
    b"Return-Path: <lina@foxmail.com>\r\n"
    b"Delivered-To: xxbs@126.com\r\n"
    b"X-Original-To: xxbs-alias@126.com\r\n"
    b"Received: from mx.126.com (mx.126.com [220.181.15.1])\r\n"
    b"\tby mailbox.126.com with ESMTPS id 4B2; Thu, 19 Nov 2026 09:00:07 +0800\r\n"
    b"Received: from smtp.foxmail.com (smtp.foxmail.com [203.205.251.1])\r\n"
    b"\tby mx.126.com with ESMTP id 9F1; Thu, 19 Nov 2026 09:00:05 +0800\r\n"
    b"Authentication-Results: mx.126.com; spf=pass smtp.mailfrom=foxmail.com;\r\n"
    b"\tdkim=pass header.d=foxmail.com; dmarc=pass header.from=foxmail.com\r\n"
    b"ARC-Seal: i=1; a=rsa-sha256; t=1795050005; cv=none; d=126.com; s=arc; b=AbCd\r\n"
)
FILTER = b"X-Spam-Status: No, score=-0.1\r\nX-Virus-Scanned: clamav-milter 1.0.3\r\n"


def filtered(raw: bytes) -> bytes:
    head, blank, body = raw.partition(b"\r\n\r\n")
    return head + b"\r\n" + FILTER.rstrip(b"\r\n") + blank + body


def as_lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


@pytest.fixture
def office(tmp_path: Path, db_url: str) -> Iterator[App]:
    """The fixture units on either database, mail over 1 MB held as oversize."""
    app = make_app(tmp_path, db_url, "[limits]\nmax_message_bytes = 1048576\n", lambda: NOW)
    yield app
    app.engine.dispose()


def send(app: App, *raws: bytes) -> pipeline.CycleReport:
    """Deliver ``raws`` to the intake folder and run one cycle."""
    deliver(app.config, *raws)
    box = app.open_mailbox()
    try:
        return pipeline.run_cycle(app, box)
    finally:
        box.close()


def replies(app: App) -> list[tuple[str, str]]:
    """(kind, recipient) of every reply queued, oldest first."""
    with session(app.engine) as db:
        rows = db.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [(r.kind, r.recipient) for r in rows]


def submissions(app: App) -> int:
    with session(app.engine) as db:
        return len(db.exec(select(Submission)).all())


def duplicates_of(app: App) -> list[int | None]:
    """Each delivery's ``duplicate_of_id``, in the order they arrived."""
    with session(app.engine) as db:
        rows = db.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all()
        return [r.duplicate_of_id for r in rows]


# --------------------------------------------------- another mail, the same Message-ID

OTHERS: dict[str, tuple[Callable[[], bytes], str, list[str], list[tuple[str, str]]]] = {
    # A stranger's mail is held as any stranger's is: no reply, nothing filed.
    "stranger, another piece": (
        lambda: piece(STRANGER, "实验小学（李娜）开展消防演练", 2),
        "quarantined", ["sender.unregistered"], []),
    "stranger, the first piece with only From changed": (
        lambda: first_piece().replace(LI.encode(), STRANGER.encode()),
        "quarantined", ["sender.unregistered"], []),
    "another unit's correspondent, another piece": (
        lambda: piece(WANG, "东街小学（王喆）开展消防演练", 3),
        "filed", [], [("receipt", WANG)]),
    "the same sender's next piece": (
        lambda: piece(LI, "实验小学（李娜）开展消防演练", 4),
        "filed", [], [("receipt", LI)]),
    "the same sender and subject, the text corrected": (
        lambda: piece(LI, FIRST_SUBJECT, 5),
        "filed", [], [("receipt", LI)]),
    "the same sender, a mail without a piece": (
        lambda: with_id(mail(LI, FIRST_SUBJECT), REUSED),
        "rejected", ["document.missing", "pictures.too_few"], [("rejection", LI)]),
    "a Message-ID that differs only in case": (
        lambda: piece(WANG, "东街小学（王喆）开展消防演练", 6, REUSED.upper()),
        "filed", [], [("receipt", WANG)]),
}


@pytest.mark.parametrize("shape", list(OTHERS))
def test_another_mail_reusing_a_message_id_is_decided_on_its_own_merits(
    office: App, shape: str
) -> None:
    """A second, different mail with the first's Message-ID is no duplicate: it gets the
    outcome and the reply its own sender and piece deserve, and both are listed."""
    build, outcome, reasons, answered = OTHERS[shape]
    send(office, first_piece())
    send(office, build())
    first, second = message_rows(office)
    assert first["message_id"].lower() == second["message_id"].lower() == REUSED.lower()
    assert (first["outcome"], first["reasons"]) == ("filed", [])
    assert (second["outcome"], second["reasons"]) == (outcome, reasons)
    assert [first["moved"], second["moved"]] == [True, True]
    assert duplicates_of(office) == [None, None]
    assert replies(office) == [("receipt", LI), *answered]
    assert submissions(office) == 1 + (outcome in ("filed", "rejected"))


# ------------------------------------------------------------- the same mail again

AGAIN: dict[str, Callable[[bytes], bytes]] = {
    "the same bytes": lambda raw: raw,
    "trace headers in front": lambda raw: TRACE + raw,
    "trace in front, LF line ends (a Maildir's)": lambda raw: as_lf(TRACE + raw),
    "a spam filter's headers behind": filtered,
    "both, and a final newline added": lambda raw: filtered(TRACE + raw) + b"\r\n",
}


@pytest.mark.parametrize("again", list(AGAIN))
@pytest.mark.parametrize("message_id", [REUSED, None], ids=["with Message-ID", "without"])
def test_the_same_mail_delivered_again_is_an_ignored_duplicate(
    office: App, again: str, message_id: str | None
) -> None:
    """The same mail delivered again, however the servers dressed it, is recorded as a
    duplicate of the first, moved, and neither filed nor answered again."""
    raw = first_piece(message_id)
    send(office, raw)
    report = send(office, AGAIN[again](raw))
    assert (report.filed, report.ignored) == (0, 1)
    _first, second = message_rows(office)
    assert (second["outcome"], second["reasons"], second["folder"]) == (
        "ignored", ["duplicate.message"], "已处理")
    assert duplicates_of(office)[1] is not None
    assert replies(office) == [("receipt", LI)]
    assert submissions(office) == 1


def test_mails_sharing_a_message_id_each_keep_their_own_duplicates(office: App) -> None:
    """Two different mails under one Message-ID, each delivered twice: each second delivery
    is the duplicate of its own first, and each first was answered once."""
    other = piece(WANG, "东街小学（王喆）开展消防演练", 7)
    send(office, first_piece(), other)
    send(office, TRACE + other, TRACE + first_piece())
    with session(office.engine) as db:
        rows = {r.id: r for r in db.exec(select(InboundMessage)).all()}
    assert sorted(r.outcome for r in rows.values()) == ["filed", "filed", "ignored", "ignored"]
    for row in rows.values():
        if row.outcome == "ignored":
            assert row.duplicate_of_id is not None
            first = rows[row.duplicate_of_id]
            assert (first.outcome, first.from_addr) == ("filed", row.from_addr)
    assert sorted(replies(office)) == [("receipt", LI), ("receipt", WANG)]


def test_different_mails_without_a_message_id_are_both_decided(office: App) -> None:
    """Two pieces from one sender, neither with a Message-ID, are both filed and answered."""
    send(office, first_piece(None), piece(LI, "实验小学（李娜）开展消防演练", 8, None))
    assert [(r["outcome"], r["message_id"]) for r in message_rows(office)] == [
        ("filed", ""), ("filed", "")]
    assert replies(office) == [("receipt", LI)] * 2


# --------------------------------------------------------- rows of earlier versions

@pytest.mark.parametrize(("second", "archive_kept", "outcome"), [
    (lambda: TRACE + first_piece(), True, "ignored"),
    (lambda: piece(WANG, "东街小学（王喆）开展消防演练", 9), True, "filed"),
    (lambda: piece(WANG, "东街小学（王喆）开展消防演练", 9), False, "ignored"),
], ids=["the same mail", "another mail", "another mail, the first's archive gone"])
def test_a_mail_recorded_by_its_message_id_alone_is_told_apart_by_its_archive(
    office: App, second: Callable[[], bytes], archive_kept: bool, outcome: str
) -> None:
    """A row recorded before mails were known by their content (claimed by Message-ID) still
    catches its own re-delivery; another mail under its Message-ID is compared with the
    archived first and decided on its merits, and without that archive counts as the same."""
    send(office, first_piece())
    with session(office.engine) as db:
        db.connection().execute(update(InboundMessage).values(business_key=f"mid:{REUSED}"))
        db.commit()
        [row] = db.exec(select(InboundMessage)).all()
    if not archive_kept:
        (office.storage.root / office.storage.raw_path(row.raw_sha256)).unlink()
    send(office, second())
    assert [r["outcome"] for r in message_rows(office)] == ["filed", outcome]
    assert len(replies(office)) == 1 + (outcome == "filed")


# ------------------------------------------------------------------ oversize mail

@cache
def oversize(sender: str, subject: str, seed: int) -> bytes:
    """A mail over the 1 MB limit (a big photo), under the reused Message-ID."""
    raw = mail(sender, subject, ("现场.jpg", chinese(200, seed).encode() * 2000))
    return with_id(raw, REUSED)


def test_oversize_mails_reusing_a_message_id_each_get_their_notice(office: App) -> None:
    """Known by their headers alone, two oversize mails under one Message-ID from two
    correspondents each get the notice; the first delivered again gets none."""
    first = oversize(LI, FIRST_SUBJECT, 10)
    send(office, first)
    send(office, oversize(WANG, "东街小学（王喆）开展消防演练", 11))
    send(office, as_lf(TRACE + first))
    rows = message_rows(office)
    assert [(r["outcome"], r["reasons"]) for r in rows] == [
        ("quarantined", ["limits.message_size"])] * 3
    with session(office.engine) as db:
        first_id, *_ = db.exec(select(InboundMessage.id).order_by(col(InboundMessage.id))).all()
    assert duplicates_of(office) == [None, None, first_id]
    assert replies(office) == [("oversize", LI), ("oversize", WANG)]


# ------------------------------------------------------------------ the digest itself

def test_the_digest_ignores_the_trace_and_sees_every_authored_change() -> None:
    """Trace, filters, line ends and folding leave the digest as it is; a change to any
    authored header or a byte of the body makes another mail."""
    raw = first_piece()
    same = [TRACE + raw, filtered(raw), as_lf(raw), raw + b"\r\n\r\n",
            raw.replace(b"\r\nSubject:", b"\r\nSubject: ", 1)]
    digest = sameness.digest(raw)
    assert [sameness.digest(r) for r in same] == [digest] * len(same)
    head, _blank, body = raw.partition(b"\r\n\r\n")
    changed = [
        raw.replace(b"Thu, 19 Nov 2026 09:00:00", b"Thu, 19 Nov 2026 09:00:01", 1),
        raw.replace(b"To: xxbs@126.com", b"To: xxbs2@126.com", 1),
        raw.replace(REUSED.encode(), b"other@example.test", 1),
        head + b"\r\nCc: copy@example.test\r\n\r\n" + body,
        raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:],
    ]
    digests = {sameness.digest(r) for r in changed}
    assert digest not in digests and len(digests) == len(changed)


@pytest.mark.parametrize("raw", [
    b"", b"\r\n\r\n", b"no header at all", b"Subject: only a header", b"\n\n\n\n" * 1000,
    b"From: a@b\r\n\r\n" + b"\r" * 5000 + b"\n" * 5000, bytes(range(256)) * 64,
], ids=["empty", "blank", "text", "header", "blank lines", "line ends", "binary"])
def test_the_digest_of_any_bytes_is_a_digest(raw: bytes) -> None:
    """Whatever arrives, the digest is computed, never an exception."""
    assert len(sameness.digest(raw)) == len(sameness.head_digest(raw)) == 64


def test_the_digest_hashes_a_big_body_in_chunks_as_one() -> None:
    """A CRLF split across the chunk boundary counts as the LF it is."""
    body = b"x" * (sameness.CHUNK - 1) + b"\r\n" + b"y" * 10
    assert sameness.digest(b"Subject: a\r\n\r\n" + body) == sameness.digest(
        b"Subject: a\n\n" + body.replace(b"\r\n", b"\n"))

