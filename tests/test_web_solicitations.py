"""约稿 in the console, in headless Chromium (the fixtures of test_web_browser): the clerk
makes a request for two units with the form, one unit answers by replying to the
request mail through the real pipeline, and with the clock past the deadline the
request's page shows that unit answered (its piece linked, and the piece's page
naming the request) and the other overdue; the clerk closes it. Screenshots under
the test's temporary folder (``screens/``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browsing import browser, log_in, screenshots, serve  # noqa: F401 (a fixture)
from console_data import add_user, logged_in
from office_pieces import make_app, outbox, send
from pieces import LI, ZHAO
from test_solicitations import ANSWERED, CREATED, LATE, TOPIC, piece

from mailintake.store.accounts import trail

pytestmark = pytest.mark.slow


def test_a_clerk_asks_two_units_and_sees_one_answered_one_overdue(
    tmp_path: Path, browser: object
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    app = make_app(tmp_path / "office", f"sqlite:///{tmp_path / 'db.sqlite'}", "",
                   lambda: CREATED)
    add_user(app, "李华", "clerk")
    now = [CREATED]
    screens = tmp_path / "screens"
    shot = screenshots(driver, screens)
    try:
        with serve(app, lambda: now[0]) as console:
            log_in(driver, console, "/solicitations")
            assert "还没有约稿" in driver.find_element(By.ID, "solicitations").text
            driver.find_element(By.ID, "topic").send_keys(TOPIC)
            driver.find_element(By.ID, "request").send_keys("围绕课后服务写一篇稿件，附照片。")
            driver.execute_script("arguments[0].value = '2026-12-10'",
                                  driver.find_element(By.ID, "deadline"))
            driver.find_element(By.ID, "points").send_keys("5")
            for name in ("实验小学", "第一幼儿园"):
                driver.find_element(By.CSS_SELECTOR,
                                    f"input[name=unit][value='{name}']").click()
            shot("solicitation-form")
            driver.find_element(By.ID, "solicit-send").click()
            WebDriverWait(driver, 10).until(until.url_contains("/solicitations/2026-001"))
            assert "约稿已建立" in driver.find_element(By.ID, "made").text
            assert "未交 2" in driver.find_element(By.ID, "counts").text

            # 实验小学 replies to its request mail with the piece.
            request = next(r for r in outbox(app, "solicitation") if r.recipient == LI)
            assert sorted(r.recipient for r in outbox(app, "solicitation")) == sorted([LI, ZHAO])
            send(app, ANSWERED, piece(LI, "回复：【约稿2026-001】实验小学（李娜）课后服务显成效",
                                      5, ANSWERED, in_reply_to=request.message_id))

            # A week later, past the deadline (the login of the day before has expired).
            now[0] = LATE
            log_in(driver, console, "/solicitations/2026-001")
            counts = driver.find_element(By.ID, "counts").text
            assert "已交稿 1，已逾期 1，未交 0" in counts
            rows = {row.find_element(By.TAG_NAME, "td").text: row
                    for row in driver.find_elements(By.CSS_SELECTOR, "#asked tbody tr")}
            assert "已交稿" in rows["实验小学"].text and "已逾期" in rows["第一幼儿园"].text
            link = rows["实验小学"].find_element(By.CSS_SELECTOR, "a[href^='/pieces/']")
            shot("solicitation-detail")

            link.click()
            WebDriverWait(driver, 10).until(until.url_contains("/pieces/"))
            assert f"本稿答复约稿 2026-001（{TOPIC}）" in driver.find_element(
                By.ID, "solicited").text
            shot("solicited-piece")

            driver.get(f"{console}/solicitations")
            row = driver.find_element(By.CSS_SELECTOR, "#solicitations tbody tr").text
            assert "2026-001" in row and "1/2" in row and TOPIC in row
            shot("solicitations")

            driver.get(f"{console}/solicitations/2026-001")
            driver.find_element(By.ID, "close").click()
            WebDriverWait(driver, 10).until(until.presence_of_element_located(
                (By.CSS_SELECTOR, "h1 .tag")))
            assert "已结束" in driver.find_element(By.TAG_NAME, "h1").text
            assert [t.action for t in trail(app.engine, "solicitation:2026-001")] == [
                "solicitation.close", "solicitation.create"]
            assert all(t.who == "李华" for t in trail(app.engine, "solicitation:2026-001"))
        print(f"screenshots: {screens}")
    finally:
        app.engine.dispose()


def test_a_viewer_sees_no_form(tmp_path: Path) -> None:
    """A viewer reads the list but gets no form, and a post is refused."""
    app = make_app(tmp_path / "office", f"sqlite:///{tmp_path / 'db.sqlite'}", "",
                   lambda: CREATED)
    try:
        add_user(app, "小王", "viewer")
        with logged_in(app, "小王") as web:
            page = web.get("/solicitations")
            assert page.status_code == 200 and "新建约稿" not in page.text
            refused = web.post("/solicitations", data={"topic": TOPIC, "deadline": "2026-12-10",
                                                       "unit": "实验小学"})
            assert refused.status_code == 403
    finally:
        app.engine.dispose()

