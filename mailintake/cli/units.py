"""``mailintake units``: the registration form in, and the units it made out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from mailintake.cli.state import FORMATS, State, guard


@click.group()
def units() -> None:
    """单位与信息员。"""


@units.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="只列出将要发生的变化，不导入。")
@click.pass_obj
@guard
def units_import(state: State, file: Path, dry_run: bool) -> None:
    """导入信息报送人员登记表（CSV 或 XLSX），并列出新增、修改和移除的内容。"""
    from mailintake.office.registry import UnitsFileError, describe, import_rows, read_rows

    try:
        rows = read_rows(file)
        summary = import_rows(state.app.engine, rows, apply=not dry_run)
    except UnitsFileError as exc:
        click.echo(f"登记表有误，未导入任何数据：\n{exc}", err=True)
        sys.exit(1)
    for change in summary.changes:
        click.echo(describe(change))
    if dry_run:
        click.echo(f"以上为预览，共 {len(summary.changes)} 项变化，尚未导入；"
                   "确认无误后去掉 --dry-run 再运行一次。" if summary.changes
                   else "与现有登记相同，导入不会改变任何内容。")
        return
    click.echo(
        f"已导入 {len(summary.unit_names)} 个单位（新增 {summary.units_created}，"
        f"更新 {summary.units_updated}），信息员 {summary.correspondents} 人。"
    )


@units.command("set")
@click.argument("name")
@click.option("--quota", type=click.IntRange(min=0), help="本单位每期定额（篇），覆盖类别默认值。")
@click.option("--kind-quota", is_flag=True, help="取消本单位定额，按单位类别的默认定额。")
@click.option("--kind", help="单位类别：学校、幼儿园、部门、学院、社区。")
@click.option("--aliases", help="简称，用顿号或逗号分隔。")
@click.option("--leader", help="负责领导。")
@click.option("--active/--inactive", default=None, help="启用或停用本单位。")
@click.pass_obj
@guard
def units_set(state: State, *, name: str, quota: int | None, kind_quota: bool,
              kind: str | None, aliases: str | None, leader: str | None,
              active: bool | None) -> None:
    """修改一个单位：定额、类别、简称、负责领导，或停用、启用。"""
    from mailintake.office.registry import describe, kind_of, split_list
    from mailintake.store.unitchanges import RegistryError, UnitEdit
    from mailintake.store.units import edit_unit

    if kind is not None and not kind_of(kind):
        _fail(f"无法识别单位类别「{kind}」，可用：学校、幼儿园、部门、学院、社区")
    if quota is not None and kind_quota:
        _fail("--quota 与 --kind-quota 只能选一个")
    edit = UnitEdit(kind=kind_of(kind) if kind else None,
                    aliases=split_list(aliases) if aliases is not None else None,
                    leader=leader, active=active, quota=quota, kind_quota=kind_quota)
    try:
        changes = edit_unit(state.app.engine, name, edit)
    except RegistryError as exc:
        _fail(str(exc))
    for change in changes:
        click.echo(describe(change))
    if not changes:
        click.echo(f"「{name}」没有变化。")


@units.command("person")
@click.argument("unit")
@click.argument("name")
@click.option("--email", "emails", multiple=True, help="邮箱，可重复给出多个。")
@click.option("--phone", default="", help="联系电话。")
@click.option("--title", default="", help="职务。")
@click.option("--remove", is_flag=True, help="把此人从本单位的信息员中移除。")
@click.pass_obj
@guard
def units_person(state: State, *, unit: str, name: str, emails: tuple[str, ...],
                 phone: str, title: str, remove: bool) -> None:
    """新增或修改一个单位的信息员（其他信息员不变），或用 --remove 移除。"""
    from mailintake.office.registry import checked_emails, describe
    from mailintake.store.unitchanges import RegistryError
    from mailintake.store.units import PersonEntry, remove_person, set_person

    try:
        if remove:
            changes = remove_person(state.app.engine, unit, name)
        else:
            addresses, problems = checked_emails(" ".join(emails))
            if problems:
                _fail("；".join(problems))
            changes = set_person(state.app.engine, unit, PersonEntry(
                name=name, title=title, phone=phone, emails=addresses, units=[unit]))
    except RegistryError as exc:
        _fail(str(exc))
    for change in changes:
        click.echo(describe(change))
    if not changes:
        click.echo("没有变化。")


def _fail(message: str) -> NoReturn:
    click.echo(f"错误：{message}", err=True)
    sys.exit(1)


@units.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_obj
@guard
def units_list(state: State, fmt: str) -> None:
    """列出单位及其信息员。"""
    from mailintake.cli.views import print_rows, unit_rows

    print_rows(unit_rows(state.app), fmt)
