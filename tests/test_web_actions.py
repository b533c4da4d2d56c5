"""The clerk's actions in the console, on SQLite and PostgreSQL: held mail read and decided,
adoptions recorded from a piece's page and in bulk and undone, units and correspondents
edited, the registration form uploaded, previewed and applied.

The data is real: the fixture mails (08_unknown_sender.eml among them, held as from an
unregistered sender) taken in from a Maildir by the pipeline. Every change is checked in
the database and in the audit trail; a viewer and a form without its CSRF token change
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import FIXTURES, NOW, deliver
from console_data import add_user, csrf_of, file_mails, logged_in
from httpx2 import Response
from pieces import mail
from sqlmodel import col, select
from starlette.testclient import TestClient

from mailintake.app import App
from mailintake.intake.loop import Intake
from mailintake.store import accounts, desk
from mailintake.store.database import session
from mailintake.store.models import (
    Adoption,
    Audit,
    InboundMessage,
    OutboxMessage,
    PointEntry,
    Submission,
    Unit,
)

STRANGER = "stranger@example.com"
LATER = NOW + timedelta(days=14)


@pytest.fixture
def filed(app: App) -> App:
    report = file_mails(app)
    assert report.filed == 6 and report.quarantined == 1
    add_user(app, "lihua", "clerk")
    add_user(app, "wang", "viewer")
    return app


def at(app: App, moment: datetime) -> App:
    """The same app on another day."""
    return App(config=app.config, engine=app.engine, storage=app.storage,
               replies=app.replies, clock=lambda: moment)


def held_mail(app: App) -> InboundMessage:
    with session(app.engine) as db:
        return db.exec(select(InboundMessage)
                       .where(InboundMessage.outcome == "quarantined")).one()


def outbox_to(app: App, address: str) -> list[OutboxMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(OutboxMessage).where(OutboxMessage.recipient == address)
                            .order_by(col(OutboxMessage.id))).all())


def text_of(reply: OutboxMessage) -> str:
    body = message_from_bytes(reply.raw, policy=policy.default).get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def accepted(app: App, unit: str) -> Submission:
    with session(app.engine) as db:
        return db.exec(select(Submission).join(Unit, col(Unit.id) == col(Submission.unit_id))
                       .where(Unit.name == unit, Submission.status == "accepted")
                       .order_by(col(Submission.id))).first()  # type: ignore[return-value]


def unit_of(app: App, name: str) -> Unit:
    with session(app.engine) as db:
        return db.exec(select(Unit).where(Unit.name == name)).one()


def changes_made(app: App) -> list[Audit]:
    """The audit lines of changes (logins aside)."""
    with session(app.engine) as db:
        return list(db.exec(select(Audit).where(Audit.action != "login")
                            .order_by(col(Audit.id))).all())


def post(browser: TestClient, page: str, path: str, data: dict[str, str]) -> Response:
    return browser.post(path, data={**data, "csrf": csrf_of(browser.get(page).text)})


# --- held mail ------------------------------------------------------------------------------

def test_a_clerk_reads_a_held_mail_registers_its_sender_and_files_it(filed: App) -> None:
    """The stranger's mail waits in 待人工. Two weeks later the clerk opens it (sender,
    subject, arrival, text, attachment, why, in Chinese), registers the address as
    实验小学's correspondent 周敏 and files it: the piece keeps the 19 November arrival
    and tracking day, a receipt goes to the sender, and the piece's page says who did it."""
    waiting = held_mail(filed)
    later = at(filed, LATER)
    clerk = logged_in(later, "lihua")
    listed = clerk.get("/held")
    assert f'href="/held/{waiting.id}"' in listed.text
    page = clerk.get(f"/held/{waiting.id}")
    assert page.status_code == 200
    for shown in (STRANGER, "实验小学信息（2026.11.18）一则消息", "2026-11-19 10:00",
                  "你好，附件是一则消息，麻烦发布一下。", "一则消息.docx", "发件人未登记为信息员"):
        assert shown in page.text, shown
    assert "sender.unregistered" not in page.text
    assert 'value="vouch"' not in page.text  # no DMARC failure: nothing to vouch for

    answer = clerk.post(f"/held/{waiting.id}", data={
        "do": "register", "unit": "实验小学", "name": "周敏", "csrf": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    number = answer.headers["location"].removeprefix("/pieces/")
    with session(filed.engine) as db:
        piece = db.exec(select(Submission).where(Submission.tracking_no == number)).one()
    assert piece.received_at == waiting.received_at and number.startswith("20261119-")
    assert piece.correspondent_id is not None
    [receipt] = outbox_to(filed, STRANGER)
    assert receipt.kind == "receipt" and number in text_of(receipt)
    people = desk.people(filed.engine, unit_of(filed, "实验小学").id or 0)
    assert any(p.name == "周敏" and p.emails == [STRANGER] for p in people)

    filed_page = clerk.get(f"/pieces/{number}").text
    assert "由待人工邮件登记" in filed_page and "lihua" in filed_page
    assert "held.register" not in filed_page and "piece.from_held" not in filed_page
    [done] = accounts.trail(filed.engine, f"mail:{waiting.id}")
    assert (done.who, done.action, done.at) == ("lihua", "held.register", LATER)
    assert "实验小学" in done.detail and number in done.detail

    settled = clerk.get(f"/held/{waiting.id}").text
    assert f'已登记为稿件 <a href="/pieces/{number}">' in settled and 'name="do"' not in settled
    again = clerk.post(f"/held/{waiting.id}", data={
        "do": "file", "unit": "实验小学", "csrf": csrf_of(page.text)})
    assert again.status_code == 409 and "不在待人工状态" in again.text
    assert len(outbox_to(filed, STRANGER)) == 1


def test_a_clerk_files_a_held_mail_for_a_unit_without_registering(filed: App) -> None:
    waiting = held_mail(filed)
    clerk = logged_in(filed, "lihua")
    page = f"/held/{waiting.id}"
    wrong = post(clerk, page, page, {"do": "file", "unit": "不存在的学校"})
    assert wrong.status_code == 409
    assert "没有名为「不存在的学校」的在用单位" in wrong.text
    answer = post(clerk, page, page, {"do": "file", "unit": "实验小学"})
    assert answer.status_code == 303
    with session(filed.engine) as db:
        piece = db.exec(select(Submission).join(InboundMessage)
                        .where(InboundMessage.from_addr == STRANGER)).one()
    assert piece.correspondent_id is None and piece.unit_id == unit_of(filed, "实验小学").id
    assert piece.received_at == waiting.received_at
    people = desk.people(filed.engine, unit_of(filed, "实验小学").id or 0)
    assert all(STRANGER not in p.emails for p in people)
    [line] = accounts.trail(filed.engine, f"mail:{waiting.id}")
    assert line.action == "held.file" and line.detail.startswith("实验小学")


def test_a_clerk_sends_a_held_mail_back_with_a_reason(filed: App) -> None:
    waiting = held_mail(filed)
    clerk = logged_in(filed, "lihua")
    page = f"/held/{waiting.id}"
    empty = post(clerk, page, page, {"do": "reject", "reason": "  "})
    assert empty.status_code == 409 and "请填写退回原因" in empty.text
    answer = post(clerk, page, page, {"do": "reject", "reason": "稿件与教育工作无关"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/held?done=rejected"
    listed = clerk.get("/held?done=rejected")
    assert "邮件已退回" in listed.text and "没有待人工处理的邮件" in listed.text
    [rejection] = outbox_to(filed, STRANGER)
    assert "原因：稿件与教育工作无关" in text_of(rejection)
    with session(filed.engine) as db:
        row = db.get(InboundMessage, waiting.id)
    assert row is not None and row.outcome == "rejected"
    assert row.received_at == waiting.received_at
    [line] = accounts.trail(filed.engine, f"mail:{waiting.id}")
    assert (line.who, line.action, line.detail) == ("lihua", "held.reject", "稿件与教育工作无关")
    settled = clerk.get(page)
    assert "已处理完毕" in settled.text and "工作人员退回" in settled.text
    assert 'name="do"' not in settled.text and "clerk." not in settled.text


@pytest.mark.parametrize("why", ["answered", "spam"])
def test_a_clerk_sets_a_held_mail_aside_without_a_reply(filed: App, why: str) -> None:
    waiting = held_mail(filed)
    clerk = logged_in(filed, "lihua")
    page = f"/held/{waiting.id}"
    unconfirmed = post(clerk, page, page, {"do": why})
    assert unconfirmed.status_code == 409 and "确认不回复" in unconfirmed.text
    answer = post(clerk, page, page, {"do": why, "confirm": "1"})
    assert answer.status_code == 303
    assert outbox_to(filed, STRANGER) == []
    with session(filed.engine) as db:
        row = db.get(InboundMessage, waiting.id)
    assert row is not None and row.outcome == "ignored"
    assert row.reasons[-1] == f"clerk.{why}"
    [line] = accounts.trail(filed.engine, f"mail:{waiting.id}")
    assert line.action == f"held.{why}"
    shown = clerk.get(page).text
    assert ("工作人员已答复" if why == "answered" else "工作人员标为垃圾邮件") in shown


def test_a_vouched_sender_is_filed_and_a_hostile_mail_is_shown_inert(app: App) -> None:
    """组织部's correspondent writes through a relay that fails DMARC, with markup in the
    subject and text: the page shows it as text; the clerk vouches and it is filed."""
    add_user(app, "lihua", "clerk")
    dmarc_fail = (b"Authentication-Results: mx.126.com; spf=fail smtp.mailfrom=163.com;\r\n"
                  b" dkim=none; dmarc=fail (p=none dis=none) header.from=163.com\r\n")
    raw = mail("liuxy@163.com", "组织部（刘晓燕）<script>alert(1)</script>党建工作交流会",
               ("交流会.docx", (FIXTURES / "mail" / "02_outlook_rfc2231_website.eml")
                .read_bytes()[:10]),
               body='<img src=x onerror="alert(2)">请审阅')
    deliver(app.config, dmarc_fail + raw)
    Intake(app).cycle()
    waiting = held_mail(app)
    assert waiting.reasons == ["sender.auth_failed"]
    clerk = logged_in(app, "lihua")
    page = clerk.get(f"/held/{waiting.id}")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
    assert "发件人未通过域名验证" in page.text and 'value="vouch"' in page.text
    answer = clerk.post(f"/held/{waiting.id}", data={"do": "vouch",
                                                      "csrf": csrf_of(page.text)})
    assert answer.status_code == 303
    location = answer.headers["location"]
    with session(app.engine) as db:
        rows = db.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all()
    assert rows[-1].received_at == waiting.received_at
    assert rows[-1].outcome in ("filed", "rejected")  # decided, no longer held
    assert location.startswith("/pieces/")
    [line] = accounts.trail(app.engine, f"mail:{waiting.id}")
    assert line.action == "held.vouch"


# --- adoption ---------------------------------------------------------------------------------

def test_adoption_from_the_piece_page_checked_by_date_and_undone(filed: App) -> None:
    piece = accepted(filed, "组织部")
    number = piece.tracking_no
    clerk = logged_in(at(filed, NOW + timedelta(days=2)), "lihua")
    page = clerk.get(f"/pieces/{number}")
    assert "教育厅教育要闻" in page.text and 'value="2026-11-21"' in page.text
    csrf = csrf_of(page.text)

    def adopt(**fields: str) -> Response:
        return clerk.post(f"/pieces/{number}/adopt", data={
            "channel": "news", "level": "full", "csrf": csrf, **fields})

    early = adopt(date="2026-11-18")
    assert early.status_code == 409
    assert "早于稿件" in early.text and "2026-11-18" in early.text
    future = adopt(date="2026-11-22")
    assert future.status_code == 409 and "晚于今天" in future.text
    wrong = adopt(date="2026-11-20", split="组织部=0.5,不存在=0.5")
    assert wrong.status_code == 409 and "分配" in wrong.text
    items = adopt(date="2026-11-20", items="1,x")
    assert items.status_code == 409 and "例如 1,3,5" in items.text and "--item" not in items.text
    done = adopt(date="2026-11-20", level="brief")
    assert done.status_code == 303
    assert done.headers["location"] == f"/pieces/{number}#adoption"
    with session(filed.engine) as db:
        [adoption] = db.exec(select(Adoption)).all()
        lines = db.exec(select(PointEntry).where(PointEntry.kind == "adoption")).all()
    assert adoption.channel == "news" and adoption.brief
    assert filed.local(adoption.adopted_at).date().isoformat() == "2026-11-20"
    assert sum(line.points for line in lines) == 20
    twice = adopt(date="2026-11-21")
    assert twice.status_code == 409 and "已记录" in twice.text

    shown = clerk.get(f"/pieces/{number}").text
    assert "教育厅教育要闻（简讯）：2026-11-20" in shown and "记录采用（" in shown
    assert ">news<" not in shown and "：news" not in shown
    undo = clerk.post(f"/pieces/{number}/unadopt", data={"adoption": "news:0", "csrf": csrf})
    assert undo.status_code == 303
    with session(filed.engine) as db:
        assert db.exec(select(Adoption)).one().revoked_at is not None
        total = sum(line.points for line in db.exec(
            select(PointEntry).where(PointEntry.kind == "adoption")).all())
    assert total == 0
    trail = accounts.trail(filed.engine, f"piece:{number}")
    assert [t.action for t in trail] == ["unadopt", "adopt"]
    assert trail[1].detail == "教育厅教育要闻（简讯），采用日期 2026-11-20"
    assert "撤销采用" in clerk.get(f"/pieces/{number}").text


def test_adoptions_in_bulk_say_what_became_of_each_line(filed: App) -> None:
    one, two = accepted(filed, "组织部"), accepted(filed, "实验小学")
    with session(filed.engine) as db:
        rejected = db.exec(select(Submission).where(Submission.status == "rejected")).first()
    assert rejected is not None
    clerk = logged_in(filed, "lihua")
    with session(filed.engine) as db:
        weekly = db.exec(select(Submission).where(Submission.column == "weekly",
                                                  Submission.status == "accepted")).one()
    pasted = "\n".join([f"{one.tracking_no}\t组织部", "", f" {two.tracking_no} ",
                        f"{rejected.tracking_no}", "第三篇", f"{one.tracking_no}",
                        "20991231-99999", f"{weekly.tracking_no} 第1、2条"])
    answer = post(clerk, "/adoptions", "/adoptions", {
        "numbers": pasted, "channel": "weekly", "level": "full", "date": "2026-11-19"})
    assert answer.status_code == 200
    text = answer.text
    assert "共 7 行，记录成功 3 篇" in text
    assert "已退回，不能记采用" in text and "不是登记号" in text
    assert "与上面的行重复" in text and "没有登记编号为 20991231-99999 的稿件" in text
    with session(filed.engine) as db:
        adopted = {(a.submission_id, a.item) for a in db.exec(select(Adoption)).all()}
    assert adopted == {(one.id, 0), (two.id, 0), (weekly.id, 1), (weekly.id, 2)}
    assert [t.action for t in changes_made(filed)] == ["adopt", "adopt", "adopt"]
    refused = post(clerk, "/adoptions", "/adoptions", {
        "numbers": str(one.tracking_no), "channel": "weekly", "date": "2026/11/19"})
    assert refused.status_code == 400 and "日期" in refused.text


# --- the registry -----------------------------------------------------------------------------

def test_a_clerk_edits_a_unit_and_its_correspondents(filed: App) -> None:
    unit = unit_of(filed, "组织部")
    clerk = logged_in(filed, "lihua")
    page = f"/units/{unit.id}"
    shown = clerk.get(page)
    assert "刘晓燕" in shown.text and "zzb_xx@126.com" in shown.text
    form = {"kind": "部门", "aliases": "党委组织部", "leader": "", "active": "1"}
    done = post(clerk, page, page, {**form, "quota": "3", "leader": "周书记"})
    text = done.text
    assert "修改：单位「组织部」，定额：按类别 → 3" in text and "负责领导" in text
    assert unit_of(filed, "组织部").quota == 3
    back = post(clerk, page, page, {**form, "quota": "", "leader": "周书记", "active": "0"})
    assert "定额：3 → 按类别" in back.text
    assert "状态：启用 → 停用" in back.text
    stored = unit_of(filed, "组织部")
    assert stored.quota is None and not stored.active and stored.leader == "周书记"
    bad = post(clerk, page, page, {**form, "quota": "-1"})
    assert bad.status_code == 400 and "定额应为" in bad.text

    people = f"{page}/people"
    added = post(clerk, page, people, {"name": "孙倩", "title": "干事", "phone": "137",
                                       "emails": "sunqian@126.com"})
    assert "新增：组织部 的信息员「孙倩」" in added.text
    changed = post(clerk, page, people, {"name": "孙倩", "title": "干事", "phone": "138",
                                         "emails": "sunqian@126.com"})
    assert "联系电话：137 → 138" in changed.text
    taken = post(clerk, page, people, {"name": "赵某", "emails": "lina@foxmail.com"})
    assert taken.status_code == 409
    assert "已登记给「李娜」" in taken.text
    invalid = post(clerk, page, people, {"name": "赵某", "emails": "not-an-address"})
    assert invalid.status_code == 400
    assert "不是有效的邮箱地址" in invalid.text
    removed = post(clerk, page, f"{page}/people/remove", {"name": "孙倩"})
    assert "移除：组织部 的信息员「孙倩」" in removed.text
    assert [p.name for p in desk.people(filed.engine, unit.id or 0)] == ["刘晓燕"]

    trail = accounts.trail(filed.engine, f"unit:{unit.id}")
    assert [t.action for t in trail] == ["person.remove", "person.set", "person.set",
                                         "unit.edit", "unit.edit"]
    assert all(t.who == "lihua" for t in trail)
    final = clerk.get(page).text
    assert "修改单位" in final and "移除信息员" in final and "person." not in final


def registration(tmp_path: Path) -> Path:
    """The fixture form with 组织部's phone changed, 人文学院 gone, and a new school."""
    lines = (FIXTURES / "units.csv").read_text(encoding="utf-8-sig").splitlines()
    kept = [line.replace("13700000001", "13900000009") for line in lines
            if not line.startswith("人文学院")]
    kept.append("第二中学,二中,学校,钱进,教师,qianjin@126.com,13700000099")
    path = tmp_path / "登记表（新）.csv"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8-sig")
    return path


def upload(browser: TestClient, path: Path, name: str = "") -> Response:
    csrf = csrf_of(browser.get("/units/import").text)
    return browser.post("/units/import", data={"csrf": csrf},
                        files={"file": (name or path.name, path.read_bytes(), "text/csv")})


def test_the_registration_form_is_previewed_then_applied(filed: App, tmp_path: Path) -> None:
    clerk = logged_in(filed, "lihua")
    preview = upload(clerk, registration(tmp_path))
    text = preview.text
    assert preview.status_code == 200, text
    assert "新增：单位「第二中学」" in text and "新增：第二中学 的信息员「钱进」" in text
    assert "修改：组织部 的信息员「刘晓燕」，联系电话：13700000001 → 13900000009" in text
    with session(filed.engine) as db:
        assert db.exec(select(Unit).where(Unit.name == "第二中学")).first() is None
    assert changes_made(filed) == []
    found = re.search(r'name="token" value="([^"]+)"', text)
    assert found is not None
    token = found.group(1)
    assert "/" not in token and "登记表" not in token

    other = logged_in(filed, "wang")
    add_user(filed, "zhou", "clerk")
    stranger = logged_in(filed, "zhou")
    stolen = post(stranger, "/units/import", "/units/import/apply", {"token": token})
    assert stolen.status_code == 410
    for forged in ("../u1/" + token, "..%2F..%2Fmailintake.toml", ""):
        answer = post(clerk, "/units/import", "/units/import/apply", {"token": forged})
        assert answer.status_code == 410
    assert other.get("/units/import").status_code == 200

    applied = post(clerk, "/units/import", "/units/import/apply", {"token": token})
    assert applied.status_code == 200 and "已导入" in applied.text
    assert unit_of(filed, "第二中学").kind == "学校"
    [line] = changes_made(filed)
    assert (line.who, line.action, line.target) == ("lihua", "registry.import", "registry")
    assert "新增：单位「第二中学」" in line.detail
    again = post(clerk, "/units/import", "/units/import/apply", {"token": token})
    assert again.status_code == 410
    same = upload(clerk, registration(tmp_path))
    assert "没有变化" in same.text


def test_a_wrong_registration_form_lists_its_problems(filed: App, tmp_path: Path) -> None:
    clerk = logged_in(filed, "lihua")
    bad = tmp_path / "bad.csv"
    bad.write_text("单位名称,单位类别,信息员姓名,邮箱\n组织部,部门,刘晓燕,not-mail\n",
                   encoding="utf-8")
    answer = upload(clerk, bad)
    assert answer.status_code == 400
    assert "不是有效的邮箱地址" in answer.text and "未导入任何内容" in answer.text
    other = upload(clerk, bad, "名单.pdf")
    assert other.status_code == 400 and "CSV 或 Excel" in other.text
    garbage = tmp_path / "x.xlsx"
    garbage.write_bytes(b"not a zip")
    broken = upload(clerk, garbage)
    assert broken.status_code == 400 and "Traceback" not in broken.text
    assert list((filed.storage.root / "uploads").rglob("登记表.*")) == []
    workbook = upload(clerk, FIXTURES / "units.xlsx")
    assert workbook.status_code == 200 and "没有变化" in workbook.text


# --- who may post -------------------------------------------------------------------------------

def posts(app: App) -> list[tuple[str, str, dict[str, str]]]:
    """Every change the actions make: (page with the form, path, fields)."""
    number = str(accepted(app, "组织部").tracking_no)
    unit = unit_of(app, "组织部").id
    mail_id = held_mail(app).id
    return [
        (f"/held/{mail_id}", f"/held/{mail_id}", {"do": "spam", "confirm": "1"}),
        (f"/held/{mail_id}", f"/held/{mail_id}", {"do": "file", "unit": "实验小学"}),
        (f"/pieces/{number}", f"/pieces/{number}/adopt", {"channel": "news"}),
        (f"/pieces/{number}", f"/pieces/{number}/unadopt", {"adoption": "news:0"}),
        ("/adoptions", "/adoptions", {"numbers": number, "channel": "news"}),
        (f"/units/{unit}", f"/units/{unit}", {"kind": "学校", "quota": "9", "active": "0"}),
        (f"/units/{unit}", f"/units/{unit}/people", {"name": "某", "emails": "a@b.cn"}),
        (f"/units/{unit}", f"/units/{unit}/people/remove", {"name": "刘晓燕"}),
        ("/units/import", "/units/import/apply", {"token": "x" * 32}),
    ]


@pytest.mark.parametrize("who", ["viewer", "no-csrf", "forged-csrf"])
def test_a_viewer_or_a_form_without_its_token_changes_nothing(
    filed: App, who: str, tmp_path: Path
) -> None:
    browser = logged_in(filed, "wang" if who == "viewer" else "lihua")
    token: Callable[[str], dict[str, str]] = {
        "viewer": lambda page: {"csrf": csrf_of(browser.get(page).text)},
        "no-csrf": lambda page: {},
        "forged-csrf": lambda page: {"csrf": "forged"},
    }[who]
    expected = "没有权限" if who == "viewer" else "表单已失效"
    for page, path, data in posts(filed):
        answer = browser.post(path, data={**data, **token(page)})
        assert answer.status_code == 403, (path, answer.status_code)
        assert expected in answer.text, path
    form = registration(tmp_path)
    answer = browser.post("/units/import", data=token("/pieces"),
                          files={"file": (form.name, form.read_bytes(), "text/csv")})
    assert answer.status_code == 403 and expected in answer.text
    assert changes_made(filed) == []
    assert held_mail(filed).outcome == "quarantined"
    stored = unit_of(filed, "组织部")
    assert stored.active and stored.quota is None
    with session(filed.engine) as db:
        assert db.exec(select(Adoption)).first() is None
    if who == "viewer":
        page = browser.get(f"/held/{held_mail(filed).id}").text
        assert 'name="do"' not in page and "发件人未登记为信息员" in page
        assert "记录采用</button>" not in browser.get(
            f"/pieces/{accepted(filed, '组织部').tracking_no}").text
        assert "保存</button>" not in browser.get(f"/units/{stored.id}").text


def test_ids_of_another_shape_are_not_found(filed: App) -> None:
    clerk = logged_in(filed, "lihua")
    for path in ("/held/..%2F1", "/held/1%20OR%201=1", "/held/999999", "/units/x1",
                 "/units/999999", "/pieces/..%2Fx/adopt", "/pieces/99999999-99999/adopt"):
        assert clerk.get(path).status_code == 404, path
