"""``mailintake submissions`` and ``mailintake messages``: what was filed, what
arrived, and what a clerk decides for a held mail (filed, sent back, set aside)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mailintake.cli.state import FORMATS, State, guard
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
