"""The From line, read strictly: who a mail may be taken to come from.

A mail counts as coming from an address only when it has exactly one
``From`` header naming exactly one mailbox, ``Name <local@domain>`` or a
bare ``local@domain``, with a plain address: no RFC 2047 encoded word in it
and no other address posing as the display name. Anything else that
mentions an address is a forged or broken sender line; it gets a problem
code, no address, and the pipeline holds the mail for a person without a
reply. A From without any address at all is no forgery, only unusable.

The display name is decoded as a person reads it (RFC 2047 words, also
inside quotes as Foxmail writes them, and raw 8-bit text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailintake.reading.charsets import decode_header

_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\n]+)
      | (?P<quoted>"(?:[^"\\]|\\.)*")
      | (?P<comment>\((?:[^()\\]|\\.)*\))
      | (?P<angle><[^<>]*>)
      | (?P<atom>[^ \t\r\n"(),;:<>@\[\]\\]+)
      | (?P<special>.)""",
    re.VERBOSE | re.DOTALL,
)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# A plain address: a dot-atom, "@", and a domain name of at least two labels.
_ADDR_SPEC = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")
_ENCODED = re.compile(r"=\?[^?]*\?[bBqQ]\?")
# Anything in a display name or comment that reads as an address.
_LOOKS_LIKE_ADDRESS = re.compile(r"[^\s<>()\"',;:@]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_SEVERAL = {",", ";", ":"}


@dataclass(frozen=True)
class FromLine:
    """What the From header says, and whether it can be believed."""

    name: str  # the display name; the whole header, decoded, when it has a problem
    address: str  # lower case; "" when there is none, or none to believe
    problem: str = ""  # "" or why this From is no single plain mailbox (a ``from.*`` code)


def read_from(values: list[str], defects: list[str] | None = None) -> FromLine:
    """Read every ``From`` value of a mail (raw text, 8-bit bytes as surrogate escapes)."""
    values = [re.sub(r"\r?\n(?=[ \t])", "", str(v)) for v in values]
    if not any(v.strip() for v in values):
        return FromLine("", "")
    problem, name, address = (("from.several_headers", "", "") if len(values) > 1
                              else _mailbox(values[0]))
    if not problem and not address:
        decoded = decode_header(values[0], defects)
        if "@" not in decoded:
            return FromLine(decoded, "")  # no address at all: unusable, not forged
        problem = "from.encoded_address"  # it only appears once the words are decoded
    if not problem:
        name = decode_header(name, defects)
        if any(claimed.lower() != address for claimed in _LOOKS_LIKE_ADDRESS.findall(name)):
            problem = "from.name_is_address"
    if problem:
        shown = " / ".join(decode_header(v) for v in values)[:200]
        if defects is not None:
            defects.append(f"{problem}: {shown}")
        return FromLine(shown, "", problem)
    return FromLine(name, address)


def _mailbox(value: str) -> tuple[str, str, str]:
    """(problem, raw display name, lower-case address) of one From value.

    The display name of a bare address is its comment, as old clients wrote
    ``lina@foxmail.com (Li Na)``; comments elsewhere count as part of it.
    """
    tokens = [(m.lastgroup or "", m.group()) for m in _TOKEN.finditer(value)]
    words = [(kind, text) for kind, text in tokens if kind not in ("space", "comment")]
    comments = " ".join(text[1:-1] for kind, text in tokens if kind == "comment")
    specials = {text for kind, text in words if kind == "special"}
    angles = [text for kind, text in words if kind == "angle"]
    if specials & _SEVERAL:
        problem = "from.several_mailboxes"
    elif not angles:
        return _bare(words, comments)
    elif len(angles) > 1 or words[-1][0] != "angle":
        problem = "from.malformed"
    elif specials:  # someone@163.com <attacker@evil.example>
        problem = "from.name_is_address" if "@" in specials else "from.malformed"
    else:
        phrase = " ".join(_unquote(text) if kind == "quoted" else text
                          for kind, text in words[:-1])
        address = angles[0][1:-1].strip()  # "<>", the null sender, is no address at all
        return _plain(address), " ".join(p for p in (phrase, comments) if p), address.lower()
    return problem, "", ""


def _bare(words: list[tuple[str, str]], comments: str) -> tuple[str, str, str]:
    """A From without angle brackets: one plain address, or no address at all."""
    text = "".join(text for _kind, text in words)
    if "@" not in text:
        return "", comments, ""
    if all(kind == "atom" or text == "@" for kind, text in words):
        return _plain(text), comments, text.lower()
    return "from.malformed", "", ""


def _plain(address: str) -> str:
    """"" when ``address`` is a plain address (or none), else the problem with it."""
    if not address:
        return ""
    if _ENCODED.search(address):
        return "from.encoded_address"
    return "" if _ADDR_SPEC.fullmatch(address) else "from.malformed"


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])
