"""The registry as a clerk keeps it, on SQLite and PostgreSQL: a new registration form
previewed before it is applied (added, changed, removed), a unit's quota set or its
registration stopped, one correspondent added or taken off without re-importing the form.
Each change is seen where it matters: in the mail a correspondent sends next."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from conftest import FIXTURES, NOW, deliver
from pieces import chinese, piece_mail, word_file

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.intake import pipeline
from mailintake.store.units import quota_units

HEADERS = ["单位名称", "简称", "单位类别", "信息员姓名", "职务", "邮箱", "联系电话"]


def cli(app: App, *args: str) -> Result:
    assert app.config.source is not None
    return CliRunner().invoke(
        main, ["--config", str(app.config.source), "--now", NOW.isoformat(), *args])


def form(folder: Path, rows: list[list[str]]) -> Path:
    path = folder / "登记表.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([HEADERS, *rows])
    return path


def fixture_rows() -> list[list[str]]:
    with (FIXTURES / "units.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))[1:]


def units(app: App) -> dict[str, dict[str, Any]]:
    listed = cli(app, "units", "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    return {row["unit"]: row for row in map(json.loads, listed.output.splitlines())}


def send_piece(app: App, sender: str, subject: str, seed: int = 7) -> str:
    """One website piece from ``sender``; what became of it (filed, rejected, quarantined)."""
    document = word_file("", [chinese(300, seed)], ((1600, 1200, "图为活动现场"),))
    deliver(app.config, piece_mail(sender, subject, document))
    box = app.open_mailbox()
    try:
        report = pipeline.run_cycle(app, box)
    finally:
        box.close()
    return "filed" if report.filed else "rejected" if report.rejected else "quarantined"


def test_a_new_form_is_previewed_then_applied(app: App, tmp_path: Path) -> None:
    """The office's new form changes a phone, replaces 实验小学's correspondent, adds a
    kindergarten and a second person at 人文学院. --dry-run lists exactly that and changes
    nothing; the import then makes those changes; the same form again changes nothing."""
    rows = fixture_rows()
    for row in rows:
        if row[3] == "陈佩":
            row[6] = "029-83116699"
        if row[0] == "实验小学":
            row[3:7] = ["周敏", "教师", "zhoumin@163.com", "13700000030"]
    rows += [["第二幼儿园", "二幼", "幼儿园", "孙丽", "保教主任", "sunli@126.com", "13700000031"],
             ["人文学院", "人文", "学院", "郑洁", "秘书", "zhengjie@qq.com", "13700000032"]]
    new_form = form(tmp_path, rows)
    before = units(app)

    preview = cli(app, "units", "import", "--dry-run", str(new_form))
    assert preview.exit_code == 0, preview.output
    lines = preview.output.splitlines()
    assert lines[:-1] == [
        "修改：党政办公室 的信息员「陈佩」，联系电话：029-83116610 → 029-83116699",
        "新增：人文学院 的信息员「郑洁」",
        "新增：实验小学 的信息员「周敏」",
        "移除：实验小学 的信息员「李娜」",
        "新增：单位「第二幼儿园」",
        "新增：第二幼儿园 的信息员「孙丽」",
    ]
    assert "共 6 项变化，尚未导入" in lines[-1]
    assert units(app) == before

    done = cli(app, "units", "import", str(new_form))
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[:-1] == lines[:-1]
    after = units(app)
    assert [p["name"] for p in after["实验小学"]["correspondents"]] == ["周敏"]
    assert "第二幼儿园" in after

    again = cli(app, "units", "import", "--dry-run", str(new_form))
    assert again.output.strip() == "与现有登记相同，导入不会改变任何内容。"


def test_a_unit_gets_its_own_quota_and_can_be_stopped(app: App) -> None:
    """实验小学 gets a quota of 3 and a leader; 第一幼儿园 closes: it no longer has a quota to
    meet, and its correspondent's next piece is sent back, counted for no unit."""
    done = cli(app, "units", "set", "实验小学", "--quota", "3", "--leader", "张校长")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == ["修改：单位「实验小学」，负责领导：（空） → 张校长",
                                        "修改：单位「实验小学」，定额：按类别 → 3"]
    assert {u.name: u.quota for u in quota_units(app.engine)}["实验小学"] == 3

    stopped = cli(app, "units", "set", "第一幼儿园", "--inactive")
    assert stopped.output.strip() == "修改：单位「第一幼儿园」，状态：启用 → 停用"
    assert "第一幼儿园" not in {u.name for u in quota_units(app.engine)}
    assert units(app)["第一幼儿园"]["active"] is False
    assert send_piece(app, "zhaorong@126.com", "第一幼儿园信息（2026.11.18）开展消防演练") == (
        "rejected")
    pieces = cli(app, "submissions", "list", "--format", "json")
    [piece] = map(json.loads, pieces.output.splitlines())
    assert piece["unit"] == ""

    back = cli(app, "units", "set", "实验小学", "--kind-quota")
    assert back.output.strip() == "修改：单位「实验小学」，定额：3 → 按类别"
    unknown = cli(app, "units", "set", "不存在的学校", "--quota", "1")
    assert unknown.exit_code == 1 and "没有名为「不存在的学校」的单位" in unknown.output
    wrong = cli(app, "units", "set", "实验小学", "--kind", "工厂")
    assert wrong.exit_code == 1 and "无法识别单位类别「工厂」" in wrong.output


def test_one_correspondent_added_and_taken_off(app: App) -> None:
    """The clerk adds 周敏 to 实验小学 beside 李娜: her piece is filed for the school. An
    address that is somebody else's is refused, naming its owner. Taken off again, her
    next mail waits for a person as an unregistered sender's."""
    added = cli(app, "units", "person", "实验小学", "周敏", "--email", "ZhouMin@163.com",
                "--phone", "13700000030", "--title", "教师")
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "新增：实验小学 的信息员「周敏」"
    people = units(app)["实验小学"]["correspondents"]
    assert [p["name"] for p in people] == ["李娜", "周敏"]
    assert send_piece(app, "zhoumin@163.com", "实验小学信息（2026.11.18）开展秋季运动会") == "filed"

    phone = cli(app, "units", "person", "实验小学", "周敏", "--email", "zhoumin@163.com",
                "--phone", "13700000039", "--title", "教师")
    assert phone.output.strip() == (
        "修改：实验小学 的信息员「周敏」，联系电话：13700000030 → 13700000039")

    taken = cli(app, "units", "person", "实验小学", "王芳", "--email", "lina@foxmail.com")
    assert taken.exit_code == 1
    assert "邮箱 lina@foxmail.com 已登记给「李娜」" in taken.output
    bad = cli(app, "units", "person", "实验小学", "王芳", "--email", "not-an-address")
    assert bad.exit_code == 1 and "不是有效的邮箱地址" in bad.output

    moved = cli(app, "units", "person", "实验小学", "周敏", "--email", "zhoumin@126.com",
                "--phone", "13700000039", "--title", "教师")
    assert moved.exit_code == 0, moved.output
    assert [p["name"] for p in units(app)["实验小学"]["correspondents"]] == ["李娜", "周敏"]
    assert send_piece(app, "zhoumin@126.com", "实验小学信息（2026.11.18）开展书法比赛",
                      seed=8) == "filed"

    removed = cli(app, "units", "person", "实验小学", "周敏", "--remove")
    assert removed.output.strip() == "移除：实验小学 的信息员「周敏」"
    assert send_piece(app, "zhoumin@163.com", "实验小学信息（2026.11.18）开展读书节活动") == (
        "quarantined")


def test_a_quota_with_extra_digits_is_refused(app: App) -> None:
    """A slip of the keyboard (30000000 for 3) is one Chinese line, and nothing changes."""
    wrong = cli(app, "units", "set", "实验小学", "--quota", "30000000")
    assert wrong.exit_code == 1 and "定额应在 0 到 1000 篇之间" in wrong.output
    assert {u.name: u.quota for u in quota_units(app.engine)}["实验小学"] is None
