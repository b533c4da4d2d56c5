"""Whether the sender is who the From line says: the provider's verdict.

The office's mail provider checks SPF, DKIM and DMARC when a mail arrives and
writes what it found into an ``Authentication-Results`` header (RFC 8601).
Anyone can write such a header into a mail they send, so a *pass* counts only
in the headers on top whose authserv-id (the first word) is listed in
``[auth] trusted_authserv_ids``, read strictly with the ``authres`` library:
one below any other header may be the sender's own. With that list empty, no
pass counts and mailintake never writes to an unknown sender.

A *failure* counts in a trusted server's header and in the topmost header,
which the receiving provider adds last, however loosely either is written:
Microsoft 365 writes no authserv-id at all. Failures are found by their
``method=result`` pairs outside comments and quoted strings, so a header that
no strict parser takes still says what failed. When trusted servers are
listed, a topmost header that names another server is not believed. A forged
failure can only keep the forger's own mail from being filed.
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

log = logging.getLogger("mailintake.rules.auth")

_FAILING = {"fail", "hardfail"}
# A comment (they nest) or a quoted string: no result is read from inside one.
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# "dmarc=fail", "SPF = hardfail": a method and its result, wherever they stand.
_RESULT = re.compile(r"(?:^|[\s;])(dmarc|spf)\s*=\s*([a-z]+)", re.IGNORECASE)
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
    failures: list[str] = []
    passed = False
    domain = from_addr.rpartition("@")[2].lower()
    on_top = True  # still among the trusted headers the receiving side put on top
    for index, value in enumerate(headers_of(raw)):
        text, server = _bare(value), authserv_id(value)
        on_top = on_top and server in trusted_ids
        if server in trusted_ids or (index == 0 and not (trusted_ids and server)):
            failures += [f"{method.lower()}={result.lower()} ({server or 'no authserv-id'})"
                         for method, result in _RESULT.findall(text)
                         if result.lower() in _FAILING]
        # A pass below any other header may be the sender's own: never believed.
        if on_top and (header := _parse(value)) is not None:
            passed = passed or any(
                str(result.result).lower() == "pass"
                and _aligned(str(result.method).lower(), result, domain)
                for result in header.results)
    return Verdict(failures=failures, passed=passed and not failures)


def authserv_id(value: str) -> str:
    """The server a header names as its author, lower case; "" when it names none
    (the first item is already a result, as Microsoft 365 writes it)."""
    first = _bare(value).split(";", 1)[0].strip()
    return "" if "=" in first or not first else first.split()[0].lower()


def _bare(value: str) -> str:
    """The header without comments and quoted strings."""
    value = _QUOTED.sub(" ", value)
    while _COMMENT.search(value):  # innermost first
        value = _COMMENT.sub(" ", value)
    return value


def _parse(value: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse_value(value)
    except Exception as exc:  # a third-party parser on text from anyone: unreadable is all
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
