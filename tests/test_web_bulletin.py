"""The 通报 in the console: a clerk previews November's, writes its preface, sends it,
sees it sent and a second send refused, resends it on purpose and prints it; a viewer
reads it and changes nothing; a period that is none is not found.

The browser is Debian's headless Chromium (fixtures of test_web_browser), on SQLite:
the store's side of sending is tested on both databases in test_bulletin.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from browsing import browser, log_in, screenshots
from console_data import add_user, csrf_of, file_mails, logged_in
from office_pieces import body_text, outbox, parsed
from test_web_browser import console

from mailintake.app import App
from mailintake.store import bulletins

__all__ = ["browser", "console"]  # fixtures, used by name

PREFACE = "请各单位对照排名查找不足，末位单位在下月例会上作情况说明。"
# The fixture units' correspondents' addresses: 组织部 has two, 王喆 one for two schools.
ADDRESSES = 7


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_clerk_previews_edits_sends_and_prints_the_november_bulletin(
    app: App, console: str, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import Select, WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    screens = tmp_path / "screens"
    shot = screenshots(driver, screens)
    wait = WebDriverWait(driver, 20)

    log_in(driver, console, "/bulletins")
    assert "通报" in driver.find_element(By.CSS_SELECTOR, "header nav").text
    Select(driver.find_element(By.ID, "period")).select_by_visible_text("2026年11月")
    shot("bulletins")
    driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait.until(until.url_to_be(f"{console}/bulletins/2026-11"))
    preview = driver.find_element(By.ID, "preview").text
    assert "现将2026年11月各单位信息报送和采用情况通报如下" in preview
    assert "学校：城关镇中心校" in driver.find_element(By.ID, "lasts").text
    assert "零报送单位" in preview and "第一幼儿园" in preview
    assert "未发送" in driver.find_element(By.ID, "state").text

    box = driver.find_element(By.CSS_SELECTOR, "#preface-form textarea")
    box.clear()
    box.send_keys(PREFACE)
    driver.find_element(By.CSS_SELECTOR, "#preface-form button[type=submit]").click()
    wait.until(until.url_contains("saved=1"))
    assert PREFACE in driver.find_element(By.ID, "preview").text
    shot("preview")

    # A second clerk's tab still shows the page before it was sent.
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(f"{console}/bulletins/2026-11")
    stale = driver.current_window_handle
    driver.switch_to.window(first)
    driver.find_element(By.ID, "send").click()
    wait.until(until.url_contains("sent=1"))
    assert f"共 {ADDRESSES} 个邮箱" in driver.find_element(By.ID, "notice").text
    assert "已发送" in driver.find_element(By.ID, "state").text
    assert "李华：发送通报" in driver.find_element(By.ID, "trail").text
    shot("sent")
    mails = outbox(app, "bulletin")
    assert len(mails) == ADDRESSES
    assert all(PREFACE in body_text(parsed(m)) for m in mails)

    driver.switch_to.window(stale)
    driver.find_element(By.ID, "send").click()
    wait.until(until.presence_of_element_located((By.ID, "error")))
    refused = driver.find_element(By.ID, "error").text
    assert "2026年11月的通报已于 2026-11-19 10:00 由 李华 发出" in refused
    assert "同一统计期不重复发送" in refused
    assert len(outbox(app, "bulletin")) == ADDRESSES
    shot("refused")

    driver.find_element(By.NAME, "confirm").click()
    driver.find_element(By.ID, "resend").click()
    wait.until(until.url_contains("sent=1"))
    assert "共发送 2 次" in driver.find_element(By.ID, "state").text
    assert len(outbox(app, "bulletin")) == 2 * ADDRESSES
    driver.close()
    driver.switch_to.window(first)
    driver.get(f"{console}/bulletins")
    listed = driver.find_element(By.ID, "bulletins").text
    assert "2026年11月 已发送 2026-11-19 10:00 李华 7 2" in listed

    driver.get(f"{console}/bulletins/2026-11/print")
    page = driver.find_element(By.TAG_NAME, "article").text
    assert "关于2026年11月信息报送和采用情况的通报" in page and PREFACE in page
    assert driver.find_element(By.CLASS_NAME, "toolbar").is_displayed()
    shot("print")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not driver.find_element(By.CLASS_NAME, "toolbar").is_displayed()
    assert not driver.find_elements(By.CSS_SELECTOR, "header.top nav")  # no console nav
    shot("print-media")
    # As the office saves it: Chromium's PDF, on the page size the style sheet asks for.
    pdf = base64.b64decode(driver.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True})["data"])
    (screens / "通报.pdf").write_bytes(pdf)
    sizes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", pdf)
    assert sizes and all(round(float(w)) == 595 and round(float(h)) == 842 for w, h in sizes)
    print(f"screenshots: {screens}")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_viewer_reads_the_bulletin_and_cannot_send_it(app: App) -> None:
    file_mails(app)
    add_user(app, "wang", "viewer")
    viewer = logged_in(app, "wang")
    page = viewer.get("/bulletins/2026-11")
    assert page.status_code == 200 and "各类末位单位" in page.text
    assert 'id="send-form"' not in page.text and "只能查看" in page.text
    token = csrf_of(page.text)
    for path, data in (("/bulletins/2026-11/send", {}),
                       ("/bulletins/2026-11/send", {"resend": "1", "confirm": "1"}),
                       ("/bulletins/2026-11/preface", {"preface": "改"})):
        answer = viewer.post(path, data={"csrf": token, **data})
        assert answer.status_code == 403 and "没有权限" in answer.text
    assert outbox(app, "bulletin") == [] and bulletins.find(app.engine, "2026-11") is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_preface_stays_text_and_a_period_that_is_none_is_not_found(app: App) -> None:
    add_user(app, "lihua", "clerk")
    clerk = logged_in(app, "lihua")
    page = clerk.get("/bulletins/2026-Q4")
    assert "2026年第四季度信息报送和采用情况通报" in page.text
    assert 'id="open-period"' in page.text  # 19 November: the quarter is not over
    answer = clerk.post("/bulletins/2026-Q4/preface",
                        data={"csrf": csrf_of(page.text), "preface": "<script>x()</script>要点"})
    assert answer.status_code == 303 and answer.headers["location"] == "/bulletins/2026-Q4?saved=1"
    page = clerk.get("/bulletins/2026-Q4?saved=1")
    assert "&lt;script&gt;x()&lt;/script&gt;要点" in page.text and "<script>x()" not in page.text
    assert "lihua：修改通报说明" in page.text
    assert bulletins.find(app.engine, "2026-Q4") is not None
    for path in ("/bulletins/2026-13", "/bulletins/2026-W47", "/bulletins/abc",
                 "/bulletins/2026-13/print"):
        answer = clerk.get(path)
        assert answer.status_code == 404, path
        assert "统计期" in answer.text and "Traceback" not in answer.text
    token = csrf_of(clerk.get("/bulletins").text)
    answer = clerk.post("/bulletins/..%2F2026/send", data={"csrf": token})
    assert answer.status_code == 404
