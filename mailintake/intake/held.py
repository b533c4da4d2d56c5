"""What a clerk decides for a mail held for a person (待人工) that is no piece to file.

Filing a held mail (its sender now registered, vouched for, or filed for a
unit anyway) is ``retry``: the pipeline decides it again. The rest is here:

- ``reject``: the mail is sent back with the clerk's reason, in a reply;
- ``dismiss``: a question the clerk has answered by phone or by hand, or spam:
  no reply.

Each keeps the mail's record (its arrival, its reasons so far, and now the
clerk's) and moves it out of 待人工 on the server, as ``retry`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from mailintake.app import App
from mailintake.intake import pipeline
from mailintake.intake.retry import RetryError, move_on_server
from mailintake.mailbox.base import FOLDER_FILED, FOLDER_REJECTED
from mailintake.reading.mime import ParsedMail, ParseError, parse_mail
from mailintake.replies import compose
from mailintake.store import messages
from mailintake.store.messages import NotHeld
from mailintake.store.models import InboundMessage, OutboxMessage, Outcome

log = logging.getLogger("mailintake.intake.held")

#: Why a clerk set a mail aside without a reply, as recorded.
Dismissal = Literal["answered", "spam"]
DISMISSED = {"answered": "clerk.answered", "spam": "clerk.spam"}


@dataclass
class Settled:
    message: InboundMessage
    #: Whether the mail was moved out of 待人工 on the server (False: not found there).
    moved: bool = False
    #: Whether a reply was queued to the sender.
    answered: bool = False


def reject(app: App, message_id: int, reason: str) -> Settled:
    """Send a held mail back with the clerk's ``reason`` (Chinese, shown to the sender)."""
    reason = " ".join(reason.split())
    if not reason:
        raise RetryError("请填写退回原因，它会写进给发件人的回复")
    old = _held(app, message_id)
    mail = _archived_mail(app, old)
    reply = (compose.held_rejection(app, old, mail, reason, app.clock())
             if mail is not None and mail.from_addr else None)
    return _settle(app, old, Outcome.REJECTED, ["clerk.rejected", reason[:200]],
                   folder=FOLDER_REJECTED, reply=reply)


def dismiss(app: App, message_id: int, why: Dismissal) -> Settled:
    """Set a held mail aside with no reply: a question answered, or spam."""
    old = _held(app, message_id)
    return _settle(app, old, Outcome.IGNORED, [DISMISSED[why]], folder=FOLDER_FILED, reply=None)


def _held(app: App, message_id: int) -> InboundMessage:
    old = messages.get(app.engine, message_id)
    if old is None:
        raise RetryError(f"没有编号为 {message_id} 的邮件")
    if old.outcome != Outcome.QUARANTINED:
        raise RetryError(f"邮件 {message_id} 已不在待人工状态")
    return old


def _archived_mail(app: App, old: InboundMessage) -> ParsedMail | None:
    """The held mail's headers and text, read again from the archive (None: unreadable)."""
    archived = app.storage.root / app.storage.raw_path(old.raw_sha256)
    try:
        return parse_mail(archived.read_bytes())
    except (OSError, ParseError) as exc:
        log.warning("held mail %s: cannot read its archived copy: %s", old.id, exc)
        return None


def _settle(app: App, old: InboundMessage, outcome: Outcome, reasons: list[str], *,
            folder: str, reply: OutboxMessage | None) -> Settled:
    assert old.id is not None
    try:
        row = messages.settle_held(app.engine, old.id, outcome=outcome,
                                   reasons=[*old.reasons, *reasons], folder=folder, reply=reply)
    except NotHeld as exc:
        raise RetryError(f"邮件 {old.id} 已由他人处理") from exc
    log.info("held mail %s settled by a clerk: %s %s", old.id, outcome.value, reasons[0])
    moved = move_on_server(app, old.message_id, folder)
    if moved:
        messages.mark_moved(app.engine, old.id, app.clock())
    if reply is not None:
        pipeline.deliver(app)
    return Settled(row, moved=moved, answered=reply is not None)
