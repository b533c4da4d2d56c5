"""The command line as an administrator and a clerk use it (SPEC section 8)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import FIXTURES, ROOT, deliver, write_config

from mailintake.cli.main import main
from mailintake.config.settings import load_config

NOW = "2026-11-19T10:00:00+08:00"
SUBMISSION_KEYS = {
    "tracking_no",
    "unit",
    "column",
    "title",
    "status",
    "findings",
    "word_count",
    "picture_count",
    "received_at",
    "message_id",
}
MESSAGE_KEYS = {"message_id", "from", "subject", "received_at", "outcome", "reasons", "folder"}


def cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), "--now", NOW, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_poll_once_twice_files_nothing_twice(tmp_path: Path) -> None:
    """`poll --once` run twice files each fixture once; the lists show every mail."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    cli(config, "db", "upgrade")
    assert "7 个单位" in cli(config, "units", "import", str(FIXTURES / "units.xlsx"))
    for path in sorted((FIXTURES / "mail").glob("*.eml")):
        deliver(load_config(config), path.read_bytes())
    first = cli(config, "poll", "--once")
    assert "本轮收到 11 封：登记 5，退回 3，待人工 1，忽略 2" in first
    assert "本轮收到 0 封" in cli(config, "poll", "--once")

    subs = [
        json.loads(line)
        for line in cli(config, "submissions", "list", "--format", "json").splitlines()
    ]
    assert len(subs) == 8 and all(set(s) >= SUBMISSION_KEYS for s in subs)
    assert all(s["received_at"].endswith("+08:00") for s in subs)
    assert all("<" not in s["message_id"] for s in subs)

    msgs = [
        json.loads(line)
        for line in cli(config, "messages", "list", "--format", "json").splitlines()
    ]
    assert len(msgs) == 11 and all(set(m) >= MESSAGE_KEYS for m in msgs)
    assert sorted(m["outcome"] for m in msgs).count("ignored") == 2
    assert "党政办公室第十一周工作动态信息" in {m["subject"] for m in msgs}

    table = cli(config, "submissions", "list")
    assert "登记编号" in table and "人文学院" in table
    assert cli(config, "submissions", "list", "--format", "csv").startswith("tracking_no,")


def test_bad_config_exits_with_the_key_named(tmp_path: Path) -> None:
    """A broken config stops every command with a message naming the key."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[mailbox]\nkind = "maildir"\n[smtp]\nkind="folder"\npath="o"\nfrom="a@b.c"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(bad), "poll", "--once"])
    assert result.exit_code == 2
    assert "mailbox" in result.output and "path" in result.output


def test_bad_units_file_imports_nothing(tmp_path: Path) -> None:
    """A units file with one bad row names it and leaves the database unchanged."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    cli(config, "db", "upgrade")
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "units", "import", str(FIXTURES / "bad_units" / "bad_email.csv")],
    )
    assert result.exit_code == 1
    assert "第 3 行「邮箱」列" in result.output and "未导入任何数据" in result.output
    assert cli(config, "units", "list", "--format", "json") == ""


def test_demo_files_the_fixtures_and_writes_replies(tmp_path: Path) -> None:
    """The demo command runs the whole flow and leaves the replies in the outbox folder."""
    demo = tmp_path / "demo.toml"
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    demo.write_text(text.replace("../var/demo", "var"), encoding="utf-8")
    output = cli(demo, "demo")
    assert "共 11 封：登记 5，退回 3，待人工 1，忽略 2。" in output
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 8
    assert "共 11 封" in cli(demo, "demo")  # --reset makes it repeatable
