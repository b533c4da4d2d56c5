"""The demo: the bundled fixture mails through the whole flow, on the
embedded default (SQLite, a Maildir, replies written to a folder).

The units and mails ship inside the package (``mailintake/cli/demo_data/``, a copy
of the test fixtures that ``fixtures/make_fixtures.py`` writes), so the demo
runs from an ordinary install too."""

from __future__ import annotations

import email
import email.policy
import mailbox
import shutil
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailintake.cli.views import message_rows, print_rows, submission_rows
from mailintake.config.settings import Config, ConfigError
from mailintake.intake import pipeline
from mailintake.office.registry import import_rows, read_rows
from mailintake.store.database import upgrade
from mailintake.store.errors import sqlite_file

if TYPE_CHECKING:
    from mailintake.cli.state import State

DEMO_DATA = resources.files("mailintake.cli") / "demo_data"
#: The account ``demo --web`` makes (an administrator: every page of the console).
DEMO_USER = "demo"


def _demo_paths(config: Config) -> list[Path]:
    """The folders the demo may wipe; refuses any config that is not local."""
    if config.mailbox.kind != "maildir" or config.smtp.kind != "folder":
        raise ConfigError("演示只能在 Maildir 收信、文件夹发信的配置下运行（如 config/demo.toml）")
    db_file = sqlite_file(config.database.url)
    if db_file is None:
        raise ConfigError("演示只能使用 SQLite 数据库")
    assert config.mailbox.path is not None and config.smtp.path is not None
    return [config.mailbox.path, config.smtp.path, config.storage.dir,
            db_file, db_file.with_name(db_file.name + "-wal"),
            db_file.with_name(db_file.name + "-shm")]


def _reset(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run_demo(state: State, reset: bool, now: datetime) -> None:
    paths = _demo_paths(state.config)
    if reset:
        _reset(paths)
    state.now = now
    app = state.open_app(create=True)  # the demo sets up its own database
    upgrade(app.engine)
    with resources.as_file(DEMO_DATA / "units.csv") as units:
        summary = import_rows(app.engine, read_rows(units))
    click.echo(
        f"已导入登记表：{len(summary.unit_names)} 个单位，{summary.correspondents} 名信息员。"
    )
    assert state.config.mailbox.path is not None and state.config.smtp.path is not None
    inbox = mailbox.Maildir(state.config.mailbox.path, create=True)
    fixtures = sorted((mail for mail in (DEMO_DATA / "mail").iterdir()
                       if mail.name.endswith(".eml")), key=lambda mail: mail.name)
    for mail in fixtures:
        inbox.add(mail.read_bytes())
    click.echo(f"已投递 {len(fixtures)} 封样例邮件到 {state.config.mailbox.path}\n")
    box = app.open_mailbox()
    try:
        report = pipeline.run_cycle(app, box)
    finally:
        box.close()
    click.echo("== 收到的邮件 ==")
    print_rows(message_rows(app), "table")
    click.echo("\n== 登记的稿件 ==")
    print_rows(submission_rows(app), "table")
    outbox = sorted(state.config.smtp.path.glob("*.eml"))
    click.echo(f"\n== 发出的回复（{state.config.smtp.path}）==")
    for path in outbox:
        reply = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        click.echo(f"  {path.name}  →  {reply['To']}  {reply['Subject']}")
    if outbox:
        first = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
        body = first.get_body()
        click.echo(f"\n== 第一封回复的正文 ==\n{body.get_content() if body else ''}")
    click.echo(
        f"共 {report.seen} 封：登记 {report.filed}，退回 {report.rejected}，"
        f"待人工 {report.quarantined}，忽略 {report.ignored}。"
    )
    config = state.config.source or Path("config/demo.toml")
    click.echo(
        f"\n在浏览器中查看这些数据（网页管理台）：scripts/demo --web；或者\n"
        f"  mailintake --config {config} users add 文秘 --role clerk\n"
        f"  mailintake --config {config} web\n"
        f"然后打开 http://{state.config.web.listen}/ 。"
        f"status、report 等命令同样加 --config {config} 即可查看演示数据。"
    )


def serve_demo(state: State) -> None:
    """The console on the demo's data, with a demo account whose password is printed."""
    import secrets

    from mailintake.store import accounts
    from mailintake.web.passwords import hash_password
    from mailintake.web.server import serve

    app = state.app
    password = secrets.token_urlsafe(9)
    if accounts.user(app.engine, DEMO_USER) is None:
        accounts.add_user(app.engine, DEMO_USER, "admin", hash_password(password))
    else:  # a demo kept with --keep: the account stays, with a new password
        accounts.set_password(app.engine, DEMO_USER, hash_password(password))
    click.echo(f"\n网页管理台：http://{app.config.web.listen}/  "
               f"用户名 {DEMO_USER}  密码 {password}（按 Ctrl-C 停止）", nl=True)
    serve(app)
