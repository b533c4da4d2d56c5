"""The clerk's actions on held mail (待人工): a held mail read and decided; and what
every action page shares (the audit trail's labels, the templates' globals).
Adoption is ``web.adoption``.

Each action calls the function the command line calls (``intake.retry``,
``intake.held``) and writes a line of the audit trail with
who and when; what it refuses is shown as that function's Chinese message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.intake.held import dismiss, reject
from mailintake.intake.retry import RetryError, retry
from mailintake.reading.mime import ParsedMail, parse_mail
from mailintake.rules.reasons import labels as reason_labels
from mailintake.store import accounts, browse, desk, units
from mailintake.store.models import InboundMessage, Outcome
from mailintake.web.console import (
    WRITERS,
    Console,
    console_of,
    field,
    number_of,
    page,
)

log = logging.getLogger("mailintake.web")

#: A held mail larger than this is not read for its page (download it instead).
READ_LIMIT = 15 * 1024 * 1024
#: So much of a held mail's text is shown.
TEXT_LIMIT = 20_000

#: The audit trail's actions, as the clerk reads them.
ACTIONS = {
    "login": "登录",
    "unit.activate": "启用单位",
    "unit.deactivate": "停用单位",
    "held.register": "登记发件人为信息员并登记稿件",
    "held.file": "按单位登记稿件",
    "held.vouch": "确认发件人可信，重新处理",
    "held.reject": "退回",
    "held.answered": "标为已答复（不回复）",
    "held.spam": "标为垃圾邮件（不回复）",
    "piece.from_held": "由待人工邮件登记",
    "piece.manual": "补录稿件",
    "adopt": "记录采用",
    "unadopt": "撤销采用",
    "unit.edit": "修改单位",
    "person.set": "登记或修改信息员",
    "person.remove": "移除信息员",
    "registry.import": "导入登记表",
    "briefing.make": "编印简报",
    "briefing.piece": "编入简报",
    "solicitation.create": "新建约稿",
    "solicitation.close": "结束约稿",
    "bulletin.preface": "修改通报说明",
    "bulletin.send": "发送通报",
    "bulletin.resend": "再次发送通报",
}

#: What became of a held mail, for the notice on the held list.
DONE = {
    "rejected": "邮件已退回，退回通知已排入发件箱。",
    "rejected_silent": "邮件已退回（发件地址无法回复，未发通知）。",
    "answered": "邮件已标为已答复，不回复发件人。",
    "spam": "邮件已标为垃圾邮件，不回复发件人。",
    "ignored": "邮件已处理完毕，无需登记。",
}

LEVELS = {"full": "整篇", "brief": "简讯"}


def action_label(code: str) -> str:
    return ACTIONS.get(code, "其他操作")


def install(console: Console) -> None:
    """What the actions' templates use beside the console's own globals."""
    config = console.app.config
    console.templates.env.globals.update(
        action_label=action_label,
        reason_labels=reason_labels,
        channels=[(c.key, c.name) for c in config.points.channels],
        channel_name=lambda key: next((c.name for c in config.points.channels
                                       if c.key == key), "其他渠道"),
        levels=LEVELS,
        today=lambda: console.app.local(console.now()).date().isoformat(),
        held_done=lambda key: DONE.get(key or "", ""),
    )


# --- held mail ------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeldMail:
    """A held mail as the clerk reads it."""

    row: InboundMessage
    why: str
    body: str
    attachments: list[tuple[str, int]]
    unreadable: str = ""


def _read_held(console: Console, row: InboundMessage) -> HeldMail:
    why = reason_labels(row.reasons) or "—"
    if row.size > READ_LIMIT:
        return HeldMail(row, why, "", [], "邮件过大，不在页面上显示，请下载原文查看。")
    root = console.app.storage.root.resolve()
    path = (root / console.app.storage.raw_path(row.raw_sha256)).resolve()
    try:
        if not path.is_relative_to(root):
            raise OSError("outside the store")
        mail: ParsedMail = parse_mail(path.read_bytes())
    except Exception as exc:  # an unreadable mail is still decided: by its record
        log.warning("held mail %s: cannot read its archived copy: %s", row.id,
                    type(exc).__name__)
        return HeldMail(row, why, "", [], "邮件原文无法读取，请下载原文查看。")
    body = mail.body.strip()
    if len(body) > TEXT_LIMIT:
        body = body[:TEXT_LIMIT] + "\n……（正文过长，以下从略，请下载原文查看）"
    files = [(part.filename or "（无文件名）", len(part.payload)) for part in mail.parts]
    return HeldMail(row, why, body, files,
                    "邮件只读取了信头，请下载原文查看。" if mail.refused else "")


def _held_page(request: Request, message_id: int, *, error: str = "",
               status_code: int = 200, again: bool = False) -> Response:
    console = console_of(request)
    row = browse.message(console.app.engine, message_id)
    if row is None:
        raise HTTPException(404)
    trail = accounts.trail(console.app.engine, f"mail:{message_id}")
    return console.page(
        request, "held_mail.html", status_code, mail=_read_held(console, row),
        held=row.outcome == Outcome.QUARANTINED, error=error, again=again, trail=trail,
        number=_piece_of(console, row),
        units=sorted(units.active_unit_names(console.app.engine)),
        auth_failed=any(code.startswith("sender.auth_failed") for code in row.reasons),
        form=getattr(request.state, "form", None) or {},
    )


def _piece_of(console: Console, row: InboundMessage) -> str | None:
    """The tracking number of the piece a mail became, itself or once retried."""
    assert row.id is not None
    number = desk.tracking_no_of(console.app.engine, row.id)
    if number is None and "retried" in row.reasons and row.duplicate_of_id is not None:
        number = desk.tracking_no_of(console.app.engine, row.duplicate_of_id)
    return number


@page()
def held_mail(request: Request, _login: accounts.Login) -> Response:
    message_id = number_of(request.path_params["message_id"])
    if message_id is None:
        raise HTTPException(404)
    return _held_page(request, message_id, again=request.query_params.get("again") == "1")


@page(roles=WRITERS)
def held_action(request: Request, login: accounts.Login) -> Response:
    """One decision on a held mail: file it (registering the sender, for a unit, or
    vouched for), send it back with a reason, or set it aside as answered or spam."""
    console = console_of(request)
    app = console.app
    message_id = number_of(request.path_params["message_id"])
    if message_id is None or browse.message(app.engine, message_id) is None:
        raise HTTPException(404)
    form = request.state.form
    do = field(form, "do")
    unit = field(form, "unit").strip()
    target = f"mail:{message_id}"
    try:
        if do in ("register", "file", "vouch"):
            if do == "register":
                name = " ".join(field(form, "name").split())
                if not name:
                    raise RetryError("请填写信息员姓名")
                if not unit:
                    raise RetryError("请选择单位")
                done = retry(app, message_id, unit=unit, register=name)
                detail = f"{unit}，信息员 {name}"
            elif do == "file":
                if not unit:
                    raise RetryError("请选择单位")
                done = retry(app, message_id, unit=unit)
                detail = unit
            else:
                done = retry(app, message_id, vouch=True)
                detail = ""
            return _after_retry(console, login, do, message_id, new=done.new, detail=detail)
        if do == "reject":
            reason = " ".join(field(form, "reason").split())
            settled = reject(app, message_id, reason)
            console.audit(login, "held.reject", target, reason[:500])
            return RedirectResponse(
                f"/held?done={'rejected' if settled.answered else 'rejected_silent'}",
                status_code=303)
        if do in ("answered", "spam"):
            if field(form, "confirm") != "1":
                raise RetryError("请先勾选“确认不回复”，再标记这封邮件。")
            dismiss(app, message_id, "answered" if do == "answered" else "spam")
            console.audit(login, f"held.{do}", target)
            return RedirectResponse(f"/held?done={do}", status_code=303)
    except RetryError as exc:
        return _held_page(request, message_id, error=str(exc), status_code=409)
    return _held_page(request, message_id, error="请选择一项操作。", status_code=400)


def _after_retry(console: Console, login: accounts.Login, do: str, old_id: int, *,
                 new: InboundMessage, detail: str) -> Response:
    """Where the clerk goes after a held mail was decided again: its piece, or the mail
    (held again, as the new row), or the list."""
    assert new.id is not None
    number = desk.tracking_no_of(console.app.engine, new.id)
    result = f"新记录 {new.id}" + (f"，登记号 {number}" if number else "")
    console.audit(login, f"held.{do}", f"mail:{old_id}",
                  "；".join(filter(None, [detail, result])))
    if number:
        console.audit(login, "piece.from_held", f"piece:{number}",
                      "；".join(filter(None, [f"待人工邮件 {old_id}", detail])))
        return RedirectResponse(f"/pieces/{number}", status_code=303)
    if new.outcome == Outcome.QUARANTINED:
        console.audit(login, f"held.{do}", f"mail:{new.id}", f"由邮件 {old_id} 重新处理")
        return RedirectResponse(f"/held/{new.id}?again=1", status_code=303)
    return RedirectResponse("/held?done=ignored", status_code=303)


ROUTES = [
    Route("/held/{message_id}", held_mail),
    Route("/held/{message_id}", held_action, methods=["POST"]),
]
