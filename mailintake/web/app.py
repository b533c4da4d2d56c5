"""The console's ASGI application: its routes, security headers and error pages.

Every page but ``/healthz``, ``/login`` and the shipped ``/static`` files
needs a login; a request without one is sent to ``/login``. A form posted
without the login's CSRF token is refused, and so is a change by a role that
may not make it (``viewer`` reads only). Tracking numbers and file ids must
have their shape (``20261119-00003``, digits) or the answer is 404; files are
found by id in the database, never by a path from the request.

The pages are in ``pages`` and ``login``; what they share in ``console``.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailintake.app import App
from mailintake.web import (
    actions,
    adoption,
    briefings,
    bulletins,
    filing,
    pages,
    registry,
    reports,
    solicitations,
)
from mailintake.web.console import HERE, Console, error_page
from mailintake.web.login import healthz, login_page, logout

log = logging.getLogger("mailintake.web")

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; script-src 'self'; "
                               "style-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class Headers(BaseHTTPMiddleware):
    """The security headers on every answer."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        if request.url.path != "/healthz" and not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = "找不到这个页面或文件。" if status == 404 else "请求无法处理。"
    return error_page(request, status, message)


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("console page %s failed: %s: %s", request.url.path, type(exc).__name__,
              " ".join(str(exc).split())[:300])
    return HTMLResponse("<!doctype html><meta charset=utf-8><title>出错</title>"
                        "<p>内部出错，请稍后再试；如仍出错请告诉管理员。</p>", status_code=500)


def create_app(app: App, *, secret: bytes | None = None) -> Starlette:
    """The console for ``app``."""
    routes = [
        Route("/healthz", healthz),
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", pages.home),
        Route("/pieces", pages.pieces_page),
        *filing.ROUTES,
        Route("/pieces/{tracking_no}", pages.piece_page),
        Route("/files/{file_id}", pages.file_download),
        Route("/files/{file_id}/images/{index}", pages.file_image),
        Route("/mails/{message_id}/raw", pages.raw_mail),
        Route("/held", pages.held_page),
        Route("/units", pages.units_page),
        Route("/units/{unit_id}/active", pages.unit_active, methods=["POST"]),
        Route("/status", pages.status_page),
        *actions.ROUTES, *adoption.ROUTES, *registry.ROUTES, *briefings.ROUTES,
        *solicitations.ROUTES, *bulletins.ROUTES, *reports.ROUTES,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    web = Starlette(routes=routes, middleware=[Middleware(Headers)],
                    exception_handlers={404: not_found, 405: not_found,
                                        Exception: server_error})
    web.state.console = Console(app, secret)
    actions.install(web.state.console)
    return web
