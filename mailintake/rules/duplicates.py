"""A piece already filed by any unit is not filed again (seed 004: central
schools forwarding their village schools' drafts unread).

The same document is the same normalized text, whatever file it came in;
nearly the same is a Jaccard similarity of 4-character shingles at or above
``[duplicates] threshold``. The pipeline looks up the candidates
(``mailintake.store.history``); a correction is never compared with the versions
it replaces.
"""

from __future__ import annotations

from collections.abc import Iterator

from mailintake.reading.fingerprint import shingles_of, similarity
from mailintake.rules.base import Hit, Piece, Rule
from mailintake.rules.values import Earlier

RULES = [
    Rule(
        "duplicate.document", "reject", "同一篇稿件（正文相同）没有被任何单位登记过",
        "本稿与已登记的稿件 {tracking_no}（{unit}，{day}，「{title}」）内容相同。",
        "同一篇稿件只登记一次，请勿重复报送或转发其他单位的稿件。如需更正本单位已登记的稿件，"
        "请在 {days} 天内使用与原稿完全相同的主题重新发送。",
    ),
    Rule(
        "duplicate.similar", "reject", "稿件与已登记的稿件不高度相似（相似度低于设定值）",
        "本稿与已登记的稿件 {tracking_no}（{unit}，{day}，「{title}」）高度相似"
        "（相似度 {percent}%）。",
        "请报送本单位自己采写的稿件，不要改写或转发其他单位的稿件；如确为不同的事情，"
        "请联系办公室人工登记。",
    ),
]


def _values(piece: Piece, earlier: Earlier) -> dict[str, object]:
    day = earlier.received_at.astimezone(piece.config.office.tz)
    return {
        "tracking_no": earlier.tracking_no, "unit": earlier.unit or "未知单位",
        "day": f"{day:%Y-%m-%d}", "title": earlier.title,
        "days": piece.config.corrections.window_days,
    }


def check(piece: Piece) -> Iterator[Hit]:
    fingerprint = piece.history.fingerprint
    candidates = piece.history.candidates
    if fingerprint is None or not candidates:
        return
    # Candidates are oldest first: name the original, not a later copy of it.
    same = next((e for e in candidates if e.text_hash == fingerprint.hash), None)
    if same is not None:
        yield Hit("duplicate.document", _values(piece, same))
        return
    mine = shingles_of(fingerprint.hash, fingerprint.normalized)
    scored = [(similarity(mine, shingles_of(e.text_hash, e.text)), e) for e in candidates]
    threshold = piece.config.duplicates.threshold
    close = [(score, e) for score, e in scored if score >= threshold]
    if close:
        score, earlier = close[0]
        yield Hit("duplicate.similar", {
            **_values(piece, earlier), "percent": int(score * 100),
        })
