"""Pictures, where the column wants them (inserted in the Word file, attached
beside it, or either): as many as the column asks for, at least one
high-definition for Weibo (seed 003: 选用高清配图插入文档), and a caption
under each picture in the document (seed 003: 对图片配文字解释).

Pictures elsewhere are still filed with the piece; they just do not count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from mailintake.reading.word import Picture
from mailintake.rules.base import Hit, Piece, Rule

RULES = [
    Rule(
        "pictures.too_few", "reject",
        "图片数量（按栏目要求的位置：文档内、附件或两者）不少于栏目的要求",
        "{column}栏目要求至少 {need} 张图片，本稿{where}只有 {have} 张。",
        "请在 Word 文档中插入能突出主要活动和人物的图片，原图也可以作为附件一并发送。",
    ),
    # Seed 003 writes 插入文档 into the format the pieces must be sent in (报送格式),
    # and the editor takes the picture and its caption from the document: a picture
    # only attached cannot be placed, so the piece comes back.
    Rule(
        "pictures.not_in_document", "reject", "栏目要求的图片插入在 Word 文档中，而不只是作为附件",
        "{column}栏目要求把图片插入 Word 文档（至少 {need} 张），本稿文档中有 {have} 张、"
        "附件中有 {elsewhere} 张。请将图片插入Word文档并在图片下方配文字说明，附件中的图片不计入。",
        "在 Word 中用“插入→图片”把照片放在正文相应位置，在图片下方另起一段写说明（例如“图为……”）；"
        "原图仍可以作为附件一并发送。",
    ),
    # A column the office configured as "attached" wants the original files (Word
    # compresses what is inserted); without them the editor has nothing to publish.
    Rule(
        "pictures.not_attached", "reject", "栏目要求的图片作为附件单独发送，而不只是插入在文档中",
        "{column}栏目要求把图片作为附件发送（至少 {need} 张），本稿附件中有 {have} 张、"
        "Word 文档中有 {elsewhere} 张。文档中插入的图片不计入。",
        "请把相机或手机拍摄的原图作为邮件附件一并发送；Word 插入图片时会压缩图片。",
    ),
    Rule(
        "pictures.low_resolution", "reject",
        "至少有一张图片（在栏目要求的位置）达到栏目要求的高清分辨率",
        "{column}栏目要求高清图片（至少 {need}），本稿{where}最大的图片只有 {best}。",
        "请使用相机或手机拍摄的原图，不要用截图或聊天软件压缩过的图片。{tip}",
    ),
    # Seed 003 asks for 对图片配文字解释, yet this stays a warning: a caption is
    # recognised by its style or its wording (图为…), and a piece should not come
    # back because we missed one. An office may make it "reject" per column.
    Rule(
        "pictures.caption_missing", "warn", "文档中的每张图片下方都有文字说明",
        "文档中有 {count} 张图片没有配文字说明（共 {total} 张）。",
        "请在每张图片下方另起一段写说明，例如“图为……”，并使用 Word 的“题注”样式。",
    ),
]

# Where the pictures counted are, as the messages say it ("本稿{where}只有 …").
_WHERE = {"in_document": "文档中", "attached": "附件中", "either": ""}
# How to keep a picture sharp, for each place.
_TIPS = {
    "in_document": "Word 插入图片时会压缩，可在“文件→选项→高级”中勾选“不压缩文件中的图像”后"
                   "重新插入原图；附件中的图片不计入。",
    "attached": "请把原图作为附件发送；文档中插入的图片不计入。",
    "either": "Word 插入图片时会压缩，可在“文件→选项→高级”中勾选“不压缩文件中的图像”，"
              "或把原图作为附件一并发送。",
}


def _size(pixels: int) -> str:
    """A pixel count as a 16:9 width × height a correspondent recognises."""
    width = round(math.sqrt(pixels * 16 / 9))
    return f"{width}×{round(width * 9 / 16)} 像素"


def placed(piece: Piece) -> tuple[list[Picture], list[Picture]]:
    """The pictures where the piece's column wants them, and those elsewhere."""
    inside = [p for d in piece.documents for p in d.pictures]
    place = piece.column.pictures_in if piece.column else "either"
    if place == "in_document":
        return inside, piece.attached_pictures
    if place == "attached":
        return piece.attached_pictures, inside
    return inside + piece.attached_pictures, []


def check(piece: Piece) -> Iterator[Hit]:
    column = piece.column
    if column is None:
        return
    pictures, elsewhere = placed(piece)
    need = column.min_pictures
    where = _WHERE[column.pictures_in]
    if len(pictures) < need:
        if elsewhere:
            code = ("pictures.not_in_document" if column.pictures_in == "in_document"
                    else "pictures.not_attached")
            yield Hit(code, {"column": column.name, "need": need, "have": len(pictures),
                             "elsewhere": len(elsewhere)})
        if len(pictures) + len(elsewhere) < need:
            yield Hit("pictures.too_few", {
                "column": column.name, "need": need, "have": len(pictures), "where": where,
            })
    need_pixels = column.min_picture_pixels
    if need_pixels and pictures and max(p.pixels for p in pictures) < need_pixels:
        best = max(pictures, key=lambda p: p.pixels)
        yield Hit("pictures.low_resolution", {
            "column": column.name, "need": _size(need_pixels), "where": where,
            "best": f"{best.width}×{best.height} 像素", "tip": _TIPS[column.pictures_in],
        })
    if column.expect_captions:
        inside = [p for d in piece.documents for p in d.pictures]
        bare = [p for p in inside if not p.caption.strip()]
        if bare:
            yield Hit("pictures.caption_missing", {"count": len(bare), "total": len(inside)})
