"""One mail on either side of the decision: the ``Case`` the rules see, made
from what the reader or the mailbox handed over, and what the decided mail
leaves behind: its record, its stored files, its copy for the office to browse.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from mailintake.app import App
from mailintake.mailbox.base import FOLDER_FILED, FOLDER_REJECTED, FOLDER_REVIEW, MailRef
from mailintake.reading import sameness
from mailintake.reading.mail import Reading
from mailintake.reading.mime import ParsedMail, ParseError, parse_mail
from mailintake.reading.workers import Prepared
from mailintake.rules import auth
from mailintake.rules.decide import Decision, Folder
from mailintake.rules.gates import Case
from mailintake.rules.robots import no_reply_reason
from mailintake.store.messages import business_key
from mailintake.store.models import InboundMessage, Outcome, Submission
from mailintake.store.pieces import StoredFile

# Its lines are the pipeline's: what became of each mail.
log = logging.getLogger("mailintake.intake.pipeline")

FOLDERS: dict[Folder, str] = {
    "filed": FOLDER_FILED, "rejected": FOLDER_REJECTED, "review": FOLDER_REVIEW,
}


@runtime_checkable
class HeaderPeek(Protocol):
    """A mailbox that can hand over a mail's headers without its body."""

    def fetch_headers(self, ref: MailRef) -> bytes: ...


@dataclass(frozen=True)
class Arrival:
    """One delivery as the intake holds it: where it came from and what it was read as."""

    mailbox: str
    ref: MailRef
    # The archived raw mail's sha256; "" for a mail never downloaded (oversize).
    raw_sha256: str
    # What makes it this mail (``sameness.digest``, or ``head_digest``); "" when unknown.
    digest: str
    case: Case


def case_of(app: App, prepared: Prepared) -> Case:
    """The case of a mail the readers archived and read."""
    reading = prepared.reading
    if reading is None:
        return Case(mail=None, size=prepared.size, error=prepared.error)
    if reading.refused:  # over a limit that kept it from being read: nothing more to know
        return Case(mail=reading.mail, reading=reading, size=prepared.size)
    head = auth.head_of(app.storage.root / app.storage.raw_path(prepared.raw_sha256))
    return _heard(app, reading.mail, head, reading=reading, size=prepared.size,
                  key=business_key(prepared.content_sha256))


def oversize_case_of(app: App, ref: MailRef, head: bytes) -> tuple[Case, str]:
    """The case of a mail over the size limit, from its headers (``b""``: none to be had),
    and the digest of those headers."""
    mail, error = _read_head(ref, head) if head else (None, "")
    if mail is None:
        return Case(mail=None, size=ref.size, oversize=True, error=error), ""
    # Known by its headers alone: the same headers delivered again, not merely one of them.
    digest = sameness.head_digest(head) if mail.message_id else ""
    key = business_key(digest, "head") if digest else ""
    return _heard(app, mail, head, size=ref.size, oversize=True, key=key), digest


def _heard(
    app: App, mail: ParsedMail, head: bytes, *, reading: Reading | None = None, size: int,
    oversize: bool = False, key: str,
) -> Case:
    """A case with what its headers say of the sender: a robot's, and the provider's verdict."""
    verdict = auth.verdict(head, mail.from_addr, app.config.auth.trusted_authserv_ids)
    return Case(mail=mail, reading=reading, size=size, oversize=oversize, key=key,
                robot=no_reply_reason(mail, app.replies.address), verdict=verdict)


def _read_head(ref: MailRef, head: bytes) -> tuple[ParsedMail | None, str]:
    """The headers of an oversize mail; None when they cannot be read, which leaves the
    mail held for a person all the same (with why, when it is not plain garbage)."""
    try:
        return parse_mail(head), ""
    except ParseError:
        return None, ""
    except Exception as exc:  # headers from anyone: nothing in them may stop the poll
        log.warning("cannot read the headers of oversize mail %s: %r", ref.source_key, exc)
        return None, f"headers unreadable: {exc!r}"


def archived_same(app: App, digest: str, raw_sha256: str, *, whole: bool = True) -> bool:
    """Whether the mail archived as ``raw_sha256`` has the digest ``digest``."""
    return sameness.archived_same(app.storage, digest, raw_sha256, whole=whole)


def archived(app: App, arrival: Arrival) -> bytes:
    return (app.storage.root / app.storage.raw_path(arrival.raw_sha256)).read_bytes()


def message_of(
    arrival: Arrival, decision: Decision, now: datetime, error: str = ""
) -> InboundMessage:
    """The record of one delivery and what became of it."""
    ref, case = arrival.ref, arrival.case
    message = InboundMessage(
        mailbox=arrival.mailbox, source_key=ref.source_key, folder=ref.folder,
        uidvalidity=ref.uidvalidity, uid=ref.uid, raw_sha256=arrival.raw_sha256,
        size=case.size, received_at=now, outcome=Outcome(decision.outcome),
        reasons=decision.reasons, target_folder=FOLDERS[decision.folder],
        business_key=decision.claim or None, duplicate_of_id=decision.duplicate_of,
        error=(error or case.error)[:2000],
    )
    mail = case.mail
    if mail is not None:
        message.message_id = mail.message_id[:1000]
        message.from_addr, message.from_name = mail.from_addr[:320], mail.from_name[:200]
        message.subject, message.sent_at = mail.subject, mail.sent_at
    if case.reading is not None:
        message.defects = [*case.reading.mail.defects, *case.reading.problems]
    return message


def store_files(app: App, reading: Reading | None) -> list[StoredFile]:
    """The files a piece keeps, each stored by its content (most already by a reader)."""
    stored: list[StoredFile] = []
    for index, (part, kind) in enumerate(reading.files if reading else []):
        if reading is not None and index < len(reading.kept):
            # Already on disk, stored by the reader (which kept only its size here).
            digest, path, size = reading.kept[index]
        else:
            digest, blob = app.storage.store_blob(part.payload, part.filename)
            path, size = str(blob), len(part.payload)
        picture = reading.file_pictures.get(index) if reading else None  # as displayed
        stored.append(StoredFile(
            filename=part.filename[:255] or "附件", content_type=part.content_type[:100],
            kind=kind, size=size, sha256=digest, stored_path=str(path),
            width=picture.width if picture else None, height=picture.height if picture else None,
        ))
    return stored


def publish(app: App, submission: Submission, unit: str, files: list[StoredFile]) -> None:
    """Link a filed piece's files into its unit's folder for the office to browse.

    The piece is committed by then and its files are in the store: a folder
    that cannot be written (a full disk) costs the browsing copy, not the
    piece, so the mail still moves on.
    """
    month = f"{app.local(submission.received_at):%Y-%m}"
    folder = f"{submission.tracking_no} {submission.title}"
    try:
        app.storage.publish([(Path(f.stored_path), f.filename) for f in files], unit, month,
                            folder)
    except OSError as exc:
        log.warning("piece %s is filed, but its files were not published for %s: %s",
                    submission.tracking_no, unit, exc)


def log_decision(
    message: InboundMessage, decision: Decision, case: Case, submission: Submission | None
) -> None:
    if decision.alarming and case.mail is not None:
        log.warning("mail %s from %s held (%s): %s", message.message_id, case.mail.from_addr,
                    decision.gate, ", ".join([*decision.reasons[1:], *case.verdict.failures]))
    reasons = ",".join(decision.reasons)
    if submission is not None:
        log.info("mail %s %s as %s (%s)", message.message_id, decision.outcome,
                 submission.tracking_no, reasons or "no findings")
    else:
        log.info("mail %s %s (%s)", message.message_id or message.source_key, decision.outcome,
                 reasons)
