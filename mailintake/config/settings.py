"""The one TOML file that configures mailintake, typed and checked once at start.

Every error names the key at fault (``mailbox.port``) in Chinese
(``translate``), so an administrator never has to guess. Relative paths are
taken relative to the config file, so a config and the folders it names can
move together. The sections are defined beside what they configure:
``servers`` (mailbox, SMTP, database, storage), ``checks`` (limits, columns,
duplicates) and ``office`` (calendar, quotas, reminders, digest, points);
every one of them can be imported from here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator

from mailintake.config.base import ConfigError, Section
from mailintake.config.checks import (
    AuthConfig,
    ChecksConfig,
    ColumnConfig,
    CorrectionsConfig,
    DeadlinesConfig,
    DuplicatesConfig,
    LimitsConfig,
    Severity,
    default_columns,
)
from mailintake.config.office import (
    BreakConfig,
    BriefingConfig,
    BulletinConfig,
    CalendarConfig,
    DigestConfig,
    OfficeConfig,
    PointsConfig,
    QuotasConfig,
    RemindersConfig,
    SemesterConfig,
    SolicitationsConfig,
)
from mailintake.config.servers import (
    DatabaseConfig,
    MailboxConfig,
    RateLimit,
    RepliesConfig,
    Secret,
    Security,
    SmtpConfig,
    StorageConfig,
    is_loopback,
)
from mailintake.config.translate import describe, toml_place
from mailintake.config.web import WebConfig
from mailintake.errors import os_reason

__all__ = [
    "CONFIG_ENV", "DEFAULT_CONFIG_PATH", "AuthConfig", "BreakConfig", "BriefingConfig",
    "BulletinConfig",
    "CalendarConfig",
    "ColumnConfig", "Config", "ConfigError", "CorrectionsConfig", "DatabaseConfig",
    "DigestConfig", "DuplicatesConfig", "LimitsConfig", "MailboxConfig", "OfficeConfig",
    "PointsConfig", "QuotasConfig", "RateLimit", "RemindersConfig", "RepliesConfig", "Secret",
    "Security", "SemesterConfig", "Severity", "SmtpConfig", "SolicitationsConfig",
    "StorageConfig", "WebConfig", "default_columns",
    "default_path", "is_loopback", "load_config",
]

DEFAULT_CONFIG_PATH = Path("/etc/mailintake/mailintake.toml")
CONFIG_ENV = "MAILINTAKE_CONFIG"


class Config(Section):
    """The whole configuration; ``source`` is the file it came from."""

    office: OfficeConfig = OfficeConfig()
    mailbox: MailboxConfig
    smtp: SmtpConfig
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    limits: LimitsConfig = LimitsConfig()
    calendar: CalendarConfig = CalendarConfig()
    quotas: QuotasConfig = QuotasConfig()
    reminders: RemindersConfig = RemindersConfig()
    solicitations: SolicitationsConfig = SolicitationsConfig()
    digest: DigestConfig = DigestConfig()
    bulletin: BulletinConfig = BulletinConfig()
    points: PointsConfig = PointsConfig()
    briefing: BriefingConfig = BriefingConfig()
    duplicates: DuplicatesConfig = DuplicatesConfig()
    corrections: CorrectionsConfig = CorrectionsConfig()
    auth: AuthConfig = AuthConfig()
    deadlines: DeadlinesConfig = DeadlinesConfig()
    checks: ChecksConfig = ChecksConfig()
    replies: RepliesConfig = RepliesConfig()
    web: WebConfig = WebConfig()
    columns: Annotated[list[ColumnConfig], Field(min_length=1)] = Field(
        default_factory=default_columns
    )
    templates_dir: Path | None = None
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("columns")
    @classmethod
    def _unique_keys(cls, value: list[ColumnConfig]) -> list[ColumnConfig]:
        keys = [c.key for c in value]
        if len(keys) != len(set(keys)):
            raise ValueError("栏目 key 重复")
        return value


def default_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: Path) -> Config:
    """Read, resolve and validate the config file at ``path``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"找不到配置文件 {path}") from exc
    except OSError as exc:
        raise ConfigError(f"无法读取配置文件 {path}（{os_reason(exc)}）") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"配置文件 {path} 不是 UTF-8 编码：请用 UTF-8 重新保存") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件 {path} 不是有效的 TOML{toml_place(exc)}："
                          "请检查那里的引号、方括号和等号") from exc
    _resolve_paths(data, path.parent.resolve())
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(path, exc)) from exc
    return config.model_copy(update={"source": path})


_PATH_KEYS = {
    "mailbox": ("path", "ca_file", "password_file"),
    "smtp": ("path", "ca_file", "password_file"),
    "storage": ("dir",),
    "briefing": ("template",),
}


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make relative paths relative to the config file's folder."""
    for section, keys in _PATH_KEYS.items():
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        for key in keys:
            value = table.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                table[key] = str(base / value)
    for key in ("templates_dir",):
        value = data.get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            data[key] = str(base / value)
    database = data.get("database")
    if isinstance(database, dict):
        url = database.get("url")
        prefix = "sqlite:///"
        if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
            database["url"] = prefix + str(base / url[len(prefix):])
