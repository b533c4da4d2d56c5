"""The registration form (信息报送人员登记表) import, good files and bad."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import FIXTURES, NOW, write_config
from sqlmodel import select

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.cli.views import unit_rows
from mailintake.config.settings import Config, load_config
from mailintake.office.registry import UnitsFileError, import_rows, read_rows
from mailintake.store.database import session, upgrade
from mailintake.store.models import Correspondent, CorrespondentAddress
from mailintake.store.units import find_sender

BAD = FIXTURES / "bad_units"


@pytest.mark.parametrize("name", ["units.csv", "units.xlsx"])
def test_registration_form_imports_units_people_and_addresses(app: App, name: str) -> None:
    """CSV and XLSX give the same units, aliases, kinds and correspondents."""
    import_rows(app.engine, read_rows(FIXTURES / name))
    rows = {row["unit"]: row for row in unit_rows(app)}
    assert len(rows) == 7
    assert rows["实验小学"]["aliases"] == ["实小", "县实验小学"]
    assert rows["第一幼儿园"]["kind"] == "幼儿园"
    [person] = rows["组织部"]["correspondents"]
    assert person["emails"] == ["liuxy@163.com", "zzb_xx@126.com"]


def test_one_correspondent_may_send_for_several_units(app: App) -> None:
    """The central school's correspondent is registered for the village school too."""
    with session(app.engine) as db:
        sender = find_sender(db, "WangZhe@126.com")
        assert sender is not None
        assert [u.name for u in sender.units] == ["城关镇东街小学", "城关镇中心校"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing_header.csv", "缺少列 邮箱"),
        ("bad_email.csv", "第 3 行「邮箱」列：「lina#foxmail.com」不是有效的邮箱地址"),
        ("unknown_kind.csv", "第 3 行「单位类别」列：无法识别「外星单位」"),
        ("empty_name.csv", "第 3 行「单位名称」列：不能为空"),
    ],
)
def test_bad_form_names_row_and_column(name: str, expected: str) -> None:
    """A bad registration file names the row and column at fault."""
    with pytest.raises(UnitsFileError) as caught:
        read_rows(BAD / name)
    assert expected in str(caught.value)


def test_reimport_replaces_a_units_correspondent(app: App, tmp_path: Path) -> None:
    """A changed correspondent, re-imported, replaces the old one for that unit only."""
    changed = tmp_path / "changed.csv"
    with changed.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["单位名称", "简称", "单位类别", "信息员姓名", "职务", "邮箱", "联系电话"])
        writer.writerow(["实验小学", "实小", "学校", "周敏", "教师", "zhoumin@126.com", "1"])
    import_rows(app.engine, read_rows(changed))
    with session(app.engine) as db:
        assert find_sender(db, "lina@foxmail.com") is not None  # still registered...
        lina = find_sender(db, "lina@foxmail.com")
        assert lina is not None and lina.units == []  # ...but no longer for 实验小学
        zhou = find_sender(db, "zhoumin@126.com")
        assert zhou is not None and [u.name for u in zhou.units] == ["实验小学"]
        assert find_sender(db, "chenpei@126.com") is not None


def test_gbk_csv_saved_by_old_excel_is_read(tmp_path: Path) -> None:
    """A CSV saved by Excel in GBK reads the same as UTF-8."""
    text = (FIXTURES / "units.csv").read_text(encoding="utf-8-sig")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gb18030"))
    assert [r.unit for r in read_rows(gbk)] == [r.unit for r in read_rows(FIXTURES / "units.csv")]


# --- one address, one person ----------------------------------------------------------------

FORM_HEADERS = ["单位名称", "简称", "单位类别", "信息员姓名", "职务", "邮箱", "联系电话"]
FIXTURE_ROWS = list(csv.reader(
    (FIXTURES / "units.csv").read_text(encoding="utf-8-sig").splitlines()))[1:]


def write_form(path: Path, rows: list[list[str]]) -> Path:
    """The registration form with these data rows, as CSV or XLSX by the suffix."""
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for row in [FORM_HEADERS, *rows]:
            sheet.append(row)
        book.save(path)
        return path
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([FORM_HEADERS, *rows])
    return path


def import_cli(app: App, form: Path) -> Result:
    assert app.config.source is not None
    return CliRunner().invoke(main, ["--config", str(app.config.source), "units", "import",
                                     str(form)])


def registry(app: App) -> str:
    return json.dumps(unit_rows(app), ensure_ascii=False, sort_keys=True)


# (data rows after the fixture's seven, the address, {name: its rows})
SHARED = {
    "two-units": ([["实验小学", "", "学校", "周敏", "教师", "shared@126.com", "1"],
                   ["第一幼儿园", "", "幼儿园", "孙丽", "保教主任", "shared@126.com", "2"]],
                  "shared@126.com", {"周敏": "9", "孙丽": "10"}),
    "one-unit": ([["实验小学", "", "学校", "周敏", "教师", "shared@126.com", "1"],
                  ["实验小学", "", "学校", "孙丽", "教师", "shared@126.com", "2"]],
                 "shared@126.com", {"周敏": "9", "孙丽": "10"}),
    "second-in-its-cell-other-case": (
        [["实验小学", "", "学校", "周敏", "教师", "zhoumin@126.com；shared@126.com", "1"],
         ["第一幼儿园", "", "幼儿园", "孙丽", "教师", "sunli@126.com、Shared@126.COM", "2"]],
        "shared@126.com", {"周敏": "9", "孙丽": "10"}),
    "a-registered-address": (
        [["城关镇东街小学", "", "学校", "刘强", "教师", "wangzhe@126.com", "3"]],
        "wangzhe@126.com", {"王喆": "6、7", "刘强": "9"}),
    "three-people": ([["实验小学", "", "学校", "周敏", "教师", "shared@126.com", "1"],
                      ["人文学院", "", "学院", "钱程", "秘书", "shared@126.com", "2"],
                      ["第一幼儿园", "", "幼儿园", "孙丽", "教师", "shared@126.com", "3"]],
                     "shared@126.com", {"周敏": "9", "钱程": "10", "孙丽": "11"}),
}


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[App]:
    """The fixture registry on SQLite alone: for a refusal that comes before any write."""
    app = App.from_config(load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'db'}")),
                          lambda: NOW)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    yield app
    app.engine.dispose()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("shape", list(SHARED))
def test_two_people_with_one_address_are_refused_naming_the_rows(
    sqlite_app: App, tmp_path: Path, shape: str, suffix: str
) -> None:
    """Two names given one address stop the import with every row and name said in
    Chinese, and nothing is imported, not even the good rows."""
    app = sqlite_app
    extra, address, owners = SHARED[shape]
    before = registry(app)
    form = write_form(tmp_path / f"form{suffix}", [*FIXTURE_ROWS, *extra])
    result = import_cli(app, form)
    assert result.exit_code == 1, result.output
    lines = sorted({n for rows in owners.values() for n in rows.split("、")}, key=int)
    assert "未导入任何数据" in result.output
    assert f"第 {'、'.join(lines)} 行「邮箱」列：「{address}」同时登记给了" in result.output
    for name, rows in owners.items():
        assert f"「{name}」（第 {rows} 行）" in result.output
    assert "一个邮箱只能属于一位信息员" in result.output
    assert "Traceback" not in result.output
    assert registry(app) == before


def test_rows_read_from_two_forms_are_refused_by_the_import_too(app: App, tmp_path: Path) -> None:
    """Rows checked file by file still cannot give one address to two people together."""
    before = registry(app)
    other = write_form(tmp_path / "other.csv",
                       [["城关镇东街小学", "", "学校", "刘强", "教师", "wangzhe@126.com", "3"]])
    with pytest.raises(UnitsFileError) as caught:
        import_rows(app.engine, [*read_rows(FIXTURES / "units.csv"), *read_rows(other)])
    assert "「wangzhe@126.com」同时登记给了「王喆」（第 6、7 行）和「刘强」（第 2 行）" in str(
        caught.value)
    assert registry(app) == before


# (data rows, how many people, {address: the units it sends for})
ONE_PERSON = {
    "one-row-per-unit": (
        [["城关镇中心校", "", "学校", "王喆", "副校长", "wangzhe@126.com", "4"],
         ["城关镇东街小学", "", "学校", "王喆", "副校长", "wangzhe@126.com", "4"],
         ["城关镇西街小学", "", "学校", "王喆", "副校长", "wangzhe@126.com", "4"]],
        1, {"wangzhe@126.com": ["城关镇东街小学", "城关镇中心校", "城关镇西街小学"]}),
    "addresses-in-another-order": (
        [["城关镇中心校", "", "学校", "王喆", "副校长", "wangzhe@126.com；wz@qq.com", "4"],
         ["城关镇东街小学", "", "学校", "王喆", "副校长", "wz@qq.com；wangzhe@126.com", "4"]],
        1, {"wz@qq.com": ["城关镇东街小学", "城关镇中心校"]}),
    "name-written-with-a-space": (
        [["城关镇中心校", "", "学校", "王喆", "副校长", "wangzhe@126.com", "4"],
         ["城关镇东街小学", "", "学校", "王　喆", "副校长", "WangZhe@126.com", "4"]],
        1, {"wangzhe@126.com": ["城关镇东街小学", "城关镇中心校"]}),
    "linked-through-a-second-address": (
        [["城关镇中心校", "", "学校", "王喆", "副校长", "wangzhe@126.com", "4"],
         ["城关镇东街小学", "", "学校", "王喆", "副校长", "wangzhe@126.com、wz@qq.com", "4"],
         ["城关镇西街小学", "", "学校", "王喆", "副校长", "wz@qq.com", "4"]],
        1, {"wangzhe@126.com": ["城关镇东街小学", "城关镇中心校", "城关镇西街小学"]}),
    "namesakes-with-their-own-addresses": (
        [["实验小学", "", "学校", "李娜", "教师", "lina@foxmail.com", "3"],
         ["第一幼儿园", "", "幼儿园", "李娜", "教师", "lina2@126.com", "5"]],
        2, {"lina@foxmail.com": ["实验小学"], "lina2@126.com": ["第一幼儿园"]}),
}


@pytest.mark.parametrize("shape", list(ONE_PERSON))
def test_one_person_for_several_units_is_counted_once(
    config: Config, tmp_path: Path, shape: str
) -> None:
    """The same person and address for several units (seed 004) is imported as one
    correspondent, and the summary's count is the number of people registered."""
    rows, people, sends_for = ONE_PERSON[shape]
    app = App.from_config(config, lambda: NOW)
    upgrade(app.engine)
    result = import_cli(app, write_form(tmp_path / "form.csv", rows))
    assert result.exit_code == 0, result.output
    assert f"信息员 {people} 人" in result.output
    with session(app.engine) as db:
        assert len(db.exec(select(Correspondent)).all()) == people
        for address, units in sends_for.items():
            sender = find_sender(db, address)
            assert sender is not None and sorted(u.name for u in sender.units) == units
    app.engine.dispose()


def test_fixture_form_counts_six_people_for_seven_units(config: Config) -> None:
    """The bundled form (王喆 for two schools) says 7 units and 6 correspondents, as stored."""
    app = App.from_config(config, lambda: NOW)
    upgrade(app.engine)
    result = import_cli(app, FIXTURES / "units.csv")
    assert result.exit_code == 0, result.output
    assert "已导入 7 个单位（新增 7，更新 0），信息员 6 人" in result.output
    with session(app.engine) as db:
        assert len(db.exec(select(Correspondent)).all()) == 6
        assert len(db.exec(select(CorrespondentAddress)).all()) == 7
    app.engine.dispose()


def test_an_address_handed_to_someone_else_leaves_its_old_owner_alone(
    app: App, tmp_path: Path
) -> None:
    """When a re-import gives 王喆's address to 刘强 for one school, 刘强 sends for that
    school only and 王喆 is not renamed on the other school's list."""
    form = write_form(tmp_path / "form.csv",
                      [["城关镇东街小学", "", "学校", "刘强", "教师", "wangzhe@126.com", "3"]])
    result = import_cli(app, form)
    assert result.exit_code == 0, result.output
    assert "信息员 1 人" in result.output
    with session(app.engine) as db:
        sender = find_sender(db, "wangzhe@126.com")
        assert sender is not None and sender.correspondent.name == "刘强"
        assert [u.name for u in sender.units] == ["城关镇东街小学"]
    rows = {row["unit"]: row for row in unit_rows(app)}
    assert [c["name"] for c in rows["城关镇中心校"]["correspondents"]] == ["王喆"]
    assert [c["name"] for c in rows["城关镇东街小学"]["correspondents"]] == ["刘强"]
