"""The console's pages: pieces, one piece with its files, held mail, units, status.

Tracking numbers and file ids must have their shape (``20261119-00003``,
digits) or the answer is 404; files are found by id in the database, never by
a path from the request, and served only from inside the store.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailintake.office.digest import next_digest
from mailintake.office.reminders import moment_label, next_reminder
from mailintake.store import accounts, briefings, browse, solicitations
from mailintake.web import labels, word
from mailintake.web.console import (
    TRACKING_NO,
    WRITERS,
    Console,
    console_of,
    disposition,
    field,
    number_of,
    page,
)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
PAGE_SIZE = 50
SAFE_INLINE = {"image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp"}


def _local_day(console: Console, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=console.app.config.office.tz)


@page()
def home(_request: Request, _login: accounts.Login) -> Response:
    return RedirectResponse("/pieces", status_code=303)


@page()
def pieces_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    query = request.query_params
    until = _local_day(console, query.get("to"))
    wanted = browse.PieceFilter(
        unit_id=number_of(query.get("unit")),
        unit_kind=(query.get("kind") or "")[:20],
        column=(query.get("column") or "")[:40],
        status=status if (status := query.get("status") or "") in labels.STATUS else "",
        since=_local_day(console, query.get("from")),
        until=until + timedelta(days=1) if until else None,
        words=(query.get("q") or "").strip()[:50],
    )
    page_no = min(number_of(query.get("page")) or 1, 100_000)
    rows, more = browse.pieces(console.app.engine, wanted, offset=(page_no - 1) * PAGE_SIZE,
                               limit=PAGE_SIZE)
    kept = {key: value for key, value in query.items() if key != "page" and value}
    partial = request.headers.get("HX-Request") == "true"
    return console.page(
        request, "pieces_rows.html" if partial else "pieces.html", rows=rows, more=more,
        page_no=page_no, query=kept,
        link=lambda number: "/pieces?" + urlencode({**kept, "page": number}),
        units=browse.unit_names(console.app.engine) if not partial else [],
        kinds=browse.unit_kinds(console.app.engine) if not partial else [],
    )


@page()
def piece_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    number = request.path_params["tracking_no"]
    if not TRACKING_NO.match(number):
        raise HTTPException(404)
    found = browse.piece(console.app.engine, number)
    if found is None:
        raise HTTPException(404)
    document = next((a for a in found.attachments if a.kind == "document"
                     and a.filename.lower().endswith(".docx")), None)
    rendered = None
    if document is not None and document.id is not None:
        data = read_stored(console, document.stored_path)
        if data is not None:
            rendered = word.render(document.id, document.sha256, data)
    replies = [(reply, _text_of(reply.raw)) for reply in found.replies]
    trail = accounts.trail(console.app.engine, f"piece:{number}")
    carried = briefings.carried_by(console.app.engine, found.submission.id or 0)
    solicited = (solicitations.answered_by(console.app.engine, found.submission.id)
                 if found.submission.id is not None else None)
    return console.page(request, "piece.html", piece=found, document=document,
                        rendered=rendered, replies=replies, trail=trail, carried=carried,
                        briefing_name=console.app.config.briefing.title, solicited=solicited)


def _text_of(raw: bytes) -> str:
    """The plain text of a reply we sent."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        body = message.get_body(("plain",))
        return str(body.get_content()) if body is not None else ""
    except Exception:  # a reply we cannot read back is shown without its text
        return ""


def _stored_file(console: Console, stored_path: str) -> Path | None:
    """The stored file at ``stored_path`` (from the database), if it is inside the store."""
    root = console.app.storage.root.resolve()
    path = (root / stored_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def read_stored(console: Console, stored_path: str) -> bytes | None:
    """A file under the storage folder, by the path the database keeps; None when gone."""
    path = _stored_file(console, stored_path)
    return path.read_bytes() if path is not None else None


def download(data: bytes, filename: str, content_type: str) -> Response:
    """A stored file sent back: shown in the browser only when its type is safe to show,
    else as an attachment of no particular type."""
    inline = content_type in SAFE_INLINE
    return Response(data, media_type=content_type if inline else "application/octet-stream",
                    headers={"Content-Disposition": disposition(filename, inline=inline)})


@page()
def file_download(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    file_id = number_of(request.path_params["file_id"])
    found = browse.attachment(console.app.engine, file_id) if file_id is not None else None
    data = read_stored(console, found.stored_path) if found is not None else None
    if found is None or data is None:
        raise HTTPException(404)
    return download(data, found.filename, found.content_type)


@page()
def file_image(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    file_id = number_of(request.path_params["file_id"])
    index = number_of(request.path_params["index"])
    found = browse.attachment(console.app.engine, file_id) if file_id is not None else None
    data = read_stored(console, found.stored_path) if found is not None else None
    if found is None or found.id is None or data is None or index is None:
        raise HTTPException(404)
    images = word.render(found.id, found.sha256, data).images
    if not 1 <= index <= len(images):
        raise HTTPException(404)
    kind, content = images[index - 1]
    return download(content, f"{found.filename}-图{index}", kind or "application/octet-stream")


@page()
def raw_mail(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    message_id = number_of(request.path_params["message_id"])
    found = browse.message(console.app.engine, message_id) if message_id is not None else None
    if found is None or not SHA256.match(found.raw_sha256):
        raise HTTPException(404)
    data = read_stored(console, str(console.app.storage.raw_path(found.raw_sha256)))
    if data is None:
        raise HTTPException(404)
    return download(data, f"邮件{found.id}.eml", "message/rfc822")


# --- held mail, units, status --------------------------------------------------------------

@page()
def held_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    page_no = min(number_of(request.query_params.get("page")) or 1, 100_000)
    rows, more = browse.held(console.app.engine, offset=(page_no - 1) * 100, limit=100)
    return console.page(request, "held.html", rows=rows, more=more, page_no=page_no)


@page()
def units_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    return console.page(request, "units.html", units=browse.units(console.app.engine),
                        saved=request.query_params.get("saved") == "1")


@page(roles=WRITERS)
def unit_active(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    unit_id = number_of(request.path_params["unit_id"])
    active = field(request.state.form, "active") == "1"
    unit = browse.set_unit_active(console.app.engine, unit_id, active) if unit_id else None
    if unit is None:
        raise HTTPException(404)
    console.audit(login, "unit.activate" if active else "unit.deactivate", f"unit:{unit.id}",
                  unit.name)
    return RedirectResponse("/units?saved=1", status_code=303)


@page(roles=("admin",))
def status_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    app, now = console.app, console.now()
    reminder = next_reminder(app, now)
    digest = next_digest(now, app.config.digest, app.config.office.tz)
    return console.page(request, "status.html",
                        state=browse.service_state(app.engine),
                        next_reminder=moment_label(reminder) if reminder else "",
                        next_digest=moment_label(digest) if digest else "")

