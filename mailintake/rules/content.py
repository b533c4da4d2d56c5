"""What the weekly digest must look like inside (seed 003: 每周工作动态信息要
逐条列明，有时间、有地点、有事件): items numbered one by one, each saying when.

Only a warning: the office reads the content, mailintake only points at
what is plainly missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mailintake.rules.base import Hit, Piece, Rule

RULES = [
    Rule(
        "content.not_itemized", "warn", "每周动态逐条列明（1. 2. 3. 或 一、二、三、）",
        "文档中没有找到逐条编号的动态条目。",
        "请逐条列明本周动态，每条以编号开头，例如“1. 时间：11月16日上午；地点：……；事件：……”。",
    ),
    Rule(
        "content.item_no_time", "warn", "每周动态的每一条都写明时间",
        "第 {items} 条没有写明时间。",
        "请在每条动态中写明时间，例如“11月16日上午”或“周三”。",
    ),
]

# "1." "1、" "(1)" "一、" "（一）" "①" at the start of a paragraph.
_ITEM = re.compile(
    r"^\s*(?:\d{1,2}\s*[.．、)）]|[(（]\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[)）]"
    r"|[一二三四五六七八九十]{1,3}\s*、|[①-⑳])"
)
_TIME = re.compile(
    r"\d{1,2}\s*月\s*\d{1,2}\s*日|\d{1,2}\s*日|\d{1,2}\s*[:：]\s*\d{2}|[上中下]午|晚上|早上|凌晨"
    r"|周[一二三四五六日天]|星期[一二三四五六日天]|时间\s*[:：]\s*\S|本周|上周|近日|\d{4}\s*年"
)


def check(piece: Piece) -> Iterator[Hit]:
    column, document = piece.column, piece.document
    if column is None or document is None or not column.itemized:
        return
    items = [line for line in document.text.split("\n") if _ITEM.match(line)]
    if len(items) < 2:
        yield Hit("content.not_itemized")
        return
    untimed = [str(n) for n, line in enumerate(items, start=1) if not _TIME.search(line)]
    if untimed:
        yield Hit("content.item_no_time", {"items": "、".join(untimed)})
