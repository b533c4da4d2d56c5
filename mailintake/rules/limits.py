"""Sizes: each attachment within ``[limits] max_attachment_bytes`` and the mail
within ``max_attachments`` files. What is over a limit was never opened
(``reading.py`` skips it), so the piece cannot be judged whole.

A whole mail over ``max_message_bytes`` never gets this far: it is set
aside unread (``limits.message_size``) before it is even downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator

from mailintake.rules.base import Hit, Piece, Rule

RULES = [
    Rule(
        "limits.attachment_size", "reject", "每个附件不超过单个附件的大小上限",
        "附件「{name}」有 {size}，超过单个附件 {limit} 的上限，未能读取。",
        "请压缩后重新发送：Word 中用“图片格式→压缩图片”，照片缩小到 5 MB 以内即可。",
    ),
    Rule(
        "limits.attachments", "reject", "附件个数不超过上限",
        "邮件有 {count} 个附件，超过 {limit} 个的上限，多出的附件未能读取。",
        "一封邮件只报送一篇稿件：请只附 Word 文档和必要的图片，必要时分几封邮件发送。",
    ),
]


def size_text(size: int) -> str:
    """A file's size as a clerk or a correspondent reads it: megabytes to one decimal
    (none when it is .0) from 1 MB up (31.2 MB, 30 MB), else whole kilobytes (512 KB,
    at least 1)."""
    if size >= 2**20:
        return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"
    return f"{max(round(size / 1024), 1)} KB"


def check(piece: Piece) -> Iterator[Hit]:
    limits = piece.config.limits
    parts = piece.mail.parts
    if len(parts) > limits.max_attachments:
        yield Hit("limits.attachments", {"count": len(parts), "limit": limits.max_attachments})
    for part in parts[:limits.max_attachments]:
        if len(part.payload) > limits.max_attachment_bytes:
            yield Hit("limits.attachment_size", {
                "name": part.filename or "（无文件名）", "size": size_text(len(part.payload)),
                "limit": size_text(limits.max_attachment_bytes),
            })
