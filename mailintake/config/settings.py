"""The one TOML file that configures mailintake, typed and checked once at start.

Every error names the key at fault (``mailbox.port``), so an administrator
never has to guess. Relative paths are taken relative to the config file, so
a config and the folders it names can move together. Passwords are read from
the environment or a credentials file on demand and never kept in the model's
printable form.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mailintake.config.office import DigestConfig, PointsConfig, QuotasConfig, RemindersConfig
from mailintake.problems import EXIT_SETUP, Problem, os_reason

DEFAULT_CONFIG_PATH = Path("/etc/mailintake/mailintake.toml")
CONFIG_ENV = "MAILINTAKE_CONFIG"


class ConfigError(Problem):
    """The configuration cannot be used; the message names the key and the fix."""

    exit_code = EXIT_SETUP


class _Section(BaseModel):
    # A misspelt key is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(_Section):
    """Where a password comes from: an environment variable or a file."""

    password_env: str | None = None
    password_file: Path | None = None

    def password(self) -> str:
        """Read the password now; raise ConfigError naming the source if absent."""
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"无法读取密码文件 {self.password_file}（{os_reason(exc)}）") from exc
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"环境变量 {self.password_env} 未设置（用于读取密码）")
            return value
        return ""


Security = Literal["tls", "starttls", "none"]


class MailboxConfig(Secret):
    kind: Literal["imap", "maildir"] = "imap"
    path: Path | None = None
    host: str = ""
    port: int = Field(default=993, ge=1, le=65535)
    security: Security = "tls"
    username: str = ""
    folder: str = "INBOX"
    ca_file: Path | None = None
    connect_timeout: float = Field(default=15.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)
    poll_interval: float = Field(default=60.0, ge=1)
    idle: bool = True

    @model_validator(mode="after")
    def _needs(self) -> MailboxConfig:
        if self.kind == "maildir" and self.path is None:
            raise ValueError("kind = \"maildir\" 需要同时设置 path")
        if self.kind == "imap" and not (self.host and self.username):
            raise ValueError("kind = \"imap\" 需要同时设置 host 和 username")
        # The password would cross the network in clear text (see SmtpConfig).
        if self.kind == "imap" and self.security == "none" and not is_loopback(self.host):
            raise ValueError(
                f"security = \"none\" 只能用于本机（127.0.0.1），"
                f"{self.host} 请用 \"tls\" 或 \"starttls\""
            )
        return self


class SmtpConfig(Secret):
    kind: Literal["smtp", "folder"] = "smtp"
    path: Path | None = None
    host: str = ""
    port: int = Field(default=465, ge=1, le=65535)
    security: Security = "tls"
    username: str = ""
    from_: str = Field(alias="from")
    ca_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _needs(self) -> SmtpConfig:
        if self.kind == "folder" and self.path is None:
            raise ValueError("kind = \"folder\" 需要同时设置 path")
        if self.kind == "smtp" and not self.host:
            raise ValueError("kind = \"smtp\" 需要同时设置 host")
        # A password sent in clear text is only acceptable to a server on this machine.
        if self.kind == "smtp" and self.security == "none" and not is_loopback(self.host):
            raise ValueError(
                f"security = \"none\" 只能用于本机（127.0.0.1），"
                f"{self.host} 请用 \"tls\" 或 \"starttls\""
            )
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (localhost or a loopback address)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AuthConfig(_Section):
    """Whose ``Authentication-Results`` headers to believe (SPF, DKIM, DMARC)."""

    # The authserv-id is the first word of the header the office's provider adds.
    trusted_authserv_ids: list[str] = Field(default_factory=list)


class RateLimit(_Section):
    """At most ``max`` replies to one address within any ``minutes`` window."""

    minutes: int = Field(ge=1)
    max: int = Field(ge=1)


class RepliesConfig(_Section):
    # Zammad's limits: a robot answering each reply is throttled long before a storm.
    rate_limits: list[RateLimit] = Field(
        default_factory=lambda: [RateLimit(minutes=10, max=30), RateLimit(minutes=60, max=120)]
    )
    # Days no reply goes to an address whose mailbox does not exist (bounce 5.1.1).
    bounce_hold_days: int = Field(default=60, ge=0)


class DatabaseConfig(_Section):
    url: str = "sqlite:////var/lib/mailintake/mailintake.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("只支持 sqlite:/// 或 postgresql+psycopg:// 地址")
        return value


class StorageConfig(_Section):
    dir: Path = Path("/var/lib/mailintake/files")


class OfficeConfig(_Section):
    name: str = "教育信息报送"
    timezone: str = "Asia/Shanghai"
    # Where the weekly digest goes.
    addresses: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知时区 {value!r}，例如 \"Asia/Shanghai\"") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class LimitsConfig(_Section):
    max_message_bytes: int = Field(default=40 * 1024 * 1024, ge=1024)
    max_attachment_bytes: int = Field(default=30 * 1024 * 1024, ge=1024)
    max_attachments: int = Field(default=60, ge=1)


Severity = Literal["reject", "warn"]


class ColumnConfig(_Section):
    """A kind of piece (栏目) with its subject format and its limits."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    subject: str
    example: str = ""
    require_document: bool = True
    min_words: int = Field(default=0, ge=0)
    max_words: int = Field(default=0, ge=0)
    max_chars: int = Field(default=0, ge=0)
    min_pictures: int = Field(default=0, ge=0)
    min_picture_pixels: int = Field(default=0, ge=0)
    # Longest title (characters) the subject may carry; 0 = no limit.
    max_title_chars: int = Field(default=0, ge=0)
    # Pictures in the Word file should each have a caption (seed 003).
    expect_captions: bool = False
    # The piece should list items one by one, each with its time (weekly digests).
    itemized: bool = False
    # Days after the event the piece should arrive (seed 000: 3); 0 = no check.
    max_days_late: int = Field(default=3, ge=0)
    severity: dict[str, Severity] = Field(default_factory=dict)


def default_columns() -> list[ColumnConfig]:
    # The four columns of the notices (seed 003 and seed 000).
    return [
        ColumnConfig(
            key="weekly", name="每周动态", subject="{单位}第{周次}周工作动态信息",
            example="党政办公室第十二周工作动态信息", itemized=True,
        ),
        ColumnConfig(
            key="website", name="网站信息", subject="{单位}信息（{日期}）{标题}",
            example="组织部信息（2019.11.17）西安工程大学多措并举扎实全面推进党的建设效果好",
            min_pictures=1, max_title_chars=40, expect_captions=True,
        ),
        ColumnConfig(
            key="weibo", name="微博信息", subject="{单位}微博信息（{日期}）{标题}",
            example="人文学院微博信息（2019.11.17）人机分离，学习更专注",
            max_chars=140, min_pictures=1, min_picture_pixels=1280 * 720, max_title_chars=30,
        ),
        ColumnConfig(
            key="general", name="教育信息", subject="{单位}（{作者}）{标题}",
            example="实验小学（李娜）开展秋季趣味运动会", min_words=150, max_words=300,
            max_title_chars=40,
            # Seed 000: activities "must be accompanied by pictures"; not every
            # piece is an activity, so a missing picture is only a warning here.
            min_pictures=1, severity={"pictures.too_few": "warn"},
        ),
    ]


class SemesterConfig(_Section):
    name: str
    week1_monday: date
    weeks: int = Field(default=20, ge=1, le=30)

    @field_validator("week1_monday")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(f"{value} 不是星期一")
        return value


class BreakConfig(_Section):
    """The office's own days off (sports week, exams …), beyond official holidays."""

    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> BreakConfig:
        if self.end < self.start:
            raise ValueError(f"end {self.end} 早于 start {self.start}")
        return self


class CalendarConfig(_Section):
    semesters: list[SemesterConfig] = Field(default_factory=list)
    breaks: list[BreakConfig] = Field(default_factory=list)
    # A week whose working days are at least this share holidays carries no quota.
    holiday_week_share: float = Field(default=0.5, gt=0, le=1)


class DuplicatesConfig(_Section):
    """When a piece counts as one already filed (by any unit)."""

    # Share of 4-character shingles two texts have in common (Jaccard) from
    # which they are "nearly the same"; below 0.6 the stored LSH bands miss pairs.
    threshold: float = Field(default=0.8, ge=0.6, le=1)
    # Compare with pieces filed in this many days before; 0 = all time.
    window_days: int = Field(default=365, ge=0)
    # Texts shorter than this (letters and digits, punctuation not counted) are not compared.
    min_chars: int = Field(default=30, ge=1)


class CorrectionsConfig(_Section):
    """A piece re-sent with the same subject replaces the earlier version."""

    # Days after the earlier version in which a re-sent piece replaces it; 0 = never.
    window_days: int = Field(default=7, ge=0)


class Config(_Section):
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
    digest: DigestConfig = DigestConfig()
    points: PointsConfig = PointsConfig()
    duplicates: DuplicatesConfig = DuplicatesConfig()
    corrections: CorrectionsConfig = CorrectionsConfig()
    auth: AuthConfig = AuthConfig()
    replies: RepliesConfig = RepliesConfig()
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
        raise ConfigError(f"配置文件 {path} 不是有效的 TOML{_toml_place(exc)}："
                          "请检查那里的引号、方括号和等号") from exc
    _resolve_paths(data, path.parent.resolve())
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from exc
    return config.model_copy(update={"source": path})


_PATH_KEYS = {
    "mailbox": ("path", "ca_file", "password_file"),
    "smtp": ("path", "ca_file", "password_file"),
    "storage": ("dir",),
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


def _toml_place(exc: tomllib.TOMLDecodeError) -> str:
    found = re.search(r"at line (\d+), column (\d+)", str(exc))
    if found:
        return f"（第 {found[1]} 行第 {found[2]} 列附近）"
    return "（在文件末尾）" if "end of document" in str(exc) else ""


# What each kind of pydantic error means, in the administrator's words (pydantic
# says it in English); ``{name}`` is filled from the error's context.
_MEANINGS = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知的配置项（拼写错误？）",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为加引号的文字",
    "literal_error": "应为 {expected} 之一",
    "enum": "应为 {expected} 之一",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "too_short": "至少要有 {min_length} 项",
    "too_long": "最多只能有 {max_length} 项",
    "string_too_short": "至少要有 {min_length} 个字符",
    "string_too_long": "最多只能有 {max_length} 个字符",
    "string_pattern_mismatch": "格式不对（应符合 {pattern}）",
    "date_parsing": "应为日期，例如 2026-09-07",
    "date_type": "应为日期，例如 2026-09-07",
    "date_from_datetime_parsing": "应为日期，例如 2026-09-07",
    "date_from_datetime_inexact": "应为日期，例如 2026-09-07",
    "datetime_parsing": "应为日期时间，例如 2026-09-07T08:00:00+08:00",
    "datetime_type": "应为日期时间，例如 2026-09-07T08:00:00+08:00",
    "list_type": "应为列表，例如 [\"a\", \"b\"]",
    "dict_type": "应为一节（[名称] 下的若干项）",
    "model_type": "应为一节（[名称] 下的若干项）",
    "model_attributes_type": "应为一节（[名称] 下的若干项）",
    "path_type": "应为路径（加引号的文字）",
}


def _meaning(error: Any) -> str:
    kind = error["type"]
    if kind in ("value_error", "assertion_error"):  # our validators speak Chinese already
        return str(error["msg"]).removeprefix("Value error, ").removeprefix(
            "Assertion failed, ")
    context = {key: _shown(value) for key, value in (error.get("ctx") or {}).items()}
    if "expected" in context:
        context["expected"] = re.sub(r",\s*| or ", "、", context["expected"])
    template = _MEANINGS.get(kind, "取值无效")
    try:
        meaning = template.format(**context)
    except (KeyError, IndexError):
        meaning = "取值无效"
    given = error.get("input")
    if kind not in ("missing", "extra_forbidden") and isinstance(
            given, str | int | float | bool | date) and len(str(given)) <= 60:
        meaning += f"（现为 {_shown(given)}）"
    return meaning


def _shown(value: object) -> str:
    """A value as it would be written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and not value.startswith("'"):
        return f'"{value}"'
    return str(value)


def _describe(path: Path, exc: ValidationError) -> str:
    """One line: every key at fault and what it should be."""
    faults = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(顶层)"
        faults.append(f"{key}：{_meaning(error)}")
    return f"配置文件 {path} 有误：{'；'.join(faults)}。请改正后重新运行"
