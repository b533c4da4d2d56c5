"""约稿 in the console: the list of requests with their counts and the form that makes
one (topic, request, deadline, units by name and/or kind, points), each request with
its units as 已交稿 (and the piece), 已逾期 or 未交, and closing it.

Making and closing call ``office.solicitations`` and ``store.solicitations`` as the
command line does, and are written to the audit trail; a viewer only reads.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office import solicitations as office
from mailintake.store import accounts
from mailintake.store import solicitations as store
from mailintake.store.units import quota_units
from mailintake.web.console import WRITERS, console_of, field, fields, page

NUMBER = re.compile(r"^[0-9]{4}-[0-9]{3,6}$")


def _list_page(request: Request, status_code: int = 200, error: str = "",
               form: dict[str, object] | None = None) -> Response:
    console = console_of(request)
    app, now = console.app, console.now()
    tz = app.config.office.tz
    rows = [(item, office.deadline_label(item.solicitation.deadline, tz),
             office.overdue_count(app, item.solicitation, now))
            for item in store.overview(app.engine)]
    units = quota_units(app.engine)
    return console.page(request, "solicitations.html", status_code, rows=rows, units=units,
                        kinds=sorted({u.kind for u in units if u.kind}), error=error,
                        form=form or {"deadline_time": "17:00"})


@page()
def solicitations_page(request: Request, _login: accounts.Login) -> Response:
    return _list_page(request)


@page(roles=WRITERS)
def solicitation_create(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    app = console.app
    form = request.state.form
    units = fields(form, "unit")[:2000]
    kinds = fields(form, "kind")[:50]
    kept: dict[str, object] = {
        "topic": field(form, "topic")[:100], "request": field(form, "request")[:5000],
        "deadline": field(form, "deadline")[:10], "deadline_time": field(form, "deadline_time")[:5],
        "points": field(form, "points")[:10], "units": units, "kinds": kinds,
    }
    points_text = field(form, "points").strip()
    try:
        points = float(points_text) if points_text else None
    except ValueError:
        return _list_page(request, 400, "积分应为数字，例如 5；不另计积分请留空。", kept)
    try:
        made = office.create(
            app, topic=str(kept["topic"]), request=str(kept["request"]),
            deadline=office.deadline_of(str(kept["deadline"]), str(kept["deadline_time"]),
                                        app.config.office.tz),
            units=units, kinds=kinds,
            points=points, created_by=login.user.name, now=console.now())
    except office.SolicitationError as exc:
        return _list_page(request, 400, str(exc), kept)
    row = made.solicitation
    detail = (f"{row.topic}；截止 {office.deadline_label(row.deadline, app.config.office.tz)}；"
              f"单位：{'、'.join(u.name for u in made.units)}；约稿邮件 {made.mails} 封")
    console.audit(login, "solicitation.create", f"solicitation:{row.number}", detail[:4000])
    return RedirectResponse(f"/solicitations/{row.number}?made=1", status_code=303)


def _number(request: Request) -> str:
    number = request.path_params["number"]
    if not NUMBER.match(number):
        raise HTTPException(404)
    return str(number)


@page()
def solicitation_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    number = _number(request)
    try:
        shown = office.shown(console.app, number, console.now())
    except office.SolicitationError as exc:
        raise HTTPException(404) from exc
    tz = console.app.config.office.tz
    return console.page(
        request, "solicitation.html", shown=shown, states=office.STATES,
        deadline=office.deadline_label(shown.solicitation.deadline, tz),
        made=request.query_params.get("made") == "1",
        trail=accounts.trail(console.app.engine, f"solicitation:{number}"))


@page(roles=WRITERS)
def solicitation_close(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    number = _number(request)
    row = store.find(console.app.engine, number)
    if row is None:
        raise HTTPException(404)
    if row.closed_at is None:
        store.close(console.app.engine, number, console.now())
        console.audit(login, "solicitation.close", f"solicitation:{number}", row.topic)
    return RedirectResponse(f"/solicitations/{number}", status_code=303)


ROUTES = [
    Route("/solicitations", solicitations_page),
    Route("/solicitations", solicitation_create, methods=["POST"]),
    Route("/solicitations/{number}", solicitation_page),
    Route("/solicitations/{number}/close", solicitation_close, methods=["POST"]),
]
