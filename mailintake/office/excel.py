"""A report as an Excel workbook: 排名 (the ranking), 汇总 (seed 002's
figures) and 稿件 (every piece), with Chinese headers, the header row frozen
and columns as wide as their text.

Titles and names come from mail: a text beginning with ``=`` would become a
formula (an injection risk), so such cells are typed as text explicitly;
characters Excel cannot store are dropped. The workbook is written in
openpyxl's streaming mode so a year of pieces stays in bounded memory.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from wcwidth import wcswidth

from mailintake.office.reports import PIECE_HEADERS, Report, Row

_BOLD = Font(bold=True)
MAX_WIDTH = 60


def text_cell(sheet: WriteOnlyWorksheet, value: str) -> Cell | str:
    """Text that stays text, whatever it begins with."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not value.startswith("="):
        return value  # openpyxl types every other string as text already
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _value(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否（零报送）"
    if isinstance(value, str):
        return text_cell(sheet, value)
    return value


def _width(value: Any) -> int:
    text = str(value)
    width = wcswidth(text)
    return width if width >= 0 else len(text)


def _sheet(book: Workbook, title: str, headers: list[tuple[str, str]], rows: list[Row]) -> None:
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    # Widths must be set before the first row is streamed; a sample is enough.
    for index, (key, header) in enumerate(headers, start=1):
        widest = max([_width(header), *(_width(row[key]) for row in rows[:500])])
        sheet.column_dimensions[get_column_letter(index)].width = min(widest + 2, MAX_WIDTH)
    heads = []
    for _, header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = _BOLD
        heads.append(cell)
    sheet.append(heads)
    keys = [key for key, _ in headers]
    for row in rows:
        sheet.append([_value(sheet, row[key]) for key in keys])


def _summary_rows(report: Report) -> list[Row]:
    s = report.summary
    median = s.median_days_to_adoption
    rows: list[Row] = [
        {"item": "统计期", "value": report.period.label},
        {"item": "投稿", "value": s.received},
        {"item": "登记", "value": s.accepted},
        {"item": "退回", "value": s.rejected},
        {"item": "采用", "value": s.adopted},
        {"item": "收稿至采用（中位数，天）", "value": "—" if median is None else median},
    ]
    rows += [{"item": f"栏目·{name}", "value": n} for name, n in s.by_column.items()]
    rows += [{"item": f"采用渠道·{name}", "value": n} for name, n in s.by_channel.items()]
    return rows


def write_report(report: Report, pieces: list[Row] | None, target: Path | BinaryIO) -> None:
    """Write the workbook to a file or a stream."""
    book = Workbook(write_only=True)
    _sheet(book, "排名", report.headers, report.rows)
    _sheet(book, "汇总", [("item", "项目"), ("value", "数值")], _summary_rows(report))
    if pieces is not None:
        _sheet(book, "稿件", PIECE_HEADERS, pieces)
    book.save(target)


def report_bytes(report: Report, pieces: list[Row] | None) -> bytes:
    buffer = io.BytesIO()
    write_report(report, pieces, buffer)
    return buffer.getvalue()
