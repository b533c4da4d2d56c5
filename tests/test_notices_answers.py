"""Answers to our own replies (issue 18, point 11), through the real pipeline on SQLite and
PostgreSQL: a correspondent who answers a rejection with a question is heard by a person,
not rejected again, and the question counts for no unit; one who answers it with the
corrected Word file has the piece filed."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from conftest import SHANGHAI
from office_pieces import body_text, make_app, parsed, send, text_of
from pieces import LI, chinese, mail, news, photo, piece_mail, word_file
from sqlmodel import col, select
from test_rules import CONFIG, UNITS

from mailintake.app import App
from mailintake.cli.views import submission_rows
from mailintake.office.digest import queue_digest
from mailintake.office.periods import period_of
from mailintake.office.reports import build_report
from mailintake.reading.mail import read_mail
from mailintake.rules import answers
from mailintake.rules.columns import SubjectMatcher
from mailintake.rules.decide import Office, decide
from mailintake.rules.gates import ACK_EVERY, Case, Known, Reply
from mailintake.rules.values import Registry, Sender
from mailintake.service.status import quarantined_table
from mailintake.store import outbox as stored_outbox
from mailintake.store.database import session
from mailintake.store.models import InboundMessage, OutboxMessage

# A Thursday of teaching week 11, and a Tuesday of week 14 (another month).
DAYS = [datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI),
        datetime(2026, 12, 8, 9, 30, tzinfo=SHANGHAI)]
QUESTION = "请问主题应该怎么写？图片是插在文档里还是作为附件？"



def sent(app: App) -> list[EmailMessage]:
    """Every mail the outbox delivered, in order (the folder sender writes .eml files)."""
    folder = app.config.smtp.path or Path()
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))]



def outbox(app: App, kind: str) -> list[OutboxMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)
                            .order_by(col(OutboxMessage.id))).all())


def messages(app: App) -> list[InboundMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all())


def subject_of(day: datetime) -> str:
    return f"实验小学信息（{day:%Y.%m.%d}）开展秋季趣味运动会"


def first_draft(day: datetime) -> bytes:
    """A website piece whose Word file has no picture: rejected (网站信息 needs one)."""
    return piece_mail(LI, subject_of(day), word_file("", [chinese(300, 11)]))


def corrected(day: datetime) -> bytes:
    """The same piece with its captioned photo, as a Foxmail answer to our rejection."""
    return word_file("", [chinese(300, 11)], ((1600, 1200, "图为运动会现场"),))


def foxmail_answer(rejection: OutboxMessage, day: datetime, *files: tuple[str, bytes],
                   body: str = QUESTION) -> bytes:
    """Foxmail's 回复: ``回复：`` + our subject, In-Reply-To and References set, our
    text quoted below the question."""
    quoted = "\n".join(f"> {line}" for line in rejection.raw.decode("ascii").splitlines()[:3])
    raw = mail(LI, f"回复：{rejection.subject}", *files,
               body=f"{body}\n\n------------------ 原始邮件 ------------------\n{quoted}\n")
    message = email.message_from_bytes(raw, policy=email.policy.SMTP)
    message["In-Reply-To"] = f"<{rejection.message_id}>"
    message["References"] = f"<{make_msgid(domain='foxmail.com')[1:-1]}> <{rejection.message_id}>"
    del message["Date"]
    message["Date"] = email.utils.format_datetime(day)
    return message.as_bytes(policy=email.policy.SMTP)


def webmail_answer(rejection: OutboxMessage, day: datetime) -> bytes:
    """A webmail answer that keeps no In-Reply-To or References: only ``答复: `` and our
    subject, written in GBK, as is its plain-text body."""
    subject = base64.b64encode(f"答复: {rejection.subject}".encode("gbk")).decode()
    body = base64.encodebytes(f"老师好！\r\n{QUESTION}\r\n李娜".encode("gbk")).decode()
    name = base64.b64encode("李娜".encode("gbk")).decode()
    return (
        f"From: =?GBK?B?{name}?= <lina@foxmail.com>\r\n"
        "To: xxbs@126.com\r\n"
        f"Subject: =?GBK?B?{subject}?=\r\n"
        f"Date: {email.utils.format_datetime(day)}\r\n"
        f"Message-ID: {make_msgid(domain='qq.com')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="GBK"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + body
    ).encode("ascii")


def unit_row(app: App, day: datetime) -> dict[str, object]:
    report = build_report(app.engine, app.config, period_of("month", day.date()), "unit", day)
    [row] = [r for r in report.rows if r["unit"] == "实验小学"]
    return row


@pytest.mark.parametrize("day", DAYS, ids=["november", "december"])
def test_a_question_answering_our_rejection_goes_to_a_person(app: App, day: datetime) -> None:
    """The rejection's answer with a question waits in 待人工 for the clerk, counts for no
    unit, and is acknowledged once a day: with In-Reply-To, or by its subject alone."""
    send(app, day, first_draft(day))
    [rejection] = outbox(app, "rejection")
    assert rejection.message_id and rejection.subject.startswith("【退回】")
    [delivered] = sent(app)
    assert delivered["Message-ID"] == f"<{rejection.message_id}>"
    assert delivered["Subject"] == rejection.subject

    # Foxmail: 回复：【退回】…, In-Reply-To naming our rejection.
    send(app, day + timedelta(hours=1), foxmail_answer(rejection, day + timedelta(hours=1)))
    question = messages(app)[-1]
    assert (question.outcome, question.reasons, question.target_folder) == (
        "quarantined", ["reply.question"], "待人工")
    [ack] = outbox(app, "question")
    reply = sent(app)[-1]
    assert reply["Subject"].startswith("【收悉】已收到您的来信：回复：【退回】")
    assert reply["To"] == LI and reply["In-Reply-To"] == f"<{question.message_id}>"
    assert "已收到您的来信，已转交信息科工作人员" in text_of(reply)
    assert "不计入报送篇数" in text_of(reply)
    assert ack.message_id  # an answer to the acknowledgement is known as one too

    # A webmail that drops the headers, in GBK, two hours later: to a person, no second ack.
    send(app, day + timedelta(hours=3), webmail_answer(rejection, day + timedelta(hours=3)))
    webmail = messages(app)[-1]
    assert webmail.subject == f"答复: {rejection.subject}"
    assert (webmail.outcome, webmail.reasons) == ("quarantined", ["reply.question"])
    assert len(outbox(app, "question")) == 1
    assert len(sent(app)) == 2  # the rejection and one acknowledgement

    # The report counts the one piece sent and rejected, not the questions.
    row = unit_row(app, day)
    assert (row["received"], row["accepted"], row["rejected"]) == (1, 0, 1)
    assert [r["status"] for r in submission_rows(app)] == ["rejected"]
    # The clerk sees both questions, with the reason in Chinese.
    table = quarantined_table(app)
    assert table.count("信息员回复我们的邮件提问，未附新稿件") == 2
    assert "reply.question" not in table

    # A day later the correspondent asks again and hears again.
    later = day + timedelta(hours=26)
    send(app, later, foxmail_answer(rejection, later, body="请问修改后发到哪个邮箱？"))
    assert messages(app)[-1].reasons == ["reply.question"]
    assert len(outbox(app, "question")) == 2
    assert sent(app)[-1]["Subject"].startswith("【收悉】")
    row = unit_row(app, later)
    assert (row["received"], row["rejected"]) == (1, 1)

    # The week's digest, on the Monday after, counts one piece and lists the questions.
    monday = (day + timedelta(days=7 - day.weekday())).replace(hour=8, minute=0)
    assert queue_digest(app, monday)
    [digest] = outbox(app, "digest")
    assert digest.message_id and parsed(digest)["Message-ID"] == f"<{digest.message_id}>"
    text = body_text(parsed(digest))
    assert "共收到稿件 1 篇：登记 0 篇（其中带提醒 0 篇），退回 1 篇" in text
    assert "等待人工处理的邮件（待人工，3 封）" in text
    assert text.count("信息员回复我们的邮件提问，未附新稿件，请工作人员答复") == 3
    assert f"「答复: {rejection.subject}」" in text


@pytest.mark.parametrize("day", DAYS, ids=["november", "december"])
def test_an_answer_with_the_corrected_word_file_is_filed_as_the_piece(
    app: App, day: datetime
) -> None:
    """Answering the rejection with the corrected Word file is a piece: the subject behind
    回复：【退回】…： is the original one, so it is matched, checked and filed, with a receipt."""
    send(app, day, first_draft(day))
    [rejection] = outbox(app, "rejection")
    later = day + timedelta(hours=2)
    answer = foxmail_answer(rejection, later, (f"{subject_of(day)}.docx", corrected(day)),
                            body="老师好，已按要求修改，请审阅。")
    send(app, later, answer)
    assert messages(app)[-1].outcome == "filed"
    first, second = submission_rows(app)
    assert (first["status"], second["status"]) == ("rejected", "accepted")
    assert (second["unit"], second["column"], second["title"]) == (
        "实验小学", "website", "开展秋季趣味运动会")
    assert second["findings"] == []
    assert outbox(app, "question") == []
    receipt = sent(app)[-1]
    assert receipt["Subject"].startswith("【回执】")
    assert second["tracking_no"] in receipt["Subject"]


def test_an_answer_to_our_receipt_with_a_new_piece_is_checked_as_a_piece(app: App) -> None:
    """A correspondent who clicks 回复 on last week's receipt to send the next piece is
    checked as a piece (a Word file is attached); without one, it is a question."""
    day = DAYS[0]
    send(app, day, piece_mail(LI, subject_of(day), corrected(day)))
    [receipt] = outbox(app, "receipt")
    answer = mail(LI, f"Re: {receipt.subject}", ("新稿件.docx", corrected(day)))
    send(app, day + timedelta(hours=1), answer)
    # Its subject names no column (our receipt quotes only the title): rejected as a piece.
    assert messages(app)[-1].outcome == "rejected"
    assert "subject.format" in submission_rows(app)[-1]["findings"]
    send(app, day + timedelta(hours=2), mail(LI, f"RE: {receipt.subject}", body="收到，谢谢！"))
    assert messages(app)[-1].reasons == ["reply.question"]
    assert len(submission_rows(app)) == 2


def test_an_answer_known_by_its_in_reply_to_alone_is_a_question(app: App) -> None:
    """A correspondent who rewrites the subject of the answer (no 回复：, no tag) is still
    known by In-Reply-To; and the store finds our mail by its subject for a client that
    drops the headers, whatever words the office's templates put in it."""
    day = DAYS[1]
    send(app, day, first_draft(day))
    [rejection] = outbox(app, "rejection")
    answer = email.message_from_bytes(
        mail(LI, "请问网站信息的主题格式", body=QUESTION), policy=email.policy.SMTP)
    answer["In-Reply-To"] = f"<{rejection.message_id}>"
    send(app, day + timedelta(minutes=30), answer.as_bytes(policy=email.policy.SMTP))
    assert messages(app)[-1].reasons == ["reply.question"]
    assert len(outbox(app, "question")) == 1
    assert [r["status"] for r in submission_rows(app)] == ["rejected"]
    assert stored_outbox.answered(app.engine, [], LI, rejection.subject) == rejection.subject
    assert stored_outbox.answered(app.engine, [], "someone@else.test", rejection.subject) == ""
    assert stored_outbox.answered(app.engine, ["nobody@x.test"], LI, "实验小学信息") == ""


BRIEFS = """
[[columns]]
key = "brief"
name = "简讯"
subject = "{单位}简讯（{日期}）{标题}"
example = "实验小学简讯（2026.11.19）开展消防演练"
require_document = false
min_pictures = 1
"""


def test_an_answer_whose_body_is_the_piece_is_checked_as_one(
    tmp_path: Path, db_url: str
) -> None:
    """Where a column takes pieces written in the mail body (no Word file), an answer to
    our rejection naming that column, with the body and the photo, is the piece."""
    day = DAYS[0]
    app = make_app(tmp_path / "briefs", db_url, BRIEFS, lambda: day)
    try:
        subject = f"实验小学简讯（{day:%Y.%m.%d}）开展消防演练"
        text = chinese(120, 21)
        send(app, day, mail(LI, subject, body=text))
        [rejection] = outbox(app, "rejection")
        assert submission_rows(app)[0]["findings"] == ["pictures.too_few"]
        answer = foxmail_answer(rejection, day, ("现场.jpg", photo(1600, 1200)), body=text)
        send(app, day + timedelta(hours=1), answer)
        assert messages(app)[-1].outcome == "filed"
        assert [(r["status"], r["column"]) for r in submission_rows(app)] == [
            ("rejected", "brief"), ("accepted", "brief")]
        assert outbox(app, "question") == []
    finally:
        app.engine.dispose()


SENDER = Sender(4, "李娜", (UNITS["实验小学"],))
OFFICE = Office(CONFIG, SubjectMatcher(CONFIG.columns, Registry(tuple(UNITS.values())).names()))
QUESTION_MAIL = mail(
    LI, "回复：【退回】稿件未能登记，请修改后重发：实验小学信息（2026.11.19）开展活动",
    body=QUESTION)


def _case(raw: bytes, robot: str | None = None) -> Case:
    reading = read_mail(raw, CONFIG.limits)
    return Case(mail=reading.mail, reading=reading, size=len(raw), key="mail:q", robot=robot)


@pytest.mark.parametrize(
    ("the_case", "the_known", "gate", "reply"),
    [
        # From a stranger it is the unregistered gate's, as before; a robot's is ignored.
        (_case(QUESTION_MAIL), Known(), "unregistered", None),
        (_case(QUESTION_MAIL, robot="auto.submitted"), Known(sender=SENDER), "robot", None),
        # Registered: a question, by its subject or by what the store found.
        (_case(QUESTION_MAIL), Known(sender=SENDER), "question", Reply("question", ACK_EVERY)),
        (_case(mail(LI, "请问", body=QUESTION)), Known(sender=SENDER, answering="【回执】…"),
         "question", Reply("question", ACK_EVERY)),
        # An answer with a Word file is a piece: no gate stops it.
        (_case(mail(LI, "Re: 【退回】…：实验小学（李娜）开展活动", ("稿.docx", news(300, 3)))),
         Known(sender=SENDER), "", None),
    ],
)
def test_the_question_gate_comes_after_the_sender_is_known(
    the_case: Case, the_known: Known, gate: str, reply: Reply | None
) -> None:
    """On plain values: the question gate stops only a registered sender's answer to one of
    our replies that brings no Word file, and acknowledges it at most once a day."""
    decision = decide(the_case, the_known, OFFICE, DAYS[0])
    assert decision.gate == gate
    if gate:
        assert decision.entry is None and decision.reply == reply
    else:
        assert decision.entry is not None and decision.entry.unit is not None
        assert decision.entry.unit.name == "实验小学"


def test_our_subjects_and_answers_are_told_apart() -> None:
    """Every tag our templates write is in TAGS; the reply prefixes clients write are known."""
    templates = Path(__file__).resolve().parent.parent / "mailintake/replies/templates"
    for template in templates.glob("*.txt.j2"):
        assert answers.ours(template.read_text(encoding="utf-8").removeprefix("Subject: ")), \
            template.name
    for prefix in ("回复：", "答复: ", "回覆：", "Re: ", "RE:", "Re[2]: ", "回复：Re: "):
        assert answers.looks_like_answer(f"{prefix}【退回】稿件未能登记")
    assert not answers.looks_like_answer("【退回】稿件未能登记")  # ours, not an answer
    assert not answers.looks_like_answer("Re: 实验小学信息（2026.11.19）开展活动")
    assert not answers.looks_like_answer("转发：【回执】稿件已登记")
    # In-Reply-To first, then References nearest first, each once.
    assert answers.message_ids("<a@x>", "<b@y> <c@z>\r\n <a@x>") == ["a@x", "c@z", "b@y"]
