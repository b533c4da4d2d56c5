"""`mailintake doctor` against a working set-up (Dovecot, aiosmtpd, SQLite and PostgreSQL)
and a broken one: one Chinese line per check, advice for each failure, exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dovecot import Dovecot
from smtp_server import Smtpd, free_port

# The same servers and passwords as the daemon tests (pytest finds imported fixtures).
from test_daemon import (  # noqa: F401
    SMTP_PASSWORD,
    SMTP_USER,
    dovecot,
    passwords,
    smtp_config,
    smtpd,
)
from test_imap_intake import PASSWORD_ENV, make_app, write_imap_config

from mailintake.service import doctor


def lines(config: Path, send_to: str | None = None) -> tuple[int, list[str]]:
    out: list[str] = []
    status = doctor.run(config, send_to, echo=out.append)
    return status, out


def line_of(out: list[str], name: str) -> str:
    found = [ln for ln in out if ln.split("：", 1)[0].endswith(name)]
    assert len(found) == 1, out
    return found[0]


def test_a_working_set_up_passes_every_check_and_sends_the_test_mail(
    dovecot: Dovecot, smtpd: Smtpd, tmp_path: Path, db_url: str
) -> None:
    """With Dovecot, aiosmtpd and an upgraded database every line says 正常, the exit
    status is 0, and --send-test delivers one test mail to the address given."""
    dovecot.reset()
    config = write_imap_config(tmp_path, dovecot, db_url)
    smtp_config(config, smtpd)
    make_app(config).engine.dispose()
    done = subprocess.run(
        # A day inside the configured semester, with holiday data for the weeks after it.
        [sys.executable, "-m", "mailintake", "--config", str(config),
         "--now", "2026-11-19T10:00:00+08:00", "doctor", "--send-test", "admin@example.test"],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    checks = out[:-1]
    assert [ln.split("：", 1)[0] for ln in checks] == [
        "[正常] 配置", "[正常] 数据库", "[正常] 存储目录", "[正常] 收件（IMAP）",
        "[正常] 发件（SMTP）", "[正常] LibreOffice", "[正常] 中文字体", "[正常] 教学日历",
    ]
    assert "表结构为最新" in line_of(out, "数据库")
    assert f"已登录 {dovecot.host}:{dovecot.port}" in line_of(out, "收件（IMAP）")
    assert out[-1] == "全部检查通过。"
    assert [r.rcpt_tos for r in smtpd.received] == [["admin@example.test"]]
    assert Dovecot.password not in done.stdout and SMTP_PASSWORD not in done.stdout


def test_a_broken_set_up_names_each_failure_with_what_to_do(
    dovecot: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong IMAP password, an SMTP port nobody listens on, a storage path that is a
    file and a database never upgraded: each fails with its advice, exit status 1."""
    dovecot.reset()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    config = write_imap_config(tmp_path, dovecot, f"sqlite:///{tmp_path / 'new.db'}")
    config.write_text(config.read_text(encoding="utf-8").replace(
        'dir = "files"', f'dir = "{blocker / "files"}"'), encoding="utf-8")
    smtp_config(config, Smtpd(port=free_port()))  # never started: connection refused
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password")
    status, out = lines(config)
    assert status == 1
    assert line_of(out, "配置").startswith("[正常]")
    database = line_of(out, "数据库")
    assert database.startswith("[失败]") and "mailintake db upgrade" in database
    storage = line_of(out, "存储目录")
    assert storage.startswith("[失败]") and "不可写" in storage and "处理办法" in storage
    imap = line_of(out, "收件（IMAP）")
    assert imap.startswith("[失败]") and "授权码" in imap
    smtp = line_of(out, "发件（SMTP）")
    assert smtp.startswith("[失败]") and "端口" in smtp
    assert out[-1] == "4 项检查未通过，请按提示处理。"
    assert "wrong-password" not in "\n".join(out)


def test_a_config_that_cannot_be_read_is_the_only_line(tmp_path: Path) -> None:
    """A missing config file gives one failed line naming the file, and exit status 1."""
    missing = tmp_path / "nowhere.toml"
    status, out = lines(missing)
    assert status == 1
    assert out[0].startswith("[失败] 配置") and str(missing) in out[0]
    assert len(out) == 2
