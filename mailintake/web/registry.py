"""The registry in the console: a unit edited (quota, kind, short names, 负责领导, in use
or not), a correspondent added, changed or taken off, and the registration form
uploaded, previewed (added, changed, removed) and then applied.

Each change calls ``store.units`` or ``office.registry`` as the command line does,
shows what changed (``describe``) and writes it to the audit trail. An uploaded
form is kept on the server under a random token in a folder of the login's user;
the apply button names the token, never a path.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.office.registry import (
    KINDS,
    UnitsFileError,
    checked_emails,
    describe,
    import_rows,
    read_rows,
    split_list,
)
from mailintake.store import accounts, desk
from mailintake.store.database import Engine
from mailintake.store.unitchanges import Change, RegistryError, UnitEdit
from mailintake.store.units import PersonEntry, edit_unit, remove_person, set_person
from mailintake.web.console import DIGITS, WRITERS, Console, console_of, field, page

TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,60}$")
UPLOAD_LIMIT = 5 * 1024 * 1024
SUFFIXES = (".csv", ".xlsx", ".xlsm")
#: An upload not applied within this many seconds is thrown away.
UPLOAD_KEPT = 24 * 3600


def _unit_id(request: Request) -> int:
    text = request.path_params["unit_id"]
    if not DIGITS.match(text):
        raise HTTPException(404)
    return int(text)


def _unit_page(request: Request, unit_id: int, *, changes: list[Change] | None = None,
               error: str = "", status_code: int = 200) -> Response:
    console = console_of(request)
    unit = desk.unit(console.app.engine, unit_id)
    if unit is None:
        raise HTTPException(404)
    kinds = list(KINDS)
    if unit.kind and unit.kind not in kinds:
        kinds.insert(0, unit.kind)
    return console.page(
        request, "unit.html", status_code, unit=unit, kinds=kinds,
        people=desk.people(console.app.engine, unit_id),
        changes=[describe(change) for change in changes] if changes is not None else None,
        error=error, trail=accounts.trail(console.app.engine, f"unit:{unit_id}"),
    )


def _record(console: Console, login: accounts.Login, action: str, unit_id: int,
            changes: list[Change]) -> None:
    detail = "；".join(describe(change) for change in changes) or "没有变化"
    console.audit(login, action, f"unit:{unit_id}", detail[:4000])


def _the_unit(request: Request) -> tuple[Console, int, str]:
    """The console, and the id and name of the unit the URL names (404 when none)."""
    console = console_of(request)
    unit_id = _unit_id(request)
    unit = desk.unit(console.app.engine, unit_id)
    if unit is None:
        raise HTTPException(404)
    return console, unit_id, unit.name


def _changed(request: Request, login: accounts.Login, action: str,
             change: Callable[[Engine, str], list[Change]]) -> Response:
    """Make one change to the unit the URL names, record it, and show the unit with it."""
    console, unit_id, name = _the_unit(request)
    try:
        changes = change(console.app.engine, name)
    except RegistryError as exc:
        return _unit_page(request, unit_id, error=str(exc), status_code=409)
    _record(console, login, action, unit_id, changes)
    return _unit_page(request, unit_id, changes=changes)


@page()
def unit_page(request: Request, _login: accounts.Login) -> Response:
    return _unit_page(request, _unit_id(request))


@page(roles=WRITERS)
def unit_edit(request: Request, login: accounts.Login) -> Response:
    _console, unit_id, _name = _the_unit(request)
    form = request.state.form
    quota_text = field(form, "quota").strip()
    if quota_text and not DIGITS.match(quota_text):
        return _unit_page(request, unit_id, error="定额应为 0 或正整数；留空表示按单位类别的定额。",
                          status_code=400)
    kind = field(form, "kind").strip()
    if not kind:
        return _unit_page(request, unit_id, error="请选择单位类别。", status_code=400)
    edit = UnitEdit(
        kind=kind[:20], aliases=split_list(field(form, "aliases")),
        leader=" ".join(field(form, "leader").split())[:50],
        active=field(form, "active") != "0",
        quota=int(quota_text) if quota_text else None, kind_quota=not quota_text,
    )
    return _changed(request, login, "unit.edit",
                    lambda engine, name: edit_unit(engine, name, edit))


@page(roles=WRITERS)
def person_set(request: Request, login: accounts.Login) -> Response:
    _console, unit_id, unit_name = _the_unit(request)
    form = request.state.form
    name = " ".join(field(form, "name").split())[:50]
    emails, problems = checked_emails(field(form, "emails"))
    if not name:
        problems.insert(0, "请填写信息员姓名")
    if problems:
        return _unit_page(request, unit_id, error="；".join(problems), status_code=400)
    person = PersonEntry(name=name, title=" ".join(field(form, "title").split())[:50],
                         phone=" ".join(field(form, "phone").split())[:50],
                         emails=list(dict.fromkeys(emails)), units=[unit_name])
    return _changed(request, login, "person.set",
                    lambda engine, name: set_person(engine, name, person))


@page(roles=WRITERS)
def person_remove(request: Request, login: accounts.Login) -> Response:
    who = field(request.state.form, "name")
    return _changed(request, login, "person.remove",
                    lambda engine, name: remove_person(engine, name, who))


# --- the registration form ----------------------------------------------------------------------

def _uploads(console: Console, login: accounts.Login) -> Path:
    """The folder of this user's uploaded forms (those older than a day thrown away)."""
    folder = console.app.storage.root / "uploads" / f"u{login.user.id}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if time.time() - old.stat().st_mtime > UPLOAD_KEPT:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def _uploaded(console: Console, login: accounts.Login, token: str) -> Path | None:
    """The form uploaded under ``token`` by this user, if it is still kept."""
    if not TOKEN.match(token):
        return None
    folder = _uploads(console, login) / token
    found = sorted(folder.glob("登记表.*")) if folder.is_dir() else []
    return found[0] if found else None


def _import_page(request: Request, status_code: int = 200, **context: object) -> Response:
    context.setdefault("problems", [])
    context.setdefault("changes", None)
    context.setdefault("token", "")
    context.setdefault("applied", False)
    context.setdefault("error", "")
    return console_of(request).page(request, "units_import.html", status_code, **context)


@page()
def import_form(request: Request, _login: accounts.Login) -> Response:
    return _import_page(request)


@page(roles=WRITERS)
def import_preview(request: Request, login: accounts.Login) -> Response:
    """The uploaded form checked and compared with the registry; nothing is written."""
    console = console_of(request)
    upload = request.state.form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(request, 400, error="请选择要上传的登记表（CSV 或 Excel 文件）。")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in SUFFIXES:
        return _import_page(request, 400, error="登记表应为 CSV 或 Excel（.xlsx）文件。")
    data = upload.file.read(UPLOAD_LIMIT + 1)
    if len(data) > UPLOAD_LIMIT:
        return _import_page(request, 400, error="文件过大（超过 5 MB），请检查是否选错了文件。")
    token = secrets.token_urlsafe(24)
    folder = _uploads(console, login) / token
    folder.mkdir()
    path = folder / f"登记表{suffix}"
    path.write_bytes(data)
    try:
        rows = read_rows(path)
        summary = import_rows(console.app.engine, rows, apply=False)
    except UnitsFileError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _import_page(request, 400, problems=exc.problems[:200])
    except Exception:  # a file that is no table at all: said so, never a traceback
        shutil.rmtree(folder, ignore_errors=True)
        return _import_page(request, 400,
                            error="文件无法读取，请确认是 CSV 或 Excel（.xlsx）登记表。")
    changes = [describe(change) for change in summary.changes]
    if not changes:
        shutil.rmtree(folder, ignore_errors=True)
    return _import_page(request, changes=changes, token=token if changes else "",
                        units=len(summary.unit_names))


@page(roles=WRITERS)
def import_apply(request: Request, login: accounts.Login) -> Response:
    console = console_of(request)
    path = _uploaded(console, login, field(request.state.form, "token"))
    if path is None:
        return _import_page(request, 410, error="上传的登记表已失效，请重新上传。")
    try:
        summary = import_rows(console.app.engine, read_rows(path), apply=True)
    except UnitsFileError as exc:
        return _import_page(request, 400, problems=exc.problems[:200])
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    changes = [describe(change) for change in summary.changes]
    console.audit(login, "registry.import", "registry",
                  ("；".join(changes) or "没有变化")[:4000])
    return _import_page(request, changes=changes, applied=True,
                        units=len(summary.unit_names))


ROUTES = [
    # Before /units/{unit_id}, which would take "import" for an id.
    Route("/units/import", import_form),
    Route("/units/import", import_preview, methods=["POST"]),
    Route("/units/import/apply", import_apply, methods=["POST"]),
    Route("/units/{unit_id}", unit_page),
    Route("/units/{unit_id}", unit_edit, methods=["POST"]),
    Route("/units/{unit_id}/people", person_set, methods=["POST"]),
    Route("/units/{unit_id}/people/remove", person_remove, methods=["POST"]),
]
