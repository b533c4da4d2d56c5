"""Delivering replies over SMTP: implicit TLS (465), STARTTLS (587), or plain
on loopback only, with login when a username is configured.

One connection serves a whole flush and is checked with NOOP before each
reply, since providers close idle connections. A connection that fails for a
passing reason (refused, reset, dropped) is retried a few times at once with
a growing pause (tenacity); if the server stays away the flush stops and the
outbox tries again on the next cycle, so an outage of any length loses
nothing. What the server says about one reply decides whether that reply is
retried later (4xx) or given up (5xx), see ``mailintake.replies.outbox``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.utils import parseaddr

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.wait import wait_base

from mailintake.config.settings import SmtpConfig, is_loopback
from mailintake.replies.bounces import address_gone, enhanced_status
from mailintake.replies.outbox import DeliveryError
from mailintake.store.models import OutboxMessage

log = logging.getLogger("mailintake.replies.smtp")

CONNECT_ATTEMPTS = 3
# Passing trouble worth another try at once; a timeout is not: waiting for a
# silent server three times would hold up the whole cycle.
_TRANSIENT = (ConnectionError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)


def default_retry_wait() -> wait_base:
    """Pause between connection attempts: 1 s, 2 s, 4 s … (tests use ``wait_none()``)."""
    return wait_exponential(multiplier=1, min=1, max=8)


class SmtpSender:
    """One SMTP connection, opened on first use and reused for a flush."""

    def __init__(
        self, config: SmtpConfig, password: str, *, retry_wait: wait_base | None = None,
        attempts: int = CONNECT_ATTEMPTS,
    ) -> None:
        if config.security == "none" and not is_loopback(config.host):
            raise ValueError(f"plain SMTP to {config.host} would expose the password")
        self.config = config
        self._password = password
        self._retry_wait = retry_wait if retry_wait is not None else default_retry_wait()
        self._attempts = attempts
        self._client: smtplib.SMTP | None = None

    @classmethod
    def from_config(cls, config: SmtpConfig, *, retry_wait: wait_base | None = None) -> SmtpSender:
        return cls(config, config.password(), retry_wait=retry_wait)

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _open(self) -> smtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
        client: smtplib.SMTP
        if cfg.security == "tls":
            client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            client.ehlo()
            if cfg.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if cfg.username:
                client.login(cfg.username, self._password)
        except BaseException:
            client.close()
            raise
        return client

    def connect(self) -> None:
        """Connect, start TLS and log in now (``doctor``); DeliveryError when that fails."""
        self._connected()

    def _connected(self) -> smtplib.SMTP:
        if self._client is not None:
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts), wait=self._retry_wait,
            retry=retry_if_exception_type(_TRANSIENT), before_sleep=self._retrying, reraise=True,
        )
        try:
            self._client = retrying(self._open)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login to {self.where} refused: {_said(exc)}",
                                server=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server {self.where} unavailable: {exc!r}",
                                server=True) from exc
        return self._client

    def _retrying(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("SMTP %s: %r; connection attempt %d of %d", self.where, error,
                    state.attempt_number + 1, self._attempts)

    def send(self, item: OutboxMessage) -> None:
        client = self._connected()
        envelope_from = self.config.username or parseaddr(self.config.from_)[1]
        try:
            client.sendmail(envelope_from, [item.recipient], item.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _refused(f"recipient {item.recipient} refused", code, text) from exc
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == 552:  # this reply is too large; the server is fine
                raise _refused("message refused", exc.smtp_code, exc.smtp_error) from exc
            self.close()
            raise DeliveryError(f"SMTP {self.where} refuses our sender: {exc.smtp_code} "
                                f"{_said(exc)}", server=True) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is shutting the connection down
                self.close()
                raise DeliveryError(f"SMTP {self.where}: 421 {_said(exc)}", server=True) from exc
            raise _refused("message refused", exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Dropped in the middle of this reply: retried later like a 4xx; the
            # next reply opens a new connection (and finds out if the server is gone).
            self.close()
            raise DeliveryError(f"SMTP {self.where} dropped the connection: {exc!r}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def _said(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _refused(what: str, code: int, text: bytes | str) -> DeliveryError:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    permanent = 500 <= code < 600
    status = enhanced_status(said)
    return DeliveryError(
        f"{what}: {code} {said}", permanent=permanent, status=status,
        address_gone=permanent and address_gone(status, said),
    )
