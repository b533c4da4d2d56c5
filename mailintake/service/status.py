"""What ``mailintake status`` shows, and the daemon's record of its last cycle.

``mailintake messages retry`` lives with the intake (``intake.retry``).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from mailintake.app import App
from mailintake.intake.pipeline import CycleReport
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage, OutboxStatus, Outcome, Runtime

log = logging.getLogger("mailintake.service.status")


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def record_cycle(app: App, mailbox: str, report: CycleReport, now: datetime) -> None:
    """Remember this cycle as the mailbox's last successful one."""
    with session(app.engine) as db:
        row = db.get(Runtime, mailbox) or Runtime(mailbox=mailbox, last_cycle_at=now)
        row.instance, row.last_cycle_at = instance_name(), now
        row.seen, row.filed, row.rejected = report.seen, report.filed, report.rejected
        row.quarantined = report.quarantined
        row.replies_sent = report.replies.sent if report.replies else 0
        db.add(row)
        try:
            db.commit()
        except IntegrityError:  # another instance wrote the first row at the same moment
            db.rollback()


def _local(app: App, moment: datetime | None) -> str:
    return app.local(moment).strftime("%Y-%m-%d %H:%M") if moment else "从未"


def _last(app: App, prefix: str) -> str:
    with session(app.engine) as db:
        moment = db.exec(select(func.max(OutboxMessage.created_at))
                         .where(col(OutboxMessage.dedup_key).like(f"{prefix}:%"))).one()
    return _local(app, moment)


def quarantined(app: App) -> list[InboundMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(InboundMessage)
                            .where(InboundMessage.outcome == Outcome.QUARANTINED)
                            .order_by(col(InboundMessage.id))).all())


def status_lines(app: App) -> list[str]:
    """The overview, one fact per line, for the clerk and the administrator."""
    lines: list[str] = []
    with session(app.engine) as db:
        runs = db.exec(select(Runtime).order_by(col(Runtime.mailbox))).all()
        outbox = dict(db.exec(select(OutboxMessage.status, func.count())
                              .group_by(col(OutboxMessage.status))).all())
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
    lines.append(f"待发回复：{outbox.get(OutboxStatus.PENDING, 0)} 封；"
                 f"发送失败：{outbox.get(OutboxStatus.FAILED, 0)} 封")
    lines.append(f"最近一次催报：{_last(app, 'reminder')}")
    lines.append(f"最近一次周报：{_last(app, 'digest')}")
    return lines


def quarantined_table(app: App) -> str:
    """The mails waiting for a person, with the number ``messages retry`` takes."""
    from tabulate import tabulate

    rows = [[m.id, _local(app, m.received_at), m.from_addr, m.subject[:30],
             "、".join(m.reasons)] for m in quarantined(app)]
    return tabulate(rows, headers=["编号", "收到时间", "发件人", "主题", "原因"])
