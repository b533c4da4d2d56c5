"""The clerk's commands: adoptions, the report, reminders and the digest now, the 通报.

Declared here; what they do is ``mailintake.cli.clerk``, imported when one runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from mailintake.cli.state import FORMATS, State, guard


@click.command()
@click.argument("tracking_no")
@click.option("--channel", required=True, help="采用渠道：名称或 key（配置 [[points.channels]]）")
@click.option("--brief", is_flag=True, help="以简讯采用（按 brief_points 计分）")
@click.option("--split", default="", help="合稿分配积分，例如 单位A=0.6,单位B=0.4")
@click.option("--date", "day", default=None, help="采用日期 YYYY-MM-DD（默认今天）")
@click.option("--item", "--items", "items", default="",
              help="逐条采用每周动态的第几条，例如 --item 3 或 --items 1,3,5（每条计分）")
@click.pass_obj
@guard
def adopt(state: State, *, tracking_no: str, channel: str, brief: bool, split: str,
          day: str | None, items: str) -> None:
    """记录稿件被采用，并计入积分。"""
    from mailintake.cli.clerk import adopt_command

    adopt_command(state.app, tracking_no, channel, brief=brief, split=split, day=day,
                  items=items)


@click.command()
@click.argument("tracking_no")
@click.option("--channel", required=True, help="采用渠道：名称或 key")
@click.option("--item", type=click.IntRange(min=1), default=None,
              help="撤销每周动态第几条的采用（不写则撤销整篇采用）")
@click.pass_obj
@guard
def unadopt(state: State, tracking_no: str, channel: str, item: int | None) -> None:
    """撤销一条采用记录（积分冲回）。"""
    from mailintake.cli.clerk import unadopt_command

    unadopt_command(state.app, tracking_no, channel, item or 0)


@click.command()
@click.option("--period", "period_text", required=True,
              help="统计期：2026-11、2026-Q4、2026-H2、2026、2026-W47、2026-2027（学年）")
@click.option("--by", type=click.Choice(["unit", "correspondent"]), default="unit",
              help="按单位或按信息员")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="同时保存为 Excel 文件")
@click.pass_obj
@guard
def report(state: State, period_text: str, by: str, fmt: str, xlsx: Path | None) -> None:
    """报送、采用、积分统计与排名。"""
    from mailintake.cli.clerk import report_command

    report_command(state.app, period_text, "unit" if by == "unit" else "correspondent", fmt, xlsx)


@click.command()
@click.pass_obj
@guard
def remind(state: State) -> None:
    """立即给落后于报送任务的单位发催报（每期每单位只发一次）。"""
    from mailintake.cli.clerk import remind_command

    remind_command(state.app)


@click.command()
@click.pass_obj
@guard
def digest(state: State) -> None:
    """立即发送应发的周报（每周只发一次）。"""
    from mailintake.cli.clerk import digest_command

    digest_command(state.app)


@click.command()
@click.option("--period", "period_text", required=True,
              help="统计期：月 2026-11、季度 2026-Q4、半年 2026-H2 或年 2026")
@click.option("--send", is_flag=True, help="发送给各单位信息员（每个统计期只发一次）")
@click.option("--resend", is_flag=True, help="已发送过的通报再次发送（需明确指定）")
@click.option("--preface", default=None, help="通报正文前的说明文字（保存后沿用）")
@click.option("--preface-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="从 UTF-8 文本文件读取说明文字")
@click.pass_obj
@guard
def bulletin(state: State, *, period_text: str, send: bool, resend: bool,
             preface: str | None, preface_file: Path | None) -> None:
    """月度、季度、半年、年度通报：不加 --send 时只预览。"""
    from mailintake.cli.clerk import bulletin_command

    bulletin_command(state.app, period_text, send=send, resend=resend, preface=preface,
                     preface_file=preface_file)


COMMANDS = [adopt, unadopt, report, remind, digest, bulletin]
