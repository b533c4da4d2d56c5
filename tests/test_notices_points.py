"""Points and rankings as the notices give them (issue 18, points 6 and 7).

Seed 003: 投稿每条计 1 分 (every piece sent; a corrected piece once, see
``[points] submission_counts``) and 学校每周动态信息采用每条 1 分 (each adopted
item of a weekly digest scores). Seed 001: 社区 and 部门 are ranked apart, the
last place of each explains itself; seed 000 reports quarterly, seed 004
half-yearly.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result
from conftest import SHANGHAI
from office_pieces import body_text, file_piece, make_app, parsed, send, sheet_rows
from office_pieces import outbox as outbox_of
from pieces import CHEN, LI, LIU, WANG, ZHANG, chinese, mail, news, piece_mail, weekly, word_file

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.cli.views import submission_rows
from mailintake.office.digest import queue_digest
from mailintake.office.points import PointsError, parse_items
from mailintake.office.rankings import last_places, rank


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


def rows(app: App, now: datetime, period: str) -> dict[str, dict[str, Any]]:
    found = json.loads(ok(app, now, "report", "--period", period, "--format", "json"))
    return {row["unit"]: row for row in found["rows"]}


def tracking(app: App, title: str) -> str:
    return str(next(r["tracking_no"] for r in submission_rows(app) if title in r["title"]))


@pytest.mark.parametrize(("counts", "rejected_points"), [("sent", 1), ("accepted", 0)])
def test_every_piece_sent_earns_its_point_and_a_correction_counts_once(
    tmp_path: Path, db_url: str, counts: str, rejected_points: int
) -> None:
    """组织部's piece without its Word file earns 1 under "sent" (seed 003), 0 under
    "accepted"; 实验小学's piece and its correction earn 1 either way, and so does
    党政办公室's rejected piece sent again with its Word file; a copy of another unit's
    piece earns nothing."""
    app = make_app(tmp_path, db_url, f'[points]\nsubmission_counts = "{counts}"\n',
                   lambda: at(date(2026, 11, 20)))
    send(app, at(date(2026, 11, 17)), mail(LIU, "组织部（刘晓燕）召开专题组织生活会"))
    subject = "实验小学（李娜）开展秋季趣味运动会"
    send(app, at(date(2026, 11, 18)), piece_mail(LI, subject, news(220, 5)))
    send(app, at(date(2026, 11, 18), 15), piece_mail(LI, f"更正：{subject}", news(220, 6)))
    office = "党政办公室（陈佩）召开安全工作部署会"
    send(app, at(date(2026, 11, 19)), mail(CHEN, office))
    assert rows(app, at(date(2026, 11, 19), 12), "2026-11")["党政办公室"]["points"] == (
        rejected_points)
    send(app, at(date(2026, 11, 19), 14), piece_mail(CHEN, office, news(220, 8)))
    # 人文学院 sends 实验小学's text as its own: a copy earns nothing, whatever counts.
    send(app, at(date(2026, 11, 19), 16),
         piece_mail(ZHANG, "人文学院（张堃）开展秋季趣味运动会", news(220, 6)))
    for now in (at(date(2026, 11, 20)), at(date(2027, 1, 5))):
        found = rows(app, now, "2026-11")
        copied = found["人文学院"]
        assert (copied["received"], copied["rejected"], copied["points_submission"]) == (1, 1, 0)
        assert found["组织部"]["points_submission"] == rejected_points
        assert (found["组织部"]["received"], found["组织部"]["rejected"]) == (1, 1)
        school = found["实验小学"]
        assert (school["received"], school["accepted"], school["points_submission"]) == (1, 1, 1)
        resent = found["党政办公室"]
        assert (resent["received"], resent["rejected"], resent["points_submission"]) == (2, 1, 1)
    app.engine.dispose()


def test_each_adopted_item_of_a_weekly_digest_scores(app: App) -> None:
    """Items 1 and 3 of 人文学院's digest adopted as 学校每周动态: 1 point each (seed 003);
    an item adopted twice is refused, one revoked takes its point back."""
    digest = piece_mail(ZHANG, "人文学院第十一周工作动态信息", weekly(2, 5))
    send(app, at(date(2026, 11, 20)), digest)
    piece = tracking(app, "第十一周工作动态信息")
    now = at(date(2026, 11, 23))
    said = ok(app, now, "adopt", piece, "--channel", "学校每周动态", "--items", "1,3")
    assert f"稿件 {piece} 第1、3条被学校每周动态采用" in said and "共 2 分" in said
    row = rows(app, now, "2026-11")["人文学院"]
    assert (row["adopted_weekly"], row["points_adoption"], row["points"]) == (2, 2, 3)

    again = run(app, now, "adopt", piece, "--channel", "weekly", "--items", "3,4")
    assert again.exit_code == 1 and "第3条已记录为学校每周动态采用" in again.output
    assert rows(app, now, "2026-11")["人文学院"]["points_adoption"] == 2  # item 4 not taken
    wrong = run(app, now, "adopt", piece, "--channel", "weekly", "--item", "零")
    assert wrong.exit_code == 1 and "条目编号“零”有误" in wrong.output

    ok(app, now, "adopt", piece, "--channel", "weekly", "--item", "4")
    assert "已撤销" in ok(app, now, "unadopt", piece, "--channel", "weekly", "--item", "3")
    missing = run(app, now, "unadopt", piece, "--channel", "weekly")
    assert missing.exit_code == 1 and "已采用的条目：1、4" in missing.output
    later = rows(app, at(date(2026, 12, 2)), "2026-11")["人文学院"]
    assert (later["adopted_weekly"], later["points_adoption"]) == (2, 2)
    summary = json.loads(ok(app, now, "report", "--period", "2026-Q4", "--format", "json"))
    assert summary["summary"]["by_channel"] == {"学校每周动态": 2}


def test_ranking_within_each_kind_marks_its_last_place() -> None:
    """Ties share a place; every unit tied at the bottom is 末位; a kind of one has none,
    and so has a kind whose units all tie."""
    units = [("甲社区", "社区", 30), ("乙社区", "社区", 12), ("丙社区", "社区", 12),
             ("丁社区", "社区", 40), ("党政办", "部门", 9), ("组织部", "部门", 5),
             ("一幼", "幼儿园", 0), ("东街小学", "学校", 3), ("实验小学", "学校", 3)]
    ranked = rank([{"unit": u, "kind": k, "points": p, "accepted": 0} for u, k, p in units])
    by = {r["unit"]: r for r in ranked}
    assert [r["unit"] for r in ranked][:2] == ["丁社区", "甲社区"]
    assert [by[u]["kind_rank"] for u in ("丁社区", "甲社区", "乙社区", "丙社区")] == [1, 2, 3, 3]
    assert by["乙社区"]["rank"] == by["丙社区"]["rank"] == 3
    assert last_places(ranked) == {"社区": ["丙社区", "乙社区"], "部门": ["组织部"]}
    assert by["一幼"]["last"] == "" and by["实验小学"]["last"] == ""


@pytest.mark.parametrize(
    ("period", "now"),
    [("2026-11", at(date(2026, 11, 30))), ("2026-Q4", at(date(2027, 1, 4))),
     ("2026-H2", at(date(2026, 12, 15))), ("2026", at(date(2027, 1, 4)))],
)
def test_rankings_per_kind_in_the_report_and_the_excel(
    app: App, tmp_path: Path, period: str, now: datetime
) -> None:
    """Months, quarters (seed 000), half-years (seed 004) and years: each kind has its own
    places; the last department and the last schools are named on screen and in Excel."""
    for day in (16, 17, 18):
        file_piece(app, "实验小学", at(date(2026, 11, day)))
    file_piece(app, "城关镇中心校", at(date(2026, 11, 18)))
    file_piece(app, "城关镇东街小学", at(date(2026, 11, 19)))
    file_piece(app, "党政办公室", at(date(2026, 11, 16)))
    file_piece(app, "党政办公室", at(date(2026, 11, 17)))
    file_piece(app, "组织部", at(date(2026, 11, 18)))
    file_piece(app, "人文学院", at(date(2026, 11, 18)))
    found = rows(app, now, period)
    assert (found["实验小学"]["kind_rank"], found["实验小学"]["last"]) == (1, "")
    assert found["城关镇中心校"]["kind_rank"] == found["城关镇东街小学"]["kind_rank"] == 2
    schools_last = {u for u, r in found.items() if r["kind"] == "学校" and r["last"]}
    assert schools_last == {"城关镇中心校", "城关镇东街小学"}
    assert found["组织部"]["last"] == "末位" and found["党政办公室"]["last"] == ""
    assert found["人文学院"]["last"] == "" and found["第一幼儿园"]["last"] == ""

    table = ok(app, now, "report", "--period", period)
    assert "类内名次" in table
    assert "各类末位：学校 城关镇东街小学、城关镇中心校；部门 组织部" in table

    target = tmp_path / "排名.xlsx"
    ok(app, now, "report", "--period", period, "--xlsx", str(target))
    lines = {r["单位"]: r for r in sheet_rows(openpyxl.load_workbook(target)["排名"])}
    assert lines["组织部"]["末位"] == "末位" and lines["组织部"]["类内名次"] == 2
    assert lines["实验小学"]["类内名次"] == 1 and not lines["实验小学"]["末位"]


#: A week of real mails (sender, subject, day of November 2026).
A_WEEK = [(LI, "实验小学信息（2026.11.16）开展秋季趣味运动会", 16),
          (LI, "实验小学信息（2026.11.18）举行读书节启动仪式", 18),
          (WANG, "城关镇中心校信息（2026.11.17）召开家长会", 17),
          (CHEN, "党政办公室信息（2026.11.16）召开安全工作部署会", 16),
          (CHEN, "党政办公室信息（2026.11.19）开展消防演练", 19),
          (LIU, "组织部信息（2026.11.18）举办党务干部培训班", 18)]


def send_a_week(app: App) -> list[tuple[str, str, int]]:
    """Take in A_WEEK's mails through the pipeline, each on its day; returns them."""
    for seed, (sender, subject, day) in enumerate(A_WEEK):
        document = word_file("", [chinese(260, seed)], ((1600, 1200, "图为活动现场"),))
        send(app, at(date(2026, 11, day)), piece_mail(sender, subject, document))
    return A_WEEK


def test_rankings_from_the_mails_the_units_sent(app: App) -> None:
    """A week of real mails: 实验小学 sends two pieces, 城关镇中心校 one, 东街小学 none;
    党政办公室 two, 组织部 one. Each correspondent gets a receipt; the month's report and
    the Monday digest rank schools and departments apart and mark the last of each."""
    sent = send_a_week(app)
    assert [r["status"] for r in submission_rows(app)] == ["accepted"] * len(sent)
    assert len(outbox_of(app, "receipt")) == len(sent)

    found = rows(app, at(date(2026, 11, 30)), "2026-11")
    assert (found["实验小学"]["kind_rank"], found["城关镇中心校"]["kind_rank"]) == (1, 2)
    assert found["城关镇东街小学"]["last"] == "末位" and not found["城关镇东街小学"]["eligible"]
    assert (found["党政办公室"]["kind_rank"], found["组织部"]["last"]) == (1, "末位")
    table = ok(app, at(date(2026, 11, 30)), "report", "--period", "2026-11")
    assert "部门 组织部" in table and "城关镇东街小学" in table

    assert queue_digest(app, at(date(2026, 11, 23), 8))
    [digest] = outbox_of(app, "digest")
    text = body_text(parsed(digest))
    assert "类内名次" in text and "末位" in text
    last_row = next(line for line in text.splitlines() if "组织部" in line and "部门" in line)
    assert "末位" in last_row


@pytest.mark.parametrize("typed", ["²", "0", "12345", "三"])
def test_item_numbers_a_clerk_mistypes_are_refused_in_chinese(typed: str) -> None:
    with pytest.raises(PointsError, match=f"条目编号“{typed}”有误"):
        parse_items(typed)
