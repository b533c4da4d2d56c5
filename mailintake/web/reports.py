"""The console's reports page (报表): a period and a unit kind chosen, the ranking by
unit or by correspondent with its chart, and the same report to hand on as Excel,
CSV (UTF-8 with a byte-order mark and Chinese headers, as Excel on Chinese Windows
opens it) or JSON. Every login may read it, a viewer too.

The period is the CLI's (``report --period``): ``2026-11``, ``2026-Q4``, ``2026-H2``,
``2026``, ``2026-2027``; anything else is answered with the accepted forms, in Chinese.
The Excel workbook is sent as it is written (a year of 100,000 pieces takes one to two
seconds, bench/report.py): the browser's download counts up from the first rows.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mailintake.office.csvout import write_csv
from mailintake.office.excel import period_workbook, shown
from mailintake.office.periods import Period, PeriodError, parse_period, period_of
from mailintake.office.points import settle
from mailintake.office.quotas import Quotas
from mailintake.office.reports import By, Report, build_report
from mailintake.store import accounts, browse
from mailintake.web.console import Console, console_of, disposition, error_page, page

log = logging.getLogger(__name__)

CHART_BARS = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"xlsx", "csv", "json"}
BY_LABELS = {"unit": "按单位", "correspondent": "按信息员"}


@dataclass(frozen=True)
class Choice:
    """What the clerk chose, checked: the period's text as typed, the period, the kind."""

    text: str
    period: Period | None
    kind: str
    by: By
    problem: str = ""

    @property
    def query(self) -> str:
        return urlencode({"period": self.text, "kind": self.kind, "by": self.by})


def _choice(console: Console, request: Request, kinds: list[str]) -> Choice:
    query = request.query_params
    app = console.app
    by: By = "correspondent" if query.get("by") == "correspondent" else "unit"
    kind = (query.get("kind") or "").strip()[:20]
    text = (query.get("period") or "").strip()[:40]
    if not text:
        text = period_of("month", app.local(console.now()).date()).key
    if kind and kind not in kinds:
        return Choice(text, None, "", by, f"没有“{kind}”这一单位类别。")
    if kind and by == "correspondent":
        return Choice(text, None, kind, by, "按信息员排名时不分单位类别，请选择“全部类别”。")
    try:
        period = parse_period(text, Quotas(app.config).calendar,
                              app.config.quotas.school_year_starts)
    except PeriodError as exc:
        return Choice(text, None, kind, by, str(exc))
    return Choice(text, period, kind, by)


def _report(console: Console, choice: Choice) -> Report:
    assert choice.period is not None
    app, now = console.app, console.now()
    settle(app.engine, app.config, now)
    return build_report(app.engine, app.config, choice.period, choice.by, now,
                        kind=choice.kind)


def chart_bars(report: Report, limit: int = CHART_BARS) -> list[dict[str, object]]:
    """The first ``limit`` rows' points as bars: label, value and length (0–100)."""
    rows = report.rows[:limit]
    top = max([abs(float(row["points"])) for row in rows] + [1.0])
    name = "unit" if report.by == "unit" else "correspondent"
    return [{"label": str(row[name]), "value": f"{row['points']:g}",
             "last": row.get("last") == "末位", "eligible": row["eligible"],
             "length": round(max(float(row["points"]), 0) / top * 100, 1)}
            for row in rows]


@page()
def reports_page(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    kinds = browse.unit_kinds(console.app.engine)
    choice = _choice(console, request, kinds)
    context: dict[str, Any] = {"choice": choice, "kinds": kinds, "by_labels": BY_LABELS}
    if choice.period is None:
        return console.page(request, "reports.html", status_code=400, report=None, **context)
    report = _report(console, choice)
    return console.page(request, "reports.html", report=report, bars=chart_bars(report),
                        zero=[row for row in report.rows if not row["eligible"]], **context)


def _file_name(choice: Choice, suffix: str) -> str:
    assert choice.period is not None
    parts = ["信息报送统计", choice.period.key, choice.kind,
             "信息员" if choice.by == "correspondent" else ""]
    return "-".join(p for p in parts if p) + suffix


def _attachment(data: bytes, name: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": disposition(name)})


def report_csv(report: Report) -> bytes:
    """The ranking as CSV that Excel on Chinese Windows opens: UTF-8 with a BOM, Chinese
    headers, text never taken for a formula."""
    out = io.StringIO()
    out.write("\ufeff")
    write_csv(out, [header for _, header in report.headers],
              ([shown(row[key]) for key, _ in report.headers] for row in report.rows))
    return out.getvalue().encode("utf-8")


@page()
def report_export(request: Request, _login: accounts.Login) -> Response:
    console = console_of(request)
    fmt = request.path_params["format"]
    if fmt not in FORMATS:
        raise HTTPException(404)
    choice = _choice(console, request, browse.unit_kinds(console.app.engine))
    if choice.period is None:
        return error_page(request, 400, choice.problem)
    report = _report(console, choice)
    if fmt == "json":
        body = json.dumps(report.as_json(), ensure_ascii=False, indent=1)
        return _attachment(body.encode(), _file_name(choice, ".json"), "application/json")
    if fmt == "csv":
        return _attachment(report_csv(report), _file_name(choice, ".csv"),
                           "text/csv; charset=utf-8")

    def write(target: BinaryIO) -> None:
        period_workbook(console.app.engine, console.app.config, report, target,
                        kind=choice.kind)

    # Sent as it is written: the browser's download counts up from the first rows. The
    # first piece is awaited here, so a failure at the start (the database gone) is
    # still the console's own error page, not a download cut short.
    pieces = streamed(write)
    first = next(pieces, b"")
    return StreamingResponse(itertools.chain([first], pieces), media_type=XLSX, headers={
        "Content-Disposition": disposition(_file_name(choice, ".xlsx"))})


class _Pipe(io.RawIOBase):
    """What the workbook's writer writes, handed over to the response as it comes."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
        self.abandoned = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.abandoned.is_set():
            raise OSError("the download was abandoned")
        self.chunks.put(bytes(data))
        return len(data)


def streamed(write: Callable[[BinaryIO], None]) -> Generator[bytes]:
    """What ``write`` writes, in pieces of 256 KB as it goes, from a thread of its own;
    an error there ends the download (the file arrives cut short), and a download
    abandoned by the browser stops the writer at its next write."""
    pipe = _Pipe()

    def run() -> None:
        try:
            with io.BufferedWriter(pipe, 256 * 1024) as target:
                write(target)
        except BaseException as exc:  # handed to the response, which ends with it
            if not pipe.abandoned.is_set():
                log.warning("export failed: %s: %s", type(exc).__name__, exc)
            pipe.chunks.put(exc)
        else:
            pipe.chunks.put(None)

    writer = threading.Thread(target=run, name="export", daemon=True)
    writer.start()
    try:
        while (item := pipe.chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        pipe.abandoned.set()
        while writer.is_alive():  # a writer waiting to put a piece: let it go, and stop
            with contextlib.suppress(queue.Empty):
                pipe.chunks.get_nowait()
            writer.join(0.05)


ROUTES = [
    Route("/reports", reports_page),
    Route("/reports/export.{format}", report_export),
]
