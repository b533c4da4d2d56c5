"""``mailintake submissions`` and ``mailintake messages``: what was filed, what
arrived, and what a clerk decides for a held mail (filed, sent back, set aside)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailintake.cli.clerk import cli_user
from mailintake.cli.state import FORMATS, State, fail, guard
from mailintake.rules import reasons

if TYPE_CHECKING:
    from mailintake.store.models import InboundMessage


@click.group()
def submissions() -> None:
    """已登记的稿件。"""


@submissions.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_obj
@guard
def submissions_list(state: State, fmt: str) -> None:
    """列出稿件（json 为每行一个对象）。"""
    from mailintake.cli.state import Progress
    from mailintake.cli.views import iter_submission_rows, print_rows

    print_rows(iter_submission_rows(state.app), fmt, Progress("已列出 {} 篇稿件"))


@submissions.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", required=True, help="稿件所属单位（全称）。")
@click.option("--correspondent", default="",
              help="信息员姓名（该单位登记的信息员，或未登记者的姓名；单位只有一位时可省略）。")
@click.option("--subject", required=True, help="按报送格式写的邮件主题，如 实验小学（李娜）开展……")
@click.option("--received", required=True, help="收到日期，如 2026-11-20。")
@click.option("--via", type=click.Choice(["qq", "paper", "other"]), default="qq",
              show_default=True, help="来源：QQ、纸质或其他。")
@click.option("--photo", "photos", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="另附的照片（可多次给出）。")
@click.option("--receipt", is_flag=True, help="给信息员发回执（默认不发）。")
@click.pass_obj
@guard
def submissions_add(state: State, *, file: Path, unit: str, correspondent: str, subject: str,
                    received: str, via: str, photos: tuple[Path, ...], receipt: bool) -> None:
    """补录经 QQ、纸质等途径收到的稿件：与邮件报送的稿件同样审核、登记和计数。"""
    from mailintake.intake.manual import FilingError, Paper, Upload, file_piece

    try:
        day = date.fromisoformat(received)
    except ValueError:
        fail("收到日期应写成 2026-11-20 的形式")
    paper = Paper(unit=unit, subject=subject, received=day,
                  document=Upload(file.name, file.read_bytes()),
                  photos=[Upload(p.name, p.read_bytes()) for p in photos],
                  correspondent=correspondent, via=via, receipt=receipt)
    try:
        done = file_piece(state.app, paper, clerk=cli_user())
    except FilingError as exc:
        fail(str(exc))
    outcome = {"filed": "已登记", "rejected": "已登记为退回", "quarantined": "未登记，已转待人工",
               "ignored": "未登记"}.get(str(done.message.outcome), str(done.message.outcome))
    problems = reasons.labels(done.message.reasons)
    told = f"{_reply_kind(done.message)}已排入发件箱" if done.replied else "未发回执"
    click.echo(f"{outcome}：登记号 {done.tracking_no or '—'}"
               + (f"（{problems}）" if problems else "") + f"；{told}。")
    if done.note:
        click.echo(done.note)


def _reply_kind(message: InboundMessage) -> str:
    return "回执" if str(message.outcome) == "filed" else "退回通知"


@click.group()
def messages() -> None:
    """邮箱收到的每一封邮件。"""


@messages.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_obj
@guard
def messages_list(state: State, fmt: str) -> None:
    """列出收到的全部邮件及其处理结果。"""
    from mailintake.cli.views import message_rows, print_rows

    print_rows(message_rows(state.app), fmt)


@messages.command("retry")
@click.argument("message_id", type=int)
@click.option("--trust", is_flag=True,
              help="已核实发件人确为本人：不再因发件域名验证（SPF/DMARC）失败而待人工。")
@click.option("--unit", default="", help="按此单位登记（发件人未登记也可）。")
@click.option("--register", "name", default="",
              help="先把发件邮箱登记为 --unit 单位的信息员（填姓名），再处理。")
@click.pass_obj
@guard
def messages_retry(state: State, *, message_id: int, trust: bool, unit: str,
                   name: str) -> None:
    """按存档重新处理一封待人工的邮件（例如补登信息员之后），收到时间不变。"""
    from mailintake.intake.retry import RetryError, retry

    try:
        done = retry(state.app, message_id, vouch=trust, unit=unit, register=name)
    except RetryError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    outcome = {"filed": "已登记", "rejected": "已退回", "quarantined": "仍待人工",
               "ignored": "已忽略"}.get(str(done.new.outcome), str(done.new.outcome))
    if str(done.new.outcome) == "quarantined":
        outcome += f"（{reasons.labels(done.new.reasons)}）"
    click.echo(f"邮件 {message_id} 已重新处理（新编号 {done.new.id}）：{outcome}。"
               f"{_where(done.moved, done.new)}")


@messages.command("reject")
@click.argument("message_id", type=int)
@click.option("--reason", required=True, help="退回原因（会写进给发件人的回复）。")
@click.pass_obj
@guard
def messages_reject(state: State, message_id: int, reason: str) -> None:
    """退回一封待人工的邮件，并把原因回复给发件人。"""
    from mailintake.intake.held import reject
    from mailintake.intake.retry import RetryError

    try:
        done = reject(state.app, message_id, reason)
    except RetryError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    told = "已回复发件人" if done.answered else "发件地址不可用，未回复"
    click.echo(f"邮件 {message_id} 已退回（{told}）。{_where(done.moved, done.message)}")


@messages.command("dismiss")
@click.argument("message_id", type=int)
@click.option("--answered", "why", flag_value="answered", help="提问已由工作人员答复。")
@click.option("--spam", "why", flag_value="spam", help="垃圾邮件。")
@click.pass_obj
@guard
def messages_dismiss(state: State, message_id: int, why: str | None) -> None:
    """把一封待人工的邮件标为已答复或垃圾邮件（不回复发件人）。"""
    from mailintake.intake.held import dismiss
    from mailintake.intake.retry import RetryError

    if why not in ("answered", "spam"):
        click.echo("错误：请选择 --answered（已答复）或 --spam（垃圾邮件）", err=True)
        sys.exit(1)
    try:
        done = dismiss(state.app, message_id, "answered" if why == "answered" else "spam")
    except RetryError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    what = "已答复" if why == "answered" else "垃圾邮件"
    click.echo(f"邮件 {message_id} 已标为{what}，未回复发件人。{_where(done.moved, done.message)}")


def _where(moved: bool, message: InboundMessage) -> str:
    return (f"服务器上的邮件已移到“{message.target_folder}”。" if moved
            else "在服务器的“待人工”文件夹中没有找到这封邮件，如需要请手工移动。")
