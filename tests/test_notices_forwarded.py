"""Forwarded drafts (seed 004: 直接转发本乡镇中小学稿子发到局邮箱，不审阅不修改) through the
real pipeline on SQLite and PostgreSQL: the receipt or the rejection asks the
correspondent to review the piece and send it as the unit's own, and the
clerk's list shows the finding."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import SHANGHAI
from notices_mail import (  # noqa: F401 (office is a fixture)
    Office,
    foxmail,
    office,
    replies,
)
from office_pieces import send, text_of
from pieces import LI, WANG, chinese, piece_mail, word_file

from mailintake.cli.views import submission_rows

SUBJECT = "东街小学（李明）开展秋季趣味运动会"
ASK = "以本单位名义审核修改后重新报送"
NOWS = [
    datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI),
    datetime(2026, 12, 8, 16, 30, tzinfo=SHANGHAI),
]


def _document(seed: int = 1) -> bytes:
    return word_file("", [chinese(220, seed)], ((1600, 1200, "图为运动会现场"),))


@pytest.mark.parametrize("prefix", ["转发：", "转发:", "Fw:", "FW: ", "Fwd:", "转："])
@pytest.mark.parametrize("now", NOWS)
def test_forward_prefix_is_filed_with_a_warning(
    office: Office, prefix: str, now: datetime
) -> None:
    """`转发：东街小学（李明）…` is filed for the unit, its receipt asking for a reviewed piece."""
    app = office()
    send(app, now, foxmail(WANG, "王喆", prefix + SUBJECT, _document()))
    [row] = submission_rows(app)
    assert (row["status"], row["unit"], row["findings"]) == (
        "accepted", "城关镇东街小学", ["forwarded.draft"])
    [receipt] = replies(app)
    body = text_of(receipt)
    assert "【回执】" in str(receipt["Subject"])
    assert "本稿像是直接转发的稿件" in body and f"主题以「{prefix.strip()}」开头" in body
    assert ASK in body


@pytest.mark.parametrize("now", NOWS)
def test_forward_that_asks_for_review_is_rejected_when_the_office_says_so(
    office: Office, now: datetime
) -> None:
    """`[checks] severity = {"forwarded.draft" = "reject"}`: `转发：…请审核` comes back."""
    app = office('\n[checks]\nseverity = { "forwarded.draft" = "reject" }\n')
    body = "各位老师：\n    附件是东街小学李明老师写的稿子，请审核。\n王喆"
    send(app, now, foxmail(WANG, "王喆", "转发：" + SUBJECT, _document(2), body=body))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("rejected", ["forwarded.draft"])
    [rejection] = replies(app)
    assert "【退回】" in str(rejection["Subject"])
    assert "本稿像是直接转发的稿件" in text_of(rejection) and ASK in text_of(rejection)


@pytest.mark.parametrize(
    "body",
    [
        "请看附件。\n\n-------- 转发邮件信息 --------\n发件人：\"李明\" <liming@163.com>\n"
        "发送日期：2026-11-18 17:20:11\n收件人：wangzhe@126.com\n主题：东街小学运动会\n",
        "王老师：\n\n------------------ 原始邮件 ------------------\n发件人: 李明\n"
        "发送时间: 2026年11月18日(星期三) 下午5:20\n收件人: 王喆\n",
        "\n\n发件人：李明 <liming@163.com>\n发送时间：2026-11-18 17:20\n主题：运动会稿子\n",
    ],
    ids=["foxmail", "qq", "quoted-headers"],
)
@pytest.mark.parametrize("now", NOWS)
def test_forwarded_message_in_the_body_is_pointed_out(
    office: Office, body: str, now: datetime
) -> None:
    """A client's quoted header block in the body marks the mail as forwarded."""
    app = office()
    send(app, now, foxmail(WANG, "王喆", SUBJECT, _document(3), body=body))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", ["forwarded.draft"])
    text = text_of(replies(app)[0])
    assert "正文中有转发的原邮件信息" in text and ASK in text


@pytest.mark.parametrize("now", NOWS)
def test_mail_carried_inside_is_a_forwarded_draft(
    office: Office, now: datetime
) -> None:
    """A village teacher's mail passed on as an attachment (message/rfc822)."""
    app = office()
    inner = piece_mail("liming@163.com", SUBJECT, _document(4))
    send(app, now, foxmail(WANG, "王喆", SUBJECT, None, body="请查收。", forwards=inner))
    [row] = submission_rows(app)
    assert "forwarded.draft" in row["findings"]
    text = text_of(replies(app)[0])
    assert "邮件中附有转发的原邮件" in text and ASK in text


@pytest.mark.parametrize("now", NOWS)
def test_body_naming_another_author_and_asking_for_review(
    office: Office, now: datetime
) -> None:
    """No prefix, but 作者：李明 … 请审核 from 王喆: another author's draft passed on."""
    app = office()
    body = "局办公室：\n    作者：李明\n    这篇稿件请审核后采用。\n王喆"
    send(app, now, foxmail(WANG, "王喆", SUBJECT, _document(5), body=body))
    [row] = submission_rows(app)
    assert row["findings"] == ["forwarded.draft"]
    assert "正文写明稿件出自「李明」并请求审核" in text_of(replies(app)[0])


@pytest.mark.parametrize(
    "body",
    [
        "老师好，稿件见附件，请审阅。",  # polite, names nobody else
        "各位老师：\n    这是我写的稿子，请审核。\n李娜",  # the sender's own
        "作者：李娜\n请审核。",  # the sender herself named as author
    ],
)
def test_own_piece_asking_for_review_is_not_a_forwarded_draft(
    office: Office, body: str
) -> None:
    app = office()
    send(app, NOWS[0], foxmail(LI, "李娜", "实验小学（李娜）开展秋季趣味运动会", _document(6),
                               body=body))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", [])
    assert "转发" not in text_of(replies(app)[0])


def test_column_severity_wins_over_the_office_wide_one(office: Office) -> None:
    """Office-wide reject, but the general column keeps forwarded drafts as a warning."""
    extra = """
[checks]
severity = { "forwarded.draft" = "reject" }

[[columns]]
key = "general"
name = "教育信息"
subject = "{单位}（{作者}）{标题}"
severity = { "forwarded.draft" = "warn" }
"""
    app = office(extra)
    send(app, NOWS[0], foxmail(WANG, "王喆", "Fwd: " + SUBJECT, _document(7)))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"]) == ("accepted", ["forwarded.draft"])
