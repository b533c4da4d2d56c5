"""The console refuses what it must: anonymous requests, forms without their CSRF
token, changes by a viewer, ids of another shape, and the markup a Word file may carry.

The data is real: the fixture mails and a Word file with a <script> and a
javascript: link, taken in from a Maildir by the pipeline, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import NOW, write_config
from console_data import (
    HOSTILE_SUBJECT,
    PASSWORD,
    WORD,
    add_user,
    client,
    csrf_of,
    file_mails,
    logged_in,
)
from sqlmodel import select
from starlette.routing import Route

from mailintake.app import App
from mailintake.config.settings import load_config
from mailintake.intake import loop
from mailintake.store import accounts
from mailintake.store.database import session, upgrade
from mailintake.store.models import Attachment, Submission, Unit
from mailintake.web.app import create_app
from mailintake.web.security import KEYS_KEPT, WINDOW, LoginLimit

OPEN = {"/healthz", "/login"}


@pytest.fixture
def filed(app: App) -> App:
    report = file_mails(app)
    assert report.filed == 6 and report.quarantined == 1
    add_user(app, "lihua", "clerk")
    add_user(app, "wang", "viewer")
    add_user(app, "admin", "admin")
    return app


def hostile_piece(app: App) -> Submission:
    with session(app.engine) as db:
        return db.exec(select(Submission).where(Submission.title.contains("防汛"))  # type: ignore[attr-defined]
                       ).one()


def test_every_route_but_healthz_and_login_sends_the_anonymous_to_login(filed: App) -> None:
    browser = client(filed)
    assert browser.get("/healthz").text == "ok"
    assert browser.get("/login").status_code == 200
    number = hostile_piece(filed).tracking_no
    params = {"tracking_no": number, "file_id": "1", "index": "1", "message_id": "1",
              "unit_id": "1", "briefing_id": "1", "number": "2026-001", "period": "2026-11",
              "format": "csv"}
    checked = 0
    for route in create_app(filed).routes:
        if not isinstance(route, Route) or route.path in OPEN:
            continue
        path = route.path.format(**params)
        for method in sorted(route.methods or {"GET"}):
            if method == "HEAD":
                continue
            answer = browser.request(method, path)
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login"), (method, path)
            assert "稿件" not in answer.text and "防汛" not in answer.text
            checked += 1
    # The pages, and the clerk's actions (held mail, adoption, registry, 补录, 简报, 约稿,
    # 通报), and the reports with their downloads.
    assert checked == 41


def test_login_sets_a_safe_cookie_and_pages_answer_in_chinese(filed: App) -> None:
    browser = client(filed)
    page = browser.get("/login")
    assert 'name="username"' in page.text and 'name="password"' in page.text
    answer = browser.post("/login", data={"username": "lihua", "password": PASSWORD,
                                          "csrf": csrf_of(page.text), "next": "/held"})
    assert answer.status_code == 303 and answer.headers["location"] == "/held"
    cookie = answer.headers["set-cookie"]
    assert "mi_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # [web] secure_cookies is off
    held = browser.get("/held")
    assert held.status_code == 200
    assert "发件人未登记为信息员" in held.text and "sender.unregistered" not in held.text
    assert held.headers["content-security-policy"].startswith("default-src 'self'")
    listed = browser.get("/pieces")
    assert "实验小学" in listed.text and "已退回" in listed.text
    assert "pictures.too_few" not in listed.text and "document.missing" not in listed.text


def test_secure_cookies_when_configured(tmp_path: Path, db_url: str) -> None:
    config = load_config(write_config(tmp_path, db_url, "[web]\nsecure_cookies = true\n"))
    app = App.from_config(config)
    upgrade(app.engine)
    add_user(app, "lihua", "clerk")
    browser = client(app, https=True)
    page = browser.get("/login")
    answer = browser.post("/login", data={"username": "lihua", "password": PASSWORD,
                                          "csrf": csrf_of(page.text)})
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]
    app.engine.dispose()


def test_a_form_without_its_csrf_token_is_refused(filed: App) -> None:
    browser = client(filed)
    browser.get("/login")
    refused = browser.post("/login", data={"username": "lihua", "password": PASSWORD})
    assert refused.status_code == 403 and "mi_session" not in refused.headers.get(
        "set-cookie", "")
    clerk = logged_in(filed, "lihua")
    with session(filed.engine) as db:
        unit = db.exec(select(Unit).where(Unit.name == "组织部")).one()
    for data in ({"active": "0"}, {"active": "0", "csrf": "forged"}):
        answer = clerk.post(f"/units/{unit.id}/active", data=data)
        assert answer.status_code == 403 and "表单已失效" in answer.text
    with session(filed.engine) as db:
        assert db.get(Unit, unit.id).active  # type: ignore[union-attr]
    page = clerk.get("/units")
    done = clerk.post(f"/units/{unit.id}/active", data={"active": "0", "csrf": csrf_of(page.text)})
    assert done.status_code == 303
    with session(filed.engine) as db:
        assert not db.get(Unit, unit.id).active  # type: ignore[union-attr]
    [entry] = accounts.trail(filed.engine, f"unit:{unit.id}")
    assert (entry.who, entry.action, entry.detail) == ("lihua", "unit.deactivate", "组织部")
    # Logging out ends the login: the old cookie opens nothing.
    token = clerk.cookies.get("mi_session")
    assert clerk.post("/logout", data={"csrf": csrf_of(clerk.get("/units").text)}
                      ).status_code == 303
    stale = client(filed)
    stale.cookies.set("mi_session", token or "")
    assert stale.get("/pieces").status_code == 303


def test_a_viewer_reads_but_changes_nothing(filed: App) -> None:
    viewer = logged_in(filed, "wang")
    page = viewer.get("/units")
    assert page.status_code == 200 and "停用</button>" not in page.text
    with session(filed.engine) as db:
        unit = db.exec(select(Unit).where(Unit.name == "组织部")).one()
    answer = viewer.post(f"/units/{unit.id}/active", data={"active": "0",
                                                         "csrf": csrf_of(page.text)})
    assert answer.status_code == 403 and "没有权限" in answer.text
    with session(filed.engine) as db:
        assert db.get(Unit, unit.id).active  # type: ignore[union-attr]
    assert viewer.get("/status").status_code == 403
    assert viewer.get("/pieces").status_code == 200
    admin = logged_in(filed, "admin")
    status = admin.get("/status")
    assert status.status_code == 200 and "待人工处理的邮件：1 封" in status.text
    assert "上次成功收取：2026-11-19 10:00" in status.text and "最近没有收取错误" in status.text
    assert "下次催报：11月26日（周四）09:00" in status.text
    assert "下次周报：11月23日（周一）08:00" in status.text
    loop.record_error(filed, "[Errno 111] Connection refused", NOW + timedelta(minutes=5))
    status = admin.get("/status")
    assert "最近一次收取出错：2026-11-19 10:05：[Errno 111] Connection refused" in status.text


BAD_IDS = [
    "/pieces/..%2F..%2Fmailintake.toml", "/pieces/20261119-00001'%20OR%20'1'='1",
    "/pieces/1%3BDROP%20TABLE%20submission", "/pieces/99999999-99999",
    "/files/..%2Fmailintake.toml", "/files/1%20OR%201=1", "/files/-1", "/files/999999",
    "/files/1/images/0", "/files/1/images/..%2F..%2Fx", "/mails/..%2F..%2Fetc/raw",
    "/mails/1'--/raw", "/mails/999999/raw", "/pieces/%2E%2E",
]


def test_ids_of_another_shape_are_not_found(filed: App) -> None:
    clerk = logged_in(filed, "lihua")
    for path in BAD_IDS:
        answer = clerk.get(path)
        assert answer.status_code == 404, path
        assert "找不到" in answer.text and "[database]" not in answer.text
    with session(filed.engine) as db:
        assert db.exec(select(Submission)).first() is not None


def test_word_markup_and_javascript_links_are_inert(filed: App) -> None:
    clerk = logged_in(filed, "lihua")
    number = hostile_piece(filed).tracking_no
    page = clerk.get(f"/pieces/{number}")
    assert page.status_code == 200
    html = page.text
    article = html[html.index('<article class="word">'):html.index("</article>")]
    assert "<script" not in article.lower() and "javascript:" not in article.lower()
    # Markup typed into the document is its text, never an element.
    assert "<img src=x" not in article and "&lt;img src=x onerror" in article
    assert "&lt;script&gt;" in article  # shown as the text it was
    assert "这里查看详情" in article and WORD in article
    assert HOSTILE_SUBJECT in html and "图为演练现场" in html and "1200 × 900" in html
    # The picture in the Word file, served by the file's id and its number.
    [image] = [part for part in article.split('"') if part.startswith("/files/")]
    picture = clerk.get(image)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    with session(filed.engine) as db:
        document = db.exec(select(Attachment).where(
            Attachment.submission_id == hostile_piece(filed).id)).first()
    assert document is not None
    original = clerk.get(f"/files/{document.id}")
    assert original.status_code == 200 and original.content[:2] == b"PK"
    assert original.headers["content-disposition"].startswith("attachment;")
    assert original.headers["content-type"] == "application/octet-stream"
    raw = clerk.get(f"/mails/{hostile_piece(filed).message_id}/raw")
    assert raw.status_code == 200 and b"Subject:" in raw.content
    # The reply that went out is on the page, in Chinese.
    assert "回执" in html


def test_too_many_failed_logins_lock_the_name_out(filed: App) -> None:
    browser = client(filed)
    for _ in range(filed.config.web.login_attempts):
        page = browser.get("/login")
        failed = browser.post("/login", data={"username": "lihua", "password": "wrong",
                                              "csrf": csrf_of(page.text)})
        assert failed.status_code == 401 and "用户名或密码不正确" in failed.text
    page = browser.get("/login")
    locked = browser.post("/login", data={"username": "lihua", "password": PASSWORD,
                                          "csrf": csrf_of(page.text)})
    assert locked.status_code == 429 and "15 分钟" in locked.text


def test_search_finds_a_two_character_word(filed: App) -> None:
    clerk = logged_in(filed, "lihua")
    found = clerk.get("/pieces", params={"q": WORD})
    assert HOSTILE_SUBJECT[5:] in found.text or "防汛" in found.text
    assert found.text.count('<td><a href="/pieces/') == 1
    assert clerk.get("/pieces", params={"q": "汛防"}).text.count('<td><a href="/pieces/') == 0
    kinds = clerk.get("/pieces", params={"kind": "学校", "status": "accepted"})
    assert "人文学院" not in kinds.text.split("<tbody>")[1]


def test_a_login_ends_after_its_hours_and_the_period_filter_uses_local_days(
    filed: App,
) -> None:
    """The clock is the app's: a login made at 10:00 is gone 12 hours later
    ([web] session_hours), and the pieces of 19 November (Beijing time) are those
    of that day only."""
    moments = [NOW]
    timed = App(config=filed.config, engine=filed.engine, storage=filed.storage,
                replies=filed.replies, clock=lambda: moments[-1])
    clerk = logged_in(timed, "lihua")

    def listed(**params: str) -> int:
        answer = clerk.get("/pieces", params=params)
        assert answer.status_code == 200
        return answer.text.count('<td><a href="/pieces/')

    assert listed(**{"from": "2026-11-19", "to": "2026-11-19"}) == 9
    assert listed(**{"from": "2026-11-20"}) == 0
    assert listed(to="2026-11-18") == 0
    assert listed(**{"from": "not-a-date"}) == 9
    moments.append(NOW + timedelta(hours=11, minutes=59))
    assert clerk.get("/pieces").status_code == 200
    moments.append(NOW + timedelta(hours=12, minutes=1))
    answer = clerk.get("/pieces")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_failed_logins_under_made_up_names_do_not_pile_up() -> None:
    """Anyone may post to /login: the failures it counts are forgotten once stale, so a
    stream of made-up names cannot grow the console's memory without end."""
    now = [0.0]
    limit = LoginLimit(3, clock=lambda: now[0])
    for n in range(KEYS_KEPT + 1):
        limit.failed(f"name:{n}")
    now[0] += WINDOW + 1
    limit.failed("name:last")
    assert not limit.blocked("name:0")
    assert len(limit._failures) == 1
    for _ in range(3):
        limit.failed("name:last")
    assert limit.blocked("name:last")
