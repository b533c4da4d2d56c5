"""One IMAP connection, on top of imapclient: connecting (TLS or STARTTLS,
timeouts, TCP keepalive), LOGIN and IMAP ID, one operation at a time, every
failure one English ``ImapError`` line, and reconnecting with backoff.

IMAP ID is sent after LOGIN on every connection (NetEase refuses SELECT
without it). Every network call has a timeout and every failure becomes one
``MailboxError`` line (host, operation, cause; never the password) so the
daemon can log it and reconnect with backoff.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, Literal, NoReturn, Self, TypeVar

import tenacity
from imapclient import IMAPClient, SocketTimeout
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from mailintake.mailbox.base import MailboxError

log = logging.getLogger("mailintake.imap")

Security = Literal["tls", "starttls", "none"]
T = TypeVar("T")


class ImapError(MailboxError):
    """A MailboxError that also keeps the failed operation and the bare cause."""

    def __init__(self, message: str, *, operation: str, cause: str) -> None:
        super().__init__(message)
        self.operation = operation
        self.cause = cause


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (no DNS lookup: a name could lie)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _package_version() -> str:
    import mailintake

    return mailintake.__version__


def refused(exc: Exception, marker: str = "") -> bool:
    """A NO/BAD answer mentioning ``marker`` (a broken connection is never one)."""
    return not isinstance(exc, imaplib.IMAP4.abort) and marker in str(exc).upper()


class ImapConnection:
    """One IMAP account's connection.

    The connection opens lazily at the first operation and is dropped after any
    failure (its state is unknown then); the next operation, or ``reconnect()``,
    opens a fresh one. Operations from several threads take turns on it, one
    command (or one FETCH of a batch) at a time (``_guard``).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security,
        username: str,
        password: str,
        ca_file: str | None = None,
        connect_timeout: float = 15.0,
        read_timeout: float = 120.0,
        client_id: dict[str, str] | None = None,
        support_email: str = "postmaster@localhost",
    ) -> None:
        if security not in ("tls", "starttls", "none"):
            raise ValueError(f"security must be tls, starttls or none, not {security!r}")
        if security == "none" and not is_loopback(host):
            raise MailboxError(
                f"refusing plain-text IMAP to {host}: the password would cross the network "
                "unencrypted; use security tls or starttls (plain is for loopback only)"
            )
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.ca_file = ca_file
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.client_id = client_id or {
            "name": "mailintake",
            "version": _package_version(),
            "vendor": "mailintake",
            "support-email": support_email,
        }
        self._conn: Any = None  # an IMAPClient; imapclient ships no type hints
        self._turn = threading.RLock()  # held for each operation (see _guard)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection now rather than at the first operation."""
        if self._conn is None:
            self._connect()

    def reconnect(self) -> None:
        """Drop the current connection (without waiting on it) and open a new one."""
        self._drop()
        self._connect()

    def close(self) -> None:
        """Log out quietly; a dead connection is simply discarded."""
        if self._conn is not None:
            with suppress(Exception):
                self._conn.logout()
        self._drop()

    @property
    def supports_idle(self) -> bool:
        """Whether the server offers IDLE (connects if needed)."""
        with self._guard("capability check"):
            return bool(self._client().has_capability("IDLE"))

    def _ssl_context(self) -> ssl.SSLContext:
        # Certificate and host name checks stay on; ca_file trusts a private CA.
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> None:
        with self._guard("connect"):
            tls = self.security == "tls"
            self._conn = conn = IMAPClient(
                self.host,
                port=self.port,
                ssl=tls,
                ssl_context=self._ssl_context() if tls else None,
                timeout=SocketTimeout(connect=self.connect_timeout, read=self.read_timeout),
            )
            if self.security == "starttls":
                conn.starttls(self._ssl_context())
                conn.socket().settimeout(self.read_timeout)
            conn.normalise_times = False  # timezone-aware INTERNALDATE
            _quiet(conn)
            _keep_alive(conn.socket())
            conn.login(self.username, self._password)
            if conn.has_capability("ID"):
                try:
                    conn.id_(self.client_id)
                except imaplib.IMAP4.error as exc:
                    if not refused(exc):
                        raise
                    # A server that insists on ID will refuse SELECT next, itself.
                    log.warning("IMAP server %s rejected the ID command: %s", self.host, exc)
            self._connected(conn)
            log.info("Connected to IMAP %s:%d as %s", self.host, self.port, self.username)

    def _connected(self, conn: Any) -> None:
        """Learn what a new connection says about the server (after LOGIN and ID)."""

    def _forget(self) -> None:
        """Forget what was learnt on a connection that is gone."""

    def _client(self) -> Any:
        if self._conn is None:
            self._connect()
        return self._conn

    def _drop(self) -> None:
        """Discard the connection without a LOGOUT round trip (it may be hanging)."""
        conn, self._conn = self._conn, None
        self._forget()
        if conn is not None:
            with suppress(Exception):
                conn.shutdown()

    @contextmanager
    def _guard(self, operation: str) -> Iterator[None]:
        """Own the connection for one operation; turn library, socket and TLS errors
        into one-line ImapErrors."""
        with self._turn:
            try:
                yield
            except MailboxError:
                raise
            except (imaplib.IMAP4.error, OSError) as exc:
                self._fail(operation, exc)

    def _fail(self, operation: str, exc: Exception) -> NoReturn:
        self._drop()
        cause = " ".join(f"{type(exc).__name__}: {exc}".split()).rstrip(": ")
        cause = re.sub(r"\bb'([^']*)'", r"\1", cause)  # imapclient shows bytes reprs
        if self._password:
            cause = cause.replace(self._password, "***")
        message = f"IMAP {operation} on {self.host}:{self.port} failed: {cause}"
        raise ImapError(message, operation=operation, cause=cause) from exc


def _quiet(conn: IMAPClient) -> None:
    """Keep imaplib from describing every response nobody will read.

    imapclient sets imaplib's debug level to 5 and hands the messages to the
    ``imapclient.imaplib`` logger; imaplib builds each of them first, the
    repr() of every literal included, twice. For a mail of 340 KB that was
    four fifths of the CPU a FETCH costs. Where that logger is at DEBUG,
    the protocol is logged in full as before.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        conn._imap.debug = 0


def _keep_alive(sock: socket.socket) -> None:
    """TCP keepalive, so a server or NAT gateway that silently vanished is noticed in
    about two minutes, not when a 25-minute IDLE ends."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


# ------------------------------------------------------------- reconnecting


def default_retry_wait() -> wait_base:
    """1 s, 2 s, 4 s ... up to 5 minutes, plus jitter so restarts do not stampede."""
    return tenacity.wait_exponential(multiplier=1, max=300) + tenacity.wait_random(0, 3)


def _retrying(
    mailbox: ImapConnection, retry_wait: wait_base | None, stop: stop_base | None
) -> tenacity.Retrying:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        cause = exc.cause if isinstance(exc, ImapError) else str(exc)
        delay = state.next_action.sleep if state.next_action else 0.0
        where = f"{mailbox.host}:{mailbox.port}"
        log.warning("IMAP connection to %s failed (%s); retrying in %.0f s", where, cause, delay)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(MailboxError),
        wait=retry_wait if retry_wait is not None else default_retry_wait(),
        stop=stop if stop is not None else tenacity.stop_never,
        before_sleep=before_sleep,
        reraise=True,
    )


def reconnect_with_backoff(
    mailbox: ImapConnection, *, retry_wait: wait_base | None = None, stop: stop_base | None = None
) -> None:
    """Reconnect until it works, logging one line per failure on ``mailintake.imap``.

    ``stop`` (default: never) ends the attempts by raising the last MailboxError;
    ``retry_wait`` defaults to ``default_retry_wait()`` (tests pass ``wait_none()``).
    """
    for attempt in _retrying(mailbox, retry_wait, stop):
        with attempt:
            mailbox.reconnect()


def call_with_reconnect(
    mailbox: ImapConnection,
    operation: Callable[[], T],
    *,
    retry_wait: wait_base | None = None,
    stop: stop_base | None = None,
) -> T:
    """Run ``operation``; after a MailboxError, reconnect with backoff and run it again.

    For idempotent operations (listing, moving, waiting) only; a generator such
    as ``fetch`` has to be restarted by the caller instead.
    """
    for attempt in _retrying(mailbox, retry_wait, stop):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                mailbox.reconnect()
            return operation()
    raise AssertionError("unreachable: tenacity returns or raises")
