"""Who never gets a reply: robots, lists, bounces and spoofed senders — and
the few extra replies that are safe: registration notes and oversize notices."""

from __future__ import annotations

import email
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES, NOW, deliver, fixture_mail
from sqlmodel import col, func, select

from mailintake.app import App
from mailintake.cli.views import message_rows
from mailintake.config.settings import AuthConfig
from mailintake.intake import pipeline
from mailintake.mailbox.base import MailRef
from mailintake.mailbox.maildir import MaildirMailbox
from mailintake.store.bounces import bouncing_addresses
from mailintake.store.database import session
from mailintake.store.models import OutboxMessage, OutboxStatus, Submission

ROBOTS = FIXTURES / "mail" / "robots"
EXPECTED = {
    "qqmail_auto_reply.eml": "auto.subject",
    "exchange_out_of_office.eml": "auto.submitted",
    "vacation_x_autoreply.eml": "auto.reply_header",
    "dsn_bounce_of_our_reply.eml": "auto.delivery_report",
    "coremail_bounce_plain.eml": "auto.robot_sender",
    "list_mail.eml": "list.mail",
    "noreply_notification.eml": "auto.robot_sender",
    "precedence_bulk.eml": "auto.precedence",
    "null_return_path.eml": "auto.null_sender",
    "reply_from_another_mailintake.eml": "loop.own_header",
}
DMARC_FAIL = (b"Authentication-Results: mx.126.com; spf=fail smtp.mailfrom=liuxy@163.com;\n"
              b" dkim=none; dmarc=fail (p=reject dis=none) header.from=163.com\n")


def cycle(app: App) -> pipeline.CycleReport:
    box = app.open_mailbox()
    try:
        return pipeline.run_cycle(app, box)
    finally:
        box.close()


def outbox(app: App) -> list[OutboxMessage]:
    with session(app.engine) as db:
        return list(db.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def body(item: OutboxMessage) -> str:
    message = email.message_from_bytes(item.raw, policy=email.policy.default)
    part = message.get_body(("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


def test_auto_replies_bounces_and_list_mail_get_no_reply(app: App) -> None:
    """Every robot fixture is recorded and moved with its reason, and nothing is sent back."""
    assert sorted(p.name for p in ROBOTS.glob("*.eml")) == sorted(EXPECTED)
    for name in EXPECTED:
        deliver(app.config, (ROBOTS / name).read_bytes())
    report = cycle(app)
    assert (report.ignored, report.filed, report.rejected) == (len(EXPECTED), 0, 0)
    reasons = {row["message_id"]: row["reasons"] for row in message_rows(app)}
    for name, reason in EXPECTED.items():
        mid = email.message_from_bytes((ROBOTS / name).read_bytes())["Message-ID"].strip("<>")
        assert reasons[mid] == [reason], name
    assert outbox(app) == []
    # The report is about an address we never wrote to: nothing is marked bouncing.
    assert bouncing_addresses(app.engine, NOW) == []


@pytest.mark.parametrize("trusted", [[], ["mx.126.com"]])
def test_dmarc_failing_mail_from_a_registered_address_is_quarantined_unanswered(
    app: App, trusted: list[str]
) -> None:
    """A forged mail in a correspondent's name is never filed as the unit's and never answered."""
    app.config = app.config.model_copy(update={"auth": AuthConfig(trusted_authserv_ids=trusted)})
    deliver(app.config, DMARC_FAIL + fixture_mail("02_outlook_rfc2231_website.eml"))
    report = cycle(app)
    assert report.quarantined == 1
    [row] = message_rows(app)
    assert (row["outcome"], row["reasons"], row["folder"]) == (
        "quarantined", ["sender.auth_failed"], "待人工")
    assert outbox(app) == []
    with session(app.engine) as db:
        assert db.exec(select(func.count()).select_from(Submission)).one() == 0


def test_a_failure_claimed_by_an_untrusted_server_is_not_believed(app: App) -> None:
    """With trusted servers configured, a verdict any other server wrote counts for nothing."""
    app.config = app.config.model_copy(
        update={"auth": AuthConfig(trusted_authserv_ids=["mx.126.com"])})
    forged = DMARC_FAIL.replace(b"mx.126.com", b"mx.somewhere.example")
    deliver(app.config, forged + fixture_mail("02_outlook_rfc2231_website.eml"))
    assert cycle(app).filed == 1
    assert [item.kind for item in outbox(app)] == ["receipt"]


def test_a_report_that_our_receipt_bounced_holds_further_replies(app: App) -> None:
    """After a 5.1.1 report for one of our replies, the next reply to that address is held."""
    deliver(app.config, fixture_mail("01_foxmail_gbk_weekly.eml"))
    cycle(app)
    [receipt] = outbox(app)
    ours = email.message_from_bytes(receipt.raw)["Message-ID"]
    report = (ROBOTS / "dsn_bounce_of_our_reply.eml").read_bytes()
    report = report.replace(b"gone@school.example.cn", b"chenpei@126.com")
    report = report.replace(b"<176351399700.4242.2222.mailintake@126.com>", ours.encode())
    forged = report.replace(b"dsn.20261119094002", b"forged").replace(
        ours.encode(), b"<not-ours@126.com>")
    deliver(app.config, forged)
    cycle(app)
    assert bouncing_addresses(app.engine, NOW) == []  # not about a reply of ours
    deliver(app.config, report)
    assert cycle(app).ignored == 1
    [bounce] = bouncing_addresses(app.engine, NOW)
    assert (bounce.address, bounce.status) == ("chenpei@126.com", "5.1.1")
    assert bounce.until == NOW + timedelta(days=60)

    deliver(app.config, fixture_mail("06_reject_no_attachment.eml"))
    replies = cycle(app).replies
    assert replies is not None and (replies.held, replies.sent) == (1, 0)
    assert [item.status for item in outbox(app)] == [OutboxStatus.SENT, OutboxStatus.HELD]
    assert app.config.smtp.path is not None
    assert len(list(app.config.smtp.path.glob("*.eml"))) == 1


DMARC_PASS = (b"Authentication-Results: mx.126.com; spf=pass smtp.mailfrom=stranger@example.com;"
              b"\n dkim=pass header.d=example.com; dmarc=pass header.from=example.com\n")


def test_an_authenticated_stranger_is_told_once_a_week_how_to_register(app: App) -> None:
    """An unregistered sender whose provider vouches for them gets one note on registering."""
    app.config = app.config.model_copy(
        update={"auth": AuthConfig(trusted_authserv_ids=["mx.126.com"])})
    first = DMARC_PASS + fixture_mail("08_unknown_sender.eml")
    deliver(app.config, first, first.replace(b"8d0c2f4e", b"9e1d3a5f"))
    report = cycle(app)
    assert report.quarantined == 2
    assert {tuple(r["reasons"]) for r in message_rows(app)} == {("sender.unregistered",)}
    [note] = outbox(app)
    assert (note.kind, note.recipient, note.status) == (
        "unregistered", "stranger@example.com", OutboxStatus.SENT)
    assert note.subject.startswith("【提示】")
    assert "信息报送人员登记表" in body(note) and "测试教育局办公室" in body(note)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
def test_an_unauthenticated_stranger_gets_no_note(app: App) -> None:
    """Without a trusted server's word that the sender is genuine, a stranger hears nothing."""
    deliver(app.config, DMARC_PASS + fixture_mail("08_unknown_sender.eml"))  # nobody trusted
    assert cycle(app).quarantined == 1
    assert outbox(app) == []


class PeekingMaildir(MaildirMailbox):
    """A Maildir that reads a mail's headers alone, as IMAP's BODY.PEEK[HEADER] does."""

    def fetch_headers(self, ref: MailRef) -> bytes:
        with (self.path / "new" / ref.source_key).open("rb") as handle:
            return handle.read(64 * 1024).split(b"\n\n", 1)[0] + b"\n\n"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database question here
@pytest.mark.parametrize(("name", "answered"), [
    ("02_outlook_rfc2231_website.eml", True),
    ("08_unknown_sender.eml", False),
])
def test_an_oversize_mail_gets_a_polite_refusal_naming_the_limit(
    app: App, name: str, answered: bool
) -> None:
    """A registered sender hears their mail was over 40 MB; a stranger hears nothing."""
    deliver(app.config, fixture_mail(name) + b"x" * (41 * 1024 * 1024))
    assert app.config.mailbox.path is not None
    box = PeekingMaildir(Path(app.config.mailbox.path))
    try:
        report = pipeline.run_cycle(app, box)
    finally:
        box.close()
    assert report.quarantined == 1
    [row] = message_rows(app)
    assert (row["outcome"], row["reasons"]) == ("quarantined", ["limits.message_size"])
    replies = outbox(app)
    assert len(replies) == int(answered)
    if answered:
        [notice] = replies
        assert (notice.kind, notice.recipient) == ("oversize", "liuxy@163.com")
        assert notice.subject.startswith("【退回】邮件过大")
        assert "每封 40 MB 的上限" in body(notice) and "大小约为 41." in body(notice)
