"""A piece that came another way (a QQ group, on paper): filed by a clerk.

No mailbox delivered it, so the clerk's upload is made into the mail the
correspondent would have sent: From the correspondent's registered address,
the subject they would have written, dated the day the office received the
piece, the Word file and the photos attached, and headers saying a clerk
filed it in the console. That mail is archived and decided by the intake
pipeline like any other (``pipeline.Again``: as at the day it was received,
for the unit the clerk chose, its sender vouched for), so the column rules,
deadlines, word count, pictures, duplicates, the tracking number's day and
every count afterwards are those of a mailed piece. Its record says how it
came (``InboundMessage.via``) and which mailbox: ``console``.

The correspondent hears of it only when the clerk asks; a correspondent
without an address (a paper piece) cannot, and the clerk is told so. A file
that is no readable Word file (or a photo that is no picture) is refused
with a Chinese line before anything is filed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from mailintake.app import App
from mailintake.intake import pipeline
from mailintake.mailbox.base import MailRef
from mailintake.reading import workers as readers
from mailintake.reading.word import DOCUMENT_SUFFIXES, PICTURE_SUFFIXES, suffix
from mailintake.rules import reasons
from mailintake.rules.limits import size_text
from mailintake.store import accounts, desk
from mailintake.store.models import VIA_LABELS, InboundMessage, Outcome

log = logging.getLogger("mailintake.intake.manual")

#: The mailbox a clerk's filings are recorded under.
MAILBOX = "console"
#: How a piece filed here came, as ``InboundMessage.via`` keeps it -> as a clerk reads it.
VIAS = {key: label for key, label in VIA_LABELS.items() if key}
#: The From of a piece whose correspondent has no address: a domain that is never
#: delivered to (RFC 2606), so no reply can leave for it.
NO_ADDRESS = "no-address@console.invalid"
#: Word files the reading stage takes (.doc and .wps go through its conversion).
WORD = (".docx", ".doc", ".wps")
#: The hour of the received day a piece filed for an earlier day is dated at.
RECEIVED_HOUR = time(12, 0)
#: Headers that mark the mail as made by the console, not sent by anyone.
FILED_BY = "X-Mailintake-Filed-By"
VIA_HEADER = "X-Mailintake-Via"


class FilingError(Exception):
    """Why a piece cannot be filed (Chinese, for the clerk); nothing was filed."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Paper:
    """What the clerk files: the piece as received, and how."""

    unit: str
    subject: str
    received: date
    document: Upload
    photos: list[Upload] = field(default_factory=list)
    # The correspondent's name: one of the unit's, or typed ("" for the unit's only one).
    correspondent: str = ""
    via: str = "qq"
    # Whether the correspondent gets the receipt (or rejection) a mailed piece gets.
    receipt: bool = False


@dataclass(frozen=True)
class Filed:
    message: InboundMessage
    # The piece's tracking number; "" when the mail was no piece (held for a person).
    tracking_no: str
    # Whether a reply to the correspondent was queued.
    replied: bool
    # What the clerk should know beside (a receipt asked for that cannot go), "" if nothing.
    note: str = ""


def received_moment(app: App, day: date) -> datetime:
    """The moment a piece received on ``day`` is filed at: now when that is today,
    else the middle of that day in the office's time zone."""
    now = app.clock()
    if day == app.local(now).date():
        return now
    return datetime.combine(day, RECEIVED_HOUR, tzinfo=app.config.office.tz)


def file_piece(app: App, paper: Paper, *, clerk: str) -> Filed:
    """File ``paper`` as a piece of its unit, recorded as filed by ``clerk``."""
    _check(app, paper)
    unit = desk.unit_named(app.engine, paper.unit)
    if unit is None or unit.id is None:
        raise FilingError(f"没有名为「{paper.unit}」的在用单位")
    correspondent_id, name, address = _correspondent(app, unit.id, paper.correspondent)
    when = received_moment(app, paper.received)
    raw = _mail(app, paper, name=name, address=address, when=when, clerk=clerk)
    prepared = readers.prepare(raw, app.config.limits, app.storage.root)
    try:
        _readable(prepared, {photo.filename for photo in paper.photos})
    except FilingError:
        # The mail made for this upload is its own (its own Message-ID and time); the
        # files, kept by their content, may be another piece's too, and stay.
        app.storage.forget_raw(prepared.raw_sha256)
        raise
    ref = MailRef(source_key=f"{MAILBOX};{uuid.uuid4().hex}", folder=MAILBOX, size=len(raw))
    reply = paper.receipt and bool(address)
    again = pipeline.Again(received_at=when, vouched=True, unit=unit.name,
                           correspondent_id=correspondent_id, via=paper.via, reply=reply)
    message = pipeline.process_prepared(app, MAILBOX, ref, prepared, again=again)
    if message is None or message.id is None:  # a fresh key: nobody else can claim it
        raise FilingError("稿件未能登记，请重试")
    number = desk.tracking_no_of(app.engine, message.id) or ""
    replied = reply and message.outcome in (Outcome.FILED, Outcome.REJECTED)
    note = "该信息员没有登记邮箱，无法发送回执。" if paper.receipt and not address else ""
    came = VIAS[paper.via]
    accounts.record(app.engine, clerk, "piece.manual",
                    f"piece:{number}" if number else f"mail:{message.id}",
                    detail=f"来源：{came}；收到日期：{paper.received.isoformat()}；"
                           f"{'发回执' if replied else '不发回执'}",
                    at=app.clock())
    log.info("piece %s filed by %s from the console (via %s): %s", number or message.id,
             clerk, paper.via, str(message.outcome))
    if replied:
        pipeline.deliver(app)
    return Filed(message, number, replied, note)


def _check(app: App, paper: Paper) -> None:
    if paper.via not in VIAS:
        raise FilingError("来源应为 QQ、纸质或其他")
    if not paper.subject.strip():
        raise FilingError("请填写稿件标题（按报送格式写的邮件主题）")
    if paper.received > app.local(app.clock()).date():
        raise FilingError("收到日期不能晚于今天")
    if suffix(paper.document.filename) not in WORD:
        raise FilingError("请上传 Word 文件（.docx、.doc 或 .wps）")
    if not paper.document.data:
        raise FilingError("上传的 Word 文件是空的")
    for photo in paper.photos:
        if suffix(photo.filename) not in PICTURE_SUFFIXES:
            raise FilingError(f"「{photo.filename}」不是照片（应为 .jpg、.png 等图片文件）")
    limits = app.config.limits
    sizes = [len(paper.document.data), *(len(p.data) for p in paper.photos)]
    if max(sizes) > limits.max_attachment_bytes or sum(sizes) > limits.max_message_bytes * 3 // 4:
        raise FilingError(f"文件过大：单个文件不能超过 {size_text(limits.max_attachment_bytes)}，"
                          f"合计不能超过 {size_text(limits.max_message_bytes * 3 // 4)}")
    if len(paper.photos) + 1 > limits.max_attachments:
        raise FilingError(f"照片过多：最多 {limits.max_attachments - 1} 张")


def _correspondent(app: App, unit_id: int, wanted: str) -> tuple[int | None, str, str]:
    """The correspondent's id (None: not registered), name and first address ("": none)."""
    people = desk.people(app.engine, unit_id)
    name = " ".join(wanted.split())[:50]
    if not name:
        if len(people) == 1:
            person = people[0]
            return person.id or None, person.name, person.emails[0] if person.emails else ""
        return None, "", ""
    for person in people:
        if person.name == name:
            return person.id or None, person.name, person.emails[0] if person.emails else ""
    return None, name, ""


def _mail(app: App, paper: Paper, *, name: str, address: str, when: datetime,
          clerk: str) -> bytes:
    """The mail the correspondent would have sent, marked as made in the console."""
    mail = EmailMessage()
    user, _at, domain = (address or NO_ADDRESS).partition("@")
    mail["From"] = Address(name, user, domain)
    mail["To"] = app.replies.address or "office@console.invalid"
    mail["Subject"] = " ".join(paper.subject.split())
    mail["Date"] = format_datetime(when)
    mail["Message-ID"] = make_msgid(domain="console.invalid")
    mail[FILED_BY] = clerk
    mail[VIA_HEADER] = paper.via
    mail.set_content(f"（{clerk} 在管理台补录，来源：{VIAS[paper.via]}，"
                     f"收到日期：{paper.received.isoformat()}）")
    for upload in (paper.document, *paper.photos):
        maintype, subtype = _content_type(upload.filename).split("/")
        mail.add_attachment(upload.data, maintype=maintype, subtype=subtype,
                            filename=upload.filename)
    return mail.as_bytes(policy=SMTP)


def _content_type(filename: str) -> str:
    ending = suffix(filename)
    if ending in DOCUMENT_SUFFIXES:
        return _WORD_TYPES.get(ending, "application/octet-stream")
    kind = ending.lstrip(".")
    return "image/" + {"jpg": "jpeg", "tif": "tiff"}.get(kind, kind)


_WORD_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword", ".wps": "application/vnd.ms-works",
}


def _readable(prepared: readers.Prepared, photos: set[str]) -> None:
    """Refuse a Word file or photo that cannot be read: filed, it would only be sent back."""
    reading = prepared.reading
    if reading is None or reading.refused or reading.problems:
        raise FilingError("上传的文件无法读取，请检查后重新上传")
    if reading.document_errors:
        name, code, _detail = reading.document_errors[0]
        hint = ("，请用 Word 另存为 .docx 后重新上传" if code in ("document.legacy",
                                                           "document.unconvertible") else "")
        raise FilingError(f"「{name}」无法读取：{reasons.label(code)}{hint}")
    if not reading.documents:
        raise FilingError("上传的文件不是可读取的 Word 文件")
    for name, code, _detail in reading.file_errors:  # the Word file's own: the checks' business
        if name in photos:
            raise FilingError(f"「{name}」无法读取：{reasons.label(code)}")
