"""Replies rendered from the Jinja2 templates shipped in ``mailintake/replies/templates/``.

A template starts with a ``Subject:`` line and a blank line; the rest is the
plain-text body. Every template is loaded and rendered once with a sample
context (``mailintake.office.samples``) when mailintake starts, so a typo a
clerk made in one (bad syntax, or an unknown variable) is reported then, not
when the first reply is due. ``templates_dir`` need only hold the templates
the office changed; the others come from the shipped ones, read as package
data (``importlib.resources``) so an ordinary install finds them.
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email import encoders
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.text import MIMEText
from email.policy import Compat32
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket

from mailintake.rules.robots import LOOP_HEADER

DEFAULT_TEMPLATES = resources.files("mailintake.replies") / "templates"
SUFFIX = ".txt.j2"


class _Wire(Compat32):
    """How replies go on the wire: compat32 with CRLF line ends, as SMTP wants
    them; and a header given as text is folded once per name and text.

    Folding makes a ``Header`` of every field and encodes it (0.05 ms each);
    half the fields of a reply are the same in every reply (From, the
    anti-loop fields, the MIME fields).
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if isinstance(value, str):
            return _folded(self, name, value)
        return super().fold_binary(name, value)


@lru_cache(maxsize=64)
def _folded(policy: _Wire, name: str, value: str) -> bytes:
    return Compat32.fold_binary(policy, name, value)


_WIRE = _Wire(linesep="\r\n")


class TemplateProblem(Exception):
    """A reply template is missing or broken; the message names the file."""


@dataclass(frozen=True)
class Original:
    """What a reply needs to know about the mail it answers."""

    message_id: str
    references: str


log = logging.getLogger("mailintake.replies.render")


class _Compiled(jinja2.FileSystemBytecodeCache):
    """Templates compiled at an earlier start, kept in a folder of this user's own
    under the temporary directory (jinja2 checks who owns it): compiling the six
    replies takes 60 ms of every start. One that cannot be written only makes the
    next start slower."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.debug("compiled template not kept: %s", exc)


def _compiled() -> jinja2.BytecodeCache | None:
    try:
        return _Compiled()
    except (OSError, RuntimeError) as exc:  # no safe temporary folder: compile every time
        log.debug("no cache for compiled templates: %s", exc)
        return None


def _shipped(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    """A template shipped with mailintake: its text, where it is, and that it stays
    as it is (package data changes only with a new install, which restarts)."""
    template = DEFAULT_TEMPLATES / name
    if not template.is_file():
        return None
    return template.read_text(encoding="utf-8"), str(template), lambda: True


class Replies:
    """The loaded templates and the address replies come from."""

    def __init__(self, templates_dir: Path | None, sender: str,
                 samples: Mapping[str, Callable[[], list[dict[str, Any]]]] | None = None
                 ) -> None:
        """Load every template; render each of ``samples`` (name -> contexts) so a
        mistake stops start-up rather than a reply (``office.samples.load_replies``)."""
        self.dir: Path | Traversable = templates_dir or DEFAULT_TEMPLATES
        self.sender = sender
        self.address = email.utils.parseaddr(sender)[1].lower()
        loaders: list[jinja2.BaseLoader] = [jinja2.FunctionLoader(_shipped)]
        if templates_dir is not None:
            loaders.insert(0, jinja2.FileSystemLoader(templates_dir))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701  (plain-text mail, never HTML)
            bytecode_cache=_compiled(),
        )
        samples = samples or {}
        # Every template on disk is compiled now (syntax); those with samples are rendered too.
        found = {path.name.removesuffix(SUFFIX) for path in DEFAULT_TEMPLATES.iterdir()
                 if path.name.endswith(SUFFIX)}
        if templates_dir is not None:
            found |= {path.name.removesuffix(SUFFIX) for path in templates_dir.glob(f"*{SUFFIX}")}
        self._templates = {name: self._load(name) for name in sorted(found | set(samples))}
        for name, contexts in samples.items():
            for context in contexts():
                self.render(name, context)

    @property
    def names(self) -> list[str]:
        return list(self._templates)

    def _load(self, name: str) -> jinja2.Template:
        filename = f"{name}{SUFFIX}"
        try:
            return self._env.get_template(filename)
        except jinja2.TemplateNotFound as exc:
            raise TemplateProblem(f"缺少回复模板 {self.dir / filename}") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"回复模板 {exc.filename or filename} 第 {exc.lineno} 行有误：{exc.message}"
            ) from exc

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str]:
        """(subject, body) of a template filled with ``context``."""
        template = self._templates.get(name) or self._load(name)
        try:
            text = template.render(**context)
        except jinja2.UndefinedError as exc:
            raise TemplateProblem(
                f"回复模板 {template.filename} 用了不存在的变量：{exc.message}"
            ) from exc
        except Exception as exc:  # a template may call anything: 1/0, a bad filter argument
            raise TemplateProblem(f"回复模板 {template.filename} 无法生成：{exc}") from exc
        head, _, body = text.partition("\n\n")
        subject = head.removeprefix("Subject:").strip() if head.startswith("Subject:") else ""
        if not subject:
            raise TemplateProblem(f"回复模板 {name}.txt.j2 第一行应为 “Subject: …”")
        return subject, body.strip() + "\n"

    def build(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        now: datetime,
        original: Original | None = None,
        auto: str = "auto-replied",
    ) -> EmailMessage:
        """A reply as an ``EmailMessage``, for a caller that adds parts (the digest)."""
        message = EmailMessage(policy=email.policy.SMTP)
        for name, value in self._fields(to, subject, now, original, auto):
            message[name] = value
        message.set_content(body, charset="utf-8", cte="base64")
        return message

    def plain(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        now: datetime,
        original: Original | None = None,
        auto: str = "auto-replied",
    ) -> bytes:
        """A plain-text reply, ready to send.

        Built with the compat32 classes: ``EmailMessage`` folds a Chinese
        subject by trying every split point (5 ms a receipt, a third of the
        work of filing a piece); ``Header`` encodes it in one pass.
        """
        message = MIMEText(body, "plain", "utf-8")  # base64, as ``build`` does
        self._head(message, to=to, subject=subject, now=now, original=original, auto=auto)
        return message.as_bytes(policy=_WIRE)

    def with_attachment(
        self, *, to: str, subject: str, body: str, now: datetime, attachment: bytes,
        auto: str = "auto-generated",
    ) -> bytes:
        """A plain-text mail with ``attachment`` (``attachment_part``: already encoded),
        ready to send.

        Its header is folded as ``plain``'s; its parts are joined here, not by the
        email package's generator, which writes a mail line by line (60 ms a mail
        with a spreadsheet attached: the 通报 goes to hundreds of addresses).
        """
        boundary = f"=_mailintake_{secrets.token_hex(12)}"
        head = Message()  # no type yet: the generator would write an empty multipart
        self._head(head, to=to, subject=subject, now=now, original=None, auto=auto)
        text = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
        mark = f"--{boundary}".encode()
        return b"".join([
            head.as_bytes(policy=_WIRE).removesuffix(b"\r\n"), b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode(), mark,
            b'\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n", text, mark, b"\r\n", attachment,
            mark, b"--\r\n",
        ])

    def _head(self, message: Message, *, to: str, subject: str, now: datetime,
              original: Original | None, auto: str) -> None:
        """Write a mail's header fields into ``message``, each encoded in one pass."""
        for name, value in self._fields(to, subject, now, original, auto):
            if value.isascii():
                message[name] = value
            else:
                message[name] = Header(value, "utf-8", header_name=name)  # type: ignore[assignment]

    def _fields(
        self, to: str, subject: str, now: datetime, original: Original | None, auto: str
    ) -> list[tuple[str, str]]:
        """The header fields of a reply, including those that keep robots from answering."""
        domain = self.address.rpartition("@")[2] or "localhost"
        fields = [
            ("From", _address(self.sender)),
            ("To", _address(to)),
            ("Subject", subject),
            ("Date", email.utils.format_datetime(now)),
            ("Message-ID", email.utils.make_msgid("mailintake", domain=domain)),
        ]
        if original is not None and original.message_id:
            fields.append(("In-Reply-To", f"<{original.message_id}>"))
            fields.append(("References", f"{original.references} <{original.message_id}>".strip()))
        fields += [("Auto-Submitted", auto), ("X-Auto-Response-Suppress", "All"),
                   (LOOP_HEADER, self.address)]
        return fields


def attachment_part(data: bytes, maintype: str, subtype: str, filename: str) -> bytes:
    """A file as a part of ``Replies.with_attachment``'s mails, encoded once for all of
    them; a Chinese file name is written as RFC 2231 says (``filename*=utf-8''…``)."""
    part = MIMEBase(maintype, subtype)
    part.set_payload(data)
    encoders.encode_base64(part)
    name: str | tuple[str, str, str] = filename if filename.isascii() else (
        "utf-8", "", filename)
    part.add_header("Content-Disposition", "attachment", filename=name)
    del part["MIME-Version"]
    raw = part.as_bytes(policy=_WIRE)
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def _address(value: str) -> str:
    """An address field with its display name RFC 2047-encoded where it is not ASCII."""
    name, addr = email.utils.parseaddr(value)
    if not addr or "@" not in addr:
        return value
    return email.utils.formataddr((name, addr), charset="utf-8")
