"""``mailintake units``: the registration form in, and the units it made out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailintake.cli.state import FORMATS, State, guard


@click.group()
def units() -> None:
    """单位与信息员。"""


@units.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
@guard
def units_import(state: State, file: Path) -> None:
    """导入信息报送人员登记表（CSV 或 XLSX）。"""
    from mailintake.office.registry import UnitsFileError, import_rows, read_rows

    try:
        rows = read_rows(file)
    except UnitsFileError as exc:
        click.echo(f"登记表有误，未导入任何数据：\n{exc}", err=True)
        sys.exit(1)
    summary = import_rows(state.app.engine, rows)
    click.echo(
        f"已导入 {len(summary.unit_names)} 个单位（新增 {summary.units_created}，"
        f"更新 {summary.units_updated}），信息员 {summary.correspondents} 人。"
    )


@units.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_obj
@guard
def units_list(state: State, fmt: str) -> None:
    """列出单位及其信息员。"""
    from mailintake.cli.views import print_rows, unit_rows

    print_rows(unit_rows(state.app), fmt)
