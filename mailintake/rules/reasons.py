"""What each reason code means, in the clerk's words.

A mail's record keeps the codes of the gate or the checks that decided it
(``InboundMessage.reasons``): stable for logs, tests and queries, but not
for a clerk. Every list a clerk reads (``status``, ``messages list``, the
digest, the console) shows ``label(code)`` instead. A finding keeps its own
sentence, written when it was found; this is the short name of its kind.
"""

from __future__ import annotations

import re

LABELS: dict[str, str] = {
    # Gates: mail that is no piece, or no piece we may take.
    "limits.message_size": "邮件超过大小上限",
    "limits.header_size": "邮件头过长",
    "duplicate.message": "同一封邮件重复收到",
    "auto.delivery_report": "退信或投递报告",
    "auto.null_sender": "系统自动发出的邮件（无退信地址）",
    "auto.precedence": "群发或自动发出的邮件",
    "auto.reply_header": "自动回复",
    "auto.robot_sender": "系统账号发出的邮件",
    "auto.subject": "自动回复（按主题判断）",
    "auto.submitted": "自动发出的邮件",
    "auto.suppress": "要求不自动回复的邮件",
    "list.mail": "邮件列表或群发邮件",
    "loop.own_address": "本系统自己发出的邮件",
    "loop.own_header": "本系统自己发出的邮件",
    "parse.error": "邮件无法解析",
    "internal.error": "处理时出错，请管理员查看日志",
    "retried": "已重新处理",
    "clerk.rejected": "工作人员退回",
    "clerk.answered": "工作人员已答复",
    "clerk.spam": "工作人员标为垃圾邮件",
    "reply.question": "信息员回复我们的邮件提问，未附新稿件，请工作人员答复",
    "sender.forged": "发件人地址可疑（可能伪造）",
    "sender.auth_failed": "发件人未通过域名验证（SPF/DMARC）",
    "sender.unregistered": "发件人未登记为信息员",
    "sender.unusable": "发件人地址无法使用",
    "sender.not_unit": "发件人不属于主题中的单位",
    "from.several_headers": "邮件有多个发件人行",
    "from.several_mailboxes": "发件人行含多个地址",
    "from.malformed": "发件人行格式错误",
    "from.name_is_address": "发件人名称冒充地址",
    "from.encoded_address": "发件人地址经过编码隐藏",
    # Checks on a piece.
    "content.item_no_time": "动态条目缺少时间",
    "content.not_itemized": "动态信息未分条",
    "document.corrupt": "Word 文件已损坏",
    "document.encrypted": "Word 文件设有密码",
    "document.legacy": "旧版 Word 文件",
    "document.macro": "Word 文件含宏",
    "document.missing": "没有 Word 文件",
    "document.multiple": "一封邮件含多篇稿件",
    "document.too_complex": "Word 文件过于复杂",
    "document.too_large": "Word 文件过大",
    "document.unconvertible": "文件无法转换",
    "document.unsafe": "Word 文件不安全",
    "forwarded.draft": "直接转发的稿件，未经本单位审核",
    "duplicate.document": "与已报送的稿件相同",
    "duplicate.similar": "与已报送的稿件高度相似",
    "length.too_long": "篇幅过长",
    "length.too_short": "篇幅过短",
    "length.weibo_too_long": "微博稿篇幅过长",
    "limits.attachment_size": "附件过大",
    "limits.attachments": "附件过多",
    "picture.bomb": "图片尺寸异常",
    "picture.unreadable": "图片无法读取",
    "pictures.caption_missing": "图片缺少文字说明",
    "pictures.low_resolution": "图片清晰度不够",
    "pictures.too_few": "图片数量不足",
    "pictures.not_in_document": "图片未插入 Word 文档",
    "pictures.not_attached": "图片未作为附件发送",
    "subject.date_future": "主题中的日期晚于今天",
    "subject.date_invalid": "主题中的日期无效",
    "subject.date_late": "报送超过时限",
    "subject.week_late": "每周动态报送超过截止时间",
    "subject.author_missing": "主题中缺少作者",
    "subject.format": "主题格式不符合要求",
    "subject.title_too_long": "标题过长",
    "subject.unit_unknown": "主题中的单位未登记",
    "subject.week_no_term": "不在教学周内",
    "subject.week_wrong": "主题中的教学周有误",
}

# A code is a dotted lower-case name; anything else kept in ``reasons`` is already text.
_CODE = re.compile(r"[a-z_]+\.[a-z_]+|retried")


def label(code: str) -> str:
    """The clerk's words for one reason code (free text as it is); a code with a
    detail after a colon reads as its code."""
    known = LABELS.get(code) or LABELS.get(code.split(":", 1)[0].strip())
    if known is not None:
        return known
    return "其他原因" if _CODE.fullmatch(code.split(":", 1)[0].strip()) else code


def labels(codes: list[str]) -> str:
    """A mail's reasons as one line: each kind once, in order, joined by 、."""
    return "、".join(dict.fromkeys(label(code) for code in codes))
