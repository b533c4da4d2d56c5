"""IMAP servers shaped unlike Dovecot's defaults, built from a real Dovecot: personal
folders under ``INBOX.`` (as Cyrus and Courier keep them) with and without NAMESPACE,
no MOVE, no UIDPLUS, and accounts not allowed to create folders or move mail.

Each test runs ``doctor`` and ``poll --once`` as an administrator would and compares
``messages list`` with what is really on the server: every mail is where the list
says, none is lost or filed twice, and mail a clerk flagged \\Deleted is left alone.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import fixture_mail
from dovecot import Dovecot
from test_imap_intake import (
    CLI,
    FIXTURE_FOLDERS,
    NOW_ARG,
    PASSWORD_ENV,
    fixture_names,
    make_app,
    with_message_id,
    write_imap_config,
)
from test_status import register_stranger

from mailintake.cli.main import main
from mailintake.mailbox.imap import ImapMailbox

LIMIT = 1024 * 1024  # [limits] max_message_bytes, so an oversize mail is cheap to make

#: Server shapes that must work: (Dovecot options, where outcome folders end up).
WORKING: dict[str, tuple[dict[str, Any], str]] = {
    "top-level": ({}, ""),
    "INBOX.-with-NAMESPACE": ({"prefix": "INBOX."}, "INBOX."),
    "INBOX.-no-NAMESPACE": ({"prefix": "INBOX.", "drop_capabilities": ["NAMESPACE"]}, "INBOX."),
    "INBOX.-no-NAMESPACE-no-MOVE": (
        {"prefix": "INBOX.", "drop_capabilities": ["NAMESPACE", "MOVE"]}, "INBOX."),
    "INBOX.-no-NAMESPACE-no-MOVE-no-UIDPLUS": (
        {"prefix": "INBOX.", "drop_capabilities": ["NAMESPACE", "MOVE", "UIDPLUS"]}, "INBOX."),
    "top-level-no-MOVE-no-UIDPLUS": ({"drop_capabilities": ["MOVE", "UIDPLUS"]}, ""),
}


@pytest.fixture(autouse=True)
def imap_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, Dovecot.password)


@pytest.fixture(scope="module", params=list(WORKING), ids=list(WORKING))
def shaped(request: pytest.FixtureRequest) -> Iterator[tuple[Dovecot, str]]:
    """A running server of one working shape, and the prefix its folders get."""
    options, prefix = WORKING[request.param]
    with Dovecot(**options) as d:
        yield d, prefix


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--config", str(config), NOW_ARG, *args],
                          check=False, capture_output=True, text=True, timeout=300)


def set_up(tmp_path: Path, d: Dovecot) -> Path:
    """A config on this server with the fixture units registered."""
    config = write_imap_config(tmp_path, d, f"sqlite:///{tmp_path / 'mailintake.db'}",
                               extra=f"[limits]\nmax_message_bytes = {LIMIT}")
    make_app(config).engine.dispose()
    return config


def deliver_all(d: Dovecot) -> None:
    """The eleven fixture mails, as they arrive (three outcome folders between them)."""
    d.append_many(fixture_mail(name) for name in fixture_names())


def clerk_deleted(d: Dovecot) -> list[int]:
    """Mails a clerk flagged \\Deleted but did not expunge, each of which the intake would
    otherwise file, answer or hold: a piece from a registered unit, one flagged later
    together with \\Seen (read, then deleted in a client), and one over the size limit."""
    piece = with_message_id(fixture_mail("04_general_piece.eml"), "clerk-1@example.test")
    uids = [d.append(piece, flags=[r"\Deleted"])]
    late = d.append(with_message_id(fixture_mail("06_reject_no_attachment.eml"),
                                    "clerk-2@example.test"))
    with d.client() as c:
        c.select_folder("INBOX")
        c.add_flags([late], [rb"\Seen", rb"\Deleted"])
    uids.append(late)
    raw = with_message_id(fixture_mail("02_outlook_rfc2231_website.eml"), "clerk-3@example.test")
    big = raw.replace(b"\n\n", b"\nX-Padding: yes\n\n", 1) + b"x" * (LIMIT + 1000) + b"\n"
    uids.append(d.append(big, flags=[r"\Deleted"]))
    return uids


def undeleted(d: Dovecot, folder: str) -> list[int]:
    with d.client() as c:
        c.select_folder(folder, readonly=True)
        return sorted(int(uid) for uid in c.search(["UNDELETED"]))


def _mid(value: str) -> str:
    return value.strip().strip("<>").lower()


def on_server(d: Dovecot, prefix: str) -> Counter[tuple[str, str]]:
    """(folder as the office names it, Message-ID) of every mail not flagged \\Deleted."""
    found: Counter[tuple[str, str]] = Counter()
    with d.client() as c:
        for _flags, _sep, name in c.list_folders():
            folder = name[len(prefix):] if prefix and name.startswith(prefix) else name
            c.select_folder(name, readonly=True)
            uids = c.search(["UNDELETED"])
            if not uids:
                continue
            heads = c.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for item in heads.values():
                head = item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode()
                match = re.search(r"(?i)message-id:\s*(\S+)", head)
                found[(folder, _mid(match.group(1) if match else ""))] += 1
    return found


def listed(config: Path) -> list[dict[str, Any]]:
    """What ``messages list`` shows (run in this process: it only reads the database)."""
    done = CliRunner().invoke(main, ["--config", str(config), "messages", "list",
                                     "--format", "json"])
    assert done.exit_code == 0, done.output
    return [json.loads(line) for line in done.output.splitlines() if line.strip()]


def as_listed(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((row["folder"], _mid(row["message_id"])) for row in rows)


def imap_line(out: str) -> str:
    [line] = [ln for ln in out.splitlines() if "收件（IMAP）" in ln]
    return line


def test_every_mail_ends_in_its_outcome_folder_as_messages_list_says(
    shaped: tuple[Dovecot, str], tmp_path: Path
) -> None:
    """On each server shape doctor passes having tried a folder, poll --once files every
    mail into its outcome folder under the server's prefix, messages list says where
    each mail really is, a second poll changes nothing, and the clerk's \\Deleted mail
    stays in INBOX, still flagged and never recorded."""
    d, prefix = shaped
    d.reset()
    config = set_up(tmp_path, d)
    deliver_all(d)
    deleted = clerk_deleted(d)
    before, undeleted_before = d.folder_uids("INBOX"), undeleted(d, "INBOX")

    doctor = run(config, "doctor")
    line = imap_line(doctor.stdout)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert line.startswith("[正常] 收件（IMAP）："), line
    assert "INBOX 中有 11 封待处理" in line  # the clerk's three \Deleted mails are not waiting
    assert "已新建测试文件夹、移入测试邮件并删除" in line
    assert (f"文件夹建在“{prefix}”之下" in line) == bool(prefix), line
    assert "全部检查通过" in doctor.stdout
    assert not [f for f in d.folders() if "mailintake-test" in f]
    # Doctor's test mail never counts as waiting: gone, or (no UIDPLUS, and the clerk's
    # mail flagged) left flagged \Deleted like the clerk's own.
    assert undeleted(d, "INBOX") == undeleted_before
    assert all(rb"\Deleted" in d.flags(uid) for uid in set(d.folder_uids("INBOX")) - set(before))

    poll = run(config, "poll", "--once")
    assert poll.returncode == 0, poll.stdout + poll.stderr
    counts = {f: len(d.folder_uids(prefix + f)) for f in FIXTURE_FOLDERS}
    assert counts == FIXTURE_FOLDERS
    rows = listed(config)
    assert len(rows) == 11 and all(row["moved"] for row in rows)
    assert as_listed(rows) == on_server(d, prefix)
    assert not [r for r in rows if r["message_id"].startswith("clerk-")]
    for uid in deleted:  # still there, still flagged: the clerk's to expunge
        assert rb"\Deleted" in d.flags(uid)
    assert set(deleted) <= set(d.folder_uids("INBOX"))
    if prefix:  # nothing was created at the top level
        assert [f for f in d.folders() if f != "INBOX" and not f.startswith(prefix)] == []

    again = run(config, "poll", "--once")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {f: len(d.folder_uids(prefix + f)) for f in FIXTURE_FOLDERS} == FIXTURE_FOLDERS
    assert as_listed(listed(config)) == on_server(d, prefix)


def test_without_uidplus_the_intake_folder_is_emptied_when_no_clerk_mail_is_flagged() -> None:
    """Without MOVE and UIDPLUS only a plain EXPUNGE is left: it is sent when every mail
    flagged \\Deleted is one the intake copied, so the intake folder ends empty."""
    with Dovecot(prefix="INBOX.", drop_capabilities=["NAMESPACE", "MOVE", "UIDPLUS"]) as d:
        uids = [d.append(with_message_id(fixture_mail("06_reject_no_attachment.eml"), f"m{i}@x"))
                for i in range(3)]
        box = ImapMailbox(host=d.host, port=d.port, security="none", username=d.user,
                          password=d.password, batch_size=2)
        with box:
            refs = box.list_new()
            assert [r.uid for r in refs] == uids
            box.move_many([(ref, "已退回") for ref in refs])
        with d.client() as c:
            c.select_folder("INBOX", readonly=True)
            assert c.search(["ALL"]) == []
        assert len(d.folder_uids("INBOX.已退回")) == 3


def test_without_uidplus_a_clerks_deleted_mail_is_never_expunged() -> None:
    """Without MOVE and UIDPLUS, a mail a clerk flagged \\Deleted (before or while the
    intake moves) keeps the intake from expunging: the clerk's mail is still there,
    and the intake's own copies are only flagged, in the outcome folder already."""
    with Dovecot(drop_capabilities=["MOVE", "UIDPLUS"]) as d:
        ours = [d.append(with_message_id(fixture_mail("06_reject_no_attachment.eml"), f"m{i}@x"))
                for i in range(4)]
        box = ImapMailbox(host=d.host, port=d.port, security="none", username=d.user,
                          password=d.password)
        with box:
            refs = box.list_new()
            box.move_many([(refs[0], "已处理")])  # nobody else's \Deleted mail: expunged
            clerks = d.append(fixture_mail("09_auto_reply.eml"), flags=[r"\Deleted"])
            box.move_many([(refs[1], "已处理")])
            box.move_many([(refs[2], "已处理")])
            assert [r.uid for r in box.list_new()] == [ours[3]]
        assert d.folder_uids("INBOX") == [ours[1], ours[2], ours[3], clerks]
        assert rb"\Deleted" in d.flags(clerks)
        assert all(rb"\Deleted" in d.flags(uid) for uid in ours[1:3])
        assert len(d.folder_uids("已处理")) == 3


#: Accounts the intake cannot file mail with: Dovecot's global ACL (rights of INBOX,
#: inherited by new folders), and the words doctor uses for the step that fails.
REFUSING = {
    "no-right-to-create": ("INBOX owner lrwstipe\n", "无法新建文件夹"),
    "no-right-to-delete-from-INBOX": ("INBOX owner lrwsipkxa\n", "无法把测试邮件移出收件文件夹"),
}


@pytest.mark.parametrize("acl, step", list(REFUSING.values()), ids=list(REFUSING))
@pytest.mark.parametrize("namespace", [True, False], ids=["NAMESPACE", "no-NAMESPACE"])
def test_a_server_that_will_not_take_the_mail_fails_doctor_and_nothing_is_called_moved(
    acl: str, step: str, namespace: bool, tmp_path: Path
) -> None:
    """Where the account may not create folders or take mail out of INBOX, doctor fails
    with a Chinese line naming the step, poll --once exits 3 with a Chinese error, every
    mail stays in INBOX, and messages list says so (none is reported as moved)."""
    drop = [] if namespace else ["NAMESPACE"]
    with Dovecot(prefix="INBOX.", acl=acl, drop_capabilities=drop) as d:
        config = set_up(tmp_path, d)
        deliver_all(d)

        doctor = run(config, "doctor")
        line = imap_line(doctor.stdout)
        assert doctor.returncode == 1, doctor.stdout
        assert line.startswith("[失败] 收件（IMAP）：已登录，但" + step), line
        assert "处理办法：" in line
        assert "全部检查通过" not in doctor.stdout
        assert "Traceback" not in doctor.stdout + doctor.stderr
        with d.client() as c:  # a test mail doctor could not move is named for removal
            c.select_folder("INBOX", readonly=True)
            left = c.search(["UNDELETED", "SUBJECT", "mailintake folder test"])
        assert bool(left) == ("手工删除" in line), line
        assert [f for f in d.folders() if "mailintake-test" in f] == []

        for _ in range(2):
            poll = run(config, "poll", "--once")
            assert poll.returncode == 3, poll.stdout + poll.stderr
            assert poll.stderr.splitlines()[-1].startswith("错误："), poll.stderr
            assert "Traceback" not in poll.stderr
            rows = listed(config)
            assert len(rows) == 11 + len(left)
            assert not any(row["moved"] for row in rows)
            assert {row["folder"] for row in rows} == {"INBOX"}
            assert as_listed(rows) == on_server(d, "INBOX.")
            # Doctor's test mail, if it stayed, is a robot's to the intake: never answered.
            tests = [r for r in rows if r["subject"] == "mailintake folder test"]
            assert len(tests) == len(left) and all(r["outcome"] == "ignored" for r in tests)
        assert len(d.folder_uids("INBOX")) == 11 + len(left)


def test_an_outcome_folder_that_refuses_mail_leaves_only_its_mail_unmoved(tmp_path: Path) -> None:
    """When one outcome folder refuses mail (no insert right on INBOX.已退回), poll --once
    exits 3 after moving what it could: messages list reports the mails in 已处理 as
    moved and the rest as still in INBOX, exactly as the server holds them."""
    with Dovecot(prefix="INBOX.", acl="INBOX.已退回 owner lrwsx\n",
                 drop_capabilities=["NAMESPACE"]) as d:
        config = set_up(tmp_path, d)
        deliver_all(d)

        poll = run(config, "poll", "--once")
        assert poll.returncode == 3, poll.stdout + poll.stderr
        rows = listed(config)
        assert as_listed(rows) == on_server(d, "INBOX.")
        where = Counter(row["folder"] for row in rows)
        assert where["已处理"] == FIXTURE_FOLDERS["已处理"]
        assert where["已退回"] == 0
        assert where["INBOX"] == 11 - FIXTURE_FOLDERS["已处理"]
        assert all(row["moved"] == (row["folder"] != "INBOX") for row in rows)


@pytest.mark.parametrize("namespace", [True, False], ids=["NAMESPACE", "no-NAMESPACE"])
def test_retry_finds_the_mail_in_review_under_the_prefix(namespace: bool, tmp_path: Path) -> None:
    """On a server with the INBOX. prefix a mail set aside lands in INBOX.待人工; once its
    sender is registered, `messages retry` finds it there and moves it to INBOX.已处理,
    and messages list says so."""
    drop = [] if namespace else ["NAMESPACE"]
    with Dovecot(prefix="INBOX.", drop_capabilities=drop) as d:
        config = set_up(tmp_path, d)
        d.append(fixture_mail("08_unknown_sender.eml"))
        assert run(config, "poll", "--once").returncode == 0
        assert len(d.folder_uids("INBOX.待人工")) == 1
        app = make_app(config)
        register_stranger(app, tmp_path)
        app.engine.dispose()
        [waiting] = listed(config)

        done = run(config, "messages", "retry", "1")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "已处理" in done.stdout
        assert d.folder_uids("INBOX.待人工") == []
        assert len(d.folder_uids("INBOX.已处理")) == 1
        rows = listed(config)
        assert [(r["outcome"], r["folder"]) for r in rows] == [
            ("ignored", "待人工"), ("filed", "已处理")]
        assert as_listed(rows[1:]) == on_server(d, "INBOX.")
        assert waiting["outcome"] == "quarantined"
