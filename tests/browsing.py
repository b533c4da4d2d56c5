"""The console in a real browser, for the tests that drive it: Debian's headless
Chromium through Selenium, the console served on a free port, the login, and
screenshots that fail a page wider than the window.

scripts/test installs ``chromium`` and ``chromium-driver``; nothing downloads a
browser. Where they cannot be installed the tests are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from console_data import PASSWORD

from mailintake.app import App
from mailintake.config.settings import WebConfig
from mailintake.web.server import Background

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(app: App, clock: Callable[[], datetime]) -> Iterator[str]:
    """The console of ``app`` on a free port of this machine, on ``clock``."""
    port = free_port()
    served = App(config=app.config.model_copy(
        update={"web": WebConfig(listen=f"127.0.0.1:{port}")}),
        engine=app.engine, storage=app.storage, replies=app.replies, clock=clock)
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


def screenshots(driver: object, folder: Path) -> Callable[[str], None]:
    """Saves the page as ``folder/NAME.png`` and checks nothing is wider than the window."""
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(driver, WebDriver)
    folder.mkdir(exist_ok=True)

    def shot(name: str) -> None:
        driver.save_screenshot(str(folder / f"{name}.png"))
        # Nothing wider than the window: no sideways scrolling on a 1366-pixel screen.
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: {overflow} px wider than the window"

    return shot


def log_in(driver: object, console: str, target: str = "/pieces") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(driver, WebDriver)
    driver.get(f"{console}{target}")
    assert driver.current_url.startswith(f"{console}/login")
    driver.find_element(By.NAME, "username").send_keys("李华")
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 10).until(until.url_to_be(f"{console}{target}"))


