"""The servers and places mailintake uses: the mailbox it reads, the SMTP server
its replies go out by (and how fast they may), the database and the folder
files are kept in.

Passwords are read from the environment or a credentials file on demand and
never kept in the model's printable form. A password is only ever sent in
clear text to a server on this machine.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from mailintake.config.base import ConfigError, Section
from mailintake.errors import os_reason


class Secret(Section):
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


class RateLimit(Section):
    """At most ``max`` replies to one address within any ``minutes`` window."""

    minutes: int = Field(ge=1)
    max: int = Field(ge=1)


class RepliesConfig(Section):
    # Zammad's limits: a robot answering each reply is throttled long before a storm.
    rate_limits: list[RateLimit] = Field(
        default_factory=lambda: [RateLimit(minutes=10, max=30), RateLimit(minutes=60, max=120)]
    )
    # Days no reply goes to an address whose mailbox does not exist (bounce 5.1.1).
    bounce_hold_days: int = Field(default=60, ge=0)


class DatabaseConfig(Section):
    url: str = "sqlite:////var/lib/mailintake/mailintake.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("只支持 sqlite:/// 或 postgresql+psycopg:// 地址")
        return value


class StorageConfig(Section):
    dir: Path = Path("/var/lib/mailintake/files")
