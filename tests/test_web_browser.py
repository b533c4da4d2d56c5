"""The console in a real browser: Debian's headless Chromium, driven by Selenium.

A clerk logs in, lists the pieces the pipeline filed from the fixture mails
(taken in from a Maildir), opens one, searches a two-character word, and
looks at the held mail and the units; then files the held mail by registering
its sender, records adoptions in bulk and sets a unit's quota. A screenshot of each page is saved
under the test's temporary folder (``screens/``). The browser, the served
console and the login are ``tests/browsing.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from browsing import browser, log_in, screenshots, serve
from conftest import NOW
from console_data import HOSTILE_SUBJECT, WORD, add_user, file_mails
from sqlmodel import col, select

from mailintake.app import App
from mailintake.store.database import session
from mailintake.store.models import Adoption, InboundMessage, OutboxMessage, Submission, Unit

pytestmark = pytest.mark.slow

LATER = NOW + timedelta(days=2)
__all__ = ["browser"]  # a fixture the tests below use


@pytest.fixture
def console(app: App) -> Iterator[str]:
    """The console serving the fixture mails' pieces, on the day they came."""
    report = file_mails(app)
    assert report.filed == 6
    add_user(app, "李华", "clerk")
    with serve(app, app.clock) as url:
        yield url


@pytest.fixture
def console_later(app: App) -> Iterator[str]:
    """The same, two days after the mails came."""
    report = file_mails(app)
    assert report.filed == 6 and report.quarantined == 1
    add_user(app, "李华", "clerk")
    with serve(app, lambda: LATER) as url:
        yield url


def test_a_clerk_logs_in_lists_opens_and_searches(console: str, browser: object,
                                                  tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    screens = tmp_path / "screens"
    shot = screenshots(driver, screens)

    driver.get(f"{console}/pieces")
    assert driver.current_url.startswith(f"{console}/login")
    shot("login")
    log_in(driver, console)
    listed = driver.find_element(By.TAG_NAME, "main").text
    for unit in ("党政办公室", "组织部", "人文学院", "实验小学", "城关镇东街小学"):
        assert unit in listed
    assert "已退回" in listed and "已登记" in listed
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) == 9
    shot("pieces")

    driver.find_element(By.PARTIAL_LINK_TEXT, "防汛安全演练").click()
    WebDriverWait(driver, 10).until(until.title_contains("-"))
    page = driver.find_element(By.TAG_NAME, "main").text
    assert HOSTILE_SUBJECT in page and "图为演练现场" in page and "回执" in page
    assert driver.title != "pwned"  # the document's <script> did not run
    image = driver.find_element(By.CSS_SELECTOR, "article.word img")
    assert driver.execute_script("return arguments[0].naturalWidth", image) == 1200
    shot("piece")

    driver.get(f"{console}/pieces")
    box = driver.find_element(By.NAME, "q")
    box.send_keys(WORD)
    box.submit()
    WebDriverWait(driver, 10).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results tbody tr")) == 1)
    assert "防汛" in driver.find_element(By.ID, "results").text
    assert WORD in driver.current_url or "%E9%98%B2%E6%B1%9B" in driver.current_url
    shot("search")

    driver.get(f"{console}/held")
    assert "发件人未登记为信息员" in driver.find_element(By.TAG_NAME, "main").text
    shot("held")
    driver.get(f"{console}/units")
    assert "城关镇中心校" in driver.find_element(By.TAG_NAME, "main").text
    shot("units")
    print(f"screenshots: {screens}")


def test_a_clerk_files_a_held_mail_adopts_in_bulk_and_edits_a_unit(
    app: App, console_later: str, browser: object, tmp_path: Path
) -> None:
    """Two days after the mails came, the clerk opens the held mail of an unregistered
    sender, registers the sender as 实验小学's correspondent: the piece is filed as of
    its arrival and a receipt queued. Then the clerk records two adoptions at once by
    pasting their tracking numbers, and sets 组织部's quota."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import Select, WebDriverWait

    assert isinstance(browser, WebDriver)
    driver, console = browser, console_later
    screens = tmp_path / "screens"
    shot = screenshots(driver, screens)
    with session(app.engine) as db:
        held = db.exec(select(InboundMessage)
                       .where(InboundMessage.outcome == "quarantined")).one()
    log_in(driver, console, "/held")

    driver.find_element(By.LINK_TEXT, held.subject).click()
    WebDriverWait(driver, 10).until(until.url_to_be(f"{console}/held/{held.id}"))
    page = driver.find_element(By.TAG_NAME, "main").text
    assert "stranger@example.com" in page and "发件人未登记为信息员" in page
    assert "你好，附件是一则消息" in page and "一则消息.docx" in page
    shot("held-mail")
    Select(driver.find_element(By.CSS_SELECTOR, "#register select[name=unit]")
           ).select_by_visible_text("实验小学")
    name = driver.find_element(By.CSS_SELECTOR, "#register input[name=name]")
    name.clear()
    name.send_keys("周敏")
    driver.find_element(By.CSS_SELECTOR, "#register button[type=submit]").click()
    WebDriverWait(driver, 20).until(until.url_contains("/pieces/20261119-"))
    number = driver.current_url.rsplit("/", 1)[1]
    page = driver.find_element(By.TAG_NAME, "main").text
    assert "2026-11-19 10:00" in page and "回执" in page and "由待人工邮件登记" in page
    shot("filed")
    with session(app.engine) as db:
        piece = db.exec(select(Submission).where(Submission.tracking_no == number)).one()
        receipts = db.exec(select(OutboxMessage).where(
            OutboxMessage.recipient == "stranger@example.com")).all()
        other = db.exec(select(Submission).where(Submission.status == "accepted",
                                                 Submission.tracking_no != number)
                        .order_by(col(Submission.id))).first()
    assert piece.received_at == held.received_at and piece.status == "accepted"
    assert [r.kind for r in receipts] == ["receipt"]
    assert other is not None

    driver.get(f"{console}/adoptions")
    driver.find_element(By.NAME, "numbers").send_keys(f"{number}\n{other.tracking_no}\n")
    Select(driver.find_element(By.NAME, "channel")).select_by_visible_text("教育厅教育要闻")
    driver.find_element(By.CSS_SELECTOR, "form.bulk button[type=submit]").click()
    WebDriverWait(driver, 10).until(until.presence_of_element_located((By.ID, "summary")))
    assert "记录成功 2 篇" in driver.find_element(By.ID, "summary").text
    shot("adoptions")
    with session(app.engine) as db:
        adopted = db.exec(select(Adoption)).all()
    assert {a.submission_id for a in adopted} == {piece.id, other.id}
    assert all(app.local(a.adopted_at).date() == LATER.date() for a in adopted)
    driver.find_element(By.LINK_TEXT, number).click()
    WebDriverWait(driver, 10).until(until.title_contains(number))
    section = driver.find_element(By.ID, "adoption")
    driver.execute_script("arguments[0].scrollIntoView()", section)
    assert "教育厅教育要闻：2026-11-21" in section.text and "撤销" in section.text
    shot("piece-adoption")

    driver.get(f"{console}/units")
    driver.find_element(By.LINK_TEXT, "组织部").click()
    WebDriverWait(driver, 10).until(until.title_contains("组织部"))
    quota = driver.find_element(By.ID, "quota")
    quota.clear()
    quota.send_keys("3")
    driver.find_element(By.CSS_SELECTOR, "form.unit-edit button[type=submit]").click()
    WebDriverWait(driver, 10).until(until.presence_of_element_located((By.ID, "changes")))
    assert "定额：按类别 → 3" in driver.find_element(By.ID, "changes").text
    shot("unit")
    with session(app.engine) as db:
        assert db.exec(select(Unit).where(Unit.name == "组织部")).one().quota == 3
    print(f"screenshots: {screens}")
