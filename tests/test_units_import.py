"""The registration form (信息报送人员登记表) import, good files and bad."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import FIXTURES

from mailintake.app import App
from mailintake.database import session
from mailintake.units import UnitsFileError, find_sender, import_rows, read_rows
from mailintake.views import unit_rows

BAD = FIXTURES / "bad_units"


@pytest.mark.parametrize("name", ["units.csv", "units.xlsx"])
def test_registration_form_imports_units_people_and_addresses(app: App, name: str) -> None:
    """CSV and XLSX give the same units, aliases, kinds and correspondents."""
    with session(app.engine) as db:
        import_rows(db, read_rows(FIXTURES / name))
        db.commit()
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
    with session(app.engine) as db:
        import_rows(db, read_rows(changed))
        db.commit()
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
