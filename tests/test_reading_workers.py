"""Mails read in the worker processes come back complete, however big they are."""

from __future__ import annotations

import email
import email.policy
import hashlib
import random
from email.message import EmailMessage

from conftest import deliver, fixture_mail
from sqlmodel import select

from mailintake import pipeline, readers
from mailintake.app import App
from mailintake.database import session
from mailintake.models import Attachment, InboundMessage


def test_big_mail_read_from_the_archive_keeps_every_file(app: App) -> None:
    """A piece with a video too big for the pipe is filed with the video stored byte for byte."""
    message = email.message_from_bytes(
        fixture_mail("02_outlook_rfc2231_website.eml"), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    video = random.Random(3).randbytes(readers.VIA_DISK + 1024 * 1024)
    message.add_attachment(video, maintype="video", subtype="mp4", filename="活动现场.mp4")
    raw = message.as_bytes()
    assert len(raw) > readers.VIA_DISK  # goes to its worker through the archive
    deliver(app.config, raw)
    box = app.open_mailbox()
    try:
        report = pipeline.run_cycle(app, box)
    finally:
        box.close()
    assert report.filed == 1
    with session(app.engine) as db:
        inbound = db.exec(select(InboundMessage)).one()
        stored = db.exec(select(Attachment).where(Attachment.filename == "活动现场.mp4")).one()
    assert inbound.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert stored.size == len(video)
    assert (app.config.storage.dir / stored.stored_path).read_bytes() == video
