"""The length of the piece: Word's 字数 within the column's usual range
(seed 000: "generally between 150 and 300, longer for major events", so a
warning), and a Weibo post within 140 characters as Weibo counts them.
"""

from __future__ import annotations

from collections.abc import Iterator

from mailintake.reading.word import Document
from mailintake.rules.base import Hit, Piece, Rule
from mailintake.rules.columns import normalize_subject

RULES = [
    Rule(
        "length.too_short", "warn", "字数（按 Word 的“字数统计”）不少于栏目的下限",
        "稿件共 {words} 字，少于{column}栏目一般要求的 {low} 字。",
        "请补充事情的时间、地点、人物、做法和成效，一般写到 {range}。",
    ),
    Rule(
        "length.too_long", "warn", "字数（按 Word 的“字数统计”）不超过栏目的上限",
        "稿件共 {words} 字，超过{column}栏目一般要求的 {high} 字。",
        "请精简到 {high} 字以内；重大活动的稿件可以适当加长。",
    ),
    Rule(
        "length.weibo_too_long", "reject", "微博正文按微博的算法不超过栏目的字数上限（140 字）",
        "微博正文按微博的算法共 {count} 字，超过 {limit} 字的上限。",
        "请删减到 {limit} 字以内：汉字和全角标点每个算 1 字，英文字母、数字和半角符号每 2 个"
        "算 1 字；文档开头的标题和图片说明不计入。",
    ),
]


def weibo_length(text: str) -> int:
    """Characters as Weibo counts them: two half-width characters count one.

    Weibo's own rule: a character beyond Latin-1 counts one, any other half,
    rounded up. Line breaks between paragraphs are not typed into the post.
    """
    halves = sum(2 if ord(ch) > 0xFF else 1 for ch in text if ch not in "\r\n")
    return (halves + 1) // 2


def weibo_text(document: Document, title: str) -> str:
    """The post itself: the Word text without a first line that repeats the
    subject's title, and without picture captions."""
    lines = document.text.split("\n")
    if lines and title and _same(lines[0], title):
        lines = lines[1:]
    captions = set(document.captions)
    return "\n".join(line for line in lines if line.strip() not in captions)


def _same(a: str, b: str) -> bool:
    return "".join(normalize_subject(a).split()) == "".join(normalize_subject(b).split())


def check(piece: Piece) -> Iterator[Hit]:
    column, document = piece.column, piece.document
    if column is None or document is None:
        return
    words = document.word_count
    low, high = column.min_words, column.max_words
    values = {"words": words, "column": column.name, "low": low, "high": high,
              "range": f"{low}–{high} 字" if high else f"{low} 字以上"}
    if low and words < low:
        yield Hit("length.too_short", values)
    if high and words > high:
        yield Hit("length.too_long", values)
    if column.max_chars:
        title = piece.match.title if piece.match else ""
        count = weibo_length(weibo_text(document, title))
        if count > column.max_chars:
            yield Hit("length.weibo_too_long", {"count": count, "limit": column.max_chars})
