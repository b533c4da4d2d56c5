"""The console's 通报 pages: choose a period, preview its 通报 and edit its preface,
send it (once; a resend must be confirmed), and print it on A4.

The period in the address must name a month, quarter, half-year or year
(``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``), else the answer is 404 with
the accepted forms. Sending calls what ``mailintake bulletin --send`` calls; the
mails wait in the outbox for the service to send them.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.config.office import PeriodKind
from mailintake.office.bulletin import (
    KINDS,
    BulletinRefused,
    BulletinView,
    bulletin_of,
    bulletin_period,
    points_text,
    recent_periods,
    send_bulletin,
    unreached,
)
from mailintake.office.periods import Period, PeriodError
from mailintake.office.points import settle
from mailintake.store import accounts, bulletins
from mailintake.web.console import (
    WRITERS,
    Console,
    Handler,
    console_of,
    error_page,
    field,
    page,
)

#: The longest preface kept (a page of text).
PREFACE_LIMIT = 5000
#: Periods offered for each kind.
RECENT = {"month": 12, "quarter": 8, "half_year": 4, "year": 3}


def _for_period(handler: Callable[[Request, accounts.Login, Period], Response]) -> Handler:
    """A page of the period in the address; 404 with the accepted forms for one that is
    no month, quarter, half-year or year."""

    def with_period(request: Request, login: accounts.Login) -> Response:
        try:
            period = bulletin_period(str(request.path_params["period"]))
        except PeriodError as exc:
            return error_page(request, 404, str(exc))
        return handler(request, login, period)

    with_period.__name__ = handler.__name__
    return with_period


def _label(key: str) -> str:
    try:
        return bulletin_period(key).label
    except PeriodError:  # a row of a period no longer published: its key is its name
        return key


def _view(console: Console, period: Period) -> BulletinView:
    app, now = console.app, console.now()
    settle(app.engine, app.config, now)
    return bulletin_of(app.engine, app.config, period, now)


@page()
def bulletins_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    wanted = request.query_params.get("kind") or "month"
    kind: PeriodKind = next((k for k in KINDS if k == wanted), "month")
    chosen = (request.query_params.get("period") or "").strip()
    if chosen:
        try:
            return RedirectResponse(f"/bulletins/{bulletin_period(chosen).key}", status_code=303)
        except PeriodError as exc:
            error = str(exc)
    else:
        error = ""
    stored = {row.period: row for row in bulletins.listing(console.app.engine)}
    names = {key: _label(key) for key in stored}
    today = console.app.local(console.now()).date()
    return console.page(request, "bulletins.html", 400 if error else 200, kinds=KINDS,
                        kind=kind, periods=recent_periods(kind, today, RECENT[kind]),
                        stored=stored, names=names, error=error, chosen=chosen[:40])


def _bulletin_page(request: Request, period: Period, *, error: str = "",
                   status_code: int = 200) -> Response:
    console = console_of(request)
    view = _view(console, period)
    trail = accounts.trail(console.app.engine, bulletins.target(period.key))
    query = request.query_params
    today = console.app.local(console.now()).date()
    return console.page(request, "bulletin.html", status_code, view=view, points=points_text,
                        error=error, trail=trail, saved=query.get("saved") == "1",
                        sent=query.get("sent") == "1", open=today <= period.last_day,
                        unreached=unreached(console.app))


@page()
@_for_period
def bulletin_page(request: Request, _login: accounts.Login, period: Period) -> Response:
    return _bulletin_page(request, period)


@page(roles=WRITERS)
@_for_period
def bulletin_preface(request: Request, login: accounts.Login, period: Period) -> Response:
    console = console_of(request)
    preface = field(request.state.form, "preface").replace("\r\n", "\n").strip()
    if len(preface) > PREFACE_LIMIT:
        too_long = f"说明文字过长（{len(preface)} 字），请控制在 {PREFACE_LIMIT} 字以内。"
        return _bulletin_page(request, period, status_code=400, error=too_long)
    bulletins.save_preface(console.app.engine, period.key, preface, who=login.user.name,
                           now=console.now())
    return RedirectResponse(f"/bulletins/{period.key}?saved=1", status_code=303)


@page(roles=WRITERS)
@_for_period
def bulletin_send(request: Request, login: accounts.Login, period: Period) -> Response:
    console = console_of(request)
    form = request.state.form
    resend = field(form, "resend") == "1"
    if resend and field(form, "confirm") != "1":
        return _bulletin_page(request, period, status_code=400,
                              error="再次发送前请勾选“确认再次发送”。")
    try:
        send_bulletin(console.app, period, console.now(), who=login.user.name, resend=resend)
    except BulletinRefused as exc:
        how = "如确需再次发送，请勾选“确认再次发送”后点“再次发送”。"
        words = f"{exc}{how}" if exc.sent else str(exc)
        return _bulletin_page(request, period, error=words, status_code=409)
    return RedirectResponse(f"/bulletins/{period.key}?sent=1", status_code=303)


@page()
@_for_period
def bulletin_print(request: Request, _login: accounts.Login, period: Period) -> Response:
    console = console_of(request)
    view = _view(console, period)
    return console.page(request, "bulletin_print.html", view=view, points=points_text,
                        office=console.app.config.office.name,
                        day=console.app.local(view.as_of).date())


ROUTES = [
    Route("/bulletins", bulletins_page),
    Route("/bulletins/{period}", bulletin_page),
    Route("/bulletins/{period}/preface", bulletin_preface, methods=["POST"]),
    Route("/bulletins/{period}/send", bulletin_send, methods=["POST"]),
    Route("/bulletins/{period}/print", bulletin_print),
]
