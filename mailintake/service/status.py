"""What ``mailintake status`` shows, and the daemon's record of its last cycle.

``mailintake messages retry`` lives with the intake (``intake.retry``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from mailintake.app import App
from mailintake.office.digest import next_digest
from mailintake.office.reminders import moment_label, next_reminder
from mailintake.office.solicitations import overdue_count
from mailintake.rules import reasons
from mailintake.store import outbox, runtime
from mailintake.store import solicitations as requests
from mailintake.store.models import InboundMessage, OutboxStatus

log = logging.getLogger("mailintake.service.status")


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
    now = app.clock()
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
    lines.append(f"下次催报：{_next(next_reminder(app, now), '已配置的学期内不再有催报')}")
    digest_due = next_digest(now, app.config.digest, app.config.office.tz)
    lines.append(f"下次周报：{_next(digest_due, '未启用')}")
    lines.append(_solicited(app, now))
    return lines


def _solicited(app: App, now: datetime) -> str:
    """The 约稿 requests not closed, and the units past a deadline without a piece."""
    open_ = [o.solicitation for o in requests.overview(app.engine)
             if o.solicitation.closed_at is None]
    late = sum(overdue_count(app, row, now) for row in open_)
    return (f"进行中的约稿：{len(open_)} 项" + (f"，逾期未交稿 {late} 个单位（solicit list 查看）"
                                           if late else ""))


def _next(moment: datetime | None, none: str) -> str:
    return moment_label(moment) if moment else none


def quarantined_table(app: App) -> str:
    """The mails waiting for a person, with the number ``messages retry`` takes."""
    from tabulate import tabulate

    rows = [[m.id, _local(app, m.received_at), m.from_addr, m.subject[:30],
             reasons.labels(m.reasons)] for m in quarantined(app)]
    return tabulate(rows, headers=["编号", "收到时间", "发件人", "主题", "原因"])
