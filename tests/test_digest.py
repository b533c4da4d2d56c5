"""The weekly digest (周报) the office reads on Monday morning."""

from __future__ import annotations

import io
from datetime import date, datetime, time

import openpyxl
from conftest import SHANGHAI
from office_pieces import body_text, file_piece, outbox, parsed

from mailintake.app import App
from mailintake.office.chart import Bar, bar_chart, cjk_font
from mailintake.office.digest import queue_digest
from mailintake.store.models import Status


def at(day: date, hour: int = 8) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def test_digest_after_a_three_day_outage_is_sent_once(app: App) -> None:
    """Down from Monday to Thursday: the week's digest goes out at restart, and only once."""
    file_piece(app, "实验小学", at(date(2026, 11, 17), 10), title="开展秋季趣味运动会")
    file_piece(app, "实验小学", at(date(2026, 11, 18), 10), title="举办读书节", warn=True)
    file_piece(app, "组织部", at(date(2026, 11, 18), 11), status=Status.REJECTED)
    assert queue_digest(app, at(date(2026, 11, 16), 9))  # last Monday's, as usual
    assert not queue_digest(app, at(date(2026, 11, 23), 7))  # this Monday, before 8:00
    assert queue_digest(app, at(date(2026, 11, 26), 10))  # Thursday, after the outage
    assert not queue_digest(app, at(date(2026, 11, 26), 11))
    assert not queue_digest(app, at(date(2026, 11, 29), 23))
    keys = [item.dedup_key for item in outbox(app, "digest")]
    assert keys == ["digest:2026-W46:office@example.test", "digest:2026-W47:office@example.test"]


def test_digest_says_what_the_office_needs(app: App) -> None:
    """Counts per unit, units behind, the ranking, new titles, a chart and the Excel."""
    file_piece(app, "实验小学", at(date(2026, 11, 17), 10), title="开展秋季趣味运动会")
    file_piece(app, "实验小学", at(date(2026, 11, 18), 10), title="举办读书节", warn=True)
    file_piece(app, "组织部", at(date(2026, 11, 18), 11), status=Status.REJECTED)
    assert queue_digest(app, at(date(2026, 11, 23)))
    mail = parsed(outbox(app, "digest")[0])
    assert mail["Subject"] == "【周报】第11教学周（2026年11月16日—11月22日）信息报送情况"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/mixed"
    text = body_text(mail)
    assert "共收到稿件 3 篇：登记 2 篇（其中带提醒 1 篇），退回 1 篇" in text
    assert "举办读书节" in text and "开展秋季趣味运动会" in text
    assert "城关镇中心校：第11教学周" in text  # behind its weekly quota
    assert "2026年11月积分排名" in text
    related = next(p for p in mail.walk() if p.get_content_type() == "multipart/related")
    html = body_text(related, "html")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert f'cid:{image["Content-ID"].strip("<>")}' in html
    assert image.get_content().startswith(b"\x89PNG")
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "周报-2026-W47.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    pieces = [row[4] for row in book["稿件"].iter_rows(min_row=3, values_only=True)]
    titles = sorted(str(p) for p in pieces if p)
    assert titles == ["举办读书节", "开展秋季趣味运动会", "开展秋季趣味运动会"]


def test_chart_draws_unit_names_with_a_cjk_font() -> None:
    """The chart is a PNG, drawn with an installed CJK font when there is one."""
    png = bar_chart([Bar("实验小学", 3, 1), Bar("城关镇中心校", 0, 2)], "本周各单位稿件")
    assert png.startswith(b"\x89PNG")
    font = cjk_font()
    assert font is None or font.endswith((".ttf", ".ttc", ".otf"))
