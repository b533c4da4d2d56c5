"""``mailintake messages retry``: a quarantined mail decided again after a fix.

A retried mail is read again from the archive (``Storage.raw_path``), not
from the server, and decided as a new delivery by the same pipeline: the old
row keeps its history (outcome ``ignored``, reason ``retried``, pointing at
the new row), the new row gets the outcome and the reply today's rules and
registrations give it, judged as at its first arrival (its arrival time,
period and tracking number's day stay those of the moment it came). On IMAP
the mail is then looked up in 待人工 by its Message-ID and moved to its new
folder; when it is not there (moved by hand, deleted, no Message-ID, or a
Maildir) it stays where it is and the clerk is told so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mailintake.app import App
from mailintake.intake import pipeline
from mailintake.mailbox.base import FOLDER_REVIEW, MailRef
from mailintake.store import messages
from mailintake.store.models import InboundMessage, Outcome
from mailintake.store.unitchanges import RegistryError
from mailintake.store.units import PersonEntry, active_unit_names, set_person

log = logging.getLogger("mailintake.intake.retry")


class RetryError(Exception):
    """Why a mail cannot be retried (Chinese, for the clerk)."""


@dataclass
class Retried:
    old: InboundMessage
    new: InboundMessage
    #: Whether the mail was moved out of 待人工 on the server (False: not found there).
    moved: bool = False


#: What became of a mail, as a clerk says it.
DONE = {Outcome.FILED: "已登记", Outcome.REJECTED: "已退回", Outcome.IGNORED: "已处理完毕",
        Outcome.QUARANTINED: "待人工"}


def retry(app: App, message_id: int, *, vouch: bool = False, unit: str = "",
          register: str = "") -> Retried:
    """Decide a quarantined mail again from its archived copy, as at its first arrival.

    ``vouch``: a clerk has checked that the sender is who they say, so a failed
    DMARC/SPF verdict no longer holds the mail. ``unit``: the clerk files it for
    this unit, its sender registered or not (the checks still judge the piece).
    ``register``: first register the sender's address under this name as one of
    ``unit``'s correspondents, so their next mails need nobody.
    """
    if unit and unit not in active_unit_names(app.engine):
        raise RetryError(f"没有名为「{unit}」的在用单位")
    if register and not unit:
        raise RetryError("登记信息员时请同时指定单位")
    old = messages.get(app.engine, message_id)
    if old is None:
        raise RetryError(f"没有编号为 {message_id} 的邮件")
    if old.outcome != Outcome.QUARANTINED:
        raise RetryError(f"邮件 {message_id} 不在待人工状态（{DONE[Outcome(old.outcome)]}），"
                         "无需重新处理")
    archived = app.storage.root / app.storage.raw_path(old.raw_sha256)
    if not archived.is_file():
        log.error("mail %s: its archived copy %s is missing", message_id, archived)
        raise RetryError(f"找不到邮件 {message_id} 的存档文件，无法重新处理；"
                         "请管理员查看日志中的存档位置")
    if register:
        if not old.from_addr:
            raise RetryError(f"邮件 {message_id} 没有可登记的发件地址")
        person = PersonEntry(name=register, title="", phone="", emails=[old.from_addr],
                             units=[unit])
        try:
            set_person(app.engine, unit, person)
        except RegistryError as exc:
            raise RetryError(str(exc)) from exc
    # Free the "same mail" key, or the new decision would call it a duplicate.
    key = messages.release_claim(app.engine, message_id)
    # A new delivery key: a mail retried again is retried from its newer row.
    ref = MailRef(source_key=f"{old.source_key};retry{old.id}", folder=FOLDER_REVIEW,
                  size=old.size)
    again = pipeline.Again(received_at=old.received_at, vouched=vouch, unit=unit)
    new = pipeline.process(app, old.mailbox, ref, archived.read_bytes(), again)
    if new is None or new.id is None:  # somebody retried it at the same moment
        messages.restore_claim(app.engine, message_id, key)
        raise RetryError(f"邮件 {message_id} 正由另一进程处理")
    messages.mark_retried(app.engine, message_id, new.id)
    log.info("mail %s retried as inbound %s: %s", old.message_id, new.id, str(new.outcome))
    moved = move_on_server(app, old.message_id, new.target_folder)
    if moved:
        messages.mark_moved(app.engine, new.id, app.clock())
    pipeline.deliver(app)
    return Retried(old=old, new=new, moved=moved)


def move_on_server(app: App, message_id: str, target: str) -> bool:
    """Move the mail with this Message-ID from 待人工 to ``target``, if IMAP finds it."""
    from email.parser import BytesHeaderParser

    from mailintake.mailbox.base import MailboxError
    from mailintake.mailbox.imap import ImapMailbox

    if app.config.mailbox.kind != "imap" or not message_id or target == FOLDER_REVIEW:
        return False
    review = app.config.model_copy(
        update={"mailbox": app.config.mailbox.model_copy(update={"folder": FOLDER_REVIEW})})
    mailbox = App(config=review, engine=app.engine, storage=app.storage, replies=app.replies,
                  clock=app.clock).open_mailbox()
    assert isinstance(mailbox, ImapMailbox)
    try:
        for ref in mailbox.list_new():
            head = BytesHeaderParser().parsebytes(mailbox.fetch_headers(ref))
            if str(head.get("Message-ID", "")).strip().strip("<>") == message_id:
                mailbox.move(ref, target)
                return True
    except MailboxError as exc:  # the folder or the server away: the clerk moves it by hand
        log.warning("cannot move retried mail %s out of %s: %s", message_id, FOLDER_REVIEW, exc)
    finally:
        mailbox.close()
    return False
