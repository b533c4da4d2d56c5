"""Adoption (采用), points and rankings as the office keeps them: seed 003's
points per channel, joint pieces split between units, seed 001's quota
scheme, and the Excel a clerk opens."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result
from conftest import SHANGHAI
from office_pieces import file_piece, make_app
from openpyxl.utils import get_column_letter
from sqlmodel import select

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.config.office import PointsConfig
from mailintake.office.periods import parse_period
from mailintake.office.points import quota_line
from mailintake.store import accounts
from mailintake.store.database import session
from mailintake.store.models import Status, Submission

SEED_001 = """
[points]
per_submission = 0
base = 20
per_missing = -10
per_extra = 1

[[points.channels]]
key = "street"
name = "街道"
points = 8
brief_points = 3

[[points.channels]]
key = "district"
name = "区委"
points = 15
brief_points = 6

[[points.channels]]
key = "city"
name = "市委"
points = 30
brief_points = 10
"""


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def run(app: App, now: datetime, *args: str) -> Result:
    assert app.config.source is not None
    return CliRunner().invoke(
        main, ["--config", str(app.config.source), "--now", now.isoformat(), *args])


def ok(app: App, now: datetime, *args: str) -> str:
    result = run(app, now, *args)
    assert result.exit_code == 0, result.output
    return result.output


def report(app: App, now: datetime, period: str, by: str = "unit") -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        ok(app, now, "report", "--period", period, "--by", by, "--format", "json"))
    return found


def by_unit(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["unit"]: row for row in found["rows"]}


def test_adoption_points_and_a_60_40_split_land_in_the_right_units(app: App) -> None:
    """A joint piece adopted as education news gives 12 and 8 points; each piece 1 (seed 003)."""
    joint = file_piece(app, "人文学院", at(date(2026, 11, 18)))
    weibo = file_piece(app, "组织部", at(date(2026, 11, 17)))
    now = at(date(2026, 11, 20))
    assert "20 分" in ok(app, now, "adopt", joint, "--channel", "教育厅教育要闻",
                         "--split", "人文学院=0.6,党政办=0.4")
    ok(app, now, "adopt", weibo, "--channel", "weibo")
    rows = by_unit(report(app, now, "2026-11"))
    assert rows["人文学院"]["points"] == 13  # 1 for the piece + 60 % of 20
    assert rows["党政办公室"]["points"] == 8
    assert rows["组织部"]["points"] == 11
    assert rows["人文学院"]["adopted_news"] == 1 and rows["党政办公室"]["adopted_news"] == 1
    assert [rows[u]["rank"] for u in ("组织部", "人文学院", "党政办公室")] == [2, 1, 3]

    ok(app, now, "unadopt", weibo, "--channel", "教育厅微博")
    assert by_unit(report(app, now, "2026-11"))["组织部"]["points"] == 1
    # Who adopted and who took it back, and when, are on the piece's record.
    trail = accounts.trail(app.engine, f"piece:{weibo}")
    assert [(a.action, a.who.endswith("（命令行）"), a.at) for a in trail] == [
        ("unadopt", True, now), ("adopt", True, now)]
    assert trail[1].detail.startswith("教育厅微博，采用日期 2026-11-20")
    again = run(app, now, "unadopt", weibo, "--channel", "weibo")
    assert again.exit_code == 1 and "没有“weibo”的采用记录" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["20261118-99999", "--channel", "weibo"], "没有登记编号为 20261118-99999 的稿件"),
        (["{piece}", "--channel", "电视台"], "可用：学校每周动态（weekly）"),
        (["{piece}", "--channel", "weibo", "--split", "人文学院=0.6,党政办=0.3"], "之和应为 1"),
        (["{piece}", "--channel", "weibo", "--split", "不存在的学校=1"], "单位已登记"),
        (["{piece}", "--channel", "weibo", "--date", "2026-13-01"], "应为 YYYY-MM-DD"),
        # Not before the piece came (18th), not after today (20th).
        (["{piece}", "--channel", "weibo", "--date", "2026-11-10"],
         "采用日期 2026-11-10 早于稿件 {piece} 的收到日期 2026-11-18"),
        (["{piece}", "--channel", "weibo", "--date", "2026-11-21"],
         "采用日期 2026-11-21 晚于今天（2026-11-20）"),
    ],
)
def test_a_wrong_adoption_is_refused_with_the_reason(
    app: App, args: list[str], message: str
) -> None:
    """An unknown piece, channel or unit, a split not summing to 1, or a date before the
    piece came or after today, changes nothing."""
    piece = file_piece(app, "人文学院", at(date(2026, 11, 18)))
    result = run(app, at(date(2026, 11, 20)), "adopt", *[a.format(piece=piece) for a in args])
    assert result.exit_code == 1 and message.format(piece=piece) in result.output
    assert by_unit(report(app, at(date(2026, 11, 20)), "2026-11"))["人文学院"]["adopted"] == 0


@pytest.mark.parametrize(
    ("required", "got", "only_when_met", "points"),
    [(5, 5, True, 20), (5, 6, True, 21), (5, 3, True, -20), (5, 3, False, 0), (0, 2, True, 2)],
)
def test_seed_001_scheme_in_numbers(required: int, got: int, only_when_met: bool,
                                    points: float) -> None:
    """Base 20 for meeting the quota, −10 per piece missing, +1 per extra piece."""
    scheme = PointsConfig(base=20, per_missing=-10, per_extra=1, base_only_when_met=only_when_met)
    assert quota_line(scheme, parse_period("2026-11"), required, got)[0] == points


def test_seed_001_score_of_a_unit_that_missed_two_pieces(tmp_path: Path, db_url: str) -> None:
    """November asks a school for five pieces: three sent (−20) and a district brief make −14."""
    app = make_app(tmp_path, db_url, SEED_001, lambda: at(date(2026, 12, 7)))
    sent = [file_piece(app, "城关镇中心校", at(date(2026, 11, 3) + timedelta(weeks=w)))
            for w in range(3)]
    file_piece(app, "城关镇中心校", at(date(2026, 11, 25)), status=Status.REJECTED)
    for day in range(6):
        file_piece(app, "实验小学", at(date(2026, 11, 2) + timedelta(days=5 * day)))
    ok(app, at(date(2026, 11, 20)), "adopt", sent[1], "--channel", "区委", "--brief")
    # 3 December: the monthly department quota is settled, the school weeks are not over.
    early = by_unit(report(app, at(date(2026, 12, 3)), "2026-11"))
    assert early["组织部"]["points_quota"] == -10
    assert early["城关镇中心校"]["points_quota"] == 0
    rows = by_unit(report(app, at(date(2026, 12, 7)), "2026-11"))
    school = rows["城关镇中心校"]
    assert (school["required"], school["accepted"], school["missing"]) == (5, 3, 2)
    assert school["points_quota"] == -20 and school["points_adoption"] == 6
    assert school["points"] == -14
    assert rows["实验小学"]["points"] == 21
    ledger = ok(app, at(date(2026, 12, 7)), "report", "--period", "2026-11")
    assert "城关镇中心校" in ledger and "零报送" in ledger
    app.engine.dispose()


def test_zero_pieces_means_not_eligible(app: App) -> None:
    """A unit that filed nothing in the half-year is flagged as not eligible (seed 004)."""
    file_piece(app, "实验小学", at(date(2026, 9, 18)))
    rows = by_unit(report(app, at(date(2026, 11, 20)), "2026-H2"))
    assert rows["实验小学"]["eligible"] is True
    assert rows["第一幼儿园"]["eligible"] is False
    table = ok(app, at(date(2026, 11, 20)), "report", "--period", "2026-H2")
    assert "零报送（不参加评优，6 个）" in table


def test_correspondent_ranking_and_seed_002_figures(app: App) -> None:
    """Per correspondent for the 'outstanding correspondent'; counts by column and channel."""
    piece = file_piece(app, "实验小学", at(date(2026, 11, 18)), column="website")
    file_piece(app, "实验小学", at(date(2026, 11, 18)), column="general")
    file_piece(app, "组织部", at(date(2026, 11, 18)), status=Status.REJECTED)
    ok(app, at(date(2026, 11, 23)), "adopt", piece, "--channel", "hot", "--date", "2026-11-20")
    found = report(app, at(date(2026, 11, 23)), "2026-Q4", by="correspondent")
    people = {row["correspondent"]: row for row in found["rows"]}
    assert people["李娜"]["points"] == 22 and people["李娜"]["rank"] == 1
    # Her only piece was rejected: she sent, so she is not 零报送 (seed 004), and the
    # piece sent earns its submission point (seed 003: 投稿每条计 1 分).
    assert people["刘晓燕"]["rejected"] == 1 and people["刘晓燕"]["eligible"] is True
    assert people["刘晓燕"]["points"] == 1
    summary = found["summary"]
    assert summary["by_column"] == {"网站信息": 1, "教育信息": 1}
    assert summary["by_channel"] == {"教育厅热点聚焦": 1}
    assert summary["median_days_to_adoption"] == 2.1  # 18th 10:00 to 20th noon
    assert (summary["received"], summary["accepted"], summary["rejected"]) == (3, 2, 1)


def test_excel_report_opens_with_rows_and_formula_text_stays_text(
    app: App, tmp_path: Path
) -> None:
    """The workbook a clerk hands on: a title row, Chinese headers frozen and filtered, a
    row per unit, arrival times as Excel dates, the reason a piece was sent back in
    words, only the adoptions made in the month; `=…` stays text."""
    file_piece(app, "实验小学", at(date(2026, 11, 18)), title='=HYPERLINK("http://x.test","点我")')
    file_piece(app, "组织部", at(date(2026, 11, 17)), title="组织部召开专题会议")
    file_piece(app, "党政办公室", at(date(2026, 11, 17)), title="<b>党政&办\x07公室</b>")
    file_piece(app, "组织部", at(date(2026, 11, 16)), title="组织部退回稿",
               status=Status.REJECTED, reject="pictures.too_few")
    october = file_piece(app, "人文学院", at(date(2026, 10, 20)), title="十月的稿件")
    ok(app, at(date(2026, 10, 30)), "adopt", october, "--channel", "weibo")
    november = file_piece(app, "人文学院", at(date(2026, 11, 2)), title="十一月的稿件")
    ok(app, at(date(2026, 12, 2)), "adopt", november, "--channel", "hot")  # December's
    target = tmp_path / "十一月.xlsx"
    ok(app, at(date(2026, 12, 3)), "report", "--period", "2026-11", "--xlsx", str(target))
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["排名", "汇总", "采用", "稿件"]
    ranking = book["排名"]
    assert ranking["A1"].value == "测试教育局办公室 2026年11月 信息报送统计"
    assert ranking.freeze_panes == "A3" and ranking.auto_filter.ref.startswith("A2:")
    header = [c.value for c in ranking[2]]
    assert header[:7] == ["名次", "单位", "类别", "类内名次", "末位", "投稿", "登记"]
    assert "积分" in header
    units = [row[1] for row in ranking.iter_rows(min_row=3, values_only=True)]
    assert len(units) == 7 and "组织部" in units[:3]
    assert ranking.column_dimensions["B"].width >= 12
    assert book["采用"].max_row == 2  # October's and December's adoptions are not November's
    pieces = book["稿件"]
    heads = [str(c.value) for c in pieces[2]]
    assert pieces.auto_filter.ref == f"A2:{get_column_letter(len(heads))}7"
    rows: dict[Any, dict[str, Any]] = {row[4].value: dict(zip(heads, row, strict=True))
                                       for row in pieces.iter_rows(min_row=3)}
    cell = rows['=HYPERLINK("http://x.test","点我")']["标题"]
    assert cell.data_type == "s"
    arrived = rows["组织部召开专题会议"]["收稿时间"]
    assert arrived.is_date and arrived.value == at(date(2026, 11, 17)).replace(tzinfo=None)
    assert rows["组织部退回稿"]["退回原因"].value == "图片数量不足"
    assert rows["十一月的稿件"]["采用"].value is None
    assert "十月的稿件" not in rows
    assert "<b>党政&办公室</b>" in rows  # markup stays text; a control character is dropped


def test_yearly_excel_has_seed_002_figures(app: App, tmp_path: Path) -> None:
    """The yearly report counts pieces by column and adoptions by channel, with the hours
    from receipt to publication (seed 002)."""
    web = file_piece(app, "实验小学", at(date(2026, 11, 18)), column="website")
    file_piece(app, "组织部", at(date(2026, 11, 18), 8), column="website",
               status=Status.REJECTED, reject="length.too_short")
    news = file_piece(app, "组织部", at(date(2026, 3, 2)))
    ok(app, at(date(2026, 11, 23)), "adopt", web, "--channel", "hot", "--date", "2026-11-20")
    ok(app, at(date(2026, 11, 23)), "adopt", news, "--channel", "news", "--date", "2026-03-04")
    target = tmp_path / "2026.xlsx"
    ok(app, at(date(2026, 12, 31)), "report", "--period", "2026", "--xlsx", str(target))
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["排名", "汇总", "年度统计", "采用", "稿件"]
    sheet = book["年度统计"]
    assert sheet["A1"].value.startswith("测试教育局办公室 2026年 信息报送统计")
    heads = [c.value for c in sheet[2]]
    table = {(r[0], r[1]): dict(zip(heads, r, strict=True))
             for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert table[("栏目", "网站信息")]["投稿"] == 2 and table[("栏目", "网站信息")]["退回"] == 1
    assert table[("栏目", "网站信息")]["采用"] == 1
    hot = table[("采用渠道", "教育厅热点聚焦")]
    assert hot["采用"] == 1 and hot["收稿至采用·中位数（小时）"] == 50.0  # 18th 10:00 → 20th 12:00
    assert table[("采用渠道", "教育厅教育要闻")]["收稿至采用·最长（小时）"] == 50.0
    total = table[("合计", None)]
    assert (total["投稿"], total["采用"], total["收稿至采用·平均（小时）"]) == (3, 2, 50.0)


def test_a_corrected_piece_counts_once_in_the_points(app: App) -> None:
    """A piece replaced by its corrected version stops earning; the correction earns."""
    first = file_piece(app, "实验小学", at(date(2026, 11, 17)))
    assert by_unit(report(app, at(date(2026, 11, 17), 12), "2026-11"))["实验小学"]["points"] == 1
    second = file_piece(app, "实验小学", at(date(2026, 11, 18)))
    with session(app.engine) as db:
        old = db.exec(select(Submission).where(Submission.tracking_no == first)).one()
        new = db.exec(select(Submission).where(Submission.tracking_no == second)).one()
        old.status, new.replaces_id, new.version = Status.SUPERSEDED, old.id, 2
        db.add(old)
        db.add(new)
        db.commit()
    row = by_unit(report(app, at(date(2026, 11, 18), 12), "2026-11"))["实验小学"]
    assert (row["received"], row["accepted"], row["points"]) == (1, 1, 1)
    refused = run(app, at(date(2026, 11, 18), 12), "adopt", first, "--channel", "weibo")
    assert refused.exit_code == 1 and "已被更正稿替换" in refused.output


def test_a_long_export_counts_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter line goes to stderr when it is a terminal, and nowhere otherwise."""
    import io
    import os

    from mailintake.cli.state import Progress

    log = io.StringIO()  # a pipe or a log: not a terminal
    monkeypatch.setattr("sys.stderr", log)
    quiet = Progress("已列出 {} 篇稿件")
    quiet.tick()
    quiet.done()
    assert log.getvalue() == ""

    leader, follower = os.openpty()
    with os.fdopen(follower, "w", encoding="utf-8") as terminal:
        monkeypatch.setattr("sys.stderr", terminal)
        shown = Progress("已列出 {} 篇稿件")
        for _ in range(3):
            shown.tick()
        shown.done()
    data = b""
    try:  # a terminal hands its output over in pieces; it ends in EIO once closed
        while chunk := os.read(leader, 4096):
            data += chunk
    except OSError:
        pass
    os.close(leader)
    text = data.decode()
    assert text.startswith("\r已列出 1,000 篇稿件\r已列出 2,000 篇稿件\r已列出 3,000 篇稿件")
