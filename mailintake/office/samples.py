"""A sample context for every reply template, rendered once at start-up.

Jinja2 only notices a misspelt variable (``{{ submision.title }}``) when it
renders it. Rendering each template here, with contexts built by the same
functions and of the same types as the real replies, turns a clerk's typo
into an error when mailintake starts rather than when the first reply is due.
The samples fill every list, so the bodies of ``{% for %}`` loops are checked
too.

A new template is added here with its samples; ``Replies`` loads exactly
these names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailintake.config.settings import default_columns
from mailintake.office import bulletin, digest, reminders, solicitations
from mailintake.reading.mime import ParsedMail
from mailintake.replies import compose as answers
from mailintake.replies.render import Replies
from mailintake.rules import Finding
from mailintake.rules.examples import ExampleValues
from mailintake.store.models import Status, Submission
from mailintake.store.solicitations import Answered

_WHEN = "2026-11-19 10:00"
_OFFICE = "县教育局办公室"
_CONTACT = "王老师（电话 0571-86000000）"


def _mail() -> ParsedMail:
    return ParsedMail(
        message_id="sample@example.test", from_addr="lina@example.test", from_name="李娜",
        subject="实验小学（李娜）开展秋季趣味运动会", sent_at=None, headers={}, body="",
    )


def _submission(status: Status) -> Submission:
    return Submission(
        id=1, tracking_no="20261119-00001", message_id=1, unit_id=1, correspondent_id=1,
        column="general", title="开展秋季趣味运动会", author="李娜", status=status,
        word_count=268, picture_count=2, received_at=datetime(2026, 11, 19, 2, tzinfo=UTC),
        counted_at=datetime(2026, 11, 19, 2, tzinfo=UTC),
    )


_FINDINGS = [
    Finding(code="document.missing", severity="reject", message="邮件中没有 Word 文档。",
            hint="请把稿件保存为 .docx 文件，作为附件发送。"),
    Finding(code="picture.caption", severity="warn", message="第 1 张图片没有图注。",
            hint="请在每张图片下方用一行文字说明图片内容。"),
]


def _piece(status: Status, with_column: bool, solicited: Answered | None = None
           ) -> dict[str, Any]:
    columns = default_columns()
    return answers.piece_context(
        mail=_mail(), submission=_submission(status), findings=_FINDINGS, unit_name="实验小学",
        column=columns[-1] if with_column else None, columns=columns, tally_count=3,
        received_local=_WHEN, office_name=_OFFICE, counted_for="第11教学周（11月16日—11月22日）",
        contact=_CONTACT, examples=ExampleValues(unit="实验小学", week=11, author="李娜"),
        solicited=solicited,
    )


# Each template with one or more contexts: enough to take every branch that matters.
SAMPLES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    # The receipt of a piece answering a request for pieces (约稿): every branch.
    "receipt": lambda: [_piece(Status.ACCEPTED, with_column=True,
                               solicited=Answered("2026-003", "课后服务经验做法"))],
    "rejection": lambda: [_piece(Status.REJECTED, with_column=c) for c in (True, False)],
    "oversize": lambda: [answers.oversize_context(
        mail=_mail(), size=52 * 1024 * 1024, limit=40 * 1024 * 1024, received_local=_WHEN,
        office_name=_OFFICE, contact=_CONTACT,
    )],
    "unregistered": lambda: [answers.unregistered_context(
        mail=_mail(), received_local=_WHEN, office_name=_OFFICE, contact=_CONTACT,
    )],
    "question": lambda: [answers.question_context(
        mail=_mail(), received_local=_WHEN, office_name=_OFFICE, contact=_CONTACT,
    )],
    "held_rejection": lambda: [answers.held_rejection_context(
        mail=_mail(), reason="稿件内容与本单位无关", received_local=_WHEN, office_name=_OFFICE,
        contact=_CONTACT,
    )],
    "reminder": reminders.sample_contexts,
    "digest": digest.sample_contexts,
    "solicitation": solicitations.sample_contexts,
    "bulletin": bulletin.sample_contexts,
}


def load_replies(templates_dir: Path | None, sender: str) -> Replies:
    """The reply templates, each rendered with its samples: a broken one stops start-up."""
    return Replies(templates_dir, sender, SAMPLES)
