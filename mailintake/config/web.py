"""``[web]``: the clerk's web console (``mailintake web``, and ``mailintake run`` when enabled)."""

from __future__ import annotations

from pydantic import Field, field_validator

from mailintake.config.base import Section


class WebConfig(Section):
    # host:port to listen on; the office's reverse proxy (with TLS) forwards to it.
    listen: str = "127.0.0.1:8025"
    # Signs the login form's CSRF token; empty: a new one at every start (a login
    # form left open across a restart must then be loaded again).
    secret: str = ""
    # Send the session cookie only over HTTPS: true behind a TLS reverse proxy.
    secure_cookies: bool = False
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    # Whether `mailintake run` serves the console too.
    enabled: bool = False
    # The address the office opens the console at (its reverse proxy's), e.g.
    # "https://xxbs.example.edu.cn/": the weekly digest links each held mail to it.
    url: str = ""
    # Failed logins allowed per user name and per client address within 15 minutes.
    login_attempts: int = Field(default=10, ge=1, le=1000)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("应写成 主机:端口，例如 127.0.0.1:8025")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])
