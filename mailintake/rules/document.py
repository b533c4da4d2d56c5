"""The column's Word file is attached, readable, and only one piece per mail;
every picture can be opened without becoming a decompression bomb."""

from __future__ import annotations

from collections.abc import Iterator

from mailintake.rules.base import Hit, Piece, Rule

RULES = [
    Rule(
        "document.missing", "reject", "栏目要求的 Word 文档已作为附件发送",
        "邮件中没有找到 Word 文档附件。",
        "请将稿件保存为 Word 文档（.docx），作为附件随邮件发送。",
    ),
    Rule(
        "document.multiple", "reject", "一封邮件只报送一篇稿件",
        "邮件中有 {count} 个 Word 文档：{names}。",
        "一封邮件只报送一篇稿件，请分开发送，每封邮件附一个 Word 文档。",
    ),
    Rule(
        "document.legacy", "reject", "旧版 .doc / WPS 文件能转换为 .docx",
        "附件「{name}」是旧版 Word 或 WPS 格式，无法读取。",
        "请在 Word 或 WPS 中“另存为” .docx 格式后重新发送。",
    ),
    Rule(
        "document.macro", "reject", "文档不含宏（.docm）",
        "附件「{name}」含有宏，出于安全原因不予接收。",
        "请另存为不含宏的 Word 文档（.docx）后重新发送。",
    ),
    Rule(
        "document.encrypted", "reject", "文档没有设置打开密码",
        "附件「{name}」设置了密码，无法打开。",
        "请取消文档密码后重新发送。",
    ),
    Rule(
        "document.corrupt", "reject", "文档能正常打开",
        "附件「{name}」已损坏，无法打开。",
        "请在电脑上确认文档能正常打开，重新保存为 .docx 后再发送。",
    ),
    Rule(
        "document.too_large", "reject", "文档解压后的大小在限制之内",
        "附件「{name}」解压后过大，无法处理。",
        "请压缩文档中的图片（Word 中“压缩图片”）后重新发送。",
    ),
    Rule(
        "document.too_complex", "reject", "文档内部的部件数量在限制之内",
        "附件「{name}」结构异常（部件过多），无法处理。",
        "请将内容复制到新的 Word 文档中，另存为 .docx 后重新发送。",
    ),
    Rule(
        "document.unsafe", "reject", "文档不含 Word 从不写入的 XML 声明（DTD、实体）",
        "附件「{name}」含有不安全的内容（XML 实体声明），出于安全原因不予处理。",
        "请在 Word 或 WPS 中新建文档，复制正文和图片，另存为 .docx 后重新发送。",
    ),
    Rule(
        "document.unconvertible", "reject", "旧版 .doc / WPS 文件能转换为 .docx",
        "附件「{name}」是旧版 Word 或 WPS 格式，转换为 .docx 时失败。",
        "请在 Word 或 WPS 中打开，“另存为” .docx 格式后重新发送。",
    ),
    Rule(
        "picture.bomb", "reject", "图片的像素数在限制之内（防止“解压炸弹”）",
        "图片「{name}」的尺寸过大（{detail}），无法处理。",
        "请发送相机或手机拍摄的普通照片；如用软件处理过，请缩小到 8000×8000 像素以内再发送。",
    ),
    Rule(
        "picture.unreadable", "warn", "图片能正常打开",
        "图片「{name}」无法打开，可能已损坏或不是图片格式。",
        "请确认图片能在电脑上正常打开，以 JPG 或 PNG 格式重新发送。",
    ),
]


def check(piece: Piece) -> Iterator[Hit]:
    for name, code, _detail in piece.document_errors:
        yield Hit(code, {"name": name})
    for name, code, detail in piece.file_errors:
        yield Hit(code, {"name": name, "detail": detail or "像素过多"})
    count = len(piece.documents) + len(piece.document_errors)
    column = piece.column
    if count == 0 and (column is None or column.require_document):
        yield Hit("document.missing")
    elif count > 1:
        names = "、".join(
            [d.filename for d in piece.documents] + [n for n, _c, _d in piece.document_errors]
        )
        yield Hit("document.multiple", {"count": count, "names": names})
