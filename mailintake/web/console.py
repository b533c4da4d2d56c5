"""What every page of the console shares: the app, the templates, the login of the
request, and ``page``, the decorator that demands a login (of a role) and, on a
POST, the login's CSRF token.

The database calls are synchronous: each page runs in Starlette's thread pool.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from mailintake.app import App
from mailintake.rules.limits import size_text
from mailintake.store import accounts
from mailintake.web import labels
from mailintake.web.security import SESSION_COOKIE, LoginLimit, same, token_hash

#: What a tracking number or an id in a URL may look like; anything else is a 404.
TRACKING_NO = re.compile(r"^[0-9]{8}-[0-9]{5,12}$")
DIGITS = re.compile(r"^[0-9]{1,12}$")


def number_of(text: str | None) -> int | None:
    """An id from a URL or a form: digits only, else None."""
    return int(text) if text and DIGITS.match(text) else None

HERE = Path(__file__).parent
#: Who may change things (a viewer only reads).
WRITERS = ("clerk", "admin")

Handler = Callable[[Request, accounts.Login], Response]


class Console:
    """What every page shares: the app, the templates, the secret and the login limit."""

    def __init__(self, app: App, secret: bytes | None = None) -> None:
        self.app = app
        web = app.config.web
        self.secret = secret or web.secret.encode() or secrets.token_bytes(32)
        self.limit = LoginLimit(web.login_attempts)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.filters["when"] = self.when
        env.filters["day"] = self.day
        env.filters["size"] = _size
        env.globals.update(labels=labels, columns=self.columns)

    @property
    def columns(self) -> dict[str, str]:
        return {column.key: column.name for column in self.app.config.columns}

    def when(self, moment: datetime | None) -> str:
        return self.app.local(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"

    def day(self, moment: datetime | None) -> str:
        return self.app.local(moment).strftime("%Y-%m-%d") if moment else "—"

    def now(self) -> datetime:
        return self.app.clock()

    def login(self, request: Request) -> accounts.Login | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 200:
            return None
        return accounts.login(self.app.engine, token_hash(token), self.now())

    def page(self, request: Request, name: str, status_code: int = 200,
             **context: Any) -> Response:
        context.setdefault("login", getattr(request.state, "login", None))
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    def audit(self, login: accounts.Login, action: str, target: str, detail: str = "") -> None:
        accounts.record(self.app.engine, login.user.name, action, target, detail=detail,
                        at=self.now())


def _size(value: int | None) -> str:
    return "—" if value is None else size_text(value)


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def error_page(request: Request, status: int, message: str) -> Response:
    return console_of(request).page(request, "error.html", status, message=message)


def page(*, roles: tuple[str, ...] = ()) -> Callable[[Handler], Callable[[Request],
                                                                     Awaitable[Response]]]:
    """A page that needs a login (of one of ``roles``), and the CSRF token on a POST."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            console = console_of(request)
            login = await run_in_threadpool(console.login, request)
            if login is None:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                where = "/login" if request.method != "GET" else f"/login?next={quote(target)}"
                return RedirectResponse(where, status_code=303)
            request.state.login = login
            if roles and login.user.role not in roles:
                return error_page(request, 403, "您的账号没有权限进行这项操作。")
            if request.method == "POST":
                form = await request.form()
                try:
                    if not same(login.csrf, field(form, "csrf")):
                        return error_page(request, 403, "表单已失效，请返回并刷新页面后重试。")
                    request.state.form = form
                    return await run_in_threadpool(handler, request, login)
                finally:
                    await form.close()  # an uploaded file's temporary copy
            return await run_in_threadpool(handler, request, login)

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def disposition(name: str, *, inline: bool = False) -> str:
    """The Content-Disposition of a file sent as ``name`` (any characters, Chinese too)."""
    return f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name)}"


def fields(form: FormData, name: str) -> list[str]:
    """Every text value of a field sent more than once (ticked boxes); files left out."""
    return [value for value in form.getlist(name) if isinstance(value, str)]

