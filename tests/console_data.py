"""The console's test data: the fixture mails and a hostile Word file filed through the
real pipeline, console users, and a logged-in Starlette TestClient."""

from __future__ import annotations

import io
import re

import docx
from conftest import deliver, fixture_mail
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from pieces import LI, chinese, mail, photo
from starlette.testclient import TestClient

from mailintake.app import App
from mailintake.intake import loop, pipeline
from mailintake.store import accounts
from mailintake.web.app import create_app
from mailintake.web.passwords import hash_password

FIXTURES = [
    "01_foxmail_gbk_weekly.eml", "02_outlook_rfc2231_website.eml", "03_web126_utf8_weibo.eml",
    "04_general_piece.eml", "05_central_school_for_village.eml", "06_reject_no_attachment.eml",
    "07_reject_bad_subject.eml", "08_unknown_sender.eml", "09_auto_reply.eml",
    "11_wrong_unit.eml",
]
#: A two-character word only the hostile piece holds (not among tests.pieces.POOL's characters).
WORD = "防汛"
HOSTILE_SUBJECT = "实验小学（李娜）开展防汛安全演练活动"
PASSWORD = "correct horse 42"


def hostile_word() -> bytes:
    """A news piece whose Word file carries markup and a javascript: link, and a photo."""
    document = docx.Document()
    document.add_paragraph("<script>document.title='pwned'</script>开展防汛安全演练")
    document.add_paragraph(chinese(120, 7) + WORD + chinese(60, 8))
    paragraph = document.add_paragraph("点击")
    relation = document.part.relate_to("javascript:document.title='pwned'",
                                       RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), relation)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "这里查看详情"
    run.append(text)
    link.append(run)
    paragraph._p.append(link)
    document.add_paragraph('<img src=x onerror="document.title=1">')
    document.add_picture(io.BytesIO(photo(1200, 900, 3)))
    document.add_paragraph("图为演练现场", style="Caption")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def hostile_mail() -> bytes:
    return mail(LI, HOSTILE_SUBJECT, (f"{HOSTILE_SUBJECT}.docx", hostile_word()))


def file_mails(app: App) -> pipeline.CycleReport:
    """Deliver the fixture mails and the hostile piece into the Maildir and take them in."""
    for name in FIXTURES:
        deliver(app.config, fixture_mail(name))
    deliver(app.config, hostile_mail())
    box = app.open_mailbox()
    try:
        report = pipeline.run_cycle(app, box)
        loop.record_cycle(app, box.name, report, app.clock())
        return report
    finally:
        box.close()


def add_user(app: App, name: str, role: str, password: str = PASSWORD) -> None:
    accounts.add_user(app.engine, name, role, hash_password(password))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def client(app: App, *, https: bool = False) -> TestClient:
    return TestClient(create_app(app), follow_redirects=False,
                      base_url="https://testserver" if https else "http://testserver")


def logged_in(app: App, name: str, password: str = PASSWORD) -> TestClient:
    """A client logged in as ``name`` through the login form."""
    browser = client(app)
    form = browser.get("/login")
    answer = browser.post("/login", data={"username": name, "password": password,
                                          "csrf": csrf_of(form.text), "next": "/pieces"})
    assert answer.status_code == 303, answer.text
    return browser
