"""The office's own 简报 (教育简报, seed 000; 《工作简报》, seed 001): an issue made
from the pieces the clerk picks (or a period's best).

An issue has the masthead in big red characters, 第 N 期 (counted per year, never
repeated), the office and the date over a red rule, then each piece with its
title, its unit, its text and its photos with their captions, laid out in the
office's own ``.docx`` (``office.briefingword``). Each piece is recorded as
adopted in the 简报's channel (``[briefing] channel``) when the office configured
one, and the audit trail names who made the issue.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from mailintake.office.briefingword import (
    BriefingError,
    Laid,
    Photo,
    build_document,
    open_template,
)
from mailintake.office.periods import Period, PeriodError, parse_period
from mailintake.office.points import PointsError, adopt
from mailintake.office.quotas import Quotas
from mailintake.reading.convert import ConvertError, to_docx
from mailintake.reading.pictures import PictureError, read_picture
from mailintake.reading.word import DocumentError, docx_pictures
from mailintake.store import accounts, briefings
from mailintake.store.models import Briefing, Status

if TYPE_CHECKING:
    from mailintake.app import App

__all__ = ["BriefingError", "Made", "best_of", "file_name", "issue_label", "make_briefing",
           "parse_numbers"]

log = logging.getLogger("mailintake.office.briefing")

#: Pieces one issue may carry.
MAX_PIECES = 100


@dataclass
class Made:
    """An issue made: the row, the pieces it carries, and what the clerk should know."""

    briefing: Briefing
    pieces: list[str]
    adopted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return issue_label(self.briefing)


def issue_label(briefing: Briefing) -> str:
    return f"{briefing.year}年第{briefing.number}期"


def file_name(title: str, briefing: Briefing) -> str:
    """The name the issue is downloaded as: 教育简报2026年第3期.docx."""
    return f"{title}{issue_label(briefing)}.docx"


def parse_numbers(text: str) -> list[str]:
    """Tracking numbers as typed or pasted (commas, 、, spaces or lines between), each
    once, in the order given."""
    numbers: list[str] = []
    for word in re.split(r"[\s,，、;；]+", text):
        if word and word not in numbers:
            numbers.append(word)
    return numbers


def best_of(app: App, period_text: str, count: int
            ) -> tuple[Period, list[briefings.Candidate]]:
    """A period's best: its adopted pieces not yet in a 简报, most points first
    (BriefingError for a period that is none)."""
    quotas = Quotas(app.config)
    try:
        period = parse_period(period_text, quotas.calendar, app.config.quotas.school_year_starts)
    except PeriodError as exc:
        raise BriefingError(str(exc)) from exc
    since, until = period.bounds(app.config.office.tz)
    return period, briefings.best(app.engine, since, until, count,
                                  skip_channel=_channel_key(app) or "")


def _channel_key(app: App) -> str | None:
    word = app.config.briefing.channel
    channel = app.config.points.channel(word) if word else None
    return channel.key if channel else None


def make_briefing(app: App, numbers: list[str], *, title: str = "",
                  issued_on: date | None = None, who: str = "") -> Made:
    """Make the next issue from the pieces ``numbers``, in that order: the Word file
    stored, the issue recorded, each piece adopted in the 简报's channel.

    BriefingError, and nothing allocated, for an unknown or rejected piece or a
    template that cannot be used."""
    now = app.clock()
    day = issued_on or app.local(now).date()
    title = " ".join(title.split())
    found = _sources(app, numbers, title)
    notes: list[str] = []
    laid = [lay_out(app, source, notes) for source in found]
    open_template(app.config.briefing.template)  # an unusable template takes no number
    dropped: list[str] = []
    document = _documents(app, laid, title, day, dropped)
    # Built for the number expected before it is taken: the transaction that takes it
    # then only saves the file (on SQLite it holds up every other writer meanwhile).
    expected = briefings.next_number(app.engine, day.year)
    ready = {expected: document(day.year, expected)}

    def write(issue: Briefing) -> str:
        data = ready.pop(issue.number, None) or document(issue.year, issue.number)
        relative = Path("briefings", str(issue.year), f"第{issue.number}期.docx")
        app.storage.save(relative, data)
        return relative.as_posix()

    try:
        issue = briefings.create(
            app.engine, year=day.year, title=title, issued_on=day, created_by=who, now=now,
            submission_ids=[s.submission.id or 0 for s in found], write=write)
    except briefings.NumberTaken as exc:
        raise BriefingError("同一时间编印的简报太多，期号未能确定，请稍后再试") from exc
    app.storage.sync()
    notes += [f"稿件 {number} 有 {dropped.count(number)} 张图片无法编入 Word，简报中未收录"
              for number in dict.fromkeys(dropped)]
    made = Made(issue, [piece.tracking_no for piece in laid], notes=notes)
    _adopt_all(app, made, [s.submission.id or 0 for s in found], day)
    if made.notes:
        briefings.keep_notes(app.engine, issue.id or 0, made.notes)
    _audit(app, made, who or "命令行")
    log.info("briefing %s made with %d piece(s), %d adopted", made.label, len(made.pieces),
             len(made.adopted))
    return made


def _documents(app: App, laid: list[Laid], title: str, day: date, dropped: list[str]
               ) -> Callable[[int, int], bytes]:
    """The issue's Word file for a year and number; ``dropped`` names each piece whose
    photo Word could not take."""
    config = app.config

    def document(year: int, number: int) -> bytes:
        fields = {
            "简报名": config.briefing.title, "期号": str(number), "年": str(year),
            "日期": f"{day.year}年{day.month}月{day.day}日", "单位": config.office.name,
            "标题": title,
        }
        dropped.clear()  # the template opened afresh: each build starts from it again
        return build_document(open_template(config.briefing.template), fields, laid,
                              config.briefing.photo_width_cm, dropped)

    return document


def _sources(app: App, numbers: list[str], title: str) -> list[briefings.Source]:
    """The pieces ``numbers`` name, each accepted (BriefingError otherwise)."""
    if len(title) > 200:
        raise BriefingError("标题太长（最多 200 字）")
    if not numbers:
        raise BriefingError("请指定要编入简报的稿件登记号")
    if len(numbers) > MAX_PIECES:
        raise BriefingError(f"一期最多编入 {MAX_PIECES} 篇稿件")
    found, missing = briefings.sources(app.engine, numbers)
    if missing:
        raise BriefingError(f"没有登记编号为 {'、'.join(missing)} 的稿件，简报未编印")
    refused = [s.submission.tracking_no or "" for s in found
               if s.submission.status != Status.ACCEPTED]
    if refused:
        raise BriefingError(f"稿件 {'、'.join(refused)} 已退回或已被更正稿替换，"
                            "不能编入简报")
    return found


def _adopt_all(app: App, made: Made, ids: list[int], day: date) -> None:
    """Each piece adopted in the 简报's channel, the adoption noted on the issue."""
    key = _channel_key(app)
    if key is None:
        if app.config.briefing.channel:
            made.notes.append(
                f"未记录采用：采用渠道中没有“{app.config.briefing.channel}”"
                "（在 [[points.channels]] 中加上该渠道，简报刊用的稿件即记采用、计积分）")
        return
    now, tz = app.clock(), app.config.office.tz
    if day > app.local(now).date():
        made.notes.append(
            f"印发日期 {day} 在今天之后，未记录采用；印发后请在稿件页或用 adopt 命令"
            f"（--channel {key} --date {day}）补记")
        return
    when = datetime.combine(day, time(12), tzinfo=tz)
    if day == app.local(now).date():
        when = min(when, now)
    for number, submission_id in zip(made.pieces, ids, strict=True):
        try:
            [adoption] = adopt(app.engine, app.config.points, number, key, when=when, now=now,
                               tz=tz)
        except PointsError as exc:
            made.notes.append(f"稿件 {number} 未记录采用：{exc}")
            continue
        assert made.briefing.id is not None and adoption.id is not None
        briefings.link_adoption(app.engine, made.briefing.id, submission_id, adoption.id)
        made.adopted.append(number)


def _audit(app: App, made: Made, who: str) -> None:
    """The issue's line of the audit trail, and one on each piece's."""
    name = f"{app.config.briefing.title}{made.label}"
    now = app.clock()
    accounts.record(app.engine, who, "briefing.make", f"briefing:{made.briefing.id}",
                    detail=f"{name}，{len(made.pieces)} 篇：{'、'.join(made.pieces)}", at=now)
    channel = app.config.points.channel(app.config.briefing.channel or "-")
    for number in made.pieces:
        adopted = f"，记{channel.name}采用" if channel and number in made.adopted else ""
        accounts.record(app.engine, who, "briefing.piece", f"piece:{number}",
                        detail=f"{name}{adopted}", at=now)


# --- a piece laid out ------------------------------------------------------------------------

def lay_out(app: App, source: briefings.Source, notes: list[str]) -> Laid:
    """The piece's title, unit, text and photos: the pictures in its Word file, or when
    it has none, the photos sent beside it."""
    piece = source.submission
    number = piece.tracking_no or ""
    photos: list[Photo] = []
    document = next((a for a in source.attachments if a.kind == "document"), None)
    if document is not None:
        try:
            data = _as_docx(app.storage.read(document.stored_path), document.filename)
            for picture, blob in docx_pictures(data):
                photos.append(Photo(blob, picture.width, picture.height, picture.caption))
        except (OSError, DocumentError, ConvertError) as exc:
            log.warning("briefing: the Word file of %s cannot be read: %s", number, exc)
            why = ("（.doc、.wps 文件要由 LibreOffice 转换，本机未安装）"
                   if isinstance(exc, ConvertError) and exc.code == "document.legacy" else "")
            notes.append(f"稿件 {number} 的 Word 原件无法读取{why}，简报中只有文字")
    if not photos:
        captions = {p.get("filename"): str(p.get("caption") or "") for p in piece.pictures
                    if p.get("source") == "attachment"}
        for attachment in source.attachments:
            if attachment.kind != "picture":
                continue
            try:
                data = app.storage.read(attachment.stored_path)
                picture = read_picture(data, "attachment")
            except (OSError, PictureError):
                notes.append(f"稿件 {number} 的图片 {attachment.filename} 无法读取，未编入")
                continue
            photos.append(Photo(data, picture.width, picture.height,
                                captions.get(attachment.filename, "")))
    shown = {photo.caption.strip() for photo in photos if photo.caption.strip()}
    lines = [line.strip() for line in piece.text.splitlines() if line.strip()]
    if lines and _same_title(lines[0], piece.title):
        lines = lines[1:]  # the title is printed as the heading
    paragraphs = [line for line in lines if line not in shown]
    return Laid(number, piece.title or "（无标题）", source.unit, paragraphs, photos)


def _as_docx(data: bytes, filename: str) -> bytes:
    """The piece's Word file as a .docx: a .doc, .wps or RTF is converted again by
    LibreOffice (reading it converted it too, and kept its text, not the .docx)."""
    if data.startswith(b"PK"):
        return data
    return to_docx(data, Path(filename).suffix.lower())


def _same_title(line: str, title: str) -> bool:
    """Whether the text's first line is the piece's title as the document writes it
    (spaces and punctuation aside, or one holding the other: 关于…的报道)."""
    def bare(text: str) -> str:
        return re.sub(r"[\W_]+", "", text)

    first, wanted = bare(line), bare(title)
    if not first or not wanted or len(line) > 60:
        return False
    return first == wanted or (min(len(first), len(wanted)) >= 6
                               and (first in wanted or wanted in first))
