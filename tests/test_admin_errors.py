"""What an administrator sees when the set-up is wrong, from the real command line.

Each fault is made for real (a database path with a typo, a tmpfs that is full,
a read-only bind mount, `chattr +i`, a folder that is a file, a PostgreSQL port
nobody listens on, an IMAP host that does not resolve, a config value of the
wrong type) and `mailintake` runs as a subprocess: it exits non-zero with ONE
Chinese line naming the file, folder or server and what to do, the English
detail goes to the log, no traceback and no pydantic English reach the
terminal, and every mail is still in the intake folder. Once the fault is put
right, the same mails are filed. Bad mail (an unreadable winmail.dat) and the
reading libraries' chatter stay one log line at most.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, NOW, PG_ADMIN, fixture_mail, write_config
from dovecot import Dovecot
from smtp_server import free_port

from mailintake.cli.main import main

CLI = [sys.executable, "-m", "mailintake"]
NOW_ARG = "--now=" + NOW.isoformat()
IMAP_PASSWORD_ENV = "MAILINTAKE_TEST_ADMIN_IMAP_PASSWORD"
CJK = re.compile(r"[\u4e00-\u9fff]")
PIECE = fixture_mail("04_general_piece.eml")


# ------------------------------------------------------------------ helpers


def mailintake(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, IMAP_PASSWORD_ENV: Dovecot.password}
    return subprocess.run([*CLI, "--config", str(config), NOW_ARG, *args], env=env,
                          capture_output=True, text=True, check=False, timeout=timeout)


def the_line(stderr: str, stdout: str = "") -> str:
    """The one line for the administrator; anything else on stderr is a log line."""
    everything = stdout + stderr
    assert "Traceback" not in everything, everything[-3000:]
    assert "Input should" not in everything and "should be" not in everything, everything
    said = [line for line in stderr.splitlines() if line.strip() and not line.startswith("level=")]
    assert len(said) == 1, stderr[-3000:]
    assert said[0].startswith("错误：") and CJK.search(said[0]), said
    return said[0]


def logged(stderr: str) -> str:
    """The log lines (English, logfmt) of a run."""
    return "\n".join(line for line in stderr.splitlines() if line.startswith("level="))


def office(folder: Path, db: str | None = None, *, mails: int = 3, extra: str = "") -> Path:
    """A Maildir office with its database set up and ``mails`` pieces waiting."""
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, db or f"sqlite:///{folder / 'mailintake.db'}", extra)
    for args in (["db", "upgrade"], ["units", "import", str(FIXTURES / "units.csv")]):
        done = mailintake(config, *args)
        assert done.returncode == 0, done.stderr
    deliver(folder, mails)
    return config


def deliver(folder: Path, count: int) -> list[str]:
    box = mailbox.Maildir(folder / "Maildir", create=True)
    ids = [f"admin-{uuid.uuid4().hex[:10]}@example.test" for _ in range(count)]
    for message_id in ids:
        box.add(with_id(PIECE, message_id))
    return ids


def with_id(raw: bytes, message_id: str) -> bytes:
    return re.sub(rb"(?im)^message-id:[^\n]*\n", f"Message-ID: <{message_id}>\n".encode(),
                  raw, count=1)


def placed(folder: Path) -> dict[str, list[str]]:
    """Message-ID -> every Maildir folder it is in ("INBOX" for the intake)."""
    root = mailbox.Maildir(folder / "Maildir", create=False)
    where: dict[str, list[str]] = {}
    boxes = [("INBOX", root)] + [(name, root.get_folder(name)) for name in root.list_folders()]
    for name, box in boxes:
        for message in box:
            where.setdefault(str(message["Message-ID"]).strip("<>"), []).append(name)
    return where


def all_waiting(folder: Path, count: int) -> None:
    """Nothing was moved: every mail is still in the intake folder, once."""
    where = placed(folder)
    assert len(where) == count and all(f == ["INBOX"] for f in where.values()), where


def all_filed(folder: Path, count: int) -> None:
    """Every mail was filed and moved once, into 已处理."""
    where = placed(folder)
    assert len(where) == count and all(f == ["已处理"] for f in where.values()), where


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real small file system at ``folder`` (root only; skipped elsewhere)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system holding ``folder`` to the last byte; returns the filler."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    return filler


# ------------------------------------------------- a database that is not there


def set_db(config: Path, url: str) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'(?m)^url = ".*"$', f'url = "{url}"', text), encoding="utf-8")


@pytest.mark.parametrize("shape", ["typo", "missing folder", "empty file", "another sqlite file"])
def test_poll_never_creates_a_database_and_names_the_file_it_looked_for(
    tmp_path: Path, shape: str
) -> None:
    """A SQLite URL whose file is missing, or holds no mailintake tables, stops `poll --once`
    with exit 2 and the file named; nothing is created and the mail stays in the intake."""
    config = office(tmp_path)
    target = {
        "typo": tmp_path / "mailintak.db",
        "missing folder": tmp_path / "var" / "lib" / "mailintake.db",
        "empty file": tmp_path / "empty.db",
        "another sqlite file": tmp_path / "other.db",
    }[shape]
    if shape == "empty file":
        target.touch()
    if shape == "another sqlite file":
        with contextlib.closing(sqlite3.connect(target)) as other:
            other.execute("CREATE TABLE notes (text TEXT)")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    set_db(config, f"sqlite:///{target}")
    done = mailintake(config, "poll", "--once")
    assert done.returncode == 2
    line = the_line(done.stderr, done.stdout)
    assert str(target) in line and "mailintake db upgrade" in line
    assert ("没有 mailintake 的表" if target.exists() else "找不到数据库文件") in line
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "something was created"
    all_waiting(tmp_path, 3)
    # `db upgrade` is what makes a database: then the same mail is filed.
    assert mailintake(config, "db", "upgrade").returncode == 0
    assert mailintake(config, "units", "import", str(FIXTURES / "units.csv")).returncode == 0
    assert mailintake(config, "poll", "--once").returncode == 0
    all_filed(tmp_path, 3)


COMMANDS = [["poll", "--once"], ["units", "list"], ["units", "import", str(FIXTURES / "units.csv")],
            ["submissions", "list"], ["messages", "list"], ["messages", "retry", "1"],
            ["status"], ["remind"], ["digest"], ["report", "--period", "2026-11"],
            ["adopt", "X", "--channel", "网站"]]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_no_command_but_db_upgrade_creates_the_database(tmp_path: Path, args: list[str]) -> None:
    """Every command but `db upgrade` refuses a database that is not there, naming it."""
    target = tmp_path / "typo" / "mailintake.db"
    config = write_config(tmp_path, f"sqlite:///{target}")
    result = CliRunner().invoke(main, ["--config", str(config), "--now", NOW.isoformat(), *args])
    assert result.exit_code == 2, result.output
    line = the_line(result.stderr, result.stdout)
    assert str(target) in line and "mailintake db upgrade" in line
    assert not target.parent.exists()


def test_the_daemon_does_not_start_without_its_database(tmp_path: Path) -> None:
    """`mailintake run` on a missing database exits 2 at once with the file named."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'nowhere' / 'mailintake.db'}")
    done = mailintake(config, "run", timeout=60)
    assert done.returncode == 2
    assert str(tmp_path / "nowhere" / "mailintake.db") in the_line(done.stderr, done.stdout)
    assert not (tmp_path / "nowhere").exists()


def test_a_postgresql_database_without_the_tables_is_named(tmp_path: Path) -> None:
    """An existing but empty PostgreSQL database is refused (exit 2), never filled in."""
    name = f"mi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        config = write_config(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        deliver(tmp_path, 1)
        done = mailintake(config, "poll", "--once")
        assert done.returncode == 2
        line = the_line(done.stderr, done.stdout)
        assert name in line and "没有 mailintake 的表" in line and "db upgrade" in line
        all_waiting(tmp_path, 1)
        with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={name}")) as db:
            tables = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            assert tables.fetchone() == (0,)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ disk full


@pytest.mark.parametrize("where", ["storage", "database"])
def test_a_full_disk_is_one_line_and_the_mail_waits(tmp_path: Path, where: str) -> None:
    """The storage folder or the database on a full tmpfs: exit 5 or 4, one line saying
    the disk is full and where; no mail moved; with room again every mail is filed."""
    disk = tmp_path / ("files" if where == "storage" else "db")
    with tmpfs(disk, "4m"):
        config = office(tmp_path, f"sqlite:///{tmp_path / 'db' / 'mailintake.db'}")
        filler = fill(disk)
        done = mailintake(config, "poll", "--once")
        assert done.returncode == (5 if where == "storage" else 4), done.stderr
        line = the_line(done.stderr, done.stdout)
        assert "磁盘已满" in line and "腾出空间" in line
        assert str(disk) in line
        assert "No space left" in logged(done.stderr) or "disk I/O" in logged(done.stderr)
        all_waiting(tmp_path, 3)
        filler.unlink()
        again = mailintake(config, "poll", "--once")
        assert again.returncode == 0, again.stderr
    all_filed(tmp_path, 3)


# ----------------------------------------------------------- read-only database


@contextlib.contextmanager
def read_only(how: str, folder: Path, file: Path) -> Iterator[None]:
    """The database made read-only the ways root cannot write past either."""
    if how == "bind mount":
        steps = [["mount", "--bind", str(folder), str(folder)],
                 ["mount", "-o", "remount,bind,ro", str(folder)]]
        undo = [["umount", "-l", str(folder)]]
    else:
        steps, undo = [["chattr", "+i", str(file)]], [["chattr", "-i", str(file)]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, check=False)
        if done.returncode != 0:
            for back in undo:
                subprocess.run(back, capture_output=True, check=False)
            pytest.skip(f"cannot make the database read-only here: {done.stderr.decode()}")
    try:
        yield
    finally:
        for back in undo:
            subprocess.run(back, capture_output=True, check=False)


@pytest.mark.parametrize("how", ["bind mount", "chattr +i"])
def test_a_read_only_database_is_one_line_and_the_mail_waits(tmp_path: Path, how: str) -> None:
    """A database root cannot write: exit 4, one line naming the file and what to do,
    the mail left in the intake; writable again, it is filed."""
    file = tmp_path / "db" / "mailintake.db"
    config = office(tmp_path, f"sqlite:///{file}")
    with read_only(how, file.parent, file):
        done = mailintake(config, "poll", "--once")
        assert done.returncode == 4, done.stderr
        line = the_line(done.stderr, done.stdout)
        assert str(file) in line and "无法写入" in line
        assert ("只读挂载" if how == "bind mount" else "chattr") in line
        assert "readonly" in logged(done.stderr) or "unable to open" in logged(done.stderr)
        all_waiting(tmp_path, 3)
    assert mailintake(config, "poll", "--once").returncode == 0
    all_filed(tmp_path, 3)


# ------------------------------------------------------- a folder that is a file


FILE_IN_THE_WAY = {
    # shape: (the file that is in the way, relative to the office; the key named)
    "storage dir": ("files", "[storage] dir"),
    "folder above storage": ("store", "[storage] dir"),
    "Maildir": ("Maildir", "[mailbox] path"),
    "Maildir's new": ("Maildir/new", "[mailbox] path"),
    "reply folder": ("outbox", "[smtp] path"),
}


@pytest.mark.parametrize("shape", list(FILE_IN_THE_WAY))
def test_a_configured_folder_that_is_a_file_is_named(tmp_path: Path, shape: str) -> None:
    """A file where the config needs a folder: exit 5 and one line naming that file and
    the key, before any mail is read; the mail stays where it was."""
    relative, key = FILE_IN_THE_WAY[shape]
    extra = ""
    config = office(tmp_path)
    if shape == "folder above storage":
        text = config.read_text(encoding="utf-8").replace('dir = "files"', 'dir = "store/files"')
        config.write_text(text + extra, encoding="utf-8")
    blocker = tmp_path / relative
    if shape == "Maildir":  # the real one is set aside, with the waiting mail
        blocker.rename(tmp_path / "Maildir.real")
    if shape == "Maildir's new":  # the waiting mail goes to cur/ first
        for waiting in blocker.iterdir():
            waiting.replace(tmp_path / "Maildir" / "cur" / waiting.name)
        blocker.rmdir()
    blocker.write_text("not a folder", encoding="utf-8")
    done = mailintake(config, "poll", "--once")
    assert done.returncode == 5, done.stderr
    line = the_line(done.stderr, done.stdout)
    assert f"{blocker} 是一个文件，不是文件夹" in line and key in line
    blocker.unlink()
    if shape == "Maildir":
        (tmp_path / "Maildir.real").rename(blocker)
    if shape == "Maildir's new":
        blocker.mkdir()
    all_waiting(tmp_path, 3)
    assert mailintake(config, "poll", "--once").returncode == 0
    all_filed(tmp_path, 3)


def test_the_daemon_stops_at_start_on_a_storage_path_that_is_a_file(tmp_path: Path) -> None:
    """`mailintake run` with [storage] dir a file exits 5 at start, without waiting for mail."""
    config = office(tmp_path, mails=0)
    (tmp_path / "files").write_text("x", encoding="utf-8")
    done = mailintake(config, "run", timeout=60)
    assert done.returncode == 5
    assert f"{tmp_path / 'files'} 是一个文件" in the_line(done.stderr, done.stdout)


# ------------------------------------------------------- PostgreSQL unreachable


PG = "postgresql+psycopg://{who}@{where}"


@pytest.mark.parametrize(("shape", "url", "said"), [
    ("nothing listens", PG.format(who="postgres", where="127.0.0.1:{port}/x"), "连接被拒绝"),
    ("no such host", PG.format(who="postgres", where="db.invalid:5432/x"), "主机名无法解析"),
    ("no such database", PG.format(who="postgres", where="127.0.0.1:5432/mi_absent"),
     "数据库或用户不存在"),
    ("no such user", PG.format(who="mi_nobody:secret", where="127.0.0.1:5432/postgres"),
     "数据库或用户不存在"),
])
def test_an_unreachable_postgresql_is_one_line(
    tmp_path: Path, shape: str, url: str, said: str
) -> None:
    """PostgreSQL away or misnamed: exit 4 and one line naming the server (password
    hidden) and what to check, where there were 138 lines of traceback."""
    url = url.format(port=free_port())
    config = write_config(tmp_path, url)
    deliver(tmp_path, 2)
    done = mailintake(config, "poll", "--once")
    assert done.returncode == 4, done.stderr
    line = the_line(done.stderr, done.stdout)
    host = url.split("@", 1)[1].split("/", 1)[0]
    assert host in line and said in line and "[database] url" in line
    assert "secret" not in done.stdout + done.stderr
    assert "OperationalError" in logged(done.stderr)
    all_waiting(tmp_path, 2)


def test_the_daemon_does_not_start_on_an_unreachable_postgresql(tmp_path: Path) -> None:
    """`mailintake run` exits 4 with the line (systemd restarts it until the server is up)."""
    port = free_port()
    config = write_config(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
    done = mailintake(config, "run", timeout=60)
    assert done.returncode == 4
    assert f"127.0.0.1:{port}" in the_line(done.stderr, done.stdout)


# ------------------------------------------------------------ wrong IMAP host


def imap_office(folder: Path, d: Dovecot, host: str, port: int, security: str = "none") -> Path:
    account = f"""
kind = "imap"
host = "{host}"
port = {port}
security = "{security}"
username = "{d.user}"
password_env = "{IMAP_PASSWORD_ENV}"
connect_timeout = 5.0
"""
    config = write_config(folder, f"sqlite:///{folder / 'mailintake.db'}", mailbox=account)
    assert mailintake(config, "db", "upgrade").returncode == 0
    assert mailintake(config, "units", "import", str(FIXTURES / "units.csv")).returncode == 0
    return config


@pytest.mark.parametrize(("shape", "said"), [
    ("imap.invalid", "找不到邮件服务器 imap.invalid（域名无法解析）"),
    ("port nobody listens on", "拒绝连接"),
])
def test_a_wrong_imap_host_is_one_line_and_the_mail_stays_in_inbox(
    tmp_path: Path, shape: str, said: str
) -> None:
    """A mistyped IMAP host (socket.gaierror) or port: `poll --once` exits 3 with one line
    naming the server; the mail stays in INBOX and is filed once the host is right."""
    with Dovecot() as d:
        d.append_many([with_id(PIECE, f"imap-{i}@example.test") for i in range(2)])
        # A name that does not resolve is never plain text: only loopback may be.
        host, port, security = (("imap.invalid", 993, "tls") if shape == "imap.invalid"
                                else (d.host, free_port(), "none"))
        config = imap_office(tmp_path, d, host, port, security)
        done = mailintake(config, "poll", "--once")
        assert done.returncode == 3, done.stderr
        line = the_line(done.stderr, done.stdout)
        assert said in line and host in line and "[mailbox]" in line
        assert "ImapError" in logged(done.stderr)
        assert len(d.folder_uids("INBOX")) == 2
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(f'host = "{host}"', f'host = "{d.host}"')
                          .replace(f"port = {port}", f"port = {d.port}")
                          .replace(f'security = "{security}"', 'security = "none"'),
                          encoding="utf-8")
        assert mailintake(config, "poll", "--once").returncode == 0
        assert d.folder_uids("INBOX") == [] and len(d.folder_uids("已处理")) == 2


def test_the_daemon_keeps_retrying_a_mail_server_it_cannot_reach(tmp_path: Path) -> None:
    """Under `run` an unreachable IMAP host is a passing outage: retried with backoff, one
    log line per attempt, and SIGTERM still ends it with exit 0."""
    with Dovecot() as d:
        config = imap_office(tmp_path, d, "imap.invalid", 993, "tls")
    env = {**os.environ, IMAP_PASSWORD_ENV: Dovecot.password}
    proc = subprocess.Popen([*CLI, "--config", str(config), NOW_ARG, "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(6)
        assert proc.poll() is None, "the daemon gave up on a passing outage"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert "mailbox unavailable, attempt 1" in out and "Traceback" not in out + err


# ------------------------------------------------------------ a bad config


BASE_CONFIG = """{top}
[mailbox]
kind = "maildir"
path = "Maildir"
{mailbox}
[smtp]
kind = "folder"
path = "outbox"
from = "教育信息报送 <xxbs@126.com>"
{rest}
"""


@pytest.mark.parametrize(("mailbox_lines", "rest", "key", "said"), [
    ('batch_size = "x"', "", "mailbox.batch_size", "应为整数"),
    ("port = 70000", "", "mailbox.port", "应不大于 65535"),
    ('security = "ssl"', "", "mailbox.security", "'tls'、'starttls'、'none'"),
    ('idle = "perhaps"', "", "mailbox.idle", "应为 true 或 false"),
    ("poll_interval = 0", "", "mailbox.poll_interval", "应不小于 1"),
    ("", '[[calendar.semesters]]\nname = "秋"\nweek1_monday = "tomorrow"\n',
     "calendar.semesters.0.week1_monday", "应为日期"),
    ("", '[office]\naddresses = "office@example.test"\n', "office.addresses", "应为列表"),
    ("", "database = 5\n", "database", "应为一节"),
    ("", '[[columns]]\nkey = "Bad Key"\nname = "x"\nsubject = "{标题}"\n', "columns.0.key",
     "格式不对"),
    ("prot = 993", "", "mailbox.prot", "未知的配置项"),
])
def test_a_bad_config_value_is_one_chinese_line(
    tmp_path: Path, mailbox_lines: str, rest: str, key: str, said: str
) -> None:
    """A value of the wrong type or range: exit 2 and one Chinese line with the key and
    what it should be, the value as written, and none of pydantic's English."""
    config = tmp_path / "mailintake.toml"
    top, rest = (rest, "") if rest and not rest.startswith("[") else ("", rest)  # a bare key
    config.write_text(BASE_CONFIG.format(top=top, mailbox=mailbox_lines, rest=rest),
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "poll", "--once"])
    assert result.exit_code == 2, result.output
    line = the_line(result.stderr, result.stdout)
    assert f"{key}：" in line and said in line and str(config) in line
    assert not re.search(r"\b(Input|valid|should|Field|required)\b", line), line


@pytest.mark.parametrize(("text", "said"), [
    ("[mailbox\n", "第 1 行第 9 列附近"),
    ('[mailbox]\nkind = "maildir\n', "第 2 行"),
    (b"[office]\nname = '\xb0\xec'\n".decode("latin-1"), "不是 UTF-8 编码"),
])
def test_a_config_that_is_not_toml_is_one_chinese_line(
    tmp_path: Path, text: str, said: str
) -> None:
    """A TOML syntax error or a file saved in GBK names the place, in Chinese."""
    config = tmp_path / "mailintake.toml"
    if said == "不是 UTF-8 编码":
        config.write_bytes(text.encode("latin-1"))
    else:
        config.write_text(text, encoding="utf-8")
    done = mailintake(config, "status")
    assert done.returncode == 2
    line = the_line(done.stderr, done.stdout)
    assert said in line and str(config) in line and "Expected" not in line


# -------------------------------------------------- bad mail, library chatter


def chattering_mail(message_id: str, winmail: bytes | None) -> bytes:
    """A mail that sets mail-parser talking ('alternative' and 'calendar' not handled),
    with a winmail.dat that may be unreadable."""
    mail = EmailMessage()
    mail["From"] = "lina@foxmail.com"
    mail["To"] = "xxbs@126.com"
    mail["Subject"] = "实验小学（李娜）开展秋季趣味运动会"
    mail["Message-ID"] = f"<{message_id}>"
    mail.set_content("正文")
    mail.add_alternative("<p>正文</p>", subtype="html")
    mail.add_alternative(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", maintype="text",
                         subtype="calendar")
    if winmail is not None:
        mail.add_attachment(winmail, maintype="application", subtype="ms-tnef",
                            filename="winmail.dat")
    raw = mail.as_bytes()
    # A multipart/alternative part that lost its boundary: read as one text part.
    return raw.replace(b"Content-Type: multipart/alternative;",
                       b"Content-Type: multipart/alternative; x-lost=1;", 1)


def tnef(*attributes: tuple[int, int, bytes]) -> bytes:
    """A winmail.dat: TNEF's signature, then (level, attribute, data) records."""
    out = struct.pack("<IH", 0x223E9F78, 1)
    for level, attribute, data in attributes:
        out += struct.pack("<BII", level, attribute, len(data)) + data
        out += struct.pack("<H", sum(data) & 0xFFFF)
    return out


BROKEN_WINMAIL = {
    "wrong signature": b"\0" * 64,  # tnefparse: ValueError
    # MAPI properties of an attachment before any attachment began: UnboundLocalError
    "attachment before any": tnef((2, 0x00069005, b"\xff\xff\xff\x00" + b"\x1f\x00" * 5)),
    # The body record says 4000 bytes and the file ends after three: read as empty
    "cut short": tnef()[:6] + struct.pack("<BII", 1, 0x0002800C, 4000) + b"abc",
}


@pytest.mark.parametrize("shape", [*BROKEN_WINMAIL, "no winmail.dat"])
def test_bad_mail_is_one_log_line_and_library_chatter_stays_out(
    tmp_path: Path, shape: str
) -> None:
    """An unreadable winmail.dat is one English log line (no traceback); mail-parser's
    'not handled' chatter never reaches the output; the mail is recorded and moved."""
    config = office(tmp_path, mails=0)
    box = mailbox.Maildir(tmp_path / "Maildir", create=False)
    box.add(chattering_mail("chatter@example.test", BROKEN_WINMAIL.get(shape)))
    done = mailintake(config, "poll", "--once")
    assert done.returncode == 0, done.stderr
    assert "本轮收到 1 封" in done.stdout
    assert "Traceback" not in done.stderr and "not handled" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert all(line.startswith("level=") for line in lines), lines
    about_winmail = [line for line in lines if "winmail" in line]
    assert len(about_winmail) <= 1 and len(lines) <= 1, lines
    if shape in ("wrong signature", "attachment before any"):
        assert about_winmail and "unreadable winmail.dat" in about_winmail[0]
        assert "error=" in about_winmail[0]  # the cause, on the same line
    where = placed(tmp_path)
    assert list(where) == ["chatter@example.test"] and where["chatter@example.test"] != ["INBOX"]
