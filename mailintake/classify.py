"""Mail that must never be answered: auto-replies, bounces, lists, loops.

The rules are those RT, Zammad and django-helpdesk learnt the hard way
(FIELD-NOTES). A mail caught here is still recorded and moved; it only gets
no reply and is not filed as a piece.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailintake.parse import ParsedMail
from mailintake.replies import LOOP_HEADER

_ROBOT_SENDER = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|auto-?reply|"
    r"notifications?|daemon)([+.\-_].*)?@",
    re.IGNORECASE,
)
_AUTO_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
_SUPPRESS = {"all", "autoreply", "dr", "oof"}


def _header(name: str) -> Callable[[ParsedMail], str]:
    return lambda mail: mail.headers.get(name, "").strip().lower()


def _suppressed(mail: ParsedMail) -> bool:
    header = mail.headers.get("x-auto-response-suppress", "")
    values = {value.strip().lower() for value in header.split(",")}
    return bool(values & _SUPPRESS)


# (reason code, test) in the order they are tried; the first that holds wins.
_RULES: list[tuple[str, Callable[[ParsedMail, str], bool]]] = [
    ("loop.own_header", lambda m, _us: LOOP_HEADER.lower() in m.headers),
    ("loop.own_address", lambda m, us: bool(us) and m.from_addr == us),
    ("auto.delivery_report", lambda m, _us: m.content_type == "multipart/report"
        or "report-type" in _header("content-type")(m)),
    ("sender.unusable", lambda m, _us: "@" not in m.from_addr),
    ("auto.robot_sender", lambda m, _us: bool(_ROBOT_SENDER.match(m.from_addr))),
    ("auto.submitted", lambda m, _us: _header("auto-submitted")(m) not in ("", "no")),
    ("auto.precedence", lambda m, _us: _header("precedence")(m) in _AUTO_PRECEDENCE),
    ("auto.suppress", lambda m, _us: _suppressed(m)),
    ("list.mail", lambda m, _us: "list-id" in m.headers or "list-unsubscribe" in m.headers),
    ("auto.null_sender", lambda m, _us: _header("return-path")(m) == "<>"),
]


def no_reply_reason(mail: ParsedMail, our_address: str) -> str | None:
    """The reason code when ``mail`` must get no reply, else None."""
    return next((code for code, test in _RULES if test(mail, our_address)), None)
