"""What the list commands show, as rows: JSON lines, CSV or a table.

The JSON keys are an interface others build on (SPEC section 8): add keys
freely, never rename or drop one.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click
from wcwidth import wcswidth

from mailintake.app import App
from mailintake.cli.state import Progress
from mailintake.office.csvout import write_csv
from mailintake.rules import reasons
from mailintake.store import listing
from mailintake.store.models import STATUS_LABELS, VIA_LABELS

Row = dict[str, Any]

OUTCOME_CN = {"filed": "已登记", "rejected": "已退回", "quarantined": "待人工", "ignored": "已忽略"}


def submission_rows(app: App) -> list[Row]:
    return list(iter_submission_rows(app))


def iter_submission_rows(app: App) -> Iterator[Row]:
    """Every piece as a row, one at a time, in the order filed."""
    columns = {c.key: c.name for c in app.config.columns}
    for piece in listing.iter_pieces(app.engine):
        yield {
            "tracking_no": piece.tracking_no,
            "unit": piece.unit,
            "column": piece.column,
            "column_name": columns.get(piece.column, ""),
            "title": piece.title,
            "status": piece.status,
            "findings": piece.findings,
            "word_count": piece.word_count,
            "picture_count": piece.picture_count,
            "received_at": app.local(piece.received_at).isoformat(),
            "message_id": piece.message_id,
            "from": piece.from_addr,
            # How it came: "mail", or "qq" / "paper" / "other" for a piece a clerk filed.
            "via": piece.via or "mail",
        }


def message_rows(app: App) -> list[Row]:
    return [
        {
            "message_id": m.message_id,
            "from": m.from_addr,
            "from_name": m.from_name,
            "subject": m.subject,
            "received_at": app.local(m.received_at).isoformat(),
            "outcome": m.outcome,
            "reasons": m.reasons,
            "folder": m.target_folder if m.moved_at else m.folder,
            "moved": m.moved_at is not None,
            "size": m.size,
            "raw_sha256": m.raw_sha256,
            "error": m.error,
            "via": m.via or "mail",
        }
        for m in listing.messages(app.engine)
    ]


def unit_rows(app: App) -> list[Row]:
    return [
        {
            "unit": u.name,
            "aliases": u.aliases,
            "kind": u.kind,
            "leader": u.leader,
            "active": u.active,
            "correspondents": [
                {"name": p.correspondent.name, "title": p.correspondent.title,
                 "phone": p.correspondent.phone, "emails": p.addresses}
                for p in people
            ],
        }
        for u, people in listing.units(app.engine)
    ]


_TABLE_HEADERS = {
    "tracking_no": "登记编号", "unit": "单位", "column_name": "栏目", "title": "标题",
    "status": "状态", "findings": "问题", "word_count": "字数", "picture_count": "图片",
    "received_at": "收到时间", "via": "来源", "from": "发件人", "subject": "主题",
    "outcome": "结果",
    "reasons": "原因", "folder": "文件夹", "aliases": "简称", "kind": "类别",
    "leader": "负责领导",
    "correspondents": "信息员",
}


#: Columns that hold a code, with the clerk's words for each.
_CODED = {"status": STATUS_LABELS, "outcome": OUTCOME_CN, "via": {**VIA_LABELS, "mail": "邮件"}}


def _cell(key: str, value: Any) -> str:
    if key in _CODED:
        return _CODED[key].get(str(value), str(value))
    if key == "received_at":
        return str(value)[:16].replace("T", " ")
    if key == "correspondents":
        return "；".join(f"{c['name']} {'/'.join(c['emails'])}" for c in value)
    if key in ("findings", "reasons"):  # codes, in the clerk's words
        value = [reasons.labels(value)] if value else []
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 30 else text[:29] + "…"


def print_rows(rows: Iterable[Row], fmt: str, progress: Progress | None = None) -> None:
    """Rows as JSON lines, CSV or a table, written as they come: a table's column widths
    are those of its first ``TABLE_SAMPLE`` rows (a longer cell later only pushes its own
    line). ``progress`` ticks every 1,000 rows."""
    out = sys.stdout
    rows = _counted(iter(rows), progress)
    first = next(rows, None)
    if first is None:
        if fmt == "table":
            click.echo("（无）")
        return
    rows = itertools.chain([first], rows)
    if fmt == "json":
        encode = json.JSONEncoder(ensure_ascii=False).encode
        for row in rows:
            out.write(encode(row) + "\n")
    elif fmt == "csv":
        write_csv(out, first.keys(), (row.values() for row in rows))
    else:
        keys = [k for k in first if k in _TABLE_HEADERS]
        sample = [[_cell(k, row[k]) for k in keys]
                  for row in itertools.islice(rows, TABLE_SAMPLE)]
        heads = [_TABLE_HEADERS[k] for k in keys]
        numeric = [isinstance(first[k], int | float) and not isinstance(first[k], bool)
                   for k in keys]
        widths = [max(_width(c) for c in column) for column in zip(heads, *sample, strict=True)]

        def line(cells: list[str]) -> str:
            return "  ".join(_pad(c, w, right) for c, w, right in zip(
                cells, widths, numeric, strict=True)).rstrip() + "\n"

        out.write(line(heads))
        out.write("  ".join("-" * w for w in widths) + "\n")
        for cells in sample:
            out.write(line(cells))
        for row in rows:
            out.write(line([_cell(k, row[k]) for k in keys]))
    out.flush()
    if progress is not None:
        progress.done()


TABLE_SAMPLE = 1000


def _counted(rows: Iterator[Row], progress: Progress | None) -> Iterator[Row]:
    if progress is None:
        yield from rows
        return
    for n, row in enumerate(rows, start=1):
        if n % progress.step == 0:
            progress.tick()
        yield row


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    width = wcswidth(text)
    return width if width >= 0 else len(text)


def _pad(text: str, width: int, right: bool) -> str:
    if text.isascii():
        return text.rjust(width) if right else text.ljust(width)
    space = " " * max(0, width - _width(text))
    return space + text if right else text + space
