"""The command line: ``mailintake [--config PATH] COMMAND``.

Messages for clerks are Chinese; logs are English and go to stderr. A command
that cannot go on says why in one Chinese line and exits non-zero (see
``mailintake.problems``); no traceback reaches the person at the terminal.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailintake.config.settings import Config, default_path, load_config
from mailintake.problems import EXIT_FAILED, EXIT_SETUP, check_folders, explain, transient
from mailintake.replies.render import TemplateProblem
from mailintake.service import logs

# The database, the pipeline and the views are imported by the commands that
# use them: for ``poll`` and ``run``, the reading workers' forkserver (started
# by ``mailintake.cli.entry``) loads its modules meanwhile.
if TYPE_CHECKING:
    from mailintake.app import App, Clock
    from mailintake.intake import pipeline

log = logging.getLogger("mailintake")


class State:
    def __init__(self, config_path: Path, now: datetime | None) -> None:
        self.config_path = config_path
        self.now = now
        self._config: Config | None = None
        self._app: App | None = None
        self.verbose = False

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def clock(self) -> Clock:
        from mailintake.app import system_clock

        now = self.now
        return (lambda: now) if now is not None else system_clock

    @property
    def loaded_config(self) -> Config | None:
        """The config if it was read (and valid), else None; never reads it."""
        return self._config

    @property
    def app(self) -> App:
        """The app on the database that is there: a missing one is an error, never made."""
        return self.open_app(create=False)

    def open_app(self, *, create: bool) -> App:
        """The app; ``create`` makes the database and its tables when missing."""
        if self._app is None:
            from mailintake.app import App
            from mailintake.store.database import ready, upgrade

            app = App.from_config(self.config, self.clock, create_database=create)
            try:
                if create:
                    upgrade(app.engine)
                else:
                    ready(app.engine)
            except BaseException:
                app.engine.dispose()
                raise
            self._app = app
        return self._app

    def close(self) -> None:
        # Pooled PostgreSQL connections are closed, not left to the garbage collector.
        if self._app is not None:
            self._app.engine.dispose()


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise click.BadParameter("请带上时区，例如 2026-11-19T10:00:00+08:00")
    return moment


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
    ctx.obj = State(config_path or default_path(), _aware(now) if now else None)
    ctx.obj.verbose = verbose
    ctx.call_on_close(ctx.obj.close)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any error into one Chinese line and an exit status; the detail is logged."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except TemplateProblem as exc:
            click.echo(f"错误：{exc}", err=True)
            sys.exit(EXIT_SETUP)
        except BrokenPipeError:
            # Whoever read the output went away (`| head`): nobody is left to tell, and
            # the interpreter must not complain about flushing to them on its way out.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_FAILED)
        except Exception as exc:
            state = click.get_current_context().find_object(State)
            explained = explain(exc, state.loaded_config if state else None)
            if explained is None:
                log.error("%s failed: %s", fn.__name__, _detail(exc))
                log.debug("traceback: %s", traceback.format_exc())
                click.echo(f"错误：mailintake 内部出错（{type(exc).__name__}），没有处理完的邮件"
                           "仍留在收件箱：请把日志中的 error 一行报告给维护者", err=True)
                sys.exit(EXIT_FAILED)
            if explained.line != str(exc):  # the exception's own text is English
                log.error("%s stopped: %s", fn.__name__, _detail(exc))
            click.echo(f"错误：{explained.line}", err=True)
            sys.exit(explained.exit_code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _detail(exc: BaseException) -> str:
    """The exception for the log, on one line; a database error without its SQL and
    parameters (they hold the mail's sender and subject)."""
    shown = getattr(exc, "orig", None) or exc
    return " ".join(f"{type(shown).__name__}: {shown}".split())[:500]


@main.group()
def db() -> None:
    """数据库维护。"""


@db.command("upgrade")
@click.pass_obj
@_guard
def db_upgrade(state: State) -> None:
    """建立数据库，或把它升级到最新结构（可重复执行）。"""
    state.open_app(create=True)
    click.echo("数据库已是最新结构。")


@main.group()
def units() -> None:
    """单位与信息员。"""


@units.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
@_guard
def units_import(state: State, file: Path) -> None:
    """导入信息报送人员登记表（CSV 或 XLSX）。"""
    from mailintake.store.database import session
    from mailintake.store.units import UnitsFileError, import_rows, read_rows

    try:
        rows = read_rows(file)
    except UnitsFileError as exc:
        click.echo(f"登记表有误，未导入任何数据：\n{exc}", err=True)
        sys.exit(1)
    with session(state.app.engine) as db_session:
        summary = import_rows(db_session, rows)
        db_session.commit()
    click.echo(
        f"已导入 {len(summary.unit_names)} 个单位（新增 {summary.units_created}，"
        f"更新 {summary.units_updated}），信息员 {summary.correspondents} 人。"
    )


FORMATS = click.Choice(["table", "json", "csv"])


@units.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_obj
@_guard
def units_list(state: State, fmt: str) -> None:
    """列出单位及其信息员。"""
    from mailintake.cli.views import print_rows, unit_rows

    print_rows(unit_rows(state.app), fmt)


@main.group()
def submissions() -> None:
    """已登记的稿件。"""


@submissions.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_obj
@_guard
def submissions_list(state: State, fmt: str) -> None:
    """列出稿件（json 为每行一个对象）。"""
    from mailintake.cli.views import print_rows, submission_rows

    print_rows(submission_rows(state.app), fmt)


@main.group()
def messages() -> None:
    """邮箱收到的每一封邮件。"""


@messages.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_obj
@_guard
def messages_list(state: State, fmt: str) -> None:
    """列出收到的全部邮件及其处理结果。"""
    from mailintake.cli.views import message_rows, print_rows

    print_rows(message_rows(state.app), fmt)


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
@_guard
def poll(state: State, once: bool) -> None:
    """收取并处理新邮件（不用 IDLE，按 poll_interval 定时收取）。"""
    from mailintake.intake.loop import Intake

    _start_readers()
    check_folders(state.config)
    intake = Intake(state.app)
    try:
        if once:
            click.echo(_summary(intake.cycle()))
            return
        stop = _stop_on_signals()
        interval = state.app.config.mailbox.poll_interval
        while not stop.is_set():
            try:
                click.echo(_summary(intake.cycle(stop.is_set)))
            except Exception as exc:
                if not transient(exc):
                    raise
                log.warning("%s; next try in %.0f s", _detail(exc), interval)
            stop.wait(interval)
    finally:
        intake.close()


@main.command()
@click.pass_obj
@_guard
def run(state: State) -> None:
    """常驻运行（供 systemd 使用）：新邮件一到即处理（IDLE），断线自动重连；
    定时发送回复、催报、周报并结算积分。修改配置后需重启服务。"""
    from mailintake.service import daemon, logs

    logs.setup(logging.DEBUG if state.verbose else logging.INFO)
    log.info("config %s", state.config_path)
    _start_readers()
    check_folders(state.config)
    daemon.run(state.app)


@main.command()
@click.option("--reset/--keep", default=True, help="先清空演示数据（默认清空）")
@click.option("--now", "demo_now", default="2026-11-19T10:00:00+08:00",
              help="演示时刻（样例邮件的日期在 2026 年 11 月）")
@click.pass_obj
@_guard
def demo(state: State, reset: bool, demo_now: str) -> None:
    """用自带的样例邮件演示完整流程（仅限 Maildir + 文件夹发件的配置）。"""
    from mailintake.cli.demo import run_demo

    run_demo(state, reset, _aware(demo_now))


@main.command()
@click.argument("tracking_no")
@click.option("--channel", required=True, help="采用渠道：名称或 key（配置 [[points.channels]]）")
@click.option("--brief", is_flag=True, help="以简讯采用（按 brief_points 计分）")
@click.option("--split", default="", help="合稿分配积分，例如 单位A=0.6,单位B=0.4")
@click.option("--date", "day", default=None, help="采用日期 YYYY-MM-DD（默认今天）")
@click.pass_obj
@_guard
def adopt(state: State, *, tracking_no: str, channel: str, brief: bool, split: str,
          day: str | None) -> None:
    """记录稿件被采用，并计入积分。"""
    from mailintake.cli.clerk import adopt_command

    adopt_command(state.app, tracking_no, channel, brief=brief, split=split, day=day)


@main.command()
@click.argument("tracking_no")
@click.option("--channel", required=True, help="采用渠道：名称或 key")
@click.pass_obj
@_guard
def unadopt(state: State, tracking_no: str, channel: str) -> None:
    """撤销一条采用记录（积分冲回）。"""
    from mailintake.cli.clerk import unadopt_command

    unadopt_command(state.app, tracking_no, channel)


@main.command()
@click.option("--period", "period_text", required=True,
              help="统计期：2026-11、2026-Q4、2026-H2、2026、2026-W47、2026-2027（学年）")
@click.option("--by", type=click.Choice(["unit", "correspondent"]), default="unit",
              help="按单位或按信息员")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="同时保存为 Excel 文件")
@click.pass_obj
@_guard
def report(state: State, period_text: str, by: str, fmt: str, xlsx: Path | None) -> None:
    """报送、采用、积分统计与排名。"""
    from mailintake.cli.clerk import report_command

    report_command(state.app, period_text, "unit" if by == "unit" else "correspondent", fmt, xlsx)


@main.command()
@click.pass_obj
@_guard
def remind(state: State) -> None:
    """立即给落后于报送任务的单位发催报（每期每单位只发一次）。"""
    from mailintake.cli.clerk import remind_command

    remind_command(state.app)


@main.command()
@click.pass_obj
@_guard
def digest(state: State) -> None:
    """立即发送应发的周报（每周只发一次）。"""
    from mailintake.cli.clerk import digest_command

    digest_command(state.app)


@main.command()
@click.option("--send-test", "send_to", default=None, metavar="ADDRESS",
              help="同时给这个地址发一封测试邮件")
@click.pass_obj
@_guard
def doctor(state: State, send_to: str | None) -> None:
    """逐项检查配置、数据库、存储目录、收发邮件、LibreOffice 与中文字体。"""
    from mailintake.service.doctor import run as run_doctor

    sys.exit(run_doctor(state.config_path, send_to, echo=click.echo))


@main.command()
@click.pass_obj
@_guard
def status(state: State) -> None:
    """运行概况：上次收取、待人工邮件、待发与失败回复、最近催报与周报。"""
    from mailintake.service.status import quarantined, quarantined_table, status_lines

    for line in status_lines(state.app):
        click.echo(line)
    if quarantined(state.app):
        click.echo("\n待人工的邮件（处理后可用 mailintake messages retry 编号 重新处理）：")
        click.echo(quarantined_table(state.app))


@messages.command("retry")
@click.argument("message_id", type=int)
@click.pass_obj
@_guard
def messages_retry(state: State, message_id: int) -> None:
    """按存档重新处理一封待人工的邮件（例如补登信息员之后）。"""
    from mailintake.intake.retry import RetryError, retry

    try:
        done = retry(state.app, message_id)
    except RetryError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    outcome = {"filed": "已登记", "rejected": "已退回", "quarantined": "仍待人工",
               "ignored": "已忽略"}.get(str(done.new.outcome), str(done.new.outcome))
    where = (f"服务器上的邮件已移到“{done.new.target_folder}”。" if done.moved
             else "在服务器的“待人工”文件夹中没有找到这封邮件，如需要请手工移动。")
    click.echo(f"邮件 {message_id} 已重新处理（新编号 {done.new.id}）：{outcome}。{where}")
