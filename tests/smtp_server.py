"""A real SMTP server on loopback for tests: aiosmtpd's threaded Controller.

``Smtpd`` keeps every mail it accepted (envelope sender, recipients, bytes),
can demand a login (``users``), speak implicit TLS or STARTTLS with a
throwaway certificate, refuse recipients with the replies queued in
``refusals`` (``"451 4.3.0 Try again later"`` …), and hand each accepted
mail to a Maildir by recipient, as a provider delivers into a mailbox.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
import ssl
import subprocess
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    """A port the kernel just handed out (aiosmtpd cannot bind port 0 itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, usable as its own CA: (cert, key)."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        content: str = body.get_content()
        return content


class _Handler:
    def __init__(self, server: Smtpd) -> None:
        self.server = server

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook names)
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
    ) -> str:
        if self.server.refusals:
            return self.server.refusals.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, _server: Any, _session: Any, envelope: Any
    ) -> str:
        data = bytes(envelope.original_content or envelope.content)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), data)
        self.server.received.append(received)
        for rcpt in received.rcpt_tos:
            target = self.server.mailboxes.get(rcpt.lower())
            if target is not None:
                mailbox.Maildir(target, create=True).add(data)
        return "250 Message accepted for delivery"


class Smtpd:
    """aiosmtpd on 127.0.0.1; ``start`` and ``stop`` may be called more than once."""

    def __init__(
        self,
        *,
        port: int | None = None,
        users: dict[str, str] | None = None,
        tls: str = "none",
        certificate: tuple[Path, Path] | None = None,
        mailboxes: dict[str, Path] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.users = users
        self.tls = tls
        self.certificate = certificate
        self.mailboxes = {k.lower(): v for k, v in (mailboxes or {}).items()}
        self.received: list[Received] = []
        self.refusals: list[str] = []
        self.logins: list[str] = []
        self._controller: Controller | None = None

    def _authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        assert self.users is not None and isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        ok = self.users.get(login) == password
        if ok:
            self.logins.append(login)
        return AuthResult(success=ok, handled=False)

    def start(self) -> Smtpd:
        kwargs: dict[str, Any] = {}
        if self.users is not None:
            # aiosmtpd only counts STARTTLS as TLS; under implicit TLS it must be told
            # not to insist, or it would never offer AUTH.
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.tls == "starttls")
        ssl_context = None
        if self.tls != "none":
            assert self.certificate is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self.certificate))
            if self.tls == "tls":
                ssl_context = context
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        self._controller = Controller(
            _Handler(self), hostname=HOST, port=self.port, ssl_context=ssl_context, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Smtpd:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
