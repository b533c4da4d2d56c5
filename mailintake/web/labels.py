"""The Chinese a clerk reads for the codes the database keeps."""

from __future__ import annotations

from mailintake.store.models import STATUS_LABELS, VIA_LABELS

STATUS = STATUS_LABELS
ROLES = {"clerk": "文秘", "admin": "管理员", "viewer": "只读"}
OUTBOX = {"pending": "待发", "sent": "已发", "failed": "发送失败", "held": "暂停发送（退信）"}
#: How a piece came (InboundMessage.via): 邮件, QQ, 纸质, 其他.
VIA = VIA_LABELS
REPLY_KINDS = {"receipt": "回执", "rejection": "退回通知", "unregistered": "登记提示",
               "oversize": "超大提示", "solicitation": "约稿", "solicit_remind": "约稿提醒"}
