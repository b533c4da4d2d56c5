"""Answers to our own replies: how our subjects are marked, and how an answer is told.

Every mail mailintake sends starts its subject with one of ``TAGS`` in 【】
(the reply templates and the office's notices write them). A correspondent
who answers one (``回复：【退回】稿件未能登记…：实验小学信息…``) either asks a
question, which is for a person (the ``question`` gate), or sends the piece
again corrected, which is a piece: its subject is matched behind the reply
prefix, our tag and our words (``quoted``), so the original title still fits
its column.
"""

from __future__ import annotations

import re

from mailintake.reading.mail import Reading

#: The tags our subjects start with, in 【】: receipt, rejection, note, reminder,
#: weekly digest, and the acknowledgement of a question.
TAGS = ("回执", "退回", "提示", "催报", "周报", "收悉", "通报")
#: The tag of a request for a piece (约稿), followed by its number: 【约稿2026-003】.
SOLICIT_TAG = "约稿"

# What mail clients put in front of an answer's subject: 回复：, 答复：, 回覆：, Re:,
# RE:, Re[2]:, with the half- or full-width colon, any number of times.
_REPLY = re.compile(r"^(?:\s*(?:re|回复|答复|回覆)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE)
_TAG = "|".join(TAGS)
# Our subjects start with a tag; a request for a piece carries its number after it.
_OURS = re.compile(
    rf"^\s*[【\[〔［]\s*(?:{_TAG}|{SOLICIT_TAG}[^【】\[\]〔〕［］]{{0,30}}?)\s*[】\]〕］]")
# The marker of an answer to a request for a piece, anywhere in a subject: 【约稿2026-003】,
# [约稿2026-3], （约稿 2026－003）, in any bracket, half- or full-width.
_SOLICITED = re.compile(
    rf"[【\[〔［(（〖]\s*{SOLICIT_TAG}\s*[:：]?\s*(\d{{4}})\s*[-－—–]\s*(\d{{1,4}})\s*[】\]〕］)）〗]")
# Our tag and our words up to the colon before the subject we quote, as the subject
# matcher sees them (brackets made round, full width folded: see ``rules.columns``).
_QUOTED = re.compile(rf"^\((?:{_TAG})\)(?:[^:]*:)?\s*")


def answered_subject(subject: str) -> str:
    """The subject behind the reply prefixes of an answer; "" when there are none."""
    prefix = _REPLY.match(subject)
    return subject[prefix.end():].strip() if prefix else ""


def ours(subject: str) -> bool:
    """Whether ``subject`` is marked as one of ours (it starts with one of ``TAGS``)."""
    return _OURS.match(subject) is not None


def looks_like_answer(subject: str) -> bool:
    """A reply prefix in front of one of our subjects: an answer to something we sent."""
    rest = answered_subject(subject)
    return bool(rest) and ours(rest)


def quoted(normalized: str) -> int:
    """How much of a normalized subject is our tag and words in front of the subject
    we quoted (0 when it does not start with one of our tags)."""
    found = _QUOTED.match(normalized)
    return found.end() if found else 0


def solicitation_number(subject: str) -> str:
    """The number of the request for a piece (约稿) a subject names by its marker
    (``【约稿2026-003】`` -> ``2026-003``); "" when it names none."""
    found = _SOLICITED.search(subject)
    return f"{found.group(1)}-{int(found.group(2)):03d}" if found else ""


def solicitation_marker(number: str) -> str:
    """The marker a subject carries to answer request ``number``: 【约稿2026-003】."""
    return f"【{SOLICIT_TAG}{number}】"


def without_solicitation_marker(subject: str) -> str:
    """``subject`` without its 约稿 marker, so it is matched against the columns as
    the correspondent would have written it without."""
    return _SOLICITED.sub("", subject, count=1).strip()


def carries_piece(reading: Reading) -> bool:
    """Whether a mail brings a document: a Word or WPS file, read or not."""
    return bool(reading.documents or reading.document_errors
                or any(kind == "document" for _part, kind in reading.files))


def message_ids(*values: str, limit: int = 20) -> list[str]:
    """The Message-IDs (no angle brackets) named in In-Reply-To and References values,
    the nearest first; at most ``limit`` of them (References may be long)."""
    found: list[str] = []
    for value in values:
        for mid in reversed(re.findall(r"<([^<>\s]{1,300})>", value)):
            if mid not in found:
                found.append(mid)
    return found[:limit]
