"""The command line: ``mailintake [--config PATH] COMMAND``.

Messages for clerks are Chinese; logs are English and go to stderr. A command
that cannot go on says why in one Chinese line and exits non-zero (see
``mailintake.problems``); no traceback reaches the person at the terminal.

This module holds the group, the service's commands (``db``, ``poll``, ``run``,
``doctor``, ``status``) and the demo; the lists are in ``cli.units`` and
``cli.messages``, the clerk's commands in ``cli.office``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailintake import logs
from mailintake.cli import briefing, console, messages, office, solicit, units
from mailintake.cli.state import State, aware, detail, guard
from mailintake.config.settings import default_path
from mailintake.problems import check_folders, transient

# The database, the pipeline and the views are imported by the commands that
# use them: for ``poll`` and ``run``, the reading workers' forkserver (started
# by ``mailintake.cli.entry``) loads its modules meanwhile.
if TYPE_CHECKING:
    from mailintake.intake import pipeline

log = logging.getLogger("mailintake")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="配置文件（默认取 MAILINTAKE_CONFIG，否则 /etc/mailintake/mailintake.toml）")
@click.option("--now", default=None, hidden=True, help="Fixed clock, ISO 8601 with offset.")
@click.option("-v", "--verbose", is_flag=True, help="输出详细日志")
@click.version_option(package_name="mailintake", prog_name="mailintake")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, now: str | None, verbose: bool) -> None:
    """mailintake：教育信息报送邮箱的自动收稿、审核、登记与回复。"""
    logs.setup(logging.DEBUG if verbose else logging.WARNING, sys.stderr)
    ctx.obj = State(config_path or default_path(), aware(now) if now else None)
    ctx.obj.verbose = verbose
    ctx.call_on_close(ctx.obj.close)


@main.group()
def db() -> None:
    """数据库维护。"""


@db.command("upgrade")
@click.pass_obj
@guard
def db_upgrade(state: State) -> None:
    """建立数据库，或把它升级到最新结构（可重复执行）。"""
    state.open_app(create=True)
    click.echo("数据库已是最新结构。")


def _summary(report: pipeline.CycleReport) -> str:
    replies = report.replies
    sent = replies.sent if replies else 0
    return (
        f"本轮收到 {report.seen} 封：登记 {report.filed}，退回 {report.rejected}，"
        f"待人工 {report.quarantined}，忽略 {report.ignored}；发出回复 {sent} 封。"
    )


def _start_readers() -> None:
    """Start the reading workers while the database and the mailbox are opened."""
    from mailintake.reading import workers as readers

    threading.Thread(target=readers.warm_up, name="start-readers").start()


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (systemd) or SIGINT (Ctrl-C): finish the mail in hand, then stop."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("%s received: finishing the mail in hand, then stopping",
                 signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


@main.command()
@click.option("--once", is_flag=True, help="只处理一轮后退出")
@click.pass_obj
@guard
def poll(state: State, once: bool) -> None:
    """收取并处理新邮件（不用 IDLE，按 poll_interval 定时收取）。"""
    from mailintake.intake.loop import Intake

    check_folders(state.config)
    # The database and the templates first: a command that cannot start leaves no
    # workers starting behind it for the interpreter to wait on at exit.
    app = state.app
    _start_readers()
    intake = Intake(app)
    try:
        if once:
            click.echo(_summary(intake.cycle()))
            return
        stop = _stop_on_signals()
        interval = app.config.mailbox.poll_interval
        while not stop.is_set():
            try:
                click.echo(_summary(intake.cycle(stop.is_set)))
            except Exception as exc:
                if not transient(exc):
                    raise
                log.warning("%s; next try in %.0f s", detail(exc), interval)
            stop.wait(interval)
    finally:
        intake.close()


@main.command()
@click.pass_obj
@guard
def run(state: State) -> None:
    """常驻运行（供 systemd 使用）：新邮件一到即处理（IDLE），断线自动重连；
    定时发送回复、催报、周报并结算积分。修改配置后需重启服务。"""
    from mailintake import logs
    from mailintake.service import daemon

    logs.setup(logging.DEBUG if state.verbose else logging.INFO)
    log.info("config %s", state.config_path)
    check_folders(state.config)
    app = state.app  # as in poll: no workers start for a command that cannot
    _start_readers()
    if not app.config.web.enabled:
        daemon.run(app)
        return
    from mailintake.web.server import Background

    served = Background(app).start()
    try:
        daemon.run(app)
    finally:
        served.stop()


@main.command()
@click.option("--reset/--keep", default=True, help="先清空演示数据（默认清空）")
@click.option("--now", "demo_now", default="2026-11-19T10:00:00+08:00",
              help="演示时刻（样例邮件的日期在 2026 年 11 月）")
@click.option("--web", "serve_web", is_flag=True,
              help="处理完后启动网页管理台，并建一个演示账号（打印其密码）")
@click.pass_obj
@guard
def demo(state: State, reset: bool, demo_now: str, serve_web: bool) -> None:
    """用自带的样例邮件演示完整流程（仅限 Maildir + 文件夹发件的配置）。"""
    from mailintake.cli.demo import run_demo, serve_demo

    run_demo(state, reset, aware(demo_now))
    if serve_web:
        serve_demo(state)


@main.command()
@click.option("--send-test", "send_to", default=None, metavar="ADDRESS",
              help="同时给这个地址发一封测试邮件")
@click.pass_obj
@guard
def doctor(state: State, send_to: str | None) -> None:
    """逐项检查配置、数据库、存储目录、收发邮件、LibreOffice 与中文字体。"""
    from mailintake.service.doctor import run as run_doctor

    sys.exit(run_doctor(state.config_path, send_to, echo=click.echo, now=state.now))


@main.command()
@click.pass_obj
@guard
def status(state: State) -> None:
    """运行概况：上次收取、待人工邮件、待发与失败回复、最近催报与周报。"""
    from mailintake.service.status import quarantined, quarantined_table, status_lines

    for line in status_lines(state.app):
        click.echo(line)
    if quarantined(state.app):
        click.echo("\n待人工的邮件（处理后可用 mailintake messages retry 编号 重新处理）：")
        click.echo(quarantined_table(state.app))


main.add_command(units.units)
main.add_command(messages.submissions)
main.add_command(messages.messages)
for command in office.COMMANDS:
    main.add_command(command)
for command in console.COMMANDS:
    main.add_command(command)
for command in briefing.COMMANDS:
    main.add_command(command)
for command in solicit.COMMANDS:
    main.add_command(command)
