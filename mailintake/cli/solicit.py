"""``mailintake solicit``: requests for pieces (约稿) to units, by a deadline."""

from __future__ import annotations

from pathlib import Path

import click

from mailintake.cli.state import State, fail, guard


@click.group()
def solicit() -> None:
    """约稿：请指定单位在截止时间前报送某一主题的稿件。"""


@solicit.command("new")
@click.option("--topic", required=True, help="约稿主题")
@click.option("--deadline", "day", required=True, help="截止日期，例如 2026-12-10")
@click.option("--deadline-time", "clock", default="17:00", show_default=True,
              help="截止时刻（办公室所在时区）")
@click.option("--unit", "units", multiple=True, help="约稿单位（名称或简称），可重复给出")
@click.option("--kind", "kinds", multiple=True, help="约稿单位类别（该类别的所有单位），可重复")
@click.option("--request-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="具体要求（UTF-8 文本文件）")
@click.option("--request", "request_text", default="", help="具体要求（短的可直接写在这里）")
@click.option("--points", type=float, default=None, help="交稿每篇另计的积分")
@click.pass_obj
@guard
def solicit_new(state: State, *, topic: str, day: str, clock: str, units: tuple[str, ...],
                kinds: tuple[str, ...], request_file: Path | None, request_text: str,
                points: float | None) -> None:
    """新建约稿，并给各约稿单位的信息员发约稿邮件。"""
    from mailintake.intake.pipeline import deliver
    from mailintake.office.solicitations import (
        SolicitationError,
        create,
        deadline_label,
        deadline_of,
    )

    app = state.app
    if request_file is not None:
        try:
            request_text = request_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            fail(f"无法读取要求文件 {request_file}（须为 UTF-8 文本）")
    now = app.clock()
    try:
        made = create(app, topic=topic, request=request_text,
                      deadline=deadline_of(day, clock, app.config.office.tz),
                      units=list(units), kinds=list(kinds), points=points,
                      created_by="命令行", now=now)
    except SolicitationError as exc:
        fail(str(exc))
    deliver(app)
    row = made.solicitation
    click.echo(f"已建约稿 {row.number}：{row.topic}，截止 "
               f"{deadline_label(row.deadline, app.config.office.tz)}；"
               f"约稿单位 {len(made.units)} 个，发出约稿邮件 {made.mails} 封。")
    click.echo(f"单位交稿时回复约稿邮件，或在主题中加上【约稿{row.number}】即可。")
    if made.unreached:
        click.echo(f"注意：{'、'.join(made.unreached)} 没有登记信息员邮箱，未收到约稿邮件。")


@solicit.command("list")
@click.pass_obj
@guard
def solicit_list(state: State) -> None:
    """列出所有约稿及交稿情况。"""
    from tabulate import tabulate

    from mailintake.office.solicitations import deadline_label, overdue_count
    from mailintake.store.solicitations import overview

    app = state.app
    now = app.clock()
    rows = []
    for item in overview(app.engine):
        row = item.solicitation
        rows.append([row.number, row.topic, deadline_label(row.deadline, app.config.office.tz),
                     f"{item.answered}/{item.asked}", overdue_count(app, row, now),
                     "已结束" if row.closed_at else "进行中"])
    if not rows:
        click.echo("还没有约稿。")
        return
    click.echo(tabulate(rows, headers=["编号", "主题", "截止时间", "已交稿", "逾期", "状态"]))


@solicit.command("show")
@click.argument("number")
@click.pass_obj
@guard
def solicit_show(state: State, number: str) -> None:
    """查看一个约稿：各单位已交稿、已逾期、未交。"""
    from tabulate import tabulate

    from mailintake.office.solicitations import STATES, SolicitationError, deadline_label, shown

    app = state.app
    try:
        view = shown(app, number, app.clock())
    except SolicitationError as exc:
        fail(str(exc))
    row, tz = view.solicitation, app.config.office.tz
    click.echo(f"约稿 {row.number}：{row.topic}")
    click.echo(f"截止时间：{deadline_label(row.deadline, tz)}"
               + (f"；已于 {app.local(row.closed_at):%Y-%m-%d %H:%M} 结束" if row.closed_at
                  else ""))
    if row.points:
        click.echo(f"交稿积分：{row.points:g} 分")
    click.echo(f"已交稿 {view.count('answered')}，已逾期 {view.count('overdue')}，"
               f"未交 {view.count('waiting')}（共 {len(view.units)} 个单位）")
    table = [[u.name, STATES[view.state(u)], u.tracking_no or "",
              f"{app.local(u.answered_at):%Y-%m-%d %H:%M}" if u.answered_at else ""]
             for u in view.units]
    click.echo(tabulate(table, headers=["单位", "状态", "稿件编号", "交稿时间"]))


@solicit.command("close")
@click.argument("number")
@click.pass_obj
@guard
def solicit_close(state: State, number: str) -> None:
    """结束一个约稿：之后的稿件照常登记，但不再记入该约稿。"""
    from mailintake.store.solicitations import close

    app = state.app
    row = close(app.engine, number.strip(), app.clock())
    if row is None:
        fail(f"没有编号为 {number} 的约稿")
    click.echo(f"约稿 {row.number} 已结束。")


COMMANDS = [solicit]
