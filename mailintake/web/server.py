"""Serving the console with uvicorn: on its own (``mailintake web``) or beside the
intake in ``mailintake run`` (a thread of its own, when ``[web] enabled``)."""

from __future__ import annotations

import logging
import threading

import uvicorn

from mailintake.app import App
from mailintake.web.app import create_app

log = logging.getLogger("mailintake.web")


def _server(app: App) -> uvicorn.Server:
    web = app.config.web
    config = uvicorn.Config(create_app(app), host=web.host, port=web.port, log_level="warning",
                            access_log=False, proxy_headers=True, server_header=False)
    return uvicorn.Server(config)


def serve(app: App) -> None:
    """Serve until SIGINT or SIGTERM."""
    log.info("console listening on %s", app.config.web.listen)
    _server(app).run()


class Background:
    """The console in a thread of its own; ``stop`` ends it."""

    def __init__(self, app: App) -> None:
        self.listen = app.config.web.listen
        self.server = _server(app)
        self.thread = threading.Thread(target=self.server.run, name="console", daemon=True)

    def start(self) -> Background:
        self.thread.start()
        log.info("console listening on %s", self.listen)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
