"""``/pieces/new``: the clerk files a piece received by QQ or on paper.

The form takes the Word file, extra photos, the unit and its correspondent
(or a name typed for one not registered), the subject as the correspondent
would have written it, the day it was received, how it came and whether the
correspondent gets a receipt. ``intake.manual`` files it as the command line
does (``submissions add``); the clerk lands on the piece's page with its
findings, and the audit trail says who filed it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.config.calendar import TeachingCalendar
from mailintake.intake.manual import VIAS, FilingError, Paper, Upload, file_piece
from mailintake.rules.examples import ExampleValues, chinese_number, example_subject
from mailintake.rules.limits import size_text
from mailintake.store import accounts, browse, desk
from mailintake.store.units import active_unit_names
from mailintake.web.console import WRITERS, Console, console_of, field, page

#: Weeks back the form knows the teaching week of (a piece received earlier: the CLI).
WEEKS_BACK = 8
#: Photos taken with one piece at most (the mail's own attachment limit may be lower).
MAX_PHOTOS = 20


def _units(console: Console) -> list[dict[str, Any]]:
    """Each unit in use with its correspondents, for the form's choosers."""
    engine = console.app.engine
    active = active_unit_names(engine)
    units = []
    for unit_id, name in browse.unit_names(engine):
        if name in active:
            units.append({"id": unit_id, "name": name,
                          "people": [p.name for p in desk.people(engine, unit_id)]})
    return units


def _weeks(console: Console, today: date) -> dict[str, str]:
    """The teaching week (as the notices write it: 十二) of each of the last days a piece
    may have been received on, for the subject the form prefills."""
    calendar = TeachingCalendar(console.app.config.calendar)
    weeks = {}
    for back in range(WEEKS_BACK * 7):
        day = today - timedelta(days=back)
        week = calendar.week_of(day)
        if week is not None:
            weeks[day.isoformat()] = chinese_number(week.number)
    return weeks


def _form_page(request: Request, status_code: int = 200, error: str = "",
               values: dict[str, str] | None = None) -> Response:
    console = console_of(request)
    config, today = console.app.config, console.app.local(console.now()).date()
    week = TeachingCalendar(config.calendar).week_of(today)
    shown = ExampleValues(day=today, week=week.number if week else None)
    return console.page(
        request, "piece_new.html", status_code, error=error, units=_units(console),
        formats=[(c.key, c.name, c.subject, example_subject(c, shown)) for c in config.columns],
        weeks=_weeks(console, today), vias=VIAS, today=today.isoformat(),
        values={"received": today.isoformat(), "via": "qq", **(values or {})},
    )


@page(roles=WRITERS)
def new_piece_form(request: Request, _login: accounts.Login) -> Response:
    return _form_page(request)


def _upload(console: Console, value: object) -> Upload | None:
    """The uploaded file, read up to the attachment limit (None when none was chosen)."""
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    limit = console.app.config.limits.max_attachment_bytes
    data = value.file.read(limit + 1)
    if len(data) > limit:
        raise FilingError(f"「{value.filename}」过大（超过 {size_text(limit)}），"
                          "请压缩图片后重新上传")
    return Upload(value.filename[-200:], data)


def _paper(console: Console, form: FormData) -> Paper:
    """What the form says, checked; FilingError says what is missing."""
    document = _upload(console, form.get("file"))
    if document is None:
        raise FilingError("请选择稿件的 Word 文件")
    if len(form.getlist("photos")) > MAX_PHOTOS:  # counted before any is read
        raise FilingError(f"照片过多：一次最多 {MAX_PHOTOS} 张")
    photos = [u for v in form.getlist("photos") if (u := _upload(console, v)) is not None]
    unit = field(form, "unit").strip()
    if not unit:
        raise FilingError("请选择单位")
    try:
        received = date.fromisoformat(field(form, "received"))
    except ValueError:
        raise FilingError("请填写收到日期") from None
    typed = " ".join(field(form, "name").split())
    chosen = field(form, "correspondent").strip()
    if chosen and not typed:
        unit_row = desk.unit_named(console.app.engine, unit)
        people = desk.people(console.app.engine, unit_row.id) if unit_row and unit_row.id else []
        if chosen not in {p.name for p in people}:
            raise FilingError(f"「{chosen}」不是「{unit}」登记的信息员，请重新选择或直接填写姓名")
    return Paper(unit=unit, subject=field(form, "subject").strip()[:300], received=received,
                 document=document, photos=photos, correspondent=typed or chosen,
                 via=field(form, "via"), receipt=field(form, "receipt") == "1")


@page(roles=WRITERS)
def new_piece(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    form = request.state.form
    values = {key: field(form, key) for key in ("unit", "correspondent", "name", "column",
                                                "subject", "received", "via", "receipt")}
    try:
        done = file_piece(console.app, _paper(console, form), clerk=login.user.name)
    except FilingError as exc:
        return _form_page(request, 400, str(exc), values)
    if not done.tracking_no:  # no piece: held for a person, as a mail like it would be
        return _form_page(request, 409, "稿件未能登记，已转入“待人工”，请到待人工列表查看原因。",
                          values)
    query = {"filed": "1", **({"note": "noaddress"} if done.note else {})}
    return RedirectResponse(f"/pieces/{done.tracking_no}?{urlencode(query)}", status_code=303)


ROUTES = [
    # Before /pieces/{tracking_no}, which would take "new" for a number.
    Route("/pieces/new", new_piece_form),
    Route("/pieces/new", new_piece, methods=["POST"]),
]
