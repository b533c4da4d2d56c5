"""The Chinese a clerk reads for the codes the database keeps."""

from __future__ import annotations

STATUS = {"accepted": "已登记", "rejected": "已退回", "superseded": "已被更正稿替代"}
ROLES = {"clerk": "文秘", "admin": "管理员", "viewer": "只读"}
OUTBOX = {"pending": "待发", "sent": "已发", "failed": "发送失败", "held": "暂停发送（退信）"}
REPLY_KINDS = {"receipt": "回执", "rejection": "退回通知", "unregistered": "登记提示",
               "oversize": "超大提示", "solicitation": "约稿", "solicit_remind": "约稿提醒"}

#: Why a mail was held for a person (InboundMessage.reasons).
HELD = {
    "parse.error": "邮件无法读取",
    "limits.message_size": "邮件超过大小上限",
    "limits.header_size": "邮件头过大，未能读取",
    "limits.body_size": "正文过大",
    "limits.attachments": "附件过多",
    "limits.attachment_size": "附件过大",
    "sender.unregistered": "发件人未登记为任何单位的信息员",
    "sender.auth_failed": "发件人未通过域名验证（DMARC/SPF），可能是冒充",
    "sender.forged": "发件人地址不可信（伪造或格式错误）",
    "sender.not_unit": "发件人不属于主题所写的单位",
    "sender.unusable": "发件人地址无法回复",
    "from.malformed": "发件人一栏格式错误",
    "from.encoded_address": "发件人地址经过编码伪装",
    "from.name_is_address": "发件人名称写成了另一个邮箱地址",
    "from.several_headers": "邮件有多个发件人一栏",
    "from.several_mailboxes": "发件人一栏写了多个地址",
    "duplicate.message": "重复收到的同一封邮件",
}


def held_reason(code: str) -> str:
    """The Chinese for one reason code; an unknown code is told as such, never shown raw."""
    key = code.split(":", 1)[0].strip()
    if key in HELD:
        return HELD[key]
    if key.startswith("auto."):
        return "自动回复或系统邮件"
    return "其他原因（请查看邮件原文）"


def held_reasons(codes: list[str]) -> str:
    return "；".join(dict.fromkeys(held_reason(code) for code in codes)) or "—"
