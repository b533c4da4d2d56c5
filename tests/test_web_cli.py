"""``mailintake users`` and ``mailintake web``: accounts made from the command line log
in to the console that ``web`` serves."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_config
from console_data import csrf_of
from starlette.testclient import TestClient

from mailintake.app import App
from mailintake.cli.main import main
from mailintake.config.settings import load_config
from mailintake.store import accounts
from mailintake.web.app import create_app


def users(config: Path, *args: str, password: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "users", *args],
                                input=password + "\n")
    return result.exit_code, result.output


def test_users_are_added_listed_changed_and_disabled(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailintake.db'}")
    assert CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    assert users(config, "add", "李华", "--role", "clerk", password="春风十里不如你1") == (
        0, "已添加用户 李华（文秘）。\n")
    code, output = users(config, "add", "李华", "--role", "admin", password="another-one")
    assert code == 1 and "已存在" in output
    code, output = users(config, "add", "wang", "--role", "viewer", password="short")
    assert code == 1 and "密码至少 8 位" in output
    assert users(config, "add", "wang", "--role", "viewer", password="viewer-pass")[0] == 0
    code, listed = users(config, "list")
    assert code == 0 and "李华" in listed and "文秘" in listed and "只读" in listed
    app = App.from_config(load_config(config))
    stored = accounts.user(app.engine, "李华")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert "春风" not in stored.password_hash

    def login(name: str, password: str) -> int:
        browser = TestClient(create_app(app), follow_redirects=False)
        page = browser.get("/login")
        return browser.post("/login", data={"username": name, "password": password,
                                            "csrf": csrf_of(page.text)}).status_code

    assert login("李华", "春风十里不如你1") == 303
    assert users(config, "passwd", "李华", password="new-password-2") == (
        0, "已修改 李华 的密码。\n")
    assert login("李华", "春风十里不如你1") == 401
    assert login("李华", "new-password-2") == 303
    assert users(config, "disable", "李华") == (0, "已停用用户 李华。\n")
    assert login("李华", "new-password-2") == 401
    code, output = users(config, "disable", "nobody")
    assert code == 1 and "没有用户 nobody" in output
    app.engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["web", "run"])
def test_web_and_run_serve_the_console(tmp_path: Path, command: str) -> None:
    """`web` serves the console; `run` does too, beside the intake, with [web] enabled,
    and both stop cleanly on SIGTERM."""
    port = free_port()
    (tmp_path / "Maildir").mkdir()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailintake.db'}",
                          f'[web]\nlisten = "127.0.0.1:{port}"\nenabled = true\n')
    assert CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    server = subprocess.Popen([sys.executable, "-m", "mailintake", "--config", str(config),
                               command], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert server.poll() is None, "the console stopped"
                assert time.monotonic() < deadline, "the console did not start"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as page:
            assert 'name="username"' in page.read().decode()
    finally:
        server.terminate()
        _out, errors = server.communicate(timeout=30)
    assert b"Traceback" not in errors, errors
    # uvicorn ends `web` by raising the SIGTERM again once it has shut down (systemd
    # counts that as a clean stop); `run` handles the signal and exits 0.
    assert server.returncode == (0 if command == "run" else -signal.SIGTERM), errors


def test_demo_web_opens_the_console_on_the_demos_data(tmp_path: Path) -> None:
    """`demo --web` files the fixture mails, prints a demo account, and serves the console
    on that data: the printed password logs in and the filed pieces and the held mail are
    there."""
    import http.cookiejar
    import re
    import urllib.parse

    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailintake.db'}",
                          f'[web]\nlisten = "127.0.0.1:{port}"\n')
    server = subprocess.Popen([sys.executable, "-m", "mailintake", "--config", str(config),
                               "demo", "--web"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        lines = []
        for line in server.stdout:
            lines.append(line)
            if "密码" in line:
                break
        printed = "".join(lines)
        assert "users add 文秘 --role clerk" in printed and "status、report" in printed
        found = re.search(r"用户名 (\S+)  密码 (\S+)（", printed)
        assert found, printed
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        deadline = time.monotonic() + 30
        while True:
            try:
                login = browser.open(f"http://127.0.0.1:{port}/login", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        form = urllib.parse.urlencode({"username": found[1], "password": found[2],
                                       "csrf": csrf_of(login.decode())}).encode()
        browser.open(f"http://127.0.0.1:{port}/login", data=form, timeout=10).read()
        pieces = browser.open(f"http://127.0.0.1:{port}/pieces", timeout=10).read().decode()
        assert "我校多措并举扎实推进党的建设" in pieces  # 组织部's fixture piece
        held = browser.open(f"http://127.0.0.1:{port}/held", timeout=10).read().decode()
        assert "stranger@example.com" in held
    finally:
        server.terminate()
        _out, errors = server.communicate(timeout=30)
    assert "Traceback" not in errors, errors
