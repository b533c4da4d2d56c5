"""`submissions add`: a piece that came by QQ or on paper, filed by a clerk, goes through the
same checks and counts as a mailed one: judged as at the day it was received, numbered for
that day, counted for its unit, and its correspondent hears of it only when asked."""

from __future__ import annotations

import json
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import NOW, SHANGHAI
from console_data import add_user, csrf_of, logged_in
from pieces import news, photo
from sqlmodel import select
from test_retry import cli

from mailintake.app import App
from mailintake.store import accounts
from mailintake.store.database import session
from mailintake.store.models import Finding, InboundMessage, OutboxMessage, Submission

SUBJECT = "实验小学信息（2026.11.15）开展秋季趣味运动会"


def files(folder: Path, seed: int = 1) -> tuple[Path, Path]:
    """A captioned news piece as python-docx writes it, and a photo sent beside it."""
    document, picture = folder / "趣味运动会.docx", folder / "现场.jpg"
    document.write_bytes(news(260, seed))
    picture.write_bytes(photo(1600, 1200, 5))
    return document, picture


def pieces(app: App) -> list[tuple[Submission, InboundMessage, list[str]]]:
    with session(app.engine) as db:
        found = []
        for piece in db.exec(select(Submission).order_by(Submission.id)).all():  # type: ignore[arg-type]
            message = db.get(InboundMessage, piece.message_id)
            assert message is not None
            codes = db.exec(select(Finding.code)
                            .where(Finding.submission_id == piece.id)).all()
            found.append((piece, message, list(codes)))
        return found


def outbox(app: App) -> list[OutboxMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(OutboxMessage)).all())


def test_a_qq_piece_is_judged_numbered_and_counted_as_of_the_day_received(
    app: App, tmp_path: Path
) -> None:
    """李娜 posted 实验小学's piece of the 15th in the QQ group on the 17th; the clerk files
    it on the 19th. On the 19th it would be late (活动结束后 3 天); as of the 17th it is on
    time, numbered 20261117-…, counted on the 15th, and 李娜 gets no receipt."""
    document, picture = files(tmp_path)
    done = cli(tmp_path, NOW, "submissions", "add", str(document), "--unit", "实验小学",
               "--correspondent", "李娜", "--subject", SUBJECT, "--received", "2026-11-17",
               "--via", "qq", "--photo", str(picture))
    assert done.returncode == 0, done.stderr
    assert "已登记：登记号 20261117-" in done.stdout and "未发回执" in done.stdout

    [(piece, message, codes)] = pieces(app)
    assert piece.tracking_no is not None and piece.tracking_no.startswith("20261117-")
    assert piece.status == "accepted" and piece.column == "website"
    assert piece.received_at == datetime(2026, 11, 17, 12, 0, tzinfo=SHANGHAI)
    assert piece.counted_at == datetime(2026, 11, 15, tzinfo=SHANGHAI)
    assert piece.picture_count == 2 and piece.word_count == 260 + len("图为活动现场1")
    assert piece.correspondent_id is not None and piece.unit_id is not None
    assert "subject.date_late" not in codes
    assert (message.mailbox, message.via, message.from_addr) == ("console", "qq",
                                                                "lina@foxmail.com")
    assert (app.storage.root / app.storage.raw_path(message.raw_sha256)).is_file()
    assert outbox(app) == []
    trail = accounts.trail(app.engine, f"piece:{piece.tracking_no}")
    assert [t.action for t in trail] == ["piece.manual"]
    assert trail[0].who.endswith("（命令行）") and "来源：QQ" in trail[0].detail

    listed = [json.loads(line) for line in cli(tmp_path, NOW, "submissions", "list",
                                               "--format", "json").stdout.splitlines()]
    assert listed[0]["via"] == "qq" and listed[0]["tracking_no"] == piece.tracking_no
    assert {"unit", "column", "title", "status", "findings", "word_count", "picture_count",
            "received_at", "message_id"} <= set(listed[0])
    report = cli(tmp_path, NOW, "report", "--period", "2026-11", "--format", "json")
    rows = {row["unit"]: row for row in json.loads(report.stdout)["rows"]}
    assert rows["实验小学"]["accepted"] == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_receipts_only_when_asked_and_possible(app: App, tmp_path: Path) -> None:
    """Asked for, the receipt a mailed piece gets is queued; a paper piece of a teacher with
    no address is filed for the unit, and the clerk hears that no receipt can go. The same
    Word file filed again is a duplicate, sent back by the usual rule."""
    document, picture = files(tmp_path)
    done = cli(tmp_path, NOW, "submissions", "add", str(document), "--unit", "实验小学",
               "--subject", SUBJECT, "--received", "2026-11-18", "--photo", str(picture),
               "--receipt")
    assert done.returncode == 0, done.stderr
    assert "回执已排入发件箱" in done.stdout
    [receipt] = outbox(app)
    assert (receipt.kind, receipt.recipient) == ("receipt", "lina@foxmail.com")
    body = message_from_bytes(receipt.raw, policy=policy.default)
    assert isinstance(body, EmailMessage)
    text = body.get_body(("plain",))
    assert text is not None and "已登记稿件 1 篇（含本篇）" in str(text.get_content())

    paper = tmp_path / "paper"
    paper.mkdir()
    other, _ = files(paper, seed=2)
    done = cli(tmp_path, NOW, "submissions", "add", str(other), "--unit", "第一幼儿园",
               "--correspondent", "周老师", "--subject",
               "第一幼儿园信息（2026.11.18）开展消防安全演练", "--received", "2026-11-19",
               "--via", "paper", "--receipt")
    assert done.returncode == 0, done.stderr
    assert "没有登记邮箱，无法发送回执" in done.stdout
    again = cli(tmp_path, NOW, "submissions", "add", str(document), "--unit", "实验小学",
                "--subject", "实验小学信息（2026.11.15）开展秋季运动会", "--received",
                "2026-11-18")
    assert again.returncode == 0, again.stderr
    assert "已登记为退回" in again.stdout and "相同" in again.stdout

    first, on_paper, twice = pieces(app)
    assert first[0].status == "accepted"
    assert on_paper[0].status == "accepted" and on_paper[0].correspondent_id is None
    assert on_paper[1].via == "paper" and on_paper[1].from_addr.endswith(".invalid")
    assert on_paper[0].tracking_no is not None and on_paper[0].tracking_no.startswith("20261119-")
    assert twice[0].status == "rejected" and "duplicate.document" in twice[2]
    assert len(outbox(app)) == 1  # neither the paper piece nor the duplicate told anyone


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_a_file_that_is_no_word_file_is_refused_and_nothing_filed(
    app: App, tmp_path: Path
) -> None:
    broken = tmp_path / "稿件.docx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 300)
    done = cli(tmp_path, NOW, "submissions", "add", str(broken), "--unit", "实验小学",
               "--subject", SUBJECT, "--received", "2026-11-17")
    assert done.returncode == 1
    assert "错误：「稿件.docx」无法读取：Word 文件已损坏" in done.stderr
    assert "Traceback" not in done.stderr
    scan = tmp_path / "稿件.pdf"
    scan.write_bytes(b"%PDF-1.4")
    done = cli(tmp_path, NOW, "submissions", "add", str(scan), "--unit", "实验小学",
               "--subject", SUBJECT, "--received", "2026-11-17")
    assert done.returncode == 1 and "请上传 Word 文件" in done.stderr
    document, _picture = files(tmp_path)
    fake = tmp_path / "现场.jpg"
    fake.write_bytes(b"not a picture at all")
    done = cli(tmp_path, NOW, "submissions", "add", str(document), "--unit", "实验小学",
               "--subject", SUBJECT, "--received", "2026-11-17", "--photo", str(fake))
    assert done.returncode == 1 and "「现场.jpg」无法读取：图片无法读取" in done.stderr
    with session(app.engine) as db:
        assert db.exec(select(InboundMessage)).all() == []
    assert pieces(app) == []
    assert list(app.storage.root.glob("raw/**/*.eml")) == []  # no mail kept for them


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_the_console_form_refuses_viewers_forged_posts_and_bad_files(
    app: App, tmp_path: Path
) -> None:
    """/pieces/new is a clerk's: a viewer may not open it, a post without the login's
    token is refused, and a corrupt or oversize file is one Chinese line, nothing filed."""
    add_user(app, "李华", "clerk")
    add_user(app, "访客", "viewer")
    assert logged_in(app, "访客").get("/pieces/new").status_code == 403
    clerk = logged_in(app, "李华")
    form = clerk.get("/pieces/new")
    assert form.status_code == 200 and "给信息员发回执" in form.text
    fields = {"csrf": csrf_of(form.text), "unit": "实验小学", "subject": SUBJECT,
              "received": "2026-11-17", "via": "qq"}
    document, _picture = files(tmp_path)
    forged = clerk.post("/pieces/new", data={**fields, "csrf": "x"},
                        files={"file": ("稿件.docx", document.read_bytes())})
    assert forged.status_code == 403
    corrupt = clerk.post("/pieces/new", data=fields,
                         files={"file": ("稿件.docx", b"PK\x03\x04" + b"\x00" * 300)})
    assert corrupt.status_code == 400
    assert "「稿件.docx」无法读取：Word 文件已损坏" in corrupt.text
    assert SUBJECT in corrupt.text  # what the clerk typed is kept
    small = App(config=app.config.model_copy(update={"limits": app.config.limits.model_copy(
        update={"max_attachment_bytes": 4096})}), engine=app.engine, storage=app.storage,
        replies=app.replies, clock=app.clock)
    limited = logged_in(small, "李华")
    big = limited.post("/pieces/new", data={**fields, "csrf": csrf_of(
        limited.get("/pieces/new").text)}, files={"file": ("稿件.docx", document.read_bytes())})
    assert big.status_code == 400 and "「稿件.docx」过大（超过 4 KB）" in big.text
    with session(app.engine) as db:
        assert db.exec(select(InboundMessage)).all() == []
