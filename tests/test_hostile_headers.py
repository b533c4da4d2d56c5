"""Hostile headers, generated, through the whole flow: a Maildir, the database and
the reply folder, driven by ``mailintake poll --once``.

No charset label, header or part stops a poll: a mail that cannot be read is
held for a person and every mail behind it is read. A From that is not exactly
one plain mailbox, a provider's DMARC failure however loosely written, and a
robot's second ``Auto-Submitted`` are held or ignored with no reply; what a
sender writes about itself is never believed; a person's piece gets its
receipt. Each class has several shapes, each shape is its own mail.
"""

from __future__ import annotations

import base64
import json
import mailbox
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT, deliver, write_config
from pieces import news
from sqlmodel import col, select

from mailintake.app import App
from mailintake.config.settings import AuthConfig, LimitsConfig, load_config
from mailintake.intake import pipeline
from mailintake.office.registry import import_rows, read_rows
from mailintake.storage import sha256
from mailintake.store.database import session, upgrade
from mailintake.store.models import InboundMessage, OutboxMessage, Submission

NOW = "2026-11-19T10:00:00+08:00"
LIMIT = 200 * 1024  # [limits] max_message_bytes here: every piece is under it
LINA = '"=?gbk?B?wO7EyA==?=" <lina@foxmail.com>'  # 李娜 of 实验小学, as Foxmail writes her
FOLDERS = {"filed": "已处理", "ignored": "已处理", "rejected": "已退回", "quarantined": "待人工"}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Python codecs that are no text encoding, or no charset: a label may name any of them.
CODEC_LABELS = ["base64", "zlib", "rot13", "hex", "undefined", "idna", "punycode",
                "unicode_escape", "uu", "x\x00gbk"]


def word(text: str, label: str = "gbk", how: str = "B") -> str:
    """``text`` as one RFC 2047 encoded word labelled ``label``: GBK bytes when the
    label says so, else UTF-8 (what a client that mislabels most likely sent)."""
    data = text.encode("gbk" if label == "gbk" else "utf-8")
    if how == "Q":
        return f"=?{label}?Q?{''.join(f'={b:02X}' for b in data)}?="
    return f"=?{label}?B?{base64.b64encode(data).decode()}?="


def piece(
    n: int, *, froms: tuple[str, ...] = (LINA,), top: tuple[str, ...] = (),
    label: str = "gbk", how: str = "B", filename: str = "", padding: int = 0,
) -> bytes:
    """A piece for 实验小学 with a text of its own (seed ``n``), filed with a receipt as
    it stands: ``froms`` as its From lines, ``top`` above every other header, and
    ``label`` on the subject, the body and the file name."""
    title = f"开展第{n}次读书分享活动"
    subject = word(f"实验小学（李娜）{title}", label, how)
    document = base64.encodebytes(news(200, 1000 + n)).decode()
    name = filename or f'name="{word(title + ".docx", label, how)}"'
    body = base64.encodebytes("老师好，稿件见附件，请审阅。".encode("gbk")).decode()
    lines = [
        *top, *(f"From: {sender}" for sender in froms), "To: xxbs@126.com",
        f"Subject: {subject}", "Date: Thu, 19 Nov 2026 09:00:00 +0800",
        f"Message-ID: <piece-{n}@hostile.test>", "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="part"', "",
        "--part", f'Content-Type: text/plain; charset="{label}"',
        "Content-Transfer-Encoding: base64", "", body,
        "--part", f"Content-Type: {DOCX}; {name}", "Content-Transfer-Encoding: base64",
        f"Content-Disposition: attachment; {name.replace('name', 'filename', 1)}", "", document,
    ]
    if padding:  # a recording nobody asked for: makes the mail oversize
        lines += ["--part", "Content-Type: audio/mpeg; name=rec.mp3",
                  "Content-Transfer-Encoding: base64", "",
                  base64.encodebytes(random.Random(padding).randbytes(padding)).decode()]
    return "\n".join([*lines, "--part--", ""]).encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Shape:
    """One hostile mail and what a person must see of it."""

    name: str
    raw: bytes
    outcome: str
    reasons: list[str]
    reply: str | None  # the kind of reply queued for it, or None: nothing goes back


_serial = iter(range(1, 1000))


def shapes() -> list[Shape]:
    """The hostile corpus, the mails that could stop a poll first."""
    corpus: list[Shape] = []

    def add(name: str, outcome: str, reasons: list[str], reply: str | None,
            raw: bytes | None = None, **kwargs: Any) -> None:
        corpus.append(Shape(name, raw or piece(next(_serial), **kwargs), outcome, reasons, reply))

    held = ["limits.message_size"]
    # 1. Oversize: only the headers are read, and reading them must not raise.
    add("oversize/subject_labelled_base64", "quarantined", held, "oversize", label="base64",
        padding=LIMIT)
    add("oversize/subject_labelled_undefined_q", "quarantined", held, "oversize",
        label="undefined", how="Q", padding=LIMIT)
    add("oversize/from_name_labelled_rot13", "quarantined", held, "oversize",
        froms=(f"{word('李娜', 'rot13')} <lina@foxmail.com>",), padding=LIMIT)
    add("oversize/other_header_labelled_zlib", "quarantined", held, "oversize",
        top=(f"X-Note: {word('备注', 'zlib')}",), padding=LIMIT)
    add("oversize/date_of_thirty_digits", "quarantined", held, "oversize",
        top=("Date: Thu, 19 Nov 202600000000000000000000000000 09:00:00 +0800",), padding=LIMIT)
    add("oversize/forged_from", "quarantined", held, None,
        froms=("lina@foxmail.com <attacker@evil.example>",), padding=LIMIT)
    add("oversize/robot_second_auto_submitted", "quarantined", held, None,
        top=("Auto-Submitted: no", "Auto-Submitted: auto-replied"), padding=LIMIT)
    # 1. Not a mail at all: held for a person, and the poll goes on.
    junk = random.Random(16).randbytes(3000).replace(b":", b"").replace(b"\n", b"")
    add("unreadable/binary", "quarantined", ["parse.error"], None, raw=junk)
    add("unreadable/body_only", "quarantined", ["parse.error"], None,
        raw=b"\n\n" + b"no headers at all\n" * 50)
    # 1. Any label anywhere (subject, name, file name, body), read as a person would.
    for label in CODEC_LABELS:
        add(f"label/{label.replace(chr(0), 'NUL')}", "filed", [], "receipt", label=label)
    add("label/undefined_quoted_printable", "filed", [], "receipt", label="undefined", how="Q")
    add("label/rfc2231_file_name_zlib", "filed", [], "receipt",
        filename="name*=zlib''%E7%A8%BF%E4%BB%B6.docx")
    add("label/date_of_thirty_digits", "filed", [], "receipt",
        top=("Date: Thu, 19 Nov 202600000000000000000000000000 09:00:00 +0800",))
    # 2. Forged From forms: held, never answered.
    forged = {
        "name_is_address_unquoted": ("lina@foxmail.com <attacker@evil.example>",),
        "name_is_address_quoted": ('"lina@foxmail.com" <attacker@evil.example>',),
        "name_is_address_comment": ("attacker@evil.example (lina@foxmail.com)",),
        "name_is_address_encoded": (f"{word('李娜 <lina@foxmail.com>', 'utf-8')} "
                                    "<attacker@evil.example>",),
        "encoded_address_whole": (word("lina@foxmail.com", "utf-8"),),
        "encoded_address_named": (word("李娜 <lina@foxmail.com>", "utf-8"),),
        "encoded_address_angle": (f"李娜 <{word('lina@foxmail.com', 'utf-8')}>",),
        "encoded_address_localpart": ("李娜 <=?utf-8?Q?lina?=@foxmail.com>",),
        "several_headers_forgerfirst": ("attacker@evil.example", LINA),
        "several_headers_forgerlast": (LINA, "attacker@evil.example"),
        "several_mailboxes_list": ("lina@foxmail.com, attacker@evil.example",),
        "several_mailboxes_group": ("实验小学: lina@foxmail.com;",),
        "malformed_secondaddress": ("<lina@foxmail.com> attacker@evil.example",),
        "malformed_twoats": ("lina@foxmail.com@evil.example",),
    }
    for name, froms in forged.items():
        code = "from." + name.rsplit("_", 1)[0]  # name_is_address_quoted: from.name_is_address
        add(f"forged/{name}", "quarantined", ["sender.forged", code], None, froms=froms)
    # 2. What her own clients write is still her.
    for name, sender in {
        "bare": "lina@foxmail.com", "angle_only": "<LINA@foxmail.com>",
        "comment_name": "lina@foxmail.com (李娜)", "raw_utf8_name": "李娜 <lina@foxmail.com>",
        "name_is_her_address": '"lina@foxmail.com" <lina@foxmail.com>',
    }.items():
        add(f"genuine_from/{name}", "filed", [], "receipt", froms=(sender,))
    # 3. The receiving provider's failure, however written; never the sender's own word.
    failed = ["sender.auth_failed"]
    for name, header in {
        "microsoft365_no_authserv_id": (
            "Authentication-Results: spf=fail (sender IP is 203.0.113.9)\n"
            " smtp.mailfrom=foxmail.com; dkim=none (message not signed)\n"
            " header.d=none;dmarc=fail action=oreject header.from=foxmail.com;compauth=fail\n"
            " reason=000"),
        "microsoft365_spf_only": "Authentication-Results: spf=fail (sender IP is 203.0.113.9) "
                                 "smtp.mailfrom=foxmail.com",
        "upper_case_spaced_versioned": "Authentication-Results: MX.126.COM 1; "
                                       "DMARC = FAIL (p=REJECT) header.from=foxmail.com",
        "glued_comments": "Authentication-Results: mx.126.com;spf=fail(not permitted)"
                          "smtp.mailfrom=foxmail.com;dmarc=fail(p=reject)header.from=foxmail.com",
        "unparseable": "Authentication-Results: mx.126.com; dmarc=fail header.from=foxmail.com;"
                       " ;; )( ???",
    }.items():
        add(f"auth/{name}", "quarantined", failed, None, top=(header,))
    add("auth/sender_added_failure_below", "filed", [], "receipt", top=(
        "Authentication-Results: mx.126.com; spf=pass smtp.mailfrom=lina@foxmail.com;"
        " dmarc=pass header.from=foxmail.com",
        "Authentication-Results: dmarc=fail header.from=foxmail.com"))
    add("auth/failure_in_a_quoted_string", "filed", [], "receipt", top=(
        'Authentication-Results: mx.126.com; dmarc=none reason="dmarc=fail"',))
    stranger = "某某 <stranger{}@example.com>"
    add("auth/stranger_with_sender_added_pass", "quarantined", ["sender.unregistered"], None,
        froms=(stranger.format(1),), top=(
            "Authentication-Results: spf=none smtp.mailfrom=example.com; dmarc=none"
            " header.from=example.com",
            "Authentication-Results: mx.126.com; dmarc=pass header.from=example.com"))
    add("auth/stranger_vouched_for_by_the_provider", "quarantined", ["sender.unregistered"],
        "unregistered", froms=(stranger.format(2),), top=(
            "Authentication-Results: mx.126.com; dmarc=pass header.from=example.com",))
    # 6. Robots however many headers they write; a person however they comment it.
    robot = ["auto.submitted"]
    add("robot/auto_replied_then_no", "ignored", robot, None,
        top=("Auto-Submitted: auto-replied", "Auto-Submitted: no"))
    add("robot/no_then_auto_generated", "ignored", robot, None,
        top=("Auto-Submitted: no", "Auto-Submitted: auto-generated"))
    add("robot/with_comment", "ignored", robot, None,
        top=("Auto-Submitted: auto-replied (vacation)",))
    add("robot/with_parameter", "ignored", robot, None,
        top=('Auto-Submitted: auto-generated; owner-email="lina@foxmail.com"',))
    add("robot/second_precedence", "ignored", ["auto.precedence"], None,
        top=("Precedence: normal", "Precedence: bulk (newsletter)"))
    for name, value in {
        "rfc3834_comment": "no (sent by a person)", "capitalised": "No",
        "comment_glued": "no(typed by hand)", "nested_comment": "no (a (nested) comment)",
    }.items():
        add(f"person/{name}", "filed", [], "receipt", top=(f"Auto-Submitted: {value}",))
    return corpus


CORPUS = shapes()


def key_of(raw: bytes) -> str:
    """How a shape's record is found: its Message-ID, else the sha256 of its bytes."""
    for line in raw.split(b"\n"):
        if line.startswith(b"Message-ID: <"):
            return line[13:].split(b">")[0].decode()
    return sha256(raw)


def deliver_in_order(folder: Path, raws: list[bytes]) -> None:
    """Put mails in the Maildir so the intake lists them in this order."""
    box = mailbox.Maildir(folder, create=True)
    for second, raw in enumerate(raws):
        path = Path(folder) / "new" / box.add(raw)  # a new mail's file is named by its key
        os.utime(path, (1_700_000_000 + second, 1_700_000_000 + second))


def seen(app: App) -> dict[str, dict[str, Any]]:
    """What became of every mail: outcome, reasons, folder, replies, submission."""
    with session(app.engine) as db:
        messages = db.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all()
        replies = db.exec(select(OutboxMessage)).all()
        filed = {s.message_id for s in db.exec(select(Submission)).all()}
    found = {}
    for m in messages:
        found[m.message_id or m.raw_sha256] = {
            "outcome": str(m.outcome), "reasons": m.reasons, "moved": m.moved_at is not None,
            "folder": m.target_folder, "error": m.error, "defects": m.defects,
            "replies": [(r.kind, r.recipient) for r in replies if r.inbound_id == m.id],
            "filed": m.id in filed,
        }
    return found


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole corpus in one Maildir, read by one ``mailintake poll --once``."""
    folder = tmp_path_factory.mktemp("hostile_headers")
    extra = f'[limits]\nmax_message_bytes = {LIMIT}\n[auth]\ntrusted_authserv_ids = ["mx.126.com"]'
    path = write_config(folder, f"sqlite:///{folder / 'db.sqlite'}", extra)
    config = load_config(path)
    app = App.from_config(config)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    assert config.mailbox.path is not None
    deliver_in_order(config.mailbox.path, [shape.raw for shape in CORPUS])
    done = subprocess.run(
        [sys.executable, "-m", "mailintake", "--config", str(path), "--now", NOW, "poll",
         "--once"], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
    )
    found = seen(app)
    app.engine.dispose()
    return {"run": done, "found": found, "maildir": config.mailbox.path}


def test_poll_once_exits_0_and_empties_the_intake_folder(polled: dict[str, Any]) -> None:
    """`poll --once` over the whole hostile corpus exits 0, names every mail, leaves none."""
    run: subprocess.CompletedProcess[str] = polled["run"]
    print(json.dumps({"stdout": run.stdout[-500:], "stderr": run.stderr[-2000:]},
                     ensure_ascii=False))
    assert run.returncode == 0, run.stderr[-3000:]
    for crash in ("LookupError", "UnicodeError", "OverflowError"):  # what stopped it before
        assert crash not in run.stdout + run.stderr
    assert f"本轮收到 {len(CORPUS)} 封" in run.stdout
    assert len(polled["found"]) == len(CORPUS)
    assert len(mailbox.Maildir(polled["maildir"], create=False)) == 0


@pytest.mark.parametrize("shape", CORPUS, ids=[shape.name for shape in CORPUS])
def test_each_hostile_mail_ends_where_a_person_expects(
    shape: Shape, polled: dict[str, Any]
) -> None:
    """Each mail has its outcome, reasons and folder, and a reply exactly when it should."""
    found = polled["found"][key_of(shape.raw)]
    print(json.dumps({"shape": shape.name, **found}, ensure_ascii=False))
    assert (found["outcome"], found["reasons"]) == (shape.outcome, shape.reasons), found
    assert (found["folder"], found["moved"]) == (FOLDERS[shape.outcome], True)
    assert [kind for kind, _to in found["replies"]] == ([shape.reply] if shape.reply else [])
    assert found["filed"] == (shape.outcome in ("filed", "rejected"))
    if shape.reply in ("receipt", "oversize"):
        assert found["replies"][0][1] == "lina@foxmail.com"
    if shape.reasons[:1] == ["sender.forged"]:  # the clerk sees which form, and what it claimed
        assert any(d.startswith(f"{shape.reasons[1]}: ") for d in found["defects"]), found


@pytest.mark.parametrize("label", ["base64", "undefined", "x\x00gbk"])
def test_a_mail_no_one_can_read_never_stops_the_mail_behind_it(
    app: App, label: str
) -> None:
    """Oversize, labelled with a codec, then bytes with no header: both held, the next filed."""
    app.config = app.config.model_copy(update={"limits": LimitsConfig(max_message_bytes=LIMIT)})
    assert app.config.mailbox.path is not None
    blocker = piece(900, label=label, padding=LIMIT)
    behind = (FIXTURES / "mail" / "01_foxmail_gbk_weekly.eml").read_bytes()
    deliver_in_order(app.config.mailbox.path, [blocker, b"\x00\x01\x02" * 100, behind])
    box = app.open_mailbox()
    try:
        report = pipeline.run_cycle(app, box)
    finally:
        box.close()
    assert (report.seen, report.quarantined, report.filed) == (3, 2, 1)
    found = seen(app)
    assert found["piece-900@hostile.test"]["reasons"] == ["limits.message_size"]
    assert found[sha256(b"\x00\x01\x02" * 100)]["reasons"] == ["parse.error"]
    weekly = found["2026111816421726154810@126.com"]
    assert (weekly["outcome"], weekly["replies"]) == ("filed", [("receipt", "chenpei@126.com")])


@pytest.mark.parametrize("trusted", [[], ["mx.126.com"]])
@pytest.mark.parametrize("shape", [s for s in CORPUS if s.name.startswith("auth/microsoft365")],
                         ids=lambda s: s.name)
def test_microsoft365_failure_counts_whatever_servers_are_trusted(
    app: App, trusted: list[str], shape: Shape
) -> None:
    """A DMARC/SPF failure without authserv-id is held unanswered, trusted list or not."""
    app.config = app.config.model_copy(update={"auth": AuthConfig(trusted_authserv_ids=trusted)})
    deliver(app.config, shape.raw)
    box = app.open_mailbox()
    try:
        pipeline.run_cycle(app, box)
    finally:
        box.close()
    [found] = seen(app).values()
    assert (found["outcome"], found["reasons"], found["replies"]) == (
        "quarantined", ["sender.auth_failed"], [])
