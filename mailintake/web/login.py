"""Logging in and out, and the health check (the two pages open to anyone)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from mailintake.store import accounts
from mailintake.web.console import console_of, field, page
from mailintake.web.passwords import verify
from mailintake.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    login_form_token,
    new_token,
    same,
    token_hash,
)

log = logging.getLogger("mailintake.web")


def healthz(_request: Request) -> Response:
    return PlainTextResponse("ok")


def _next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/pieces"


def _login_form(request: Request, message: str = "", status: int = 200) -> Response:
    console = console_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,100}", nonce):
        nonce = new_token()
    response = console.page(request, "login.html", status, message=message, login=None,
                            csrf=login_form_token(console.secret, nonce),
                            next=_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="lax",
                        secure=console.app.config.web.secure_cookies, path="/login")
    return response


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        return _login_form(request)
    console = console_of(request)
    form = await request.form()
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not nonce or not same(login_form_token(console.secret, nonce), field(form, "csrf")):
        return _login_form(request, "登录表单已失效，请重新输入。", 403)
    name, password = field(form, "username").strip(), field(form, "password")
    client = request.client.host if request.client else "?"
    keys = (f"user:{name}", f"addr:{client}")
    if console.limit.blocked(*keys):
        return _login_form(request, "登录失败次数过多，请 15 分钟后再试。", 429)
    person = await run_in_threadpool(accounts.user, console.app.engine, name) if name else None
    good = await run_in_threadpool(verify, person.password_hash if person else None, password)
    if person is None or not good or not person.active or person.id is None:
        console.limit.failed(*keys)
        log.warning("console login failed for %r from %s", name[:50], client)
        return _login_form(request, "用户名或密码不正确。", 401)
    console.limit.succeeded(keys[0])
    token = new_token()
    now = console.now()
    hours = console.app.config.web.session_hours
    await run_in_threadpool(partial(
        accounts.start_session, console.app.engine, person.id, token_hash(token),
        csrf=new_token(), now=now, expires_at=now + timedelta(hours=hours)))
    await run_in_threadpool(partial(
        accounts.record, console.app.engine, person.name, "login", f"user:{person.name}",
        detail=client, at=now))
    response = RedirectResponse(_next(field(form, "next")), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=hours * 3600, httponly=True,
                        samesite="lax", secure=console.app.config.web.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@page()
def logout(request: Request, _login: accounts.Login) -> Response:
    token = request.cookies.get(SESSION_COOKIE) or ""
    accounts.end_session(console_of(request).app.engine, token_hash(token))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response

