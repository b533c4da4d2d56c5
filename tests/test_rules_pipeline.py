"""The notices' rules through the real pipeline, on SQLite and PostgreSQL:
what the correspondent gets back, and what the office finds filed."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import SHANGHAI
from office_pieces import send, text_of
from pieces import CHEN, LI, WANG, ZHANG, ZHAO, chinese, piece_mail, weekly, word_file
from sqlmodel import col, select

from mailintake.app import App
from mailintake.cli.views import submission_rows
from mailintake.store.database import session
from mailintake.store.models import Status, Submission

NOW = datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)  # Thursday of teaching week 11



def replies(app: App) -> list[EmailMessage]:
    folder = app.config.smtp.path or Path()
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]



@pytest.mark.parametrize(
    ("day", "status", "findings"),
    [
        (datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI), "accepted", []),  # week 12
        (datetime(2026, 12, 9, 9, 0, tzinfo=SHANGHAI), "rejected", ["subject.week_wrong"]),
    ],
)
def test_weekly_digest_of_week_12_in_week_12_and_in_week_14(
    app: App, day: datetime, status: str, findings: list[str]
) -> None:
    """`党政办公室第十二周工作动态信息` is accepted in week 12, rejected as the wrong week in 14."""
    send(app, day, piece_mail(CHEN, "党政办公室第十二周工作动态信息", weekly(1)))
    [row] = submission_rows(app)
    assert (row["status"], row["findings"], row["unit"]) == (status, findings, "党政办公室")
    if status == "rejected":
        [reply] = replies(app)
        assert "收稿时是第十四周" in text_of(reply)
        assert "党政办公室第十四周工作动态信息" in text_of(reply)


def test_weibo_piece_of_141_characters_is_rejected(app: App) -> None:
    """A Weibo post of 140 characters is filed; one of 141 comes back, saying why."""
    for length in (140, 141):
        document = word_file("", [chinese(length, length)], ((1920, 1080, "图为课堂"),))
        subject = f"人文学院微博信息（2026.11.18）手机入袋{length}"
        send(app, NOW, piece_mail(ZHANG, subject, document))
    assert [(r["status"], r["findings"]) for r in submission_rows(app)] == [
        ("accepted", []), ("rejected", ["length.weibo_too_long"]),
    ]
    assert "共 141 字，超过 140 字的上限" in text_of(replies(app)[-1])


def test_same_word_file_from_two_schools_is_a_duplicate_of_the_first(app: App) -> None:
    """The second school's copy is rejected as a duplicate naming the first's tracking number;
    so is the same text re-saved in another file, with other photos, spacing and punctuation."""
    text = chinese(220, 2)
    document = word_file("", [text], ((1600, 1200, "图为运动会现场"),))
    send(app, NOW, piece_mail(LI, "实验小学（李娜）开展秋季趣味运动会", document))
    send(app, NOW + timedelta(hours=2),
         piece_mail(WANG, "东街小学（王喆）开展秋季趣味运动会", document))
    resaved = word_file("", [f"{text[:110]}， {text[110:]}。"], ((1024, 768, "图为运动会现场"),))
    send(app, NOW + timedelta(hours=3), piece_mail(ZHAO, "一幼（赵镕）开展秋季趣味运动会", resaved))
    first, *copies = submission_rows(app)
    assert first["status"] == "accepted"
    assert [(c["status"], c["findings"]) for c in copies] == [
        ("rejected", ["duplicate.document"]), ("rejected", ["duplicate.document"]),
    ]
    for reply in replies(app)[1:]:
        assert first["tracking_no"] in text_of(reply) and "实验小学" in text_of(reply)


def test_nearly_the_same_text_is_a_duplicate(app: App) -> None:
    """A village school's copy with its own name put in is rejected as nearly the same."""
    text = chinese(250, 4)
    send(app, NOW, piece_mail(LI, "实验小学（李娜）开展消防演练",
                              word_file("", [text], ((1600, 1200, "图为演练"),))))
    edited = text[:100] + "东街小学" + text[104:200] + "东街小学" + text[204:]
    send(app, NOW + timedelta(hours=1), piece_mail(
        WANG, "东街小学（王喆）开展消防演练", word_file("", [edited], ((1600, 1200, "图为演练"),))))
    first, second = submission_rows(app)
    assert second["findings"] == ["duplicate.similar"]
    assert first["tracking_no"] in text_of(replies(app)[-1])


def _versions(app: App) -> list[tuple[str, int, int | None]]:
    with session(app.engine) as db:
        rows = db.exec(select(Submission).order_by(col(Submission.id))).all()
        ids = {s.id: n for n, s in enumerate(rows, start=1)}
        return [(s.status, s.version, ids.get(s.replaces_id)) for s in rows]


def test_correction_with_the_same_subject_replaces_the_earlier_version(app: App) -> None:
    """Re-sent by the same unit with the same subject, a piece replaces the version before
    it and counts once, whether its text changed or is sent again unchanged."""
    text = chinese(220, 5)
    subject = "实验小学（李娜）开展秋季趣味运动会"
    send(app, NOW, piece_mail(LI, subject, word_file("", [text], ((1600, 1200, "图为现场"),))))
    corrected = word_file("", [text[:50] + "全校师生" + text[54:]], ((1600, 1200, "图为现场"),))
    send(app, NOW + timedelta(hours=5), piece_mail(LI, f"更正：{subject}", corrected))
    assert "已替换此前登记的第 1 版" in text_of(replies(app)[-1])
    send(app, NOW + timedelta(hours=6), piece_mail(LI, subject, corrected))
    assert _versions(app) == [
        (Status.SUPERSEDED, 1, None), (Status.SUPERSEDED, 2, 1), (Status.ACCEPTED, 3, 2),
    ]
    receipt = text_of(replies(app)[-1])
    assert "已替换此前登记的第 2 版" in receipt
    assert "实验小学本月已登记稿件 1 篇" in receipt


def test_rejected_correction_leaves_version_1_in_place(app: App) -> None:
    """A corrected piece that is itself rejected replaces nothing."""
    subject = "实验小学（李娜）开展秋季趣味运动会"
    send(app, NOW, piece_mail(LI, subject, word_file("", [chinese(220, 6)], ((1600, 1200, "图"),))))
    send(app, NOW + timedelta(hours=1), piece_mail(
        LI, subject, word_file("", [chinese(220, 7)]), ("第二篇.docx", word_file("", ["另一篇"]))))
    assert _versions(app) == [(Status.ACCEPTED, 1, None), (Status.REJECTED, 1, None)]


def test_same_piece_after_the_correction_window_is_a_duplicate_of_its_own(app: App) -> None:
    """Eight days later the same subject and text is no correction but a duplicate."""
    subject = "实验小学（李娜）开展秋季趣味运动会"
    document = word_file("", [chinese(220, 8)], ((1600, 1200, "图为现场"),))
    send(app, NOW, piece_mail(LI, subject, document))
    send(app, NOW + timedelta(days=8), piece_mail(LI, subject, document))
    assert [r["findings"] for r in submission_rows(app)] == [[], ["duplicate.document"]]
    assert _versions(app)[0] == (Status.ACCEPTED, 1, None)


def test_late_piece_is_filed_with_a_warning_in_the_receipt(app: App) -> None:
    """An event 9 days before arrival is filed; the receipt points out the 3-day rule."""
    document = word_file("", [chinese(280, 9)], ((1600, 1200, "图为会场"),))
    send(app, NOW, piece_mail(CHEN, "党政办信息（2026.11.10）学校召开安全工作会议", document))
    [row] = submission_rows(app)
    assert (row["status"], row["unit"], row["findings"]) == (
        "accepted", "党政办公室", ["subject.date_late"]
    )
    assert "超过了事后 3 天内报送的要求" in text_of(replies(app)[0])


def test_one_rejection_names_every_problem(app: App) -> None:
    """A future date, a long title and no picture come back together in one rejection."""
    subject = f"党政办公室信息（2026.11.25）{chinese(45, 10)}"
    send(app, NOW, piece_mail(CHEN, subject, word_file("", [chinese(280, 11)])))
    [row] = submission_rows(app)
    assert row["findings"] == [
        "subject.title_too_long", "subject.date_future", "pictures.too_few",
    ]
    [reply] = replies(app)
    body = text_of(reply)
    assert "超过网站信息栏目 40 个字的上限" in body
    assert "晚于收稿日期 2026.11.19" in body
    assert "至少 1 张图片" in body
