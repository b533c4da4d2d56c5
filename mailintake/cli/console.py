"""``mailintake users`` (who may log in to the web console) and ``mailintake web``."""

from __future__ import annotations

import sys

import click

from mailintake.cli.state import State, fail, guard

ROLE = click.Choice(["clerk", "admin", "viewer"])


def _password() -> str:
    """The new password: one line of standard input when it is not a terminal, else asked twice."""
    from mailintake.web.passwords import weak

    if sys.stdin.isatty():
        password = str(click.prompt("新密码", hide_input=True, confirmation_prompt="再输入一次"))
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    problem = weak(password)
    if problem:
        fail(problem)
    return password


@click.group()
def users() -> None:
    """管理台的用户（文秘 clerk、管理员 admin、只读 viewer）。"""


@users.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True,
              help="clerk（文秘）、admin（管理员）或 viewer（只读）")
@click.pass_obj
@guard
def users_add(state: State, name: str, role: str) -> None:
    """添加用户；密码从标准输入读取（在终端中则提示输入两次）。"""
    from mailintake.store import accounts
    from mailintake.web.passwords import hash_password

    name = name.strip()
    if not name or len(name) > 100:
        fail("用户名不能为空，且不超过 100 个字符")
    engine = state.app.engine
    if accounts.user(engine, name) is not None:
        fail(f"用户 {name} 已存在：改密码请用 mailintake users passwd {name}")
    password = _password()
    try:
        accounts.add_user(engine, name, role, hash_password(password))
    except accounts.UserExists:
        fail(f"用户 {name} 已存在")
    click.echo(f"已添加用户 {name}（{_ROLES[role]}）。")


_ROLES = {"clerk": "文秘", "admin": "管理员", "viewer": "只读"}


@users.command("list")
@click.pass_obj
@guard
def users_list(state: State) -> None:
    """列出用户。"""
    from tabulate import tabulate

    from mailintake.store import accounts

    rows = [[u.name, _ROLES.get(u.role, u.role), "在用" if u.active else "已停用",
             state.app.local(u.created_at).strftime("%Y-%m-%d %H:%M")]
            for u in accounts.users(state.app.engine)]
    if not rows:
        click.echo("还没有用户：请用 mailintake users add 用户名 --role clerk 添加。")
        return
    click.echo(tabulate(rows, headers=["用户名", "角色", "状态", "添加时间"]))


@users.command("passwd")
@click.argument("name")
@click.pass_obj
@guard
def users_passwd(state: State, name: str) -> None:
    """修改用户的密码（该用户已登录的会话随之失效）。"""
    from mailintake.store import accounts
    from mailintake.web.passwords import hash_password

    if accounts.user(state.app.engine, name) is None:
        fail(f"没有用户 {name}")
    accounts.set_password(state.app.engine, name, hash_password(_password()))
    click.echo(f"已修改 {name} 的密码。")


@users.command("disable")
@click.argument("name")
@click.pass_obj
@guard
def users_disable(state: State, name: str) -> None:
    """停用用户（不能再登录，已登录的会话立即失效）。"""
    from mailintake.store import accounts

    try:
        accounts.set_active(state.app.engine, name, False)
    except accounts.NoSuchUser:
        fail(f"没有用户 {name}")
    click.echo(f"已停用用户 {name}。")


@click.command()
@click.pass_obj
@guard
def web(state: State) -> None:
    """启动网页管理台（监听地址见配置 [web] listen，默认 127.0.0.1:8025）。"""
    from mailintake.web.server import serve

    app = state.app
    click.echo(f"管理台：http://{app.config.web.listen}/（按 Ctrl-C 停止）")
    serve(app)


COMMANDS = [users, web]
