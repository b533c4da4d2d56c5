"""The clerk's actions on mail and pieces: a held mail read and decided, adoptions
recorded (one piece from its page, or many pasted at once) and undone.

Each action calls the function the command line calls (``intake.retry``,
``intake.held``, ``office.points``) and writes a line of the audit trail with
who and when; what it refuses is shown as that function's Chinese message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.intake.held import dismiss, reject
from mailintake.intake.retry import RetryError, retry
from mailintake.office.points import PointsError, adopt, parse_items, unadopt
from mailintake.reading.mime import ParsedMail, parse_mail
from mailintake.rules.reasons import labels as reason_labels
from mailintake.store import accounts, browse, desk, units
from mailintake.store.models import Adoption, InboundMessage, Outcome
from mailintake.web.console import (
    TRACKING_NO,
    WRITERS,
    Console,
    console_of,
    error_page,
    field,
    number_of,
    page,
)

log = logging.getLogger("mailintake.web")

#: A held mail larger than this is not read for its page (download it instead).
READ_LIMIT = 15 * 1024 * 1024
#: So much of a held mail's text is shown.
TEXT_LIMIT = 20_000
#: So many lines of a bulk adoption are taken.
BULK_LIMIT = 500

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


# --- adoption ---------------------------------------------------------------------------------

def _clerk_words(error: PointsError) -> str:
    """The back end's message without the command line's options it names."""
    text = str(error).replace("请用 --split 指定", "请填写合稿分配")
    text = text.replace("（请用 --item 指定）", "")
    return re.sub(r"--items? ", "", text)


def _adoption_moment(console: Console, text: str) -> datetime:
    """The moment an adoption on a local date is recorded at: midday of that date, or now
    when that is today (PointsError for a date that is none)."""
    now = console.now()
    if not text:
        return now
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise PointsError(f"日期“{text[:20]}”有误，应为 年-月-日") from exc
    when = datetime.combine(day, time(12), tzinfo=console.app.config.office.tz)
    return min(when, now) if day == console.app.local(now).date() else when


def _adopt_one(console: Console, login: accounts.Login, number: str, *, channel: str,
               brief: bool, when: datetime, split: str = "", items: list[int] | None = None
               ) -> list[Adoption]:
    app = console.app
    adoptions = adopt(app.engine, app.config.points, number, channel, when=when,
                      now=console.now(), tz=app.config.office.tz, brief=brief, split=split,
                      items=items)
    named = app.config.points.channel(channel)
    which = "第" + "、".join(str(a.item) for a in adoptions) + "条" if items else ""
    detail = (f"{named.name if named else channel}{'（简讯）' if brief else ''}{which}，"
              f"采用日期 {app.local(when).date().isoformat()}"
              + (f"，合稿 {split}" if split else ""))
    console.audit(login, "adopt", f"piece:{number}", detail)
    return adoptions


def _piecenumber_of(request: Request) -> str:
    number = request.path_params["tracking_no"]
    if not TRACKING_NO.match(number):
        raise HTTPException(404)
    return str(number)


def _adopt_page(request: Request, number: str, *, error: str = "",
                status_code: int = 200) -> Response:
    console = console_of(request)
    found = browse.piece(console.app.engine, number)
    if found is None:
        raise HTTPException(404)
    return console.page(request, "adopt.html", status_code, piece=found, error=error,
                        form=getattr(request.state, "form", None) or {})


@page()
def adopt_page(request: Request, _login: accounts.Login) -> Response:
    return _adopt_page(request, _piecenumber_of(request))


@page(roles=WRITERS)
def adopt_piece(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    number = _piecenumber_of(request)
    if browse.piece(console.app.engine, number) is None:
        raise HTTPException(404)
    form = request.state.form
    try:
        items_text = field(form, "items").strip()
        _adopt_one(console, login, number, channel=field(form, "channel"),
                   brief=field(form, "level") == "brief",
                   when=_adoption_moment(console, field(form, "date")),
                   split=field(form, "split").strip(),
                   items=parse_items(items_text) if items_text else None)
    except PointsError as exc:
        return _adopt_page(request, number, error=_clerk_words(exc), status_code=409)
    return RedirectResponse(f"/pieces/{number}#adoption", status_code=303)


@page(roles=WRITERS)
def unadopt_piece(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    app = console.app
    number = _piecenumber_of(request)
    if browse.piece(app.engine, number) is None:
        raise HTTPException(404)
    channel, _, item_text = field(request.state.form, "adoption").partition(":")
    item = number_of(item_text) or 0
    try:
        unadopt(app.engine, app.config.points, number, channel, now=console.now(), item=item)
    except PointsError as exc:
        return _adopt_page(request, number, error=_clerk_words(exc), status_code=409)
    named = app.config.points.channel(channel)
    console.audit(login, "unadopt", f"piece:{number}",
                  f"{named.name if named else '其他渠道'}" + (f"第{item}条" if item else ""))
    return RedirectResponse(f"/pieces/{number}#adoption", status_code=303)


@dataclass(frozen=True)
class Line:
    """One line of a bulk adoption and what became of it."""

    text: str
    number: str
    ok: bool
    message: str


def bulk_lines(text: str) -> list[str]:
    """The non-empty lines pasted, at most BULK_LIMIT (a table's rows: their first cell)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return [line for line in lines if line][:BULK_LIMIT]


#: Items after a tracking number on a bulk line: ``第1、3条`` or ``1,3``.
_ITEMS = re.compile(r"第?\s*([0-9][0-9,，、;；\s]*)\s*条?")


def _line_items(rest: str) -> list[int] | None:
    """The items of a weekly digest a bulk line names after its tracking number; None
    for the whole piece (anything else on the line, a unit's name copied from Excel
    with the number, is not read)."""
    match = _ITEMS.fullmatch(rest)
    return parse_items(match[1]) if match else None


@page()
def adoptions_page(request: Request, login: accounts.Login) -> Response:
    """Bulk adoption: tracking numbers pasted one a line (each may name the items of a
    weekly digest), one channel, level and date."""
    console = console_of(request)
    if request.method == "GET":
        return console.page(request, "adoptions.html", results=None, form={})
    if login.user.role not in WRITERS:
        return error_page(request, 403, "您的账号没有权限进行这项操作。")
    form = request.state.form
    results: list[Line] = []
    channel, brief = field(form, "channel"), field(form, "level") == "brief"
    error = ""
    try:
        when = _adoption_moment(console, field(form, "date"))
    except PointsError as exc:
        error, when = str(exc), console.now()
    seen: set[str] = set()
    for line in [] if error else bulk_lines(field(form, "numbers")):
        number = next((word for word in re.split(r"[\s,，;；]+", line)
                       if TRACKING_NO.match(word)), "")
        if not number:
            results.append(Line(line, "", False, "不是登记号（应为 20261119-00003 这样的编号）"))
            continue
        if number in seen:
            results.append(Line(line, number, False, "与上面的行重复，未再记录"))
            continue
        seen.add(number)
        rest = line.split(number, 1)[1].strip(" \t,，;；")
        try:
            items = _line_items(rest)
        except PointsError:
            results.append(Line(line, number, False, f"“{rest}”不是条目编号（写作 {number} "
                                "第1、3条，只采用每周动态的第 1、3 条）"))
            continue
        try:
            _adopt_one(console, login, number, channel=channel, brief=brief, when=when,
                       items=items)
        except PointsError as exc:
            results.append(Line(line, number, False, _clerk_words(exc)))
            continue
        results.append(Line(line, number, True, "已记录"))
    if not error and not results:
        error = "请粘贴登记号，每行一个。"
    status_code = 400 if error else 200
    return console.page(request, "adoptions.html", status_code, results=results, error=error,
                        form=form, done=sum(line.ok for line in results))


ROUTES = [
    Route("/held/{message_id}", held_mail),
    Route("/held/{message_id}", held_action, methods=["POST"]),
    Route("/pieces/{tracking_no}/adopt", adopt_page),
    Route("/pieces/{tracking_no}/adopt", adopt_piece, methods=["POST"]),
    Route("/pieces/{tracking_no}/unadopt", unadopt_piece, methods=["POST"]),
    Route("/adoptions", adoptions_page, methods=["GET", "POST"]),
]
