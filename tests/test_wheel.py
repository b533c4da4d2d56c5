"""An ordinary install: the wheel built from a clean checkout, installed without ``-e``
into a fresh virtualenv, runs from an empty folder elsewhere on disk.

The source is what a clone would hold (``git checkout-index``: the committed and
staged files), so a template or data file that is not in git, or not declared as
package data, fails here. Dependencies come from the package index (pip's cache
makes it quick); nothing of the development virtualenv is visible to the install.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, write_config

pytestmark = pytest.mark.slow

NOW = "2026-11-19T10:00:00+08:00"
FILED_UNITS = {"党政办公室", "组织部", "人文学院", "实验小学", "城关镇东街小学"}
# Nothing of the checkout or of the development virtualenv may leak into the install.
ENV = {key: value for key, value in os.environ.items()
       if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}


def run(*command: str | Path, cwd: Path) -> str:
    """Runs a command; its output is the failure message when it fails."""
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{command} exited {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``mailintake`` command of a fresh virtualenv holding the wheel and its dependencies."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the wheel test builds from the git checkout: git and .git are needed")
    work = tmp_path_factory.mktemp("wheel")
    source, dist, venv = work / "source", work / "dist", work / "venv"
    run("git", "checkout-index", "--all", f"--prefix={source}/", cwd=ROOT)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, source,
        cwd=work)
    [wheel] = dist.glob("mailintake-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    # The development pip installs into the new virtualenv; --no-compile skips writing
    # .pyc files for every dependency (they are written on first import instead).
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
        "--no-compile", wheel, cwd=work)
    where = run(venv / "bin" / "python", "-c", "import mailintake; print(mailintake.__file__)",
                cwd=work)
    assert Path(where.strip()).is_relative_to(venv), where
    return venv / "bin" / "mailintake"


def replies(outbox: Path) -> list[email.message.EmailMessage]:
    messages = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        messages.append(message)
    return messages


def test_an_installed_wheel_files_the_fixture_mails_from_an_empty_folder(
    installed: Path, tmp_path: Path
) -> None:
    """db upgrade, units import and poll --once from an installed wheel file the five pieces
    and write the Chinese receipts and rejections from the shipped templates."""
    office = tmp_path / "office"
    office.mkdir()
    config = write_config(office, f"sqlite:///{office / 'mailintake.db'}")
    inbox = mailbox.Maildir(office / "Maildir", create=True)
    for mail in sorted((FIXTURES / "mail").glob("*.eml")):
        inbox.add(mail.read_bytes())

    def cli(*args: str | Path) -> str:
        return run(installed, "--config", config, "--now", NOW, *args, cwd=office)

    cli("db", "upgrade")
    assert "7 个单位" in cli("units", "import", FIXTURES / "units.csv")
    assert "本轮收到 11 封：登记 5，退回 3，待人工 1，忽略 2" in cli("poll", "--once")

    filed = office / "files" / "单位"
    units = {path.relative_to(filed).parts[0] for path in filed.rglob("*.docx")}
    assert units == FILED_UNITS
    sent = replies(office / "outbox")
    subjects = sorted(str(reply["Subject"])[:4] for reply in sent)
    assert subjects == ["【回执】"] * 5 + ["【退回】"] * 3
    bodies = [body.get_content() for reply in sent if (body := reply.get_body()) is not None]
    assert len(bodies) == 8 and all("老师：您好！" in body for body in bodies)


def test_an_installed_wheel_ships_the_console_templates_and_htmx(
    installed: Path, tmp_path: Path
) -> None:
    """The console's templates and its vendored htmx are package data: an install serves
    the login page and the script without the checkout."""
    python = installed.parent / "python"
    script = (
        "from pathlib import Path; import mailintake.web.app as web;"
        "here = Path(web.__file__).parent;"
        "print(sorted(p.name for p in (here / 'templates').glob('*.html')));"
        "print((here / 'static' / 'htmx.min.js').stat().st_size > 10000);"
        "print((here / 'static' / 'console.css').is_file())"
    )
    shown = run(python, "-c", script, cwd=tmp_path).splitlines()
    for name in ("base.html", "login.html", "pieces.html", "piece.html", "held.html",
                 "units.html", "status.html", "briefings.html"):
        assert name in shown[0]
    assert shown[1:] == ["True", "True"]


def test_an_installed_wheel_runs_the_demo_on_its_shipped_mails(
    installed: Path, tmp_path: Path
) -> None:
    """`mailintake demo` from an install reads the units and mails shipped in the package."""
    demo = tmp_path / "demo.toml"
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    demo.write_text(text.replace("../var/demo", "var"), encoding="utf-8")
    output = run(installed, "--config", demo, "--now", NOW, "demo", cwd=tmp_path)
    assert "已导入登记表：7 个单位" in output
    assert "共 11 封：登记 5，退回 3，待人工 1，忽略 2。" in output
    assert len(replies(tmp_path / "var" / "outbox")) == 8
