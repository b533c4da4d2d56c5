"""Filed pieces for the quota, report and digest tests, written straight to
the database as the pipeline would leave them (the mail flow itself is
tested in test_pipeline)."""

from __future__ import annotations

import email
import itertools
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from pathlib import Path
from typing import Any

from conftest import FIXTURES, deliver, write_config
from sqlmodel import col, select

from mailintake.app import App
from mailintake.config.settings import load_config
from mailintake.intake import pipeline
from mailintake.office.registry import import_rows, read_rows
from mailintake.store.database import session, upgrade
from mailintake.store.models import (
    CorrespondentUnit,
    Finding,
    InboundMessage,
    OutboxMessage,
    Outcome,
    Status,
    Submission,
    Unit,
)

_serial = itertools.count(1)


def make_app(folder: Path, db_url: str, extra: str, clock: Callable[[], datetime]) -> App:
    """An app on ``db_url`` with the fixture units and ``extra`` config appended."""
    folder.mkdir(parents=True, exist_ok=True)
    app = App.from_config(load_config(write_config(folder, db_url, extra)), clock)
    upgrade(app.engine)
    import_rows(app.engine, read_rows(FIXTURES / "units.csv"))
    return app


def unit_id(app: App, name: str) -> int:
    with session(app.engine) as db:
        unit = db.exec(select(Unit).where(Unit.name == name)).one()
        assert unit.id is not None
        return unit.id


def file_piece(
    app: App, unit: str, when: datetime, *, title: str = "开展秋季趣味运动会",
    status: Status = Status.ACCEPTED, column: str = "general", warn: bool = False,
    reject: str = "",
) -> str:
    """File one piece for ``unit`` received at ``when``; returns its tracking number.
    ``reject``: the code of a finding that sent it back."""
    n = next(_serial)
    uid = unit_id(app, unit)
    with session(app.engine) as db:
        link = db.exec(select(CorrespondentUnit).where(CorrespondentUnit.unit_id == uid)).first()
        message = InboundMessage(
            mailbox="test", source_key=f"k{n}", folder="INBOX", raw_sha256=f"{n:064x}",
            size=1000, received_at=when, outcome=Outcome.FILED, target_folder="已处理",
            message_id=f"m{n}@example.test", business_key=f"mid:m{n}@example.test",
        )
        db.add(message)
        db.flush()
        tracking = f"{app.local(when):%Y%m%d}-{n:05d}"
        piece = Submission(
            tracking_no=tracking, message_id=message.id or 0, unit_id=uid,
            correspondent_id=link.correspondent_id if link else None, column=column,
            title=title, status=status, word_count=200, picture_count=1, received_at=when,
            counted_at=when,
        )
        db.add(piece)
        db.flush()
        if warn:
            db.add(Finding(submission_id=piece.id or 0, code="picture.caption", severity="warn",
                           message="图片没有图注"))
        if reject:
            db.add(Finding(submission_id=piece.id or 0, code=reject, severity="reject",
                           message="稿件被退回"))
        db.commit()
    return tracking


def outbox(app: App, kind: str) -> list[OutboxMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)
                            .order_by(col(OutboxMessage.id))).all())


def parsed(item: OutboxMessage) -> EmailMessage:
    return email.message_from_bytes(item.raw, policy=email.policy.default)


def body_text(message: MIMEPart, kind: str = "plain") -> str:
    """The text of a mail's ``text/<kind>`` body; a mail without one fails the test."""
    body = message.get_body((kind,))
    assert body is not None, f"no text/{kind} body"
    return str(body.get_content())


def send(app: App, when: datetime, *raws: bytes) -> None:
    """Deliver ``raws`` and run one intake cycle with the clock at ``when``."""
    app.clock = lambda: when
    deliver(app.config, *raws)
    box = app.open_mailbox()
    try:
        pipeline.run_cycle(app, box)
    finally:
        box.close()


def text_of(message: EmailMessage) -> str:
    """The plain text of a reply as its reader sees it."""
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def sheet_rows(sheet: Any) -> list[dict[str, Any]]:
    """A report sheet's rows by its Chinese headers (row 1 is the title, row 2 the
    header)."""
    header = [cell.value for cell in sheet[2]]
    return [dict(zip(header, row, strict=True))
            for row in sheet.iter_rows(min_row=3, values_only=True)]
