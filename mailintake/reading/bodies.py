"""The text a person reads in a mail: which parts are body text, and that text,
HTML turned to text, decoded without losing a character (``charsets``).

inscriptis is loaded when the first mail written in HTML is read.
"""

from __future__ import annotations

import re
from email.message import Message
from functools import cache
from typing import TYPE_CHECKING

from mailintake.reading.charsets import decode_bytes
from mailintake.reading.payloads import decode_payload

if TYPE_CHECKING:
    from inscriptis.model.config import ParserConfig

#: Bytes of a body part read as text. A mail's own text is a few KB, Outlook's
#: HTML some hundred; an HTML body of a million elements took 1.2 GB to turn
#: into text. Past this, the text read ends at the last line that fits (the
#: mail is kept whole in the archive) and ``limits.body_size`` is noted.
MAX_BODY_BYTES = 1024 * 1024


@cache
def html_config() -> ParserConfig:
    """A browser's CSS defaults: no indentation for nested <div>s as web mail writes them."""
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    return ParserConfig(css=CSS_PROFILES["strict"])


def disposition(part: Message) -> str:
    return (part.get_content_disposition() or "").lower()


def is_body_text(part: Message) -> bool:
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and disposition(part) != "attachment"
        and not part.get_param("filename", header="content-disposition")
        and not part.get_param("name")
    )


def is_forward(part: Message) -> bool:
    """A mail carried inside this one (message/rfc822), parsed."""
    return part.get_content_type() == "message/rfc822" and part.is_multipart()


def body_text(part: Message, defects: list[str]) -> str:
    """The text a person reads: plain text preferred, HTML turned to text,
    Apple Mail's text pieces between pictures joined, forwarded mail included."""
    ctype = part.get_content_type()
    if not part.is_multipart():
        if not is_body_text(part):
            return ""
        text = _text_of(part, defects)
        return _html_to_text(text) if ctype == "text/html" else text.strip()
    children = [c for c in part.get_payload() if isinstance(c, Message)]
    if ctype == "multipart/alternative":
        texts = [body_text(c, defects) for c in children]
        plain = [t for c, t in zip(children, texts, strict=True)
                 if c.get_content_type() == "text/plain" and t]
        return plain[0] if plain else next((t for t in reversed(texts) if t), "")
    if ctype == "multipart/related" and children:
        return body_text(children[0], defects)  # the rest are the root's pictures
    texts = [body_text(c, defects) for c in children]
    return "\n\n".join(t for t in texts if t)


def _text_of(part: Message, defects: list[str]) -> str:
    payload = decode_payload(part)  # base64 without the standard library's copies of it
    if len(payload) > MAX_BODY_BYTES:
        defects.append("limits.body_size")
        # At a line break: a character cut in half would change how the rest is decoded.
        end = payload.rfind(b"\n", 0, MAX_BODY_BYTES)
        payload = payload[:end if end > 0 else MAX_BODY_BYTES]
    return decode_bytes(payload, part.get_content_charset(), defects).replace("\r\n", "\n")


def _html_to_text(html: str) -> str:
    from inscriptis import get_text

    text = get_text(html, html_config()) if html.strip() else ""
    lines = [line.rstrip().replace("\xa0", " ") for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
