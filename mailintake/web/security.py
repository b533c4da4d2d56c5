"""Logins, CSRF tokens and the login rate limit.

- A login is a random token in an HttpOnly, SameSite=Lax cookie (Secure when
  ``[web] secure_cookies``); the database keeps its sha256 and the login's
  CSRF token, which every form of that login carries (session-bound).
- The login form, before there is a login, carries a token signed with the
  console's secret over a random value in a cookie of its own (double submit).
- Failed logins are counted per user name and per client address; past
  ``[web] login_attempts`` within ``WINDOW`` the login is refused for a while,
  whatever the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

SESSION_COOKIE = "mi_session"
LOGIN_COOKIE = "mi_login"
WINDOW = 15 * 60.0


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_form_token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


def same(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


#: Keys (names, addresses) with failed logins kept before the stale ones are dropped.
KEYS_KEPT = 10_000


class LoginLimit:
    """Failed logins per key in the last ``WINDOW`` seconds, in this process."""

    def __init__(self, attempts: int, clock: object = time.monotonic) -> None:
        self.attempts = attempts
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _now(self) -> float:
        clock = self._clock
        assert callable(clock)
        return float(clock())

    def blocked(self, *keys: str) -> bool:
        now = self._now()
        with self._lock:
            for key in keys:
                failures = self._failures.get(key)
                if failures is None:
                    continue
                while failures and failures[0] < now - WINDOW:
                    failures.popleft()
                if not failures:
                    del self._failures[key]
                elif len(failures) >= self.attempts:
                    return True
        return False

    def failed(self, *keys: str) -> None:
        now = self._now()
        with self._lock:
            for key in keys:
                self._failures[key].append(now)
            if len(self._failures) > KEYS_KEPT:  # made-up names: forget the stale ones
                for key in [k for k, f in self._failures.items() if f[-1] < now - WINDOW]:
                    del self._failures[key]

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)
