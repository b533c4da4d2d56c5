"""The office's own 简报 in the console: the issues made, each to download; a form to
make the next one from pieces ticked or pasted, or from a period's best.

Making an issue calls what ``mailintake briefing new`` calls
(``office.briefing.make_briefing``), which writes the audit trail; the page then
goes on to the list (a reload makes no second issue). Files are served by the
issue's id, from inside the store.
"""

from __future__ import annotations

from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office.briefing import (
    BriefingError,
    best_of,
    file_name,
    issue_label,
    make_briefing,
    parse_numbers,
)
from mailintake.store import accounts, briefings
from mailintake.web.console import DIGITS, WRITERS, console_of, field, fields, number_of, page
from mailintake.web.pages import download, read_stored

#: Adopted pieces offered to tick: the month's best, so many.
OFFERED = 30


def _page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
    console = console_of(request)
    app = console.app
    month = app.local(console.now()).strftime("%Y-%m")
    form = getattr(request.state, "form", None)
    try:
        period, offered = best_of(app, (field(form, "period") if form else "") or month,
                                  OFFERED)
    except BriefingError:
        period, offered = best_of(app, month, OFFERED)
    channel = app.config.points.channel(app.config.briefing.channel or "-")
    made = request.query_params.get("made", "")
    return console.page(
        request, "briefings.html", status_code, issues=briefings.issues(app.engine),
        offered=offered, period=period, month=month, error=error, form=form or {},
        made=number_of(made), label=issue_label,
        ticked=fields(form, "piece") if form else [],
        briefing_name=app.config.briefing.title, channel=channel.name if channel else "",
        channel_word=app.config.briefing.channel,
    )


@page()
def briefings_page(request: Request, _login: accounts.Login) -> Response:
    return _page(request)


@page(roles=WRITERS)
def make_page(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    app = console.app
    form = request.state.form
    try:
        if field(form, "mode") == "best":
            count = field(form, "best").strip()
            if not DIGITS.match(count) or not 1 <= int(count) <= 100:
                raise BriefingError("篇数应为 1 到 100")
            period, candidates = best_of(app, field(form, "period") or "-", int(count))
            if not candidates:
                raise BriefingError(f"{period.label}没有尚未编入简报的采用稿件")
            numbers = [c.tracking_no for c in candidates]
        else:
            ticked = fields(form, "piece")
            numbers = parse_numbers(" ".join([*ticked, field(form, "numbers")]))
        day = field(form, "date").strip()
        try:
            issued_on = date.fromisoformat(day) if day else None
        except ValueError as exc:
            raise BriefingError(f"日期“{day[:20]}”有误，应为 年-月-日") from exc
        made = make_briefing(app, numbers, title=field(form, "title"), issued_on=issued_on,
                             who=login.user.name)
    except BriefingError as exc:
        return _page(request, error=str(exc), status_code=409)
    return RedirectResponse(f"/briefings?made={made.briefing.id}", status_code=303)


@page()
def briefing_file(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    briefing_id = number_of(request.path_params["briefing_id"])
    found = briefings.issue(console.app.engine, briefing_id) if briefing_id else None
    data = read_stored(console, found.stored_path) if found and found.stored_path else None
    if found is None or data is None:
        raise HTTPException(404)
    return download(data, file_name(console.app.config.briefing.title, found),
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document")


ROUTES = [
    Route("/briefings", briefings_page),
    Route("/briefings", make_page, methods=["POST"]),
    Route("/briefings/{briefing_id}/file", briefing_file),
]
