"""The console's adoption (采用): one piece from its page (channel, 整篇 or 简讯, a
joint split, items of a weekly digest), many pasted at once, and undone.

Each calls ``office.points.adopt`` / ``unadopt`` as the command line does; the
date is checked there (not before the piece arrived, not after today), and
every change is in the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office.points import PointsError, adopt, parse_items, unadopt
from mailintake.store import accounts, browse
from mailintake.store.models import Adoption
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

#: So many lines of a bulk adoption are taken.
BULK_LIMIT = 500


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


def _piece_number(request: Request) -> str:
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
    return _adopt_page(request, _piece_number(request))


@page(roles=WRITERS)
def adopt_piece(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    number = _piece_number(request)
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
    number = _piece_number(request)
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
    Route("/pieces/{tracking_no}/adopt", adopt_page),
    Route("/pieces/{tracking_no}/adopt", adopt_piece, methods=["POST"]),
    Route("/pieces/{tracking_no}/unadopt", unadopt_piece, methods=["POST"]),
    Route("/adoptions", adoptions_page, methods=["GET", "POST"]),
]
