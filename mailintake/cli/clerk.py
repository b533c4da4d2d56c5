"""What the clerk's commands do: adopt / unadopt, report, remind, digest, bulletin.

``cli.office`` declares the commands and hands over here; messages are Chinese,
and a mistake a clerk can fix (an unknown tracking number, channel, unit or
period) ends with the message and exit status 1, never a traceback.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from mailintake.app import App
from mailintake.cli.state import Progress, fail
from mailintake.office.csvout import write_csv
from mailintake.office.periods import Period, PeriodError, parse_period
from mailintake.office.points import PointsError, adopt, parse_items, settle, unadopt
from mailintake.office.quotas import Quotas
from mailintake.office.rankings import last_places
from mailintake.office.reports import By, Report, build_report


def adopt_command(
    app: App, tracking_no: str, channel: str, *, brief: bool, split: str, day: str | None,
    items: str = "",
) -> None:
    now = app.clock()
    when = now
    if day:
        try:
            # Midday office time: the adoption stays on that local date.
            when = datetime.combine(date.fromisoformat(day), time(12), tzinfo=app.config.office.tz)
        except ValueError:
            fail(f"日期 {day} 有误，应为 YYYY-MM-DD")
    try:
        numbers = parse_items(items) if items else None
        adoptions = adopt(app.engine, app.config.points, tracking_no, channel, when=when,
                          now=now, tz=app.config.office.tz, brief=brief, split=split,
                          items=numbers)
    except PointsError as exc:
        fail(str(exc))
    named = app.config.points.channel(adoptions[0].channel)
    points = named.earned(brief) if named else 0
    which = f"第{'、'.join(str(a.item) for a in adoptions)}条" if numbers else ""
    _audit(app, "adopt", tracking_no,
           f"{named.name if named else channel}{'（简讯）' if brief else ''}{which}，"
           f"采用日期 {app.local(when).date().isoformat()}" + (f"，合稿 {split}" if split else ""))
    each = f"每条 {points:g} 分，共 {points * len(adoptions):g} 分" if numbers else f"{points:g} 分"
    click.echo(f"已记录：稿件 {tracking_no} {which}被{named.name if named else channel}采用"
               f"{'（简讯）' if brief else ''}，{each}。")


def unadopt_command(app: App, tracking_no: str, channel: str, item: int = 0) -> None:
    try:
        unadopt(app.engine, app.config.points, tracking_no, channel, now=app.clock(),
                item=item)
    except PointsError as exc:
        fail(str(exc))
    which = f"第{item}条" if item else ""
    _audit(app, "unadopt", tracking_no, f"{channel}{which}")
    click.echo(f"已撤销：稿件 {tracking_no} {which}的“{channel}”采用记录，积分已冲回。")


def _audit(app: App, action: str, tracking_no: str, detail: str) -> None:
    """The piece's audit trail names who changed it from the command line, as the
    console names its users."""
    from mailintake.store import accounts

    accounts.record(app.engine, cli_user(), action, f"piece:{tracking_no}", detail=detail,
                    at=app.clock())


def cli_user() -> str:
    """Who works at the command line, as the audit trail names them."""
    try:
        return f"{getpass.getuser()}（命令行）"
    except (KeyError, OSError):  # a user id without a name
        return "命令行"


def period_arg(app: App, text: str) -> Period:
    quotas = Quotas(app.config)
    try:
        return parse_period(text, quotas.calendar, app.config.quotas.school_year_starts)
    except PeriodError as exc:
        fail(str(exc))


def _cell(key: str, value: Any) -> Any:
    if key == "eligible":
        return "是" if value else "否（零报送）"
    return value


def print_report(report: Report, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
        return
    if fmt == "csv":
        write_csv(sys.stdout, [key for key, _ in report.headers],
                  (row.values() for row in report.rows))
        return
    who = "单位" if report.by == "unit" else "信息员"
    click.echo(f"{report.period.label}  按{who}统计\n")
    # On screen, channels nobody was adopted in this period are left out.
    headers = [(k, h) for k, h in report.headers if not k.startswith("adopted_")
               or any(row[k] for row in report.rows)]
    table = [[_cell(k, row[k]) for k, _ in headers] for row in report.rows]
    click.echo(tabulate(table, headers=[h for _, h in headers]) if table else "（无）")
    s = report.summary
    median = "—" if s.median_days_to_adoption is None else f"{s.median_days_to_adoption:g} 天"
    click.echo(f"\n投稿 {s.received} 篇，登记 {s.accepted} 篇，退回 {s.rejected} 篇；"
               f"采用 {s.adopted} 篇，收稿至采用中位数 {median}。")
    if s.by_column:
        click.echo("按栏目：" + "、".join(f"{k} {v}" for k, v in s.by_column.items()))
    if s.by_channel:
        click.echo("按采用渠道：" + "、".join(f"{k} {v}" for k, v in s.by_channel.items()))
    zero = [row.get("unit") or row.get("correspondent") for row in report.rows
            if not row["eligible"]]
    if zero:
        click.echo(f"零报送（不参加评优，{len(zero)} 个）：" + "、".join(map(str, zero)))
    last = last_places(report.rows)
    if last:
        click.echo("各类末位：" + "；".join(f"{kind or '未分类'} {'、'.join(names)}"
                                         for kind, names in last.items()))


def report_command(app: App, period_text: str, by: By, fmt: str, xlsx: Path | None) -> None:
    from mailintake.office.excel import period_workbook

    period = period_arg(app, period_text)
    now = app.clock()
    settle(app.engine, app.config, now)
    report = build_report(app.engine, app.config, period, by, now)
    print_report(report, fmt)
    if xlsx is not None:
        progress = Progress("Excel：已写入 {} 行")
        try:
            period_workbook(app.engine, app.config, report, xlsx, tick=progress.tick)
        except OSError as exc:
            fail(f"无法写入 {xlsx}：{exc.strerror}")
        finally:
            progress.done()
        click.echo(f"已保存 Excel：{xlsx}", err=fmt != "table")


def remind_command(app: App) -> None:
    from mailintake.config.calendar import TeachingCalendar
    from mailintake.intake.pipeline import deliver
    from mailintake.office import solicitations
    from mailintake.office.reminders import moment_label, next_reminder, queue_reminders

    now = app.clock()
    queued = queue_reminders(app, now)
    solicited = solicitations.queue_reminders(app, now)
    deliver(app)
    if solicited:
        click.echo(f"已发出约稿提醒邮件 {solicited} 封。")
    if queued:
        click.echo(f"已发出催报邮件 {queued} 封。")
    elif not app.config.reminders.enabled:
        click.echo("目前没有需要催报的单位；催报已关闭（[reminders] enabled = false）。")
    elif (upcoming := next_reminder(app, now)) is not None:
        click.echo(f"目前没有需要催报的单位；下次催报：{moment_label(upcoming)}。")
    else:
        click.echo("目前没有需要催报的单位；已配置的学期内不再有催报。")
    # What the calendar does not know (doctor's 教学日历 line): the semesters ended, a year
    # without holiday data.
    for gap in TeachingCalendar(app.config.calendar).gaps(app.local(now).date()):
        click.echo(f"提示：{gap}。")


def digest_command(app: App) -> None:
    from mailintake.intake.pipeline import deliver
    from mailintake.office.digest import queue_digest

    queued = queue_digest(app, app.clock())
    deliver(app)
    click.echo("已发出周报。" if queued else "本周周报已发出过（或未配置 [office] addresses）。")


def bulletin_command(app: App, period_text: str, *, send: bool, resend: bool,
                     preface: str | None, preface_file: Path | None) -> None:
    from mailintake.intake.pipeline import deliver
    from mailintake.office.bulletin import (
        BulletinRefused,
        bulletin_of,
        bulletin_period,
        bulletin_text,
        send_bulletin,
        unreached,
    )
    from mailintake.store import bulletins

    try:
        period = bulletin_period(period_text)
    except PeriodError as exc:
        fail(str(exc))
    now = app.clock()
    if preface_file is not None:
        try:
            preface = preface_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"无法读取 {preface_file}（应为 UTF-8 文本）"
                 + (f"：{exc.strerror}" if isinstance(exc, OSError) and exc.strerror else ""))
    if preface is not None:
        bulletins.save_preface(app.engine, period.key, preface.strip(), who=cli_user(), now=now)
    if send or resend:
        try:
            row = send_bulletin(app, period, now, who=cli_user(), resend=resend)
        except BulletinRefused as exc:
            fail(f"{exc}如确需再次发送，请加 --resend。" if exc.sent else str(exc))
        deliver(app)
        again = "再次" if row.sends > 1 else ""
        click.echo(f"已{again}发出{period.label}的通报，共 {row.recipients} 个邮箱。")
        if missing := unreached(app):
            click.echo(f"以下单位没有登记信息员邮箱，未收到通报：{'、'.join(missing)}")
        return
    settle(app.engine, app.config, now)
    view = bulletin_of(app.engine, app.config, period, now)
    subject, body = bulletin_text(app, view)
    click.echo(f"主题：{subject}\n\n{body}")
    stored = view.stored
    if stored is not None and stored.sends:
        click.echo(f"（已于 {app.local(stored.sent_at or now):%Y-%m-%d %H:%M} 发出，"
                   f"共 {stored.recipients} 个邮箱；再次发送请加 --resend）")
    else:
        click.echo("（预览；加 --send 发送给各单位信息员）")
    if app.local(now).date() <= period.last_day:
        click.echo(f"提示：本统计期到 {period.last_day.month}月{period.last_day.day}日才结束，"
                   "通报只含截至今天的情况。")
