"""What every command shares: the state built from the command line's options
(the config, the clock, the app), and the guard that turns an error into one
Chinese line and an exit status.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mailintake.config.settings import Config, load_config
from mailintake.errors import EXIT_FAILED, EXIT_SETUP
from mailintake.problems import explain
from mailintake.replies.render import TemplateProblem

# The database is opened by the commands that use it (see ``mailintake.cli.entry``).
if TYPE_CHECKING:
    from mailintake.app import App, Clock

log = logging.getLogger("mailintake")

#: The list commands' ``--format``.
FORMATS = click.Choice(["table", "json", "csv"])


class State:
    def __init__(self, config_path: Path, now: datetime | None) -> None:
        self.config_path = config_path
        self.now = now
        self._config: Config | None = None
        self._app: App | None = None
        self.verbose = False

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def clock(self) -> Clock:
        from mailintake.app import system_clock

        now = self.now
        return (lambda: now) if now is not None else system_clock

    @property
    def loaded_config(self) -> Config | None:
        """The config if it was read (and valid), else None; never reads it."""
        return self._config

    @property
    def app(self) -> App:
        """The app on the database that is there: a missing one is an error, never made."""
        return self.open_app(create=False)

    def open_app(self, *, create: bool) -> App:
        """The app; ``create`` makes the database and its tables when missing."""
        if self._app is None:
            from mailintake.app import App
            from mailintake.store.database import ready, upgrade

            app = App.from_config(self.config, self.clock, create_database=create)
            try:
                if create:
                    upgrade(app.engine)
                else:
                    ready(app.engine)
            except BaseException:
                app.engine.dispose()
                raise
            self._app = app
        return self._app

    def close(self) -> None:
        # Pooled PostgreSQL connections are closed, not left to the garbage collector.
        if self._app is not None:
            self._app.engine.dispose()


def aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise click.BadParameter("请带上时区，例如 2026-11-19T10:00:00+08:00")
    return moment


def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any error into one Chinese line and an exit status; the detail is logged."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except TemplateProblem as exc:
            click.echo(f"错误：{exc}", err=True)
            sys.exit(EXIT_SETUP)
        except BrokenPipeError:
            # Whoever read the output went away (`| head`): nobody is left to tell, and
            # the interpreter must not complain about flushing to them on its way out.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_FAILED)
        except Exception as exc:
            state = click.get_current_context().find_object(State)
            explained = explain(exc, state.loaded_config if state else None)
            if explained is None:
                log.error("%s failed: %s", fn.__name__, detail(exc))
                log.debug("traceback: %s", traceback.format_exc())
                click.echo(f"错误：mailintake 内部出错（{type(exc).__name__}），没有处理完的邮件"
                           "仍留在收件箱：请把日志中的 error 一行报告给维护者", err=True)
                sys.exit(EXIT_FAILED)
            if explained.line != str(exc):  # the exception's own text is English
                log.error("%s stopped: %s", fn.__name__, detail(exc))
            click.echo(f"错误：{explained.line}", err=True)
            sys.exit(explained.exit_code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def detail(exc: BaseException) -> str:
    """The exception for the log, on one line; a database error without its SQL and
    parameters (they hold the mail's sender and subject)."""
    shown = getattr(exc, "orig", None) or exc
    return " ".join(f"{type(shown).__name__}: {shown}".split())[:500]


def fail(message: str) -> NoReturn:
    """A mistake the clerk can fix: the message, and exit status 1."""
    click.echo(f"错误：{message}", err=True)
    sys.exit(1)


class Progress:
    """A counter line on the terminal for a long export: every ``tick`` is ``step`` rows.
    Shown on stderr, and only when stderr is a terminal: stdout stays clean for JSON and
    CSV, and a pipe or a log gets nothing."""

    def __init__(self, message: str, step: int = 1000) -> None:
        self.message = message
        self.step = step
        self.count = 0
        self.shown = sys.stderr.isatty()

    def tick(self) -> None:
        self.count += self.step
        if self.shown:
            sys.stderr.write("\r" + self.message.format(f"{self.count:,}"))
            sys.stderr.flush()

    def done(self) -> None:
        if self.shown and self.count:
            sys.stderr.write("\n")
            sys.stderr.flush()
