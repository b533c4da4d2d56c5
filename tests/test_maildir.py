"""Moving mail in a local Maildir: one rename, so a mail is never in two places."""

from __future__ import annotations

import mailbox
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest
from conftest import deliver, fixture_mail

from mailintake.app import App
from mailintake.intake import pipeline
from mailintake.mailbox.base import MailboxError
from mailintake.mailbox.maildir import MaildirMailbox

FOLDER = "已处理"


def mail_files(root: Path) -> list[Path]:
    """Every mail file under the Maildir, in the intake folder and the subfolders."""
    return [path for path in root.rglob("*")
            if path.is_file() and path.parent.name in ("new", "cur")]


def files_of(root: Path) -> dict[str, Path]:
    """The same, by file name (which, moved, it keeps)."""
    found: dict[str, Path] = {}
    for path in mail_files(root):
        assert path.name not in found, f"{path.name} is in two places"
        found[path.name] = path
    return found


def mail(number: int) -> bytes:
    return (f"From: a{number}@example.test\nMessage-ID: <m{number}@example.test>\n"
            f"Subject: mail {number}\n\nbody {number}\n").encode()


@pytest.mark.parametrize(("subdir", "flags"), [("new", ""), ("cur", "S"), ("cur", "FRS")])
def test_a_moved_mail_is_the_same_file_under_the_same_name(
    tmp_path: Path, subdir: Literal["new", "cur"], flags: str
) -> None:
    """A move renames the file (same inode, same name with its flags): never a copy and a delete."""
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    message = mailbox.MaildirMessage(mail(1))
    message.set_subdir(subdir)
    message.set_flags(flags)
    key = box.add(message)
    [before] = files_of(tmp_path / "Maildir").values()
    inode = before.stat().st_ino

    moving = MaildirMailbox(tmp_path / "Maildir")
    [ref] = moving.list_new()
    assert ref.source_key == key
    moving.move_many([(ref, FOLDER)])

    [after] = files_of(tmp_path / "Maildir").values()
    assert after.parent == tmp_path / "Maildir" / f".{FOLDER}" / subdir
    assert after.name == before.name
    assert after.stat().st_ino == inode
    assert after.read_bytes() == mail(1)
    assert moving.list_new() == []


def test_moving_again_after_a_crash_leaves_one_copy(tmp_path: Path) -> None:
    """The next cycle's repair moves a mail that is already moved: nothing changes."""
    deliver_to = mailbox.Maildir(tmp_path / "Maildir", create=True)
    deliver_to.add(mail(1))
    first = MaildirMailbox(tmp_path / "Maildir")
    [ref] = first.list_new()
    first.move(ref, FOLDER)
    first.move(ref, FOLDER)
    MaildirMailbox(tmp_path / "Maildir").move(ref, "待人工")  # a process that never listed it
    [path] = files_of(tmp_path / "Maildir").values()
    assert path.parent.parent.name == f".{FOLDER}"


def test_a_move_is_synced_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a batch, the intake folder, the outcome folder and a folder just made are synced."""
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(root, create=True)
    for number in range(3):
        box.add(mail(number))
    synced: list[Path] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append(Path(f"/proc/self/fd/{fd}").readlink())
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    moving = MaildirMailbox(root)
    moving.move_many([(ref, FOLDER) for ref in moving.list_new()])
    folder = root / f".{FOLDER}"
    assert Counter(synced) == Counter([root, root / "new", folder, folder / "new"])
    box.add(mail(9))
    synced.clear()
    moving.move_many([(ref, FOLDER) for ref in moving.list_new()])  # the folder exists now
    assert Counter(synced) == Counter([root / "new", folder / "new"])


def test_a_folder_left_half_made_is_completed(tmp_path: Path) -> None:
    """A folder whose creation a crash cut short (no cur/, no new/) is finished, not a dead end."""
    root = tmp_path / "Maildir"
    mailbox.Maildir(root, create=True).add(mail(1))
    (root / f".{FOLDER}" / "tmp").mkdir(parents=True)
    moving = MaildirMailbox(root)
    moving.move_many([(ref, FOLDER) for ref in moving.list_new()])
    [path] = files_of(root).values()
    assert path.parent == root / f".{FOLDER}" / "new"
    assert FOLDER in mailbox.Maildir(root, create=False).list_folders()


def test_an_outcome_folder_that_is_a_file_is_a_mailbox_error(tmp_path: Path) -> None:
    """A file where the folder should be stops the move with a MailboxError; the mail stays."""
    root = tmp_path / "Maildir"
    mailbox.Maildir(root, create=True).add(mail(1))
    (root / f".{FOLDER}").write_text("not a folder")
    moving = MaildirMailbox(root)
    with pytest.raises(MailboxError, match=FOLDER):
        moving.move_many([(ref, FOLDER) for ref in moving.list_new()])
    [path] = files_of(root).values()
    assert path.parent == root / "new"


MOVER = """
import sys
from pathlib import Path
from mailintake.mailbox.maildir import MaildirMailbox

box = MaildirMailbox(Path(sys.argv[1]))
refs = box.list_new()
print("listed", flush=True)
for index, ref in enumerate(refs):
    box.move(ref, ("已处理", "已退回", "待人工")[index % 3])
"""


def test_a_mover_killed_at_random_points_leaves_every_mail_in_one_place(tmp_path: Path) -> None:
    """SIGKILL in the middle of moving 300 mails, again and again: each ends once, whole."""
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(root, create=True)
    expected = Counter(mail(number) for number in range(300))
    for raw in expected:
        box.add(raw)
    chance = random.Random(16)
    kills = 0
    while MaildirMailbox(root).list_new():
        with subprocess.Popen([sys.executable, "-c", MOVER, str(root)],
                              stdout=subprocess.PIPE) as mover:
            assert mover.stdout is not None
            assert mover.stdout.readline() == b"listed\n"
            time.sleep(chance.uniform(0, 0.05))
            if mover.poll() is None:
                mover.send_signal(signal.SIGKILL)
                kills += 1
        # At every stop, each mail is somewhere, once.
        assert Counter(path.read_bytes() for path in mail_files(root)) == expected
    assert kills >= 3
    assert {path.parent.parent.name for path in mail_files(root)} == {
        ".已处理", ".已退回", ".待人工"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the mailbox, not the database
def test_a_cycle_moves_each_fixture_mail_as_the_file_delivered(app: App) -> None:
    """After a whole cycle each delivered file sits in its outcome folder, the same inode, once."""
    for name in ("02_outlook_rfc2231_website.eml", "07_reject_bad_subject.eml",
                 "08_unknown_sender.eml", "09_auto_reply.eml"):
        deliver(app.config, fixture_mail(name))
    assert app.config.mailbox.path is not None
    root = Path(app.config.mailbox.path)
    inodes = {name: path.stat().st_ino for name, path in files_of(root).items()}
    box = app.open_mailbox()
    try:
        pipeline.run_cycle(app, box)
    finally:
        box.close()
    after = files_of(root)
    assert {name: path.stat().st_ino for name, path in after.items()} == inodes
    assert Counter(path.parent.parent.name for path in after.values()) == {
        ".已处理": 2, ".已退回": 1, ".待人工": 1}
