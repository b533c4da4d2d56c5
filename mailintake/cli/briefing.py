"""``mailintake briefing``: the office's own 简报 made from chosen pieces or a period's
best, the issues listed, the default template written out for an office to adapt."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import click
from tabulate import tabulate

from mailintake.cli.state import State, fail, guard


@click.group()
def briefing() -> None:
    """本局简报（如《教育简报》）：选稿编印 Word 简报，期号按年编排。"""


@briefing.command("new")
@click.option("--pieces", "numbers", default="",
              help="编入的稿件登记号，按顺序用逗号分隔，例如 20261119-00003,20261119-00007")
@click.option("--period", "period_text", default="",
              help="或取一个统计期的优秀稿件：2026-11、2026-Q4……（与 --best 同用）")
@click.option("--best", type=click.IntRange(1, 100), default=None,
              help="取该期采用积分最高的 N 篇（尚未编入简报的）")
@click.option("--title", default="", help="本期标题（可不填）")
@click.option("--date", "day", default=None, help="印发日期 YYYY-MM-DD（默认今天）")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="另存一份 Word 文件到这里")
@click.pass_obj
@guard
def new(state: State, *, numbers: str, period_text: str, best: int | None, title: str,
        day: str | None, out: Path | None) -> None:
    """编印一期简报：按登记号选稿，或取一个统计期的优秀稿件。"""
    from mailintake.cli.clerk import cli_user
    from mailintake.office.briefing import (
        BriefingError,
        best_of,
        make_briefing,
        parse_numbers,
    )

    app = state.app
    if best is not None and not period_text:
        fail("--best 须与 --period 同用，例如 --period 2026-11 --best 5")
    if bool(numbers) == bool(period_text):
        fail("请用 --pieces 指定稿件，或用 --period 与 --best 取一期的优秀稿件（二选一）")
    issued_on = None
    if day:
        try:
            issued_on = date.fromisoformat(day)
        except ValueError:
            fail(f"日期 {day} 有误，应为 YYYY-MM-DD")
    try:
        if period_text:
            period, candidates = best_of(app, period_text, best or 5)
            if not candidates:
                fail(f"{period.label}没有尚未编入简报的采用稿件")
            chosen = [c.tracking_no for c in candidates]
            click.echo(f"{period.label}采用积分最高的 {len(chosen)} 篇：{'、'.join(chosen)}")
        else:
            chosen = parse_numbers(numbers)
        made = make_briefing(app, chosen, title=title, issued_on=issued_on, who=cli_user())
    except BriefingError as exc:
        fail(str(exc))
    name = app.config.briefing.title
    click.echo(f"已编印《{name}》{made.label}，共 {len(made.pieces)} 篇：{'、'.join(made.pieces)}")
    stored = app.storage.root / made.briefing.stored_path
    click.echo(f"Word 文件：{stored}")
    if out is not None:
        try:
            shutil.copyfile(stored, out)
        except OSError as exc:
            fail(f"无法写入 {out}：{exc.strerror}（简报已编印，可用 briefing list 查看）")
        click.echo(f"已另存为：{out}")
    if made.adopted:
        channel = app.config.points.channel(app.config.briefing.channel)
        click.echo(f"已记录“{channel.name if channel else ''}”采用 {len(made.adopted)} 篇。")
    for note in made.notes:
        click.echo(f"提示：{note}")


@briefing.command("list")
@click.pass_obj
@guard
def list_(state: State) -> None:
    """列出已编印的各期简报。"""
    from mailintake.office.briefing import issue_label
    from mailintake.store.briefings import issues

    app = state.app
    rows = [[issue_label(i.briefing), i.briefing.issued_on.isoformat(), i.briefing.title or "—",
             len(i.pieces), i.adopted, app.storage.root / i.briefing.stored_path]
            for i in issues(app.engine)]
    if not rows:
        click.echo("还没有编印过简报。")
        return
    click.echo(tabulate(rows, headers=["期号", "日期", "标题", "稿件", "记采用", "文件"]))


@briefing.command("template")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="保存到这里，在 Word 中改成本单位的版头后用 [briefing] template 指定")
@click.pass_obj
@guard
def template(state: State, out: Path) -> None:
    """导出默认简报模板（含占位符），供本单位修改版头。"""
    from mailintake.office.briefingword import default_template

    try:
        default_template().save(str(out))
    except OSError as exc:
        fail(f"无法写入 {out}：{exc.strerror}")
    click.echo(f"已导出默认模板：{out}\n占位符：{{简报名}} {{期号}} {{年}} {{日期}} {{单位}} "
               "{标题} {正文}（稿件排在 {正文} 处）")


COMMANDS = [briefing]
