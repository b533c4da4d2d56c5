"""Delivering replies over SMTP: implicit TLS (465), STARTTLS (587), or plain
on loopback, with login when a username is configured."""

from __future__ import annotations

import smtplib
import ssl

from mailintake.config import SmtpConfig
from mailintake.models import OutboxMessage
from mailintake.outbox import DeliveryError


class SmtpSender:
    """One SMTP connection, opened on first use and reused for a flush."""

    def __init__(self, config: SmtpConfig, password: str) -> None:
        self.config = config
        self._password = password
        self._client: smtplib.SMTP | None = None

    @classmethod
    def from_config(cls, config: SmtpConfig) -> SmtpSender:
        return cls(config, config.password())

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
        client: smtplib.SMTP
        if cfg.security == "tls":
            client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            if cfg.security == "starttls":
                client.starttls(context=context)
        if cfg.username:
            client.login(cfg.username, self._password)
        return client

    def send(self, item: OutboxMessage) -> None:
        try:
            if self._client is None:
                self._client = self._connect()
            envelope_from = self.config.username or _address(self.config.from_)
            self._client.sendmail(envelope_from, [item.recipient], item.raw)
        except smtplib.SMTPResponseException as exc:
            self.close()
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                permanent=permanent) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _msg in exc.recipients.values()]
            raise DeliveryError(f"recipient refused: {codes}",
                                permanent=all(500 <= c < 600 for c in codes)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(f"SMTP {self.config.host}:{self.config.port}: {exc}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def _address(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1]
