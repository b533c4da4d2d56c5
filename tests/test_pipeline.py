"""The whole flow on the bundled fixture mails, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import mailbox
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import deliver, fixture_mail
from sqlmodel import func, select

from mailintake.app import App
from mailintake.cli.views import message_rows, submission_rows
from mailintake.intake import cycle, pipeline
from mailintake.mailbox.base import MailRef
from mailintake.store.database import session
from mailintake.store.models import Attachment, InboundMessage, OutboxMessage, Submission

# What the office expects of each fixture: outcome, reasons, unit, column.
EXPECTED = {
    "01_foxmail_gbk_weekly.eml": ("filed", [], "党政办公室", "weekly"),
    "02_outlook_rfc2231_website.eml": ("filed", [], "组织部", "website"),
    "03_web126_utf8_weibo.eml": ("filed", [], "人文学院", "weibo"),
    "04_general_piece.eml": ("filed", [], "实验小学", "general"),
    "05_central_school_for_village.eml": ("filed", [], "城关镇东街小学", "website"),
    # The website column asks for a picture too, and one reply names every problem.
    "06_reject_no_attachment.eml": (
        "rejected", ["document.missing", "pictures.too_few"], "党政办公室", "website",
    ),
    "07_reject_bad_subject.eml": ("rejected", ["subject.format"], "组织部", ""),
    "08_unknown_sender.eml": ("quarantined", ["sender.unregistered"], None, None),
    "09_auto_reply.eml": ("ignored", ["auto.submitted"], None, None),
    "10_duplicate_of_01.eml": ("ignored", ["duplicate.message"], None, None),
    "11_wrong_unit.eml": ("rejected", ["sender.not_unit"], "实验小学", "website"),
}
FOLDERS = {"filed": "已处理", "ignored": "已处理", "rejected": "已退回", "quarantined": "待人工"}


def run(app: App) -> pipeline.CycleReport:
    box = app.open_mailbox()
    try:
        return pipeline.run_cycle(app, box)
    finally:
        box.close()


def deliver_fixtures(app: App) -> None:
    for name in EXPECTED:
        deliver(app.config, fixture_mail(name))


def test_every_fixture_gets_its_outcome_folder_and_reply(app: App) -> None:
    """Each fixture mail is filed, rejected, quarantined or ignored as a clerk would."""
    deliver_fixtures(app)
    report = run(app)
    assert (report.filed, report.rejected, report.quarantined, report.ignored) == (5, 3, 1, 2)

    by_subject = {row["subject"]: row for row in message_rows(app)}
    submissions = {row["message_id"]: row for row in submission_rows(app)}
    assert len(by_subject) == 10  # 10 is a second delivery of 01, same subject
    for name, (outcome, reasons, unit, column) in EXPECTED.items():
        raw = email.message_from_bytes(fixture_mail(name), policy=email.policy.default)
        rows = [r for r in message_rows(app) if r["message_id"] == raw["Message-ID"].strip("<>")]
        row = rows[-1] if name.startswith("10_") else rows[0]
        assert (row["outcome"], row["reasons"], row["folder"]) == (
            outcome,
            reasons,
            FOLDERS[outcome],
        ), name
        if unit is not None:
            filed = submissions[row["message_id"]]
            assert (filed["unit"], filed["column"], filed["findings"]) == (unit, column, reasons)

    outbox = sorted((app.config.smtp.path or Path()).glob("*.eml"))
    kinds = sorted(p.name.split("-", 1)[1] for p in outbox)
    assert kinds == ["receipt.eml"] * 5 + ["rejection.eml"] * 3


def test_maildir_ends_empty_with_mail_in_outcome_folders(app: App) -> None:
    """After a cycle the intake folder is empty and every mail sits in its folder."""
    deliver_fixtures(app)
    run(app)
    assert app.config.mailbox.path is not None
    box = mailbox.Maildir(app.config.mailbox.path, create=False)
    assert len(box) == 0
    counts = {name: len(box.get_folder(name)) for name in box.list_folders()}
    assert counts == {"已处理": 7, "已退回": 3, "待人工": 1}


def test_second_cycle_files_nothing_twice(app: App) -> None:
    """Running the cycle again, and delivering the same mails again, files nothing new."""
    deliver_fixtures(app)
    run(app)
    again = run(app)
    assert (again.seen, again.filed) == (0, 0)
    deliver(app.config, fixture_mail("02_outlook_rfc2231_website.eml"))
    third = run(app)
    assert (third.filed, third.ignored) == (0, 1)
    with session(app.engine) as db:
        assert db.exec(select(func.count()).select_from(Submission)).one() == 8
        assert db.exec(select(func.count()).select_from(OutboxMessage)).one() == 8


def test_crash_between_commit_and_move_is_repaired_by_next_cycle(app: App) -> None:
    """A mail recorded but never moved is only moved by the next cycle, not filed again."""
    deliver(app.config, fixture_mail("02_outlook_rfc2231_website.eml"))
    box = app.open_mailbox()
    [(ref, raw)] = list(box.fetch(box.list_new()))
    pipeline.process(app, box.name, ref, raw)  # filed, then the "crash": no move
    report = run(app)
    assert (report.seen, report.repaired, report.filed) == (1, 1, 0)
    with session(app.engine) as db:
        [message] = db.exec(select(InboundMessage)).all()
        assert message.moved_at is not None
        assert db.exec(select(func.count()).select_from(Submission)).one() == 1


def test_a_batch_moves_once_its_files_are_synced_while_the_next_mails_are_filed(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are synced in the background; a mail moves only after a sync that began
    once it was recorded has ended, and filing goes on while the disk works."""
    events: list[tuple[str, str]] = []

    def slow_sync() -> None:
        events.append(("sync", "start"))
        time.sleep(0.3)
        events.append(("sync", "end"))

    def moving(pairs: list[tuple[MailRef, str]]) -> None:
        events.extend(("moved", ref.source_key) for ref, _folder in pairs)
        move(pairs)

    def filing(*args: Any, **kwargs: Any) -> InboundMessage | None:
        events.append(("filed", args[2].source_key))
        return file(*args, **kwargs)

    file = pipeline.process_prepared
    monkeypatch.setattr(cycle, "MOVE_BATCH", 2)
    monkeypatch.setattr(pipeline, "process_prepared", filing)
    monkeypatch.setattr(app.storage, "sync", slow_sync)
    names = [name for name, expected in EXPECTED.items() if expected[0] == "filed"]
    for name in names:
        deliver(app.config, fixture_mail(name))
    box = app.open_mailbox()
    move = box.move_many
    monkeypatch.setattr(box, "move_many", moving)
    try:
        report = pipeline.run_cycle(app, box)
    finally:
        box.close()
    assert report.filed == len(names)
    filed = [key for kind, key in events if kind == "filed"]
    assert sorted(key for kind, key in events if kind == "moved") == sorted(filed)
    for index, (kind, key) in enumerate(events):
        if kind == "moved":  # after a whole sync that began once the mail was filed
            started = max(i for i in range(index) if events[i] == ("sync", "start"))
            assert ("sync", "end") in events[started:index]
            assert ("filed", key) in events[:started]
    during = events[events.index(("sync", "start")):events.index(("sync", "end"))]
    assert any(kind == "filed" for kind, _key in during)


def test_files_a_power_cut_took_are_written_again_before_the_move(app: App) -> None:
    """Files are synced before their mails move, not before they are recorded: a mail
    recorded whose raw copy is gone and whose attachment was cut short is read again
    from the mailbox, its files written where the record says, and only then moved."""
    deliver(app.config, fixture_mail("02_outlook_rfc2231_website.eml"))
    box = app.open_mailbox()
    [(ref, raw)] = list(box.fetch(box.list_new()))
    pipeline.process(app, box.name, ref, raw)  # recorded, then the power cut: no move
    root = app.config.storage.dir
    with session(app.engine) as db:
        [message] = db.exec(select(InboundMessage)).all()
        stored = db.exec(select(Attachment)).all()
    raw_copy = root / app.storage.raw_path(message.raw_sha256)
    raw_copy.unlink()
    attachment = root / stored[0].stored_path
    kept = attachment.read_bytes()
    attachment.write_bytes(kept[:10])
    report = run(app)
    assert (report.seen, report.repaired, report.filed) == (1, 1, 0)
    assert raw_copy.read_bytes() == raw
    assert attachment.read_bytes() == kept
    with session(app.engine) as db:
        assert db.exec(select(InboundMessage)).one().moved_at is not None


def test_receipt_headers_answer_the_original(app: App) -> None:
    """A receipt threads under the original and says it was sent automatically."""
    deliver(app.config, fixture_mail("01_foxmail_gbk_weekly.eml"))
    run(app)
    [path] = sorted((app.config.smtp.path or Path()).glob("*.eml"))
    reply = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    original = email.message_from_bytes(
        fixture_mail("01_foxmail_gbk_weekly.eml"), policy=email.policy.default
    )
    assert reply["To"] == "chenpei@126.com"
    assert reply["In-Reply-To"] == original["Message-ID"]
    assert original["Message-ID"] in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["X-Auto-Response-Suppress"] == "All"
    body = reply.get_body().get_content()  # type: ignore[union-attr]
    [row] = submission_rows(app)
    assert row["tracking_no"] in body
    assert "党政办公室" in body and "每周动态" in body


def test_rejection_lists_each_finding_with_its_fix(app: App) -> None:
    """A rejection names the problem and says how to fix it, with a subject example."""
    deliver(app.config, fixture_mail("07_reject_bad_subject.eml"))
    run(app)
    [path] = sorted((app.config.smtp.path or Path()).glob("*.eml"))
    reply = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = reply.get_body().get_content()  # type: ignore[union-attr]
    assert reply["Subject"].startswith("【退回】")
    assert "不符合任何栏目的格式" in body
    # The example is the sender's own unit in this teaching week, not the notice's.
    assert "组织部第十一周工作动态信息" in body


def test_unreadable_mail_is_set_aside_with_its_error(app: App) -> None:
    """A mail with no headers at all is recorded, quarantined and moved, not retried."""
    deliver(app.config, b"\x00\x01\x02 garbage without any header\n")
    report = run(app)
    assert report.quarantined == 1
    [row] = message_rows(app)
    assert (row["outcome"], row["reasons"], row["folder"]) == (
        "quarantined",
        ["parse.error"],
        "待人工",
    )
    assert "ParseError" in row["error"]
    assert run(app).seen == 0


def test_oversized_mail_is_recorded_without_being_read(app: App) -> None:
    """A mail over the size limit is quarantined with its reason, never parsed."""
    big = fixture_mail("02_outlook_rfc2231_website.eml") + b"x" * (41 * 1024 * 1024)
    deliver(app.config, big)
    run(app)
    [row] = message_rows(app)
    assert (row["outcome"], row["reasons"]) == ("quarantined", ["limits.message_size"])


@pytest.mark.parametrize("name", ["01_foxmail_gbk_weekly.eml", "02_outlook_rfc2231_website.eml"])
def test_attachments_are_browsable_per_unit_and_month(app: App, name: str) -> None:
    """A filed piece's Word file appears under 单位/<unit>/<YYYY-MM>/ with a readable name."""
    deliver(app.config, fixture_mail(name))
    run(app)
    [row] = submission_rows(app)
    folder = app.config.storage.dir / "单位" / row["unit"] / "2026-11"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".docx" and not p.name.startswith("附件") for p in files)
    assert all(row["tracking_no"] in p.parent.name for p in files)
