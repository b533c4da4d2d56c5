"""Forwarded drafts: a piece passed on as it came, not reviewed by the unit.

Seed 004 complains of township schools that 直接转发本乡镇中小学稿子发到局邮箱，
不审阅不修改; seed 000 wants every piece audited by the unit's person in
charge. A mail looks forwarded when its subject starts with a forward prefix
(转发：, 转：, Fw:, Fwd:; the subject matcher strips it), when it carries the
original mail (a message/rfc822 part, or the quoted header block a client
writes into the body: -------- 转发邮件信息 --------, 原始邮件, 发件人：… 发送时间：…),
or when its body names another author and asks us to review it (请审核).
An answer to one of our replies quotes our reply in the same way: there the
quoted part is ours and only what the correspondent wrote above it counts.

Warn by default; an office that wants such drafts sent back sets
``[checks] severity = {"forwarded.draft" = "reject"}``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from mailintake.rules.base import Hit, Piece, Rule

RULES = [
    Rule(
        "forwarded.draft", "warn", "稿件不是未经审阅直接转发的他人稿子",
        "本稿像是直接转发的稿件（{reason}），未经本单位审核修改。",
        "请本单位负责人审阅把关，以本单位名义审核修改后重新报送；"
        "主题按栏目格式填写，不要带“转发”字样，也不要转发原邮件。",
    ),
]

# After NFKC folding (full-width colon -> ":"), behind any reply or correction marks.
_PREFIX = re.compile(
    r"^(?:\s*(?:re|回复|答复|更正|修正|修改|重发|补发)\s*:)*\s*(?P<prefix>fwd?|转发|转)\s*:",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"-{2,}\s*(?:转发邮件信息|转发的邮件|原始邮件|邮件原文|original message|forwarded message)"
    r"\s*-{2,}",
    re.IGNORECASE,
)
# The header block a client quotes: 发件人：… then, within a few lines, 发送时间：….
_QUOTED_HEADERS = re.compile(
    r"^\s*(?:发件人|from)\s*:.*\n(?:.*\n){0,3}?\s*(?:发送时间|时间|日期|sent|date)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_AUTHOR_LABEL = re.compile(
    r"(?:作者|撰稿人?|供稿人?|投稿人|通讯员)\s*:\s*(?P<name>[\u4e00-\u9fffA-Za-z·]{2,10})"
)
_PASSED_ON = re.compile(
    r"(?P<name>[\u4e00-\u9fff]{1,12}?)(?:写的|撰写的|报来的|发来的|转来的|交来的|提供的)"
    r"(?:稿|稿子|稿件|信息|文章|材料)"
)
_OWN = ("我", "本人", "我们", "自己", "我校", "本校", "本单位")
_REVIEW = re.compile(r"请(?:您|老师|领导)?(?:帮忙|帮我)?(?:审核|审阅|审稿|把关)|审核后|审阅后")


def check(piece: Piece) -> Iterator[Hit]:
    reason = _reason(piece)
    if reason:
        yield Hit("forwarded.draft", {"reason": reason})


def _reason(piece: Piece) -> str:
    mail = piece.mail
    prefix = _PREFIX.match(unicodedata.normalize("NFKC", mail.subject))
    if prefix is not None:
        original = mail.subject.lstrip()[: len(prefix.group(0).lstrip())]
        return f"主题以「{original.strip()}」开头"
    if mail.forwarded:
        return "邮件中附有转发的原邮件"
    body = unicodedata.normalize("NFKC", mail.body)
    quoted = _SEPARATOR.search(body) or _QUOTED_HEADERS.search(body)
    if quoted and piece.answering:  # an answer to one of ours quotes our own reply
        body = body[: quoted.start()]
    elif quoted:
        return "正文中有转发的原邮件信息"
    author = _other_author(piece, body)
    if author and _REVIEW.search(body):
        return f"正文写明稿件出自「{author}」并请求审核"
    return ""


def _other_author(piece: Piece, body: str) -> str:
    """Someone the body names as the piece's author who is not the sender."""
    own = {piece.sender.name, piece.mail.from_name} - {""}
    for match in _AUTHOR_LABEL.finditer(body):
        if match["name"] not in own:
            return match["name"]
    for match in _PASSED_ON.finditer(body):
        name = re.sub(r"^(?:这是|这篇是|附件是|是|由)", "", match["name"])
        if not name.endswith(_OWN) and name not in own:
            return name
    return ""
