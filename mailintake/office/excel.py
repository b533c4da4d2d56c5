"""A report as an Excel workbook: 排名 (the ranking), 汇总 (the period's figures),
年度统计 (seed 002's yearly table: pieces and adoptions by column and channel,
hours from receipt to publication; on a yearly or school-year report), 采用
(the adoptions made in the period) and 稿件 (every piece counted in it, with
the reason a piece was sent back).

Every sheet has a title row (the office, the period), Chinese headers, the
header row frozen and filtered, and columns as wide as their text; times are
Excel dates. The workbook is streamed (``mailintake.office.xlsx``): the pieces
may be a generator, and a year of them is never held in memory. Text from
mail stays text, never a formula.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from mailintake.config.settings import Config
from mailintake.office.reports import (
    ADOPTION_HEADERS,
    FIGURE_HEADERS,
    PIECE_HEADERS,
    Report,
    Row,
    adoption_rows,
    iter_piece_cells,
)
from mailintake.office.xlsx import Sheet, write_xlsx
from mailintake.store.database import Engine

YEARLY = ("year", "school_year")


def shown(value: Any) -> Any:
    """A report's value as a clerk reads it: 可评优 as 是 / 否（零报送）."""
    if isinstance(value, bool):
        return "是" if value else "否（零报送）"
    return value


def _table(headers: list[tuple[str, str]], rows: Iterable[Row]) -> Iterable[list[Any]]:
    keys = [key for key, _ in headers]
    return ([shown(row[key]) for key in keys] for row in rows)


def _summary_rows(report: Report) -> list[Row]:
    s = report.summary
    hours = s.hours_to_adoption
    rows: list[Row] = [
        {"item": "统计期", "value": report.period.label},
        {"item": "投稿", "value": s.received},
        {"item": "登记", "value": s.accepted},
        {"item": "退回", "value": s.rejected},
        {"item": "采用", "value": s.adopted},
        {"item": "收稿至采用（中位数，天）", "value": s.median_days_to_adoption},
        {"item": "收稿至采用（中位数，小时）", "value": hours.get("median")},
    ]
    rows += [{"item": f"栏目·{name}", "value": n} for name, n in s.by_column.items()]
    rows += [{"item": f"采用渠道·{name}", "value": n} for name, n in s.by_channel.items()]
    return [{**row, "value": "—" if row["value"] is None else row["value"]} for row in rows]


def report_title(office: str, report: Report, kind: str = "") -> str:
    return f"{office} {report.period.label} 信息报送统计{f'（{kind}）' if kind else ''}".strip()


def write_report(
    report: Report, pieces: Iterable[Sequence[Any]] | None, target: Path | BinaryIO, *,
    office: str = "", adoptions: list[Row] | None = None,
    tick: Callable[[], None] | None = None, kind: str = "",
) -> None:
    """Write the workbook to a file or a stream; ``tick`` is called every 1,000 rows.
    ``pieces``: the cells of ``PIECE_HEADERS`` (``iter_piece_cells``), for 稿件.
    ``kind``: the unit kind the report (built for it), adoptions and pieces are of."""
    title = report_title(office, report, kind)
    sheets = [
        Sheet("排名", title, [h for _, h in report.headers], _table(report.headers, report.rows)),
        Sheet("汇总", title, ["项目", "数值"],
              _table([("item", ""), ("value", "")], _summary_rows(report))),
    ]
    if report.period.kind in YEARLY:
        sheets.append(Sheet("年度统计", f"{title}·栏目与采用渠道",
                            [h for _, h in FIGURE_HEADERS],
                            _table(FIGURE_HEADERS, report.summary.figures)))
    if adoptions is not None:
        sheets.append(Sheet("采用", f"{title}·本期采用", [h for _, h in ADOPTION_HEADERS],
                            _table(ADOPTION_HEADERS, adoptions)))
    if pieces is not None:
        sheets.append(Sheet("稿件", f"{title}·稿件", [h for _, h in PIECE_HEADERS],
                            pieces))
    write_xlsx(sheets, target, tick=tick)


def report_bytes(report: Report, pieces: Iterable[Sequence[Any]] | None, *, office: str = "",
                 adoptions: list[Row] | None = None,
                 tick: Callable[[], None] | None = None) -> bytes:
    buffer = io.BytesIO()
    write_report(report, pieces, buffer, office=office, adoptions=adoptions, tick=tick)
    return buffer.getvalue()


def period_workbook(
    engine: Engine, config: Config, report: Report, target: Path | BinaryIO, *,
    kind: str = "", tick: Callable[[], None] | None = None,
) -> None:
    """The full workbook of ``report``'s period (of one unit ``kind``, when given, the
    report built for it): the pieces counted in it, each naming only the adoptions made
    in it, streamed."""
    start, end = report.period.bounds(config.office.tz)
    pieces = iter_piece_cells(engine, config, start, end, adopted_in_span=True, kind=kind)
    adoptions = adoption_rows(engine, config, start, end, kind=kind)
    write_report(report, pieces, target, office=config.office.name, kind=kind,
                 adoptions=adoptions, tick=tick)
