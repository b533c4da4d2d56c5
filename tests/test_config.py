"""The config file: errors that name the key, paths, and passwords."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, write_config
from pydantic import BaseModel

from mailintake.config.settings import Config, ConfigError, load_config


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    load_config(path)


BASE = """
[mailbox]
kind = "maildir"
path = "Maildir"
[smtp]
kind = "folder"
path = "out"
from = "x <x@example.test>"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE.replace('kind = "maildir"', 'kind = "pop3"'), "mailbox.kind"),
        (BASE + '[database]\nurl = "mysql://x"\n', "database.url"),
        (
            BASE.replace('path = "Maildir"', 'path = "Maildir"\nprot = 993'),
            "mailbox.prot：未知的配置项",
        ),
        (BASE.replace('from = "x <x@example.test>"', ""), "smtp.from：缺少必填项"),
        (BASE + '[office]\ntimezone = "Mars/Base"\n', "office.timezone"),
        (
            BASE + '[[calendar.semesters]]\nname = "a"\nweek1_monday = 2026-09-08\n',
            "calendar.semesters.0.week1_monday：2026-09-08 不是星期一",
        ),
        (BASE.replace('kind = "maildir"\npath = "Maildir"', 'kind = "imap"'), "需要同时设置 host"),
        ("[mailbox\n", "不是有效的 TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    """Every config error names the key at fault."""
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert expected in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A config path that does not exist says so."""
    with pytest.raises(ConfigError, match="找不到配置文件"):
        load_config(tmp_path / "nope.toml")


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    """Relative paths and SQLite files are taken relative to the config file."""
    config = load_config(write_config(tmp_path, "sqlite:///state/db.sqlite"))
    assert config.mailbox.path == tmp_path / "Maildir"
    assert config.storage.dir == tmp_path / "files"
    assert config.database.url == f"sqlite:///{tmp_path}/state/db.sqlite"


def test_password_from_env_or_file_and_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passwords come from the environment or a file and do not appear in the config's repr."""
    secret = tmp_path / "imap.pw"
    secret.write_text("s3cret-file\n", encoding="utf-8")
    text = BASE.replace(
        'kind = "maildir"\npath = "Maildir"',
        'kind = "imap"\nhost = "imap.126.com"\nusername = "xxbs@126.com"\n'
        'password_file = "imap.pw"',
    ).replace(
        'kind = "folder"\npath = "out"',
        'kind = "smtp"\nhost = "smtp.126.com"\npassword_env = "MI_TEST_PW"',
    )
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    monkeypatch.setenv("MI_TEST_PW", "s3cret-env")
    assert config.mailbox.password() == "s3cret-file"
    assert config.smtp.password() == "s3cret-env"
    assert "s3cret" not in repr(config) and "s3cret" not in config.model_dump_json()
    monkeypatch.delenv("MI_TEST_PW")
    with pytest.raises(ConfigError, match="MI_TEST_PW"):
        config.smtp.password()


@pytest.mark.parametrize("name", ["demo.toml", "mailintake.example.toml"])
def test_shipped_configs_load(name: str) -> None:
    """The demo config and the commented example both validate."""
    config = load_config(ROOT / "config" / name)
    assert [c.key for c in config.columns] == ["weekly", "website", "weibo", "general"]


def _keys(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        if name == "source":
            continue
        keys.add(info.alias or name)
        inner = info.annotation
        for candidate in (inner, *getattr(inner, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= _keys(candidate)
    return keys


def test_every_setting_is_in_the_example() -> None:
    """Each config key appears in config/mailintake.example.toml, so none goes undocumented."""
    text = (ROOT / "config" / "mailintake.example.toml").read_text(encoding="utf-8")
    written = set(re.findall(r"^#?\s*\[*([a-z0-9_.]+)\]*\s*=?", text, re.MULTILINE))
    sections = {part for key in written for part in key.split(".")}
    missing = sorted(_keys(Config) - sections)
    assert not missing, f"undocumented settings: {missing}"
