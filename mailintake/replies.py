"""Replies rendered from the Jinja2 templates in ``templates/``.

A template starts with a ``Subject:`` line and a blank line; the rest is the
plain-text body. Every template is loaded and rendered once with a sample
context (``mailintake.reply_samples``) when mailintake starts, so a typo a
clerk made in one (bad syntax, or an unknown variable) is reported then, not
when the first reply is due. ``templates_dir`` need only hold the templates
the office changed; the others come from the shipped ``templates/``.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOOP_HEADER = "X-Mailintake-Loop"


class TemplateProblem(Exception):
    """A reply template is missing or broken; the message names the file."""


@dataclass(frozen=True)
class Original:
    """What a reply needs to know about the mail it answers."""

    message_id: str
    references: str


class Replies:
    """The loaded templates and the address replies come from."""

    def __init__(self, templates_dir: Path | None, sender: str) -> None:
        self.dir = templates_dir or DEFAULT_TEMPLATES
        self.sender = sender
        self.address = email.utils.parseaddr(sender)[1].lower()
        folders = [self.dir] if self.dir == DEFAULT_TEMPLATES else [self.dir, DEFAULT_TEMPLATES]
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701  (plain-text mail, never HTML)
        )
        from mailintake.reply_samples import SAMPLES  # its contexts use models and checks

        # Every template on disk is compiled now (syntax); those with samples are rendered too.
        found = {path.name.removesuffix(".txt.j2")
                 for folder in folders for path in folder.glob("*.txt.j2")}
        self._templates = {name: self._load(name) for name in sorted(found | set(SAMPLES))}
        for name, samples in SAMPLES.items():
            for sample in samples():
                self.render(name, sample)

    @property
    def names(self) -> list[str]:
        return list(self._templates)

    def _load(self, name: str) -> jinja2.Template:
        filename = f"{name}.txt.j2"
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
        """A reply with the headers that keep robots from answering robots."""
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = email.utils.format_datetime(now)
        domain = self.address.rpartition("@")[2] or "localhost"
        message["Message-ID"] = email.utils.make_msgid("mailintake", domain=domain)
        if original is not None and original.message_id:
            message["In-Reply-To"] = f"<{original.message_id}>"
            refs = f"{original.references} <{original.message_id}>".strip()
            message["References"] = refs
        message["Auto-Submitted"] = auto
        message["X-Auto-Response-Suppress"] = "All"
        message[LOOP_HEADER] = self.address
        message.set_content(body, charset="utf-8", cte="base64")
        return message
