"""Pictures, in the Word file or attached beside it: as many as the column
asks for, at least one high-definition for Weibo (seed 003: 高清配图), and a
caption under each picture in the document (seed 003: 对图片配文字解释).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from mailintake.rules.base import Hit, Piece, Rule

RULES = [
    Rule(
        "pictures.too_few", "reject", "图片数量（文档内插入的和附件）不少于栏目的要求",
        "{column}栏目要求至少 {need} 张图片，本稿只有 {have} 张。",
        "请在 Word 文档中插入能突出主要活动和人物的图片，原图也可以作为附件一并发送。",
    ),
    Rule(
        "pictures.low_resolution", "reject", "至少有一张图片达到栏目要求的高清分辨率",
        "{column}栏目要求高清图片（至少 {need}），本稿最大的图片只有 {best}。",
        "请使用相机或手机拍摄的原图，不要用截图或聊天软件压缩过的图片；Word 插入图片时会压缩，"
        "可在“文件→选项→高级”中勾选“不压缩文件中的图像”，或把原图作为附件一并发送。",
    ),
    Rule(
        "pictures.caption_missing", "warn", "文档中的每张图片下方都有文字说明",
        "文档中有 {count} 张图片没有配文字说明（共 {total} 张）。",
        "请在每张图片下方另起一段写说明，例如“图为……”，并使用 Word 的“题注”样式。",
    ),
]


def _size(pixels: int) -> str:
    """A pixel count as a 16:9 width × height a correspondent recognises."""
    width = round(math.sqrt(pixels * 16 / 9))
    return f"{width}×{round(width * 9 / 16)} 像素"


def check(piece: Piece) -> Iterator[Hit]:
    column = piece.column
    if column is None:
        return
    pictures = piece.pictures
    if len(pictures) < column.min_pictures:
        yield Hit("pictures.too_few", {
            "column": column.name, "need": column.min_pictures, "have": len(pictures),
        })
    need = column.min_picture_pixels
    if need and pictures and max(p.pixels for p in pictures) < need:
        best = max(pictures, key=lambda p: p.pixels)
        yield Hit("pictures.low_resolution", {
            "column": column.name, "need": _size(need),
            "best": f"{best.width}×{best.height} 像素",
        })
    if column.expect_captions:
        inside = [p for d in piece.documents for p in d.pictures]
        bare = [p for p in inside if not p.caption.strip()]
        if bare:
            yield Hit("pictures.caption_missing", {"count": len(bare), "total": len(inside)})
