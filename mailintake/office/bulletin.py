"""The 通报 of a month, quarter, half-year or year (seed 003: 每月…统计公示; seed
001: each kind ranked apart, its last place explains itself; seed 000
quarterly; seed 004 half-yearly, 报送信息为零的单位取消奖励资格).

``compose`` is pure: the period's ranking by unit and by correspondent
(``office.reports``) and its adoptions in, a ``BulletinView`` out: each kind's
ranking with its last place, the units not eligible for awards, the
outstanding correspondents and the adopted pieces with their channels. The
console's preview and printable page show it; ``bulletin_text`` is it as the
mail template writes it.

``send_bulletin`` mails it through the outbox, once per period: one mail per
address of every active unit's correspondents (a correspondent of several
units is told each unit's rank in one mail) and to ``[bulletin] extra``, each
with the period's Excel report attached, under the key
``bulletin:<period>:<send>:<address>``. A second send is refused
(``BulletinRefused``) unless it is an explicit resend, which counts as a new
send and so has new keys.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailintake.config.office import PeriodKind
from mailintake.config.settings import Config
from mailintake.office.periods import Period, PeriodError, parse_period, period_of
from mailintake.office.rankings import last_places
from mailintake.office.reports import Report, Row, build_report
from mailintake.store import bulletins as store
from mailintake.store import sent
from mailintake.store.models import Bulletin
from mailintake.store.units import quota_units

if TYPE_CHECKING:
    from mailintake.app import App
    from mailintake.store.database import Engine

log = logging.getLogger("mailintake.office.bulletin")

#: Adopted pieces listed in the mail (a year may have hundreds).
MAX_ADOPTED = 200
ZERO = "零报送"
#: The periods a 通报 is published for, as the clerk chooses them.
KINDS: dict[PeriodKind, str] = {"month": "月度", "quarter": "季度", "half_year": "半年",
                                "year": "年度"}


class BulletinRefused(Exception):
    """The 通报 cannot be sent as asked; the message is the clerk's Chinese.
    ``sent``: because it was sent before (the caller says how to send it again)."""

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class KindBlock:
    """One unit kind's ranking (rows in order, with ``kind_rank``) and its last place."""

    kind: str
    rows: list[Row]
    last: list[str]


@dataclass(frozen=True)
class AdoptedPiece:
    tracking_no: str
    title: str
    unit: str
    channels: str
    adopted_on: date


@dataclass
class BulletinView:
    """What the 通报 of ``period`` says, as of ``as_of``."""

    period: Period
    preface: str
    as_of: datetime
    report: Report
    kinds: list[KindBlock]
    not_eligible: list[str]
    correspondents: list[Row]
    adopted: list[AdoptedPiece]
    stored: Bulletin | None = None
    units: dict[str, Row] = field(default_factory=dict)

    @property
    def attachment_name(self) -> str:
        return f"通报-{self.period.key}.xlsx"


def points_text(value: float) -> str:
    return f"{value:g}"


def _channels(lines: list[store.AdoptedLine], names: dict[str, str]) -> str:
    """``教育厅头条；学校每周动态（第1、3条）``: each channel once, items and briefs said."""
    by_channel: dict[str, list[store.AdoptedLine]] = {}
    for line in lines:
        by_channel.setdefault(line.channel, []).append(line)
    shown = []
    for channel, found in by_channel.items():
        items = [str(line.item) for line in found if line.item]
        text = names.get(channel, channel)
        if items:
            text += f"（第{'、'.join(items)}条）"
        elif all(line.brief for line in found):
            text += "（简讯）"
        shown.append(text)
    return "；".join(shown)


def compose(
    period: Period, *, units: Report, people: Report, adopted: list[store.AdoptedLine],
    config: Config, now: datetime, stored: Bulletin | None = None, top: int | None = None,
) -> BulletinView:
    """The 通报 of ``period`` from its ranking by unit and by correspondent and its
    adoptions (pure)."""
    tz = config.office.tz
    blocks: dict[str, list[Row]] = {}
    for row in units.rows:
        blocks.setdefault(str(row["kind"] or "未分类"), []).append(row)
    lasts = last_places(units.rows)
    kinds = [KindBlock(kind, rows, lasts.get(kind, [])) for kind, rows in blocks.items()]
    count = config.bulletin.top_correspondents if top is None else top
    best = [row for row in people.rows if row["points"] > 0][:count]
    names = {c.key: c.name for c in config.points.channels}
    pieces: dict[str, list[store.AdoptedLine]] = {}
    for line in adopted:
        pieces.setdefault(line.tracking_no, []).append(line)
    shown = [AdoptedPiece(number, lines[0].title, lines[0].unit, _channels(lines, names),
                          lines[0].adopted_at.astimezone(tz).date())
             for number, lines in pieces.items()]
    return BulletinView(
        period=period, preface=stored.preface if stored else "", as_of=now,
        report=units, kinds=kinds,
        not_eligible=[str(row["unit"]) for row in units.rows if not row["eligible"]],
        correspondents=best, adopted=shown, stored=stored,
        units={str(row["unit"]): row for row in units.rows},
    )


def bulletin_of(engine: Engine, config: Config, period: Period, now: datetime) -> BulletinView:
    """The 通报 of ``period`` as the store knows it at ``now`` (ledger settled by the
    caller); its preface and sent state from its row."""
    start, end = period.bounds(config.office.tz)
    return compose(
        period, units=build_report(engine, config, period, "unit", now),
        people=build_report(engine, config, period, "correspondent", now),
        adopted=store.adopted(engine, start, end), config=config, now=now,
        stored=store.find(engine, period.key),
    )


def bulletin_period(text: str) -> Period:
    """The period ``text`` names, if a 通报 is published for it (``PeriodError``, in
    Chinese, otherwise)."""
    period = parse_period(text[:40])
    if period.kind not in KINDS:
        raise PeriodError(f"通报按月、季度、半年或年发布（例如 2026-11、2026-Q4、2026-H2、2026）；"
                          f"{period.label} 不是这样的统计期")
    return period


def recent_periods(kind: PeriodKind, today: date, count: int) -> list[Period]:
    """The ``count`` periods of ``kind`` up to the one holding ``today``, newest first."""
    found = [period_of(kind, today)]
    while len(found) < count:
        found.append(period_of(kind, found[-1].start - timedelta(days=1)))
    return found


# --- the text -------------------------------------------------------------------------------

def _note(row: Row) -> str:
    notes = [row["last"]] if row["last"] else []
    if not row["eligible"]:
        notes.append(f"{ZERO}，不参加评优")
    return "；".join(notes)


def ranking_table(view: BulletinView) -> str:
    """Each kind's ranking as a plain-text table (the mail's 一、)."""
    from tabulate import tabulate

    parts = []
    for number, block in enumerate(view.kinds, start=1):
        table = tabulate(
            [[r["kind_rank"], r["rank"], r["unit"], r["received"], r["accepted"], r["adopted"],
              points_text(r["points"]), _note(r)] for r in block.rows],
            headers=["类内名次", "总名次", "单位", "投稿", "登记", "采用", "积分", "备注"],
        )
        parts.append(f"（{_CN_NUMBERS[number - 1] if number <= 10 else number}）"
                     f"{block.kind}（{len(block.rows)} 个单位）\n\n{table}")
    return "\n\n".join(parts)


_CN_NUMBERS = "一二三四五六七八九十"


def own_lines(view: BulletinView, names: list[str]) -> list[dict[str, Any]]:
    """What one recipient's mail says of each of their units: counts and places."""
    sizes = {block.kind: len(block.rows) for block in view.kinds}
    own = []
    for name in names:
        row = view.units.get(name)
        if row is None:
            continue
        kind = str(row["kind"] or "未分类")
        own.append({
            "unit": name, "kind": kind, "kind_size": sizes.get(kind, 0),
            "rank": row["rank"], "kind_rank": row["kind_rank"], "last": bool(row["last"]),
            "eligible": bool(row["eligible"]), "received": row["received"],
            "accepted": row["accepted"], "rejected": row["rejected"], "adopted": row["adopted"],
            "points": points_text(row["points"]),
        })
    return own


def bulletin_context(
    *, period_label: str, as_of: str, preface: str, recipient_name: str,
    own: list[dict[str, Any]], total_units: int, summary: dict[str, int], ranking: str,
    lasts: list[dict[str, str]], not_eligible: list[str], correspondents: list[dict[str, Any]],
    adopted: list[dict[str, Any]], more_adopted: int, attachment_name: str, office_name: str,
    contact: str = "",
) -> dict[str, Any]:
    """What the bulletin template sees (also the start-up sample's shape). ``own``: the
    recipient's units (empty for the 通报 as a whole: the preview, extra addresses)."""
    return {
        "period_label": period_label, "as_of": as_of, "preface": preface.strip(),
        "recipient_name": recipient_name, "own": own, "total_units": total_units,
        "summary": summary, "ranking": ranking, "lasts": lasts, "not_eligible": not_eligible,
        "correspondents": correspondents, "adopted": adopted, "more_adopted": more_adopted,
        "attachment_name": attachment_name, "office_name": office_name,
        "office_contact": contact,
    }


def _context(app: App, view: BulletinView, recipient_name: str, own: list[dict[str, Any]],
             ranking: str) -> dict[str, Any]:
    summary = view.report.summary
    return bulletin_context(
        period_label=view.period.label, as_of=f"{app.local(view.as_of):%Y年%m月%d日}",
        preface=view.preface, recipient_name=recipient_name, own=own,
        total_units=len(view.report.rows),
        summary={"received": summary.received, "accepted": summary.accepted,
                 "rejected": summary.rejected, "adopted": summary.adopted},
        ranking=ranking,
        lasts=[{"kind": b.kind, "units": "、".join(b.last)} for b in view.kinds if b.last],
        not_eligible=view.not_eligible,
        correspondents=[{"rank": r["rank"], "name": r["correspondent"], "units": r["units"],
                         "accepted": r["accepted"], "adopted": r["adopted"],
                         "points": points_text(r["points"])} for r in view.correspondents],
        adopted=[{"tracking_no": p.tracking_no, "unit": p.unit, "title": p.title,
                  "channels": p.channels, "day": f"{p.adopted_on.month}月{p.adopted_on.day}日"}
                 for p in view.adopted[:MAX_ADOPTED]],
        more_adopted=max(0, len(view.adopted) - MAX_ADOPTED),
        attachment_name=view.attachment_name, office_name=app.config.office.name,
        contact=app.config.office.contact_line,
    )


def bulletin_text(app: App, view: BulletinView) -> tuple[str, str]:
    """(subject, body) of the 通报 as a whole, addressed to every unit."""
    return app.replies.render("bulletin", _context(app, view, "各单位", [],
                                                   ranking_table(view)))


# --- sending ----------------------------------------------------------------------------------

def outbox_key(period: Period, send: int, address: str) -> str:
    """``bulletin:<period>:<send>:<address>``; an address too long for the key is hashed."""
    key = f"bulletin:{period.key}:{send}:{address}"
    if len(key) > sent.KEY_LENGTH:
        digest = hashlib.sha256(address.encode()).hexdigest()[:32]
        key = f"bulletin:{period.key}:{send}:{digest}"
    return key


def already_sent(app: App, row: Bulletin, period: Period) -> str:
    """The clerk's words for a 通报 sent before."""
    when = f"{app.local(row.sent_at):%Y-%m-%d %H:%M}" if row.sent_at else "此前"
    again = f"（已发送 {row.sends} 次）" if row.sends > 1 else ""
    return (f"{period.label}的通报已于 {when} 由 {row.sent_by or '—'} 发出{again}，"
            f"共 {row.recipients} 个邮箱；同一统计期不重复发送。")


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str
    units: list[str]


def recipients(app: App) -> list[Recipient]:
    """Every address of the active units' active correspondents, once, with the units it
    sends for; then ``[bulletin] extra`` (as a whole, no unit of its own)."""
    by_address: dict[str, Recipient] = {}
    for unit in quota_units(app.engine):
        for _, address, name in unit.recipients:
            found = by_address.setdefault(address.lower(), Recipient(address, name, []))
            found.units.append(unit.name)
    for address in app.config.bulletin.extra:
        by_address.setdefault(address.lower(), Recipient(address, "", []))
    return list(by_address.values())


def unreached(app: App) -> list[str]:
    """The active units with no correspondent's address: no 通报 reaches them."""
    return [unit.name for unit in quota_units(app.engine) if not unit.recipients]


def _mails(app: App, view: BulletinView, send: int, now: datetime) -> tuple[list[sent.Mail],
                                                                            str]:
    from mailintake.office.digest import XLSX
    from mailintake.office.excel import report_bytes
    from mailintake.replies.render import attachment_part

    ranking = ranking_table(view)
    xlsx = attachment_part(report_bytes(view.report, None), *XLSX, view.attachment_name)
    subject, text = app.replies.render("bulletin", _context(app, view, "各单位", [], ranking))
    mails = []
    for person in recipients(app):
        own = own_lines(view, person.units)
        if own:
            subject, body = app.replies.render(
                "bulletin", _context(app, view, person.name or "各位", own, ranking))
        else:
            body = text
        raw = app.replies.with_attachment(to=person.address, subject=subject, body=body,
                                          now=now, attachment=xlsx)
        mails.append(sent.Mail(dedup_key=outbox_key(view.period, send, person.address),
                               kind="bulletin", recipient=person.address, subject=subject,
                               raw=raw))
    return mails, text


def send_bulletin(app: App, period: Period, now: datetime, *, who: str, resend: bool = False
                  ) -> Bulletin:
    """Queue the 通报 of ``period`` to every recipient; returns its row as sent.
    ``BulletinRefused`` when it was sent before and this is not an explicit resend, or
    when nobody would receive it."""
    from mailintake.office.points import settle

    stored = store.find(app.engine, period.key)
    seen = stored.sends if stored else 0
    if stored is not None and seen and not resend:
        raise BulletinRefused(already_sent(app, stored, period), sent=True)
    settle(app.engine, app.config, now)
    view = bulletin_of(app.engine, app.config, period, now)
    mails, text = _mails(app, view, seen + 1, now)
    if not mails:
        raise BulletinRefused("没有可以发送的邮箱：没有启用的单位登记了信息员邮箱，"
                              "配置中也没有 [bulletin] extra。")
    detail = f"{'再次发送' if seen else '发送'}，共 {len(mails)} 个邮箱"
    try:
        row = store.record_send(app.engine, period.key, mails, seen_sends=seen, who=who,
                                now=now, text=text, detail=detail)
    except store.AlreadySent as exc:
        if exc.bulletin is None:
            raise BulletinRefused("通报正由他人发送，请稍后刷新查看。") from exc
        raise BulletinRefused(already_sent(app, exc.bulletin, period), sent=True) from exc
    log.info("bulletin %s (send %d) queued to %d addresses", period.key, row.sends, len(mails))
    return row


def sample_contexts() -> list[dict[str, Any]]:
    """The template's start-up check (``reply_samples``): every list filled, and the
    whole 通报 as well as a unit's."""
    common: dict[str, Any] = {
        "period_label": "2026年11月", "as_of": "2026年12月01日", "preface": "现将情况通报如下。",
        "total_units": 3, "summary": {"received": 5, "accepted": 4, "rejected": 1, "adopted": 1},
        "ranking": "类内名次 总名次 单位", "lasts": [{"kind": "学校", "units": "城关镇东街小学"}],
        "not_eligible": ["城关镇东街小学"],
        "correspondents": [{"rank": 1, "name": "李娜", "units": "实验小学", "accepted": 3,
                            "adopted": 1, "points": "33"}],
        "adopted": [{"tracking_no": "20261118-00002", "unit": "实验小学", "title": "举行读书节",
                     "channels": "教育厅头条", "day": "11月20日"}],
        "more_adopted": 1, "attachment_name": "通报-2026-11.xlsx",
        "office_name": "县教育局办公室", "contact": "王老师（电话 0571-86000000）",
    }
    own = [{"unit": "城关镇东街小学", "kind": "学校", "kind_size": 3, "rank": 3, "kind_rank": 3,
            "last": True, "eligible": False, "received": 0, "accepted": 0, "rejected": 0,
            "adopted": 0, "points": "0"}]
    return [bulletin_context(recipient_name="各单位", own=[], **common),
            bulletin_context(recipient_name="王喆", own=own, **common)]
