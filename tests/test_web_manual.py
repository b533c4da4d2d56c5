"""补录稿件 in a real browser (the pattern and fixtures of tests/test_web_browser.py): the
clerk opens /pieces/new from the pieces list, uploads the Word file a teacher posted in
the QQ group two days ago, chooses the unit, its correspondent, the column (the subject
is prefilled from its format), the day received and QQ, and lands on the piece's page:
filed as of that day, 来源 QQ, with its findings. Screenshots under ``screens/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import browser, log_in, screenshots, serve
from console_data import add_user
from pieces import chinese, photo, word_file

from mailintake.app import App

__all__ = ["browser"]  # a fixture, used by name

pytestmark = pytest.mark.slow

SUBJECT = "实验小学（李娜）开展秋季趣味运动会"


@pytest.fixture
def console(app: App) -> Iterator[str]:
    """The console of an office with its units registered and no piece yet."""
    add_user(app, "李华", "clerk")
    with serve(app, app.clock) as url:
        yield url


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page, not the database
def test_the_clerk_files_a_qq_piece_in_the_console(console: str, browser: object,
                                                   tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import Select, WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    shot = screenshots(driver, tmp_path / "screens")
    document, picture = tmp_path / "运动会.docx", tmp_path / "现场照片.jpg"
    # Longer than the general column's 300 字: filed, with a warning to show.
    document.write_bytes(word_file("", [chinese(340, 11)]))
    picture.write_bytes(photo(1600, 1200, 2))

    log_in(driver, console)
    driver.find_element(By.LINK_TEXT, "补录稿件").click()
    WebDriverWait(driver, 10).until(until.url_to_be(f"{console}/pieces/new"))
    driver.find_element(By.ID, "file").send_keys(str(document))
    driver.find_element(By.ID, "photos").send_keys(str(picture))
    Select(driver.find_element(By.ID, "unit")).select_by_visible_text("实验小学")
    people = Select(driver.find_element(By.ID, "correspondent"))
    people.select_by_visible_text("李娜")
    received = driver.find_element(By.ID, "received")
    driver.execute_script("arguments[0].value = '2026-11-17';"
                          "arguments[0].dispatchEvent(new Event('change'))", received)
    subject = driver.find_element(By.ID, "subject")
    # The first column's format, filled with the unit and the received day's teaching week.
    assert subject.get_attribute("value") == "实验小学第十一周工作动态信息"
    Select(driver.find_element(By.ID, "column")).select_by_value("general")
    assert subject.get_attribute("value") == "实验小学（李娜）"  # prefilled from the format
    subject.send_keys("开展秋季趣味运动会")
    driver.find_element(By.ID, "via-qq").click()
    assert not driver.find_element(By.ID, "receipt").is_selected()
    shot("new")
    driver.find_element(By.ID, "submit").click()

    WebDriverWait(driver, 20).until(until.url_contains("/pieces/20261117-"))
    page = driver.find_element(By.TAG_NAME, "main").text
    assert "稿件已补录登记" in page and SUBJECT.split("）")[1] in page
    assert driver.find_element(By.ID, "via").text == "QQ（管理台补录）"
    assert "来源" in page and "李娜（lina@foxmail.com）" in page
    findings = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.findings li")]
    assert any("340 字" in text for text in findings), findings
    assert "补录稿件" in driver.find_element(By.TAG_NAME, "main").text  # the audit trail
    shot("filed")

    driver.get(f"{console}/pieces")
    assert "来源：QQ" in driver.find_element(By.ID, "results").text
    shot("pieces")
    print(f"screenshots: {tmp_path / 'screens'}")
