"""The period a piece counts for, and who is 零报送, as the notices mean them.

Seed 003 asks for each week's digest (学校每周动态) by the week's Friday and
seed 001 counts every unit per week or month: a week-11 digest that arrives on
Monday of week 12 fills week 11, not week 12 (issue 18, point 2). Seed 004's
报送信息为零的单位取消奖励资格 is about units that sent nothing: a unit whose
pieces were all rejected has sent (point 5).

Mails go through the real pipeline. Which moment a piece counts at is the
decision's (``Entry.counted_at``, from the week or date in the subject).
"""

from __future__ import annotations

import email
import email.policy
import io
import json
from datetime import date, datetime, time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import SHANGHAI
from office_pieces import body_text, outbox, parsed, send, sheet_rows
from pieces import CHEN, LI, LIU, ZHANG, chinese, mail, piece_mail, weekly, word_file

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.office.digest import queue_digest
from mailintake.office.reminders import queue_reminders

WEEK1_MONDAY = date(2026, 9, 7)  # the test config's semester


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)



def receipt_to(app: App, address: str) -> str:
    """The text of the newest reply to ``address``."""
    folder = app.config.smtp.path or Path()
    found = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)]
    mine: list[EmailMessage] = [m for m in found if address in str(m["To"])]
    assert mine, f"no reply to {address}"
    return body_text(mine[-1])


def cli(app: App, now: datetime, *args: str) -> str:
    assert app.config.source is not None
    result = CliRunner().invoke(
        main, ["--config", str(app.config.source), "--now", now.isoformat(), *args])
    assert result.exit_code == 0, result.output
    return result.output


def rows(app: App, now: datetime, period: str) -> dict[str, dict[str, Any]]:
    found = json.loads(cli(app, now, "report", "--period", period, "--format", "json"))
    return {row["unit"]: row for row in found["rows"]}


def website_piece(sender: str, subject: str, seed: int) -> bytes:
    document = word_file("", [chinese(220, seed)], ((1600, 1200, "图为活动现场"),))
    return piece_mail(sender, subject, document)


def test_week_11_digest_arriving_in_week_12_fills_week_11(app: App) -> None:
    """人文学院's week-11 digest arrives Monday of week 12: week 11's quota is met, week 12's
    is not; the receipt, the digest, the reminder and the report all say so."""
    monday_w12 = date(2026, 11, 23)
    send(app, at(monday_w12, 7, 30), piece_mail(ZHANG, "人文学院第十一周工作动态信息", weekly(3)))
    receipt = receipt_to(app, ZHANG)
    assert "已收到并登记" in receipt
    assert "本稿计入第11教学周（11月16日—11月22日）" in receipt

    # The digest of week 11, due Monday 8:00: 人文学院 is not behind, its piece is listed.
    assert queue_digest(app, at(monday_w12, 8))
    week11 = body_text(parsed(outbox(app, "digest")[0]))
    behind = week11.split("二、")[1].split("三、")[0]
    assert "人文学院" not in behind and "城关镇中心校：第11教学周" in behind
    assert "20261123-00001  人文学院  每周动态  人文学院第十一周工作动态信息" in week11

    # Thursday of week 12: nothing counts for week 12 although a mail arrived in it.
    queue_reminders(app, at(date(2026, 11, 26)))
    reminded = [m.subject for m in outbox(app, "reminder") if m.recipient == ZHANG]
    assert reminded == ["【催报】人文学院第12教学周（2026年11月23日—11月29日）尚缺 1 篇信息"]

    for now in (at(date(2026, 11, 30)), at(date(2026, 12, 8))):
        w11, w12 = rows(app, now, "2026-W47")["人文学院"], rows(app, now, "2026-W48")["人文学院"]
        assert (w11["received"], w11["required"], w11["missing"]) == (1, 1, 0)
        assert (w12["received"], w12["required"], w12["missing"]) == (0, 1, 1)

    # The digest of week 12 shows 人文学院 behind in week 12, none of its pieces counted.
    assert queue_digest(app, at(date(2026, 11, 30), 8))
    week12 = body_text(parsed(outbox(app, "digest")[-1]))
    assert "人文学院：第12教学周（2026年11月23日—11月29日）应报 1 篇，已登记 0 篇" in week12
    # Received in week 12, it is new to the clerk there, listed with the week it counts for.
    assert ("20261123-00001  人文学院  每周动态  人文学院第十一周工作动态信息"
            "（计入第11教学周（11月16日—11月22日））") in week12
    assert "共收到稿件 0 篇" in week12


def test_a_dated_piece_counts_for_its_month_and_arrival_stays_shown(
    app: App, tmp_path: Path
) -> None:
    """党政办公室's piece of 30 November arrives 1 December: November's department quota is
    met, December's not; the Excel lists it under November with its arrival time."""
    send(app, at(date(2026, 12, 1), 8, 15),
         website_piece(CHEN, "党政办公室信息（2026.11.30）召开安全工作部署会", 7))
    receipt = receipt_to(app, CHEN)
    assert "本稿计入2026年11月" in receipt
    assert "党政办公室2026年11月已登记稿件 1 篇（含本篇）" in receipt
    # A piece of 27 November arriving the same week: the digest names its month, not a week.
    send(app, at(date(2026, 12, 1), 9),
         website_piece(CHEN, "党政办公室信息（2026.11.27）开展消防演练", 8))
    assert queue_digest(app, at(date(2026, 12, 7), 8))
    digest = body_text(parsed(outbox(app, "digest")[-1]))
    assert "开展消防演练（计入2026年11月）" in digest and "教学周）" not in digest

    for now in (at(date(2026, 12, 2)), at(date(2027, 1, 4))):
        nov, dec = rows(app, now, "2026-11")["党政办公室"], rows(app, now, "2026-12")["党政办公室"]
        assert (nov["received"], nov["accepted"], nov["missing"]) == (2, 2, 0)
        assert dec["received"] == 0 and nov["points_submission"] == 2
    assert rows(app, at(date(2027, 1, 4)), "2026-12")["党政办公室"]["missing"] == 1

    target = tmp_path / "十一月.xlsx"
    cli(app, at(date(2026, 12, 2)), "report", "--period", "2026-11", "--xlsx", str(target))
    piece, _drill = sheet_rows(openpyxl.load_workbook(target)["稿件"])
    arrived = at(date(2026, 12, 1), 8, 15).replace(tzinfo=None)  # a local Excel date
    assert piece["单位"] == "党政办公室" and piece["收稿时间"] == arrived


@pytest.mark.parametrize("now", [at(date(2026, 11, 20)), at(date(2027, 1, 5))])
def test_a_unit_whose_pieces_were_all_rejected_is_not_zero(app: App, now: datetime) -> None:
    """组织部 sent a piece without its Word file (rejected): it sent, so it is not 零报送;
    第一幼儿园 sent nothing and is (seed 004)."""
    send(app, at(date(2026, 11, 18)), mail(LIU, "组织部（刘晓燕）召开专题组织生活会"))
    assert "未能登记" in receipt_to(app, LIU)
    send(app, at(date(2026, 11, 18), 10),
         website_piece(LI, "实验小学信息（2026.11.18）开展秋季趣味运动会", 11))
    found = rows(app, now, "2026-H2")
    assert (found["组织部"]["received"], found["组织部"]["rejected"]) == (1, 1)
    assert found["组织部"]["eligible"] is True
    assert found["第一幼儿园"]["eligible"] is False
    table = cli(app, now, "report", "--period", "2026-H2")
    zero = next(line for line in table.splitlines() if line.startswith("零报送"))
    assert "第一幼儿园" in zero and "组织部" not in zero and "实验小学" not in zero

    # The weekly digest's attachment agrees.
    app.clock = lambda: at(date(2026, 11, 23))
    assert queue_digest(app, at(date(2026, 11, 23)))
    digest = parsed(outbox(app, "digest")[0])
    [attachment] = list(digest.iter_attachments())
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    eligible = {r["单位"]: r["可评优"] for r in sheet_rows(book["排名"])}
    assert eligible["组织部"] == "是" and eligible["第一幼儿园"] == "否（零报送）"
