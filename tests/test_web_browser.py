"""The console in a real browser: Debian's headless Chromium, driven by Selenium.

A clerk logs in, lists the pieces the pipeline filed from the fixture mails
(taken in from a Maildir), opens one, searches a two-character word, and
looks at the held mail and the units. A screenshot of each page is saved
under the test's temporary folder (``screens/``). scripts/test installs
``chromium`` and ``chromium-driver``; nothing downloads a browser. Where
they cannot be installed the test is skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_data import HOSTILE_SUBJECT, PASSWORD, WORD, add_user, file_mails

from mailintake.app import App
from mailintake.config.settings import WebConfig
from mailintake.web.server import Background

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def console(app: App) -> Iterator[str]:
    """The console on a free port of this machine, serving the fixture mails' pieces."""
    report = file_mails(app)
    assert report.filed == 6
    add_user(app, "李华", "clerk")
    port = free_port()
    served = App(config=app.config.model_copy(
        update={"web": WebConfig(listen=f"127.0.0.1:{port}")}),
        engine=app.engine, storage=app.storage, replies=app.replies, clock=app.clock)
    server = Background(served).start()
    deadline = time.monotonic() + 20
    while not server.server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(scripts/test installs them with apt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1366,900", "--lang=zh-CN"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_clerk_logs_in_lists_opens_and_searches(console: str, browser: object,
                                                  tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    screens = tmp_path / "screens"
    screens.mkdir()

    def shot(name: str) -> None:
        driver.save_screenshot(str(screens / f"{name}.png"))
        # Nothing wider than the window: no sideways scrolling on a 1366-pixel screen.
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: {overflow} px wider than the window"

    driver.get(f"{console}/pieces")
    assert driver.current_url.startswith(f"{console}/login")
    shot("login")
    driver.find_element(By.NAME, "username").send_keys("李华")
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 10).until(until.url_to_be(f"{console}/pieces"))
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
    assert "发件人未登记为任何单位的信息员" in driver.find_element(By.TAG_NAME, "main").text
    shot("held")
    driver.get(f"{console}/units")
    assert "城关镇中心校" in driver.find_element(By.TAG_NAME, "main").text
    shot("units")
    print(f"screenshots: {screens}")
