"""Whether the sender is who the From line says: the provider's verdict.

The office's mail provider checks SPF, DKIM and DMARC when a mail arrives and
writes what it found into an ``Authentication-Results`` header (RFC 8601),
parsed here with the ``authres`` library. Anyone can write such a header into
a mail they send, so only headers whose authserv-id (the first word) is listed
in ``[auth] trusted_authserv_ids`` count.

With that list empty, mailintake still believes a *failure* in the topmost
header, which the receiving provider adds last: a forged failure can only keep
the forger's own mail from being filed. It never believes a *pass* it cannot
trace to a trusted server, so it then never writes to an unknown sender.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import authres

log = logging.getLogger("mailintake.auth")

_FAILING = {"fail", "hardfail"}
# The property naming the domain a pass speaks for.
_VOUCHING = {
    "spf": {("smtp", "mailfrom")},
    "dkim": {("header", "d"), ("header", "i")},
}


@dataclass(frozen=True)
class Verdict:
    """What the trusted headers say about one mail."""

    # Each failing check, e.g. "dmarc=fail (mx.126.com)"; empty when none failed.
    failures: list[str] = field(default_factory=list)
    # A DMARC pass, or an SPF or DKIM pass for the From domain, from a trusted server.
    passed: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.failures)


def head_of(path: Path, limit: int = 1024 * 1024) -> bytes:
    """The header block of the mail stored at ``path``, without reading its body."""
    head = b""
    with path.open("rb") as handle:
        while len(head) < limit:
            chunk = handle.read(16384)
            head += chunk
            end = min((i for i in (head.find(b"\n\n"), head.find(b"\r\n\r\n")) if i >= 0),
                      default=-1)
            if end >= 0:
                return head[:end] + b"\n\n"
            if not chunk:
                break
    return head


def headers_of(raw: bytes) -> list[str]:
    """Every ``Authentication-Results`` value of ``raw``, topmost first, unfolded."""
    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    values = head.get_all("Authentication-Results") or []
    return [re.sub(r"\r?\n[ \t]+", " ", str(value)).strip() for value in values]


def verdict(raw: bytes, from_addr: str, trusted: Sequence[str]) -> Verdict:
    """Read the provider's authentication verdict for the mail ``raw``."""
    trusted_ids = {t.strip().lower() for t in trusted if t.strip()}
    parsed = [header for value in headers_of(raw) if (header := _parse(value)) is not None]
    if trusted_ids:
        believed = [h for h in parsed if str(h.authserv_id).lower() in trusted_ids]
        may_pass = True
    else:
        believed, may_pass = parsed[:1], False
    failures: list[str] = []
    passed = False
    domain = from_addr.rpartition("@")[2].lower()
    for header in believed:
        for result in header.results:
            method, outcome = str(result.method).lower(), str(result.result).lower()
            if method in ("dmarc", "spf") and outcome in _FAILING:
                failures.append(f"{method}={outcome} ({header.authserv_id})")
            elif outcome == "pass" and _aligned(method, result, domain):
                passed = True
    return Verdict(failures=failures, passed=may_pass and passed and not failures)


def _parse(value: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse_value(value)
    except authres.AuthResError as exc:
        log.info("unreadable Authentication-Results %r: %s", value[:200], exc)
        return None


def _aligned(method: str, result: authres.AuthenticationResult, domain: str) -> bool:
    """Whether a pass vouches for the From domain (DMARC's relaxed alignment)."""
    if method == "dmarc":
        return True
    wanted = _VOUCHING.get(method)
    if wanted is None or not domain:
        return False
    for prop in result.properties:
        if (str(prop.type).lower(), str(prop.name).lower()) in wanted:
            vouched = str(prop.value).rpartition("@")[2].lower()
            if vouched and (domain == vouched or domain.endswith("." + vouched)
                            or vouched.endswith("." + domain)):
                return True
    return False
