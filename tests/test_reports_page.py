"""The console's reports page (报表): a clerk or a viewer chooses a period and a unit
kind, reads the ranking and its chart, and takes the report away as Excel, CSV that
Excel on Chinese Windows opens, or JSON. A period the console cannot read is
answered in Chinese."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO

import openpyxl
import pytest
from browsing import browser, log_in, screenshots, serve
from conftest import SHANGHAI
from console_data import add_user, logged_in
from office_pieces import file_piece

from mailintake.app import App
from mailintake.store.models import Status
from mailintake.web.reports import streamed

__all__ = ["browser"]  # a fixture the browser test uses


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def november(app: App) -> None:
    """Pieces of November 2026 from two schools and a department; a piece of October."""
    file_piece(app, "实验小学", at(date(2026, 11, 3)), title="实验小学开展读书节")
    file_piece(app, "实验小学", at(date(2026, 11, 10)), title="实验小学召开家长会")
    file_piece(app, "城关镇中心校", at(date(2026, 11, 12)), title="中心校教研活动",
               status=Status.REJECTED, reject="document.missing")
    file_piece(app, "组织部", at(date(2026, 11, 5)), title="组织部专题学习")
    file_piece(app, "组织部", at(date(2026, 10, 5)), title="十月的稿件")


def test_a_viewer_reads_the_ranking_and_takes_it_away(app: App) -> None:
    """A viewer opens 报表 for November and schools only; the CSV starts with the BOM and
    has Chinese headers, the JSON parses, the Excel holds only the schools' pieces."""
    november(app)
    add_user(app, "王芳", "viewer")
    browser = logged_in(app, "王芳")
    page = browser.get("/reports", params={"period": "2026-11", "kind": "学校"})
    assert page.status_code == 200
    html = page.text
    assert "2026年11月" in html and 'href="/reports"' in html
    assert "实验小学" in html and "城关镇中心校" in html and "组织部" not in html
    assert "<svg" in html and "零报送" in html

    answer = browser.get("/reports/export.csv", params={"period": "2026-11", "kind": "学校"})
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["名次", "单位", "类别", "类内名次"]
    schools = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert schools["实验小学"]["登记"] == "2" and schools["城关镇中心校"]["退回"] == "1"
    assert "组织部" not in schools
    assert any(row["可评优"] == "否（零报送）" for row in schools.values())

    found = json.loads(browser.get("/reports/export.json",
                                   params={"period": "2026-11", "by": "correspondent"}).text)
    assert found["period"] == "2026-11" and found["by"] == "correspondent"
    assert found["summary"]["received"] == 4

    excel = browser.get("/reports/export.xlsx", params={"period": "2026-11", "kind": "学校"})
    assert "content-length" not in excel.headers  # sent as it is written
    assert excel.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(excel.content))
    pieces = book["稿件"]
    assert pieces["A1"].value == "测试教育局办公室 2026年11月 信息报送统计（学校）·稿件"
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=3, values_only=True)}
    assert summary["投稿"] == 3 and summary["登记"] == 2  # the schools' pieces only
    titles = {row[4] for row in pieces.iter_rows(min_row=3, values_only=True)}
    assert titles == {"实验小学开展读书节", "实验小学召开家长会", "中心校教研活动"}


@pytest.mark.parametrize("period", ["2026-13", "明年", "2026-2028"])
def test_a_period_the_console_cannot_read_is_answered_in_chinese(app: App, period: str) -> None:
    add_user(app, "李华", "clerk")
    browser = logged_in(app, "李华")
    page = browser.get("/reports", params={"period": period})
    assert page.status_code == 400 and "统计期" in page.text and "例如 2026-11" in page.text
    download = browser.get("/reports/export.xlsx", params={"period": period})
    assert download.status_code == 400 and "统计期" in download.text
    assert browser.get("/reports", params={"period": "2026-11", "kind": "火星"}).status_code == 400
    mixed = browser.get("/reports/export.csv",
                        params={"period": "2026-11", "kind": "学校", "by": "correspondent"})
    assert mixed.status_code == 400 and "按信息员排名时不分单位类别" in mixed.text


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_clerk_chooses_a_month_and_a_kind_in_the_browser(
    app: App, browser: object, tmp_path: Path
) -> None:
    """In Chromium: 报表 from the menu, November and 学校 chosen, the ranking and the chart
    shown (a screenshot), the CSV link answered with the BOM for the logged-in session."""
    import urllib.request

    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import Select, WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    november(app)
    add_user(app, "李华", "clerk")
    shot = screenshots(driver, tmp_path / "screens")
    with serve(app, lambda: at(date(2026, 12, 2))) as console:
        log_in(driver, console)
        driver.find_element(By.LINK_TEXT, "报表").click()
        WebDriverWait(driver, 10).until(until.url_contains("/reports"))
        period = driver.find_element(By.ID, "period")
        assert period.get_attribute("value") == "2026-12"  # this month, by default
        period.clear()
        period.send_keys("2026-11")
        Select(driver.find_element(By.ID, "kind")).select_by_visible_text("学校")
        driver.find_element(By.CSS_SELECTOR, "#choose button[type=submit]").click()
        WebDriverWait(driver, 10).until(until.url_contains("kind="))
        ranking = driver.find_element(By.ID, "ranking").text
        assert "实验小学" in ranking and "城关镇中心校" in ranking and "组织部" not in ranking
        assert "2026年11月" in driver.find_element(By.TAG_NAME, "h1").text
        bars = driver.find_elements(By.CSS_SELECTOR, "#chart rect")
        assert bars and "实验小学" in driver.find_element(By.ID, "chart").text
        shot("reports")
        link = driver.find_element(By.PARTIAL_LINK_TEXT, "CSV").get_attribute("href")
        assert link is not None and "period=2026-11" in link
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
        request = urllib.request.Request(link, headers={"Cookie": cookies})  # noqa: S310
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
            data = answer.read()
        assert data.startswith(b"\xef\xbb\xbf") and "实验小学".encode() in data
        excel = driver.find_element(By.PARTIAL_LINK_TEXT, "Excel").get_attribute("href")
        assert excel is not None
        request = urllib.request.Request(excel, headers={"Cookie": cookies})  # noqa: S310
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
            assert answer.headers["Transfer-Encoding"] == "chunked"  # sent as written
            book = openpyxl.load_workbook(io.BytesIO(answer.read()))
        assert book.sheetnames[0] == "排名" and "稿件" in book.sheetnames

        driver.get(f"{console}/reports?period=2026-14")
        assert "统计期" in driver.find_element(By.ID, "problem").text
        shot("reports-bad-period")
    print(f"screenshots: {tmp_path / 'screens'}")


def test_a_download_is_sent_as_written_and_stops_when_abandoned() -> None:
    """The writer's bytes arrive in order; its error ends the download; a download the
    browser abandons stops the writer at its next write instead of leaving it blocked."""
    def three(target: BinaryIO) -> None:
        for part in (b"a" * 300_000, b"b" * 300_000, b"c"):
            target.write(part)

    assert b"".join(streamed(three)) == b"a" * 300_000 + b"b" * 300_000 + b"c"

    def broken(target: BinaryIO) -> None:
        target.write(b"x" * 300_000)
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        b"".join(streamed(broken))

    writes: list[int] = []

    def endless(target: BinaryIO) -> None:
        while True:
            writes.append(target.write(b"y" * 300_000))

    download = streamed(endless)
    next(download)
    download.close()  # the browser went away
    done = len(writes)
    threading.Event().wait(0.2)
    assert len(writes) == done and not any(
        t.name == "export" and t.is_alive() for t in threading.enumerate())
