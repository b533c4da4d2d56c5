"""The subject line follows a column's format, names a unit the sender sends
for, and keeps its title within the column's length."""

from __future__ import annotations

from collections.abc import Iterator

from mailintake.rules.base import Hit, Piece, Rule
from mailintake.rules.examples import office_examples

RULES = [
    Rule(
        "subject.format", "reject", "主题符合某一栏目的格式",
        "邮件主题「{subject}」不符合任何栏目的格式。",
        "请按栏目格式填写主题，例如：{examples}",
    ),
    Rule(
        "subject.unit_unknown", "reject", "主题中的单位是登记过的单位（名称或简称）",
        "主题中的单位「{unit}」不在登记的单位名单中。",
        "请使用登记表中的单位全称或简称，例如「{own}」。",
    ),
    Rule(
        "sender.not_unit", "reject", "主题中的单位是发件人所属的单位之一",
        "您（{address}）登记的单位是「{own}」，不能代「{unit}」报送。",
        "请在主题中写本单位名称；如需代其他单位报送，请联系办公室登记。",
    ),
    Rule(
        "subject.title_too_long", "reject", "主题中的标题不超过栏目规定的字数",
        "标题「{title}」有 {count} 个字，超过{column}栏目 {limit} 个字的上限。",
        "请把标题精简到 {limit} 个字以内（标点和空格也计入），详细内容写在正文中。",
    ),
    Rule(
        "subject.author_missing", "warn", "栏目格式要求写作者的，主题中写明了作者",
        "主题中没有写作者姓名，{column}栏目要求主题写明单位和作者。",
        "请在括号中写作者姓名，例如「{example}」；活动日期请写在正文中。",
    ),
]


def check(piece: Piece) -> Iterator[Hit]:
    own = "、".join(u.name for u in piece.sender.units) or "（无）"
    if piece.match is None:
        # The columns' formats filled for this sender's unit, today and this week.
        mine = piece.sender.units[0].name if piece.sender.units else ""
        examples = "；".join(f"「{e}」" for e in office_examples(
            piece.config, unit=mine, day=piece.today, author=piece.sender.name))
        yield Hit("subject.format", {"subject": piece.mail.subject, "examples": examples})
        return
    unit = piece.match.unit
    if unit is None:
        yield Hit("subject.unit_unknown", {"unit": piece.match.unit_text, "own": own})
    elif unit.id not in {u.id for u in piece.sender.units}:
        yield Hit("sender.not_unit", {
            "unit": unit.name, "own": own, "address": piece.mail.from_addr,
        })
    column, title = piece.match.column, piece.match.title
    if "{作者}" in column.subject and not piece.match.author:
        yield Hit("subject.author_missing", {
            "column": column.name, "example": column.example or column.subject,
        })
    if column.max_title_chars and len(title) > column.max_title_chars:
        yield Hit("subject.title_too_long", {
            "title": title, "count": len(title), "column": column.name,
            "limit": column.max_title_chars,
        })
