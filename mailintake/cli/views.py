"""What the list commands show, as rows: JSON lines, CSV or a table.

The JSON keys are an interface others build on (SPEC section 8): add keys
freely, never rename or drop one.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from tabulate import tabulate

from mailintake.app import App
from mailintake.csvout import write_csv
from mailintake.rules import reasons
from mailintake.store import listing

Row = dict[str, Any]

STATUS_CN = {"accepted": "已登记", "rejected": "已退回", "superseded": "已被更正稿替换"}
OUTCOME_CN = {"filed": "已登记", "rejected": "已退回", "quarantined": "待人工", "ignored": "已忽略"}


def submission_rows(app: App) -> list[Row]:
    columns = {c.key: c.name for c in app.config.columns}
    return [_submission_row(app, piece, columns) for piece in listing.pieces(app.engine)]


def _submission_row(app: App, piece: listing.ListedPiece, columns: dict[str, str]) -> Row:
    s = piece.submission
    return {
        "tracking_no": s.tracking_no,
        "unit": piece.unit,
        "column": s.column,
        "column_name": columns.get(s.column, ""),
        "title": s.title,
        "status": s.status,
        "findings": piece.findings,
        "word_count": s.word_count,
        "picture_count": s.picture_count,
        "received_at": app.local(s.received_at).isoformat(),
        "message_id": piece.message.message_id,
        "from": piece.message.from_addr,
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
    "received_at": "收到时间", "from": "发件人", "subject": "主题", "outcome": "结果",
    "reasons": "原因", "folder": "文件夹", "aliases": "简称", "kind": "类别",
    "leader": "负责领导",
    "correspondents": "信息员",
}


def _cell(key: str, value: Any) -> str:
    if key == "status":
        return STATUS_CN.get(str(value), str(value))
    if key == "outcome":
        return OUTCOME_CN.get(str(value), str(value))
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


def print_rows(rows: list[Row], fmt: str) -> None:
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif fmt == "csv":
        if rows:
            write_csv(sys.stdout, rows[0].keys(), (row.values() for row in rows))
    else:
        keys = [k for k in (rows[0] if rows else {}) if k in _TABLE_HEADERS]
        table = [[_cell(k, row[k]) for k in keys] for row in rows]
        click.echo(tabulate(table, headers=[_TABLE_HEADERS[k] for k in keys]) if rows else "（无）")
