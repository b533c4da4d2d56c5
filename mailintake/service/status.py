"""What ``mailintake status`` shows, the daemon's record of its last cycle,
and ``mailintake messages retry``: a quarantined mail decided again after a fix.

A retried mail is read again from the archive (``Storage.raw_path``), not
from the server, and decided as a new delivery: the old row keeps its history
(outcome ``ignored``, reason ``retried``, pointing at the new row), the new
row gets the outcome and the reply today's rules and registrations give it.
On IMAP the mail is then looked up in 待人工 by its Message-ID and moved to
its new folder; when it is not there (moved by hand, deleted, no Message-ID,
or a Maildir) it stays where it is and the clerk is told so.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from mailintake.app import App
from mailintake.intake.pipeline import CycleReport
from mailintake.mailbox.base import FOLDER_REVIEW, MailRef
from mailintake.store import outbox, runtime
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxStatus, Outcome

log = logging.getLogger("mailintake.service.status")


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def record_cycle(app: App, mailbox: str, report: CycleReport, now: datetime) -> None:
    """Remember this cycle as the mailbox's last successful one."""
    runtime.record_cycle(app.engine, runtime.LastCycle(
        mailbox=mailbox, instance=instance_name(), at=now, seen=report.seen,
        filed=report.filed, rejected=report.rejected, quarantined=report.quarantined,
        replies_sent=report.replies.sent if report.replies else 0,
    ))


def _local(app: App, moment: datetime | None) -> str:
    return app.local(moment).strftime("%Y-%m-%d %H:%M") if moment else "从未"


def _last(app: App, kind: str) -> str:
    return _local(app, outbox.last_queued(app.engine, kind))


def quarantined(app: App) -> list[InboundMessage]:
    """The mails waiting for a person, oldest first."""
    return runtime.quarantined(app.engine)


def status_lines(app: App) -> list[str]:
    """The overview, one fact per line, for the clerk and the administrator."""
    lines: list[str] = []
    runs = runtime.last_cycles(app.engine)
    counts = outbox.count_by_status(app.engine)
    if not runs:
        lines.append("上次成功收取：从未（服务是否在运行？）")
    for run in runs:
        lines.append(
            f"上次成功收取：{_local(app, run.last_cycle_at)}（{run.mailbox}，{run.instance}）："
            f"收到 {run.seen}，登记 {run.filed}，退回 {run.rejected}，待人工 {run.quarantined}，"
            f"发出回复 {run.replies_sent}"
        )
    waiting = quarantined(app)
    lines.append(f"待人工处理的邮件：{len(waiting)} 封")
    lines.append(f"待发回复：{counts.get(OutboxStatus.PENDING, 0)} 封；"
                 f"发送失败：{counts.get(OutboxStatus.FAILED, 0)} 封")
    lines.append(f"最近一次催报：{_last(app, 'reminder')}")
    lines.append(f"最近一次周报：{_last(app, 'digest')}")
    return lines


def quarantined_table(app: App) -> str:
    """The mails waiting for a person, with the number ``messages retry`` takes."""
    from tabulate import tabulate

    rows = [[m.id, _local(app, m.received_at), m.from_addr, m.subject[:30],
             "、".join(m.reasons)] for m in quarantined(app)]
    return tabulate(rows, headers=["编号", "收到时间", "发件人", "主题", "原因"])


class RetryError(Exception):
    """Why a mail cannot be retried (Chinese, for the clerk)."""


@dataclass
class Retried:
    old: InboundMessage
    new: InboundMessage
    #: Whether the mail was moved out of 待人工 on the server (False: not found there).
    moved: bool = False


def _move_on_server(app: App, message_id: str, target: str) -> bool:
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


def retry(app: App, message_id: int) -> Retried:
    """Decide a quarantined mail again from its archived copy."""
    from mailintake.intake import pipeline
    from mailintake.store import filing

    with session(app.engine) as db:
        old = db.get(InboundMessage, message_id)
        if old is None:
            raise RetryError(f"没有编号为 {message_id} 的邮件")
        if old.outcome != Outcome.QUARANTINED:
            raise RetryError(
                f"邮件 {message_id} 不在待人工状态（{old.outcome}），无需重新处理")
        archived = app.storage.root / app.storage.raw_path(old.raw_sha256)
        if not archived.is_file():
            raise RetryError(f"找不到邮件 {message_id} 的存档 {archived}，无法重新处理")
        # Free the "same mail" key, or the new decision would call it a duplicate.
        key, old.business_key = old.business_key, None
        db.add(old)
        db.commit()
    # A new delivery key: a mail retried again is retried from its newer row.
    ref = MailRef(source_key=f"{old.source_key};retry{old.id}", folder=FOLDER_REVIEW,
                  size=old.size)
    new = pipeline.process(app, old.mailbox, ref, archived.read_bytes())
    with session(app.engine) as db:
        row = db.get(InboundMessage, message_id)
        assert row is not None
        if new is None or new.id is None:  # somebody retried it at the same moment
            row.business_key = key
            db.add(row)
            db.commit()
            raise RetryError(f"邮件 {message_id} 正由另一进程处理")
        row.outcome, row.reasons, row.duplicate_of_id = Outcome.IGNORED, ["retried"], new.id
        db.add(row)
        db.commit()
    log.info("mail %s retried as inbound %s: %s", old.message_id, new.id, str(new.outcome))
    moved = _move_on_server(app, old.message_id, new.target_folder)
    if moved:
        filing.mark_moved(app.engine, new.id, app.clock())
    pipeline.deliver(app)
    return Retried(old=old, new=new, moved=moved)
