"""The office's own 简报 (教育简报, seed 000; 《工作简报》, seed 001) as a Word file.

The clerk picks pieces (or a period's best) and gets an issue: the masthead in big
red characters, 第 N 期 (counted per year, never repeated), the office and the
date, a red rule, then each piece with its title, its unit, its text and its
photos with their captions. It is laid out in the office's own ``.docx``
(``[briefing] template``): its headers, footers and styles are kept, the
placeholders below are filled wherever they stand, and the pieces go where
``{正文}`` stands (at the end when it is nowhere).

==========  ================================================
{简报名}     ``[briefing] title``, e.g. 教育简报
{期号}       the issue's number in its year: 第{期号}期
{年}         the issue's year
{日期}       the issue's date: 2026年12月3日
{单位}       ``[office] name``
{标题}       the issue's own title (a paragraph left empty by it is dropped)
{正文}       the paragraph the pieces take the place of
==========  ================================================

A paragraph style named 简报稿件标题, 简报来源, 简报正文, 简报图片 or 简报图注 in
the template lays out that part of each piece; a missing one is added as the
default template has it. Each piece is recorded as adopted in the 简报's channel
(``[briefing] channel``) when the office configured one.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake.office.periods import Period, PeriodError, parse_period
from mailintake.office.points import PointsError, adopt
from mailintake.office.quotas import Quotas
from mailintake.reading.pictures import PictureError, read_picture
from mailintake.reading.word import DocumentError, docx_pictures
from mailintake.store import accounts, briefings
from mailintake.store.models import Briefing, Status

if TYPE_CHECKING:
    from mailintake.app import App

log = logging.getLogger("mailintake.office.briefing")

#: Pieces one issue may carry.
MAX_PIECES = 100
#: The tallest a photo is laid out, in centimetres (a portrait photo on one page).
MAX_PHOTO_HEIGHT_CM = 18.0
#: Formats python-docx places as they are; any other picture is converted to PNG.
_PLACEABLE = {"JPEG", "PNG", "GIF", "BMP", "TIFF"}
PLACEHOLDER = re.compile(r"\{(简报名|期号|年|日期|单位|标题)\}")
BODY = "{正文}"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class BriefingError(Exception):
    """A 简报 that cannot be made as asked; the message says why, in Chinese."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    width: int  # pixels, as displayed
    height: int
    caption: str


@dataclass(frozen=True)
class Laid:
    """One piece as the 简报 prints it."""

    tracking_no: str
    title: str
    unit: str
    paragraphs: list[str]
    photos: list[Photo]


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
    notes: list[str] = []
    laid = [lay_out(app, source, notes) for source in found]
    config = app.config
    _template(config.briefing.template)  # a template that cannot be used takes no number

    def write(issue: Briefing) -> str:
        fields = {
            "简报名": config.briefing.title, "期号": str(issue.number), "年": str(issue.year),
            "日期": f"{day.year}年{day.month}月{day.day}日", "单位": config.office.name,
            "标题": title,
        }
        # Opened afresh: a second try (another number) starts from the template again.
        data = build_document(_template(config.briefing.template), fields, laid,
                              config.briefing.photo_width_cm)
        relative = Path("briefings", str(issue.year), f"第{issue.number}期.docx")
        app.storage.save(relative, data)
        return relative.as_posix()

    issue = briefings.create(
        app.engine, year=day.year, title=title, issued_on=day, created_by=who, now=now,
        submission_ids=[s.submission.id or 0 for s in found], write=write)
    app.storage.sync()
    made = Made(issue, [piece.tracking_no for piece in laid], notes=notes)
    _adopt_all(app, made, [s.submission.id or 0 for s in found], day)
    _audit(app, made, who or "命令行")
    log.info("briefing %s made with %d piece(s), %d adopted", made.label, len(made.pieces),
             len(made.adopted))
    return made


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
    document = next((a for a in source.attachments if a.kind == "document"
                     and a.filename.lower().endswith(".docx")), None)
    if document is not None:
        try:
            for picture, blob in docx_pictures(app.storage.read(document.stored_path)):
                photos.append(Photo(blob, picture.width, picture.height, picture.caption))
        except (OSError, DocumentError) as exc:
            log.warning("briefing: the Word file of %s cannot be read: %s", number, exc)
            notes.append(f"稿件 {number} 的 Word 原件无法读取，简报中只有文字")
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


# --- the Word file ---------------------------------------------------------------------------

def _template(path: Path | None) -> Any:
    """The office's template opened (BriefingError when it cannot be), or the default."""
    import docx

    if path is None:
        return default_template()
    try:
        return docx.Document(str(path))
    except Exception as exc:  # missing, not a .docx, a broken package: one Chinese line
        log.warning("briefing template %s cannot be opened: %s: %s", path,
                    type(exc).__name__, exc)
        raise BriefingError(f"简报模板 {path} 无法打开（应为 Word .docx 文件），"
                            "请检查 [briefing] template") from exc


def default_template() -> Any:
    """The template shipped: A4, the masthead, 第{期号}期, the office and the date over
    a red rule, {正文}, and at the end the office's line between two rules; the page
    number in the footer."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
    from docx.shared import Cm, Pt, RGBColor

    document = docx.Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.2), Cm(3)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    width = section.page_width - section.left_margin - section.right_margin
    red = RGBColor(0xE6, 0x00, 0x12)

    masthead = document.add_paragraph()
    masthead.alignment = WD_ALIGN_PARAGRAPH.CENTER
    masthead.paragraph_format.space_before = Pt(24)
    run = masthead.add_run("{简报名}")
    _font(run, "方正小标宋简体", 48, bold=True, color=red)
    number = document.add_paragraph()
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(number.add_run("{年}年第{期号}期"), "楷体", 16)
    heading = document.add_paragraph()
    heading.paragraph_format.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    _font(heading.add_run("{单位}\t{日期}"), "楷体", 14)
    _rule(heading, "bottom", "E60012", 18)
    topic = document.add_paragraph()
    topic.alignment = WD_ALIGN_PARAGRAPH.CENTER
    topic.paragraph_format.space_before = Pt(12)
    _font(topic.add_run("{标题}"), "黑体", 18)
    document.add_paragraph(BODY)
    end = document.add_paragraph()
    end.paragraph_format.space_before = Pt(24)
    end.paragraph_format.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    _font(end.add_run("{单位}\t{日期}印发"), "仿宋", 14)
    _rule(end, "top", "000000", 8)
    _rule(end, "bottom", "000000", 8)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_number(footer)
    return document


def build_document(template: Any, fields: dict[str, str], pieces: list[Laid],
                   photo_width_cm: float) -> bytes:
    """The issue: ``template`` (a python-docx Document, changed here) with its
    placeholders filled and the pieces put where ``{正文}`` stands."""
    for paragraph in _all_paragraphs(template):
        _fill(paragraph, fields)
    styles = _styles(template)
    anchor = next((p for p in template.paragraphs if BODY in p.text), None)
    width = _photo_width(template, photo_width_cm)
    add = _adder(template, anchor)
    for index, piece in enumerate(pieces):
        add(piece.title, styles["title"])
        if piece.unit:
            add(f"（来源：{piece.unit}）", styles["unit"])
        for text in piece.paragraphs:
            add(text, styles["text"])
        for photo in piece.photos:
            _add_photo(add("", styles["photo"]), photo, width, piece.tracking_no)
            if photo.caption.strip():
                add(photo.caption.strip(), styles["caption"])
        if index < len(pieces) - 1:
            add("", styles["text"])
    if anchor is not None:
        anchor._p.getparent().remove(anchor._p)
    buffer = io.BytesIO()
    template.save(buffer)
    return buffer.getvalue()


def _adder(document: Any, anchor: Any) -> Callable[[str, Any], Any]:
    """Adds a paragraph just before ``anchor`` (at the end when there is none)."""

    def add(text: str, style: Any) -> Any:
        text = xml_safe(text)
        if anchor is not None:
            return anchor.insert_paragraph_before(text, style)
        return document.add_paragraph(text, style)

    return add


def xml_safe(text: str) -> str:
    """``text`` without the control characters a Word file cannot hold (a mail's body
    may carry them); tabs and line breaks stay."""
    return _CONTROL.sub("", text)


def _all_paragraphs(document: Any) -> Iterator[Any]:
    """Every paragraph of the body, its tables, and every header and footer."""
    yield from _paragraphs_of(document)
    for section in document.sections:
        for part in (section.header, section.footer, section.first_page_header,
                     section.first_page_footer, section.even_page_header,
                     section.even_page_footer):
            if not part.is_linked_to_previous:
                yield from _paragraphs_of(part)


def _paragraphs_of(container: Any) -> Iterator[Any]:
    yield from container.paragraphs
    for table in container.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from _paragraphs_of(cell)


def _fill(paragraph: Any, fields: dict[str, str]) -> None:
    """Fill the placeholders in one paragraph, run by run where a placeholder lies in
    one run (its formatting kept), else in the paragraph's first run. A paragraph
    that held placeholders only and comes out empty is dropped."""
    before = paragraph.text
    if not PLACEHOLDER.search(before):
        return

    def filled(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: xml_safe(fields.get(m.group(1), "")), text)

    for run in paragraph.runs:
        if PLACEHOLDER.search(run.text):
            run.text = filled(run.text)
    if PLACEHOLDER.search(paragraph.text) and paragraph.runs:
        whole = filled(paragraph.text)
        runs = paragraph.runs
        runs[0].text = whole
        for run in runs[1:]:
            run.text = ""
    if not paragraph.text.strip() and not _has_drawing(paragraph):
        element = paragraph._p
        parent = element.getparent()
        # A table cell keeps at least one paragraph.
        if parent is not None and (not parent.tag.endswith("}tc") or
                                   len(parent.findall(element.tag)) > 1):
            parent.remove(element)


def _has_drawing(paragraph: Any) -> bool:
    return any(el.tag.endswith(("}drawing", "}pict")) for el in paragraph._p.iter())


STYLE_NAMES = {"title": "简报稿件标题", "unit": "简报来源", "text": "简报正文",
               "photo": "简报图片", "caption": "简报图注"}


def _styles(document: Any) -> dict[str, Any]:
    """The pieces' paragraph styles: the template's own where it has them."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    have = {style.name: style for style in document.styles
            if style.type == WD_STYLE_TYPE.PARAGRAPH}
    made: dict[str, Any] = {}
    for key, name in STYLE_NAMES.items():
        if name in have:
            made[key] = have[name]
            continue
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = have.get("Normal")
        layout = style.paragraph_format
        layout.space_before, layout.space_after = Pt(0), Pt(0)
        if key == "title":
            _font(style, "黑体", 16, bold=True)
            layout.alignment = WD_ALIGN_PARAGRAPH.CENTER
            layout.space_before, layout.space_after = Pt(18), Pt(6)
            layout.keep_with_next = True
        elif key == "unit":
            _font(style, "楷体", 14)
            layout.alignment = WD_ALIGN_PARAGRAPH.CENTER
            layout.space_after = Pt(6)
            layout.keep_with_next = True
        elif key == "text":
            _font(style, "仿宋", 15)
            layout.first_line_indent = Pt(30)
            layout.line_spacing = Pt(26)
            layout.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        elif key == "photo":
            layout.alignment = WD_ALIGN_PARAGRAPH.CENTER
            layout.space_before = Pt(6)
            layout.keep_with_next = True
        else:
            _font(style, "楷体", 12)
            layout.alignment = WD_ALIGN_PARAGRAPH.CENTER
            layout.space_after = Pt(6)
        made[key] = style
    return made


def _font(target: Any, face: str, size: float, *, bold: bool = False,
          color: Any = None) -> None:
    """A run's or a style's font, the Chinese face set for East Asian text too."""
    from docx.oxml.ns import qn
    from docx.shared import Pt

    font = target.font
    font.name, font.size, font.bold = face, Pt(size), bold
    if color is not None:
        font.color.rgb = color
    fonts = target.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), face)


def _rule(paragraph: Any, side: str, color: str, size: int) -> None:
    """A line above or below the paragraph (the red rule under a 简报's heading)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = paragraph._p.get_or_add_pPr()
    borders = properties.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        properties.append(borders)
    line = OxmlElement(f"w:{side}")
    for key, value in (("val", "single"), ("sz", str(size)), ("space", "4"),
                       ("color", color)):
        line.set(qn(f"w:{key}"), value)
    borders.append(line)


def _page_number(paragraph: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    paragraph.add_run("— ")
    number = OxmlElement("w:fldSimple")
    number.set(qn("w:instr"), "PAGE")
    shown, text = OxmlElement("w:r"), OxmlElement("w:t")
    text.text = "1"
    shown.append(text)
    number.append(shown)
    paragraph._p.append(number)
    paragraph._p.append(paragraph.add_run(" —")._r)


def _photo_width(document: Any, widest_cm: float) -> int:
    """The width photos are laid out at, in EMU: ``widest_cm`` or the text's width."""
    from docx.shared import Cm

    section = document.sections[-1]
    try:
        text = section.page_width - section.left_margin - section.right_margin
    except TypeError:  # a template without page size or margins
        text = Cm(widest_cm)
    return int(min(Cm(widest_cm), text))


def _add_photo(paragraph: Any, photo: Photo, width: int, number: str) -> None:
    """The photo, ``width`` wide (less for a tall one), in its own paragraph."""
    from docx.shared import Cm

    if photo.width <= 0 or photo.height <= 0:
        return
    height = width * photo.height // photo.width
    if height > Cm(MAX_PHOTO_HEIGHT_CM):
        height = int(Cm(MAX_PHOTO_HEIGHT_CM))
        width = height * photo.width // photo.height
    run = paragraph.add_run()
    try:
        run.add_picture(io.BytesIO(_placeable(photo.data)), width=width, height=height)
    except Exception as exc:  # a picture Word cannot take is left out, with the log
        log.warning("briefing: a picture of %s cannot be placed: %s: %s", number,
                    type(exc).__name__, exc)


def _placeable(data: bytes) -> bytes:
    """The picture as python-docx and Word take it: as it is (JPEG, PNG, GIF, BMP, TIFF),
    turned upright when its EXIF says it stands on its side, else converted to PNG."""
    from PIL import Image, ImageOps

    from mailintake.reading.pictures import formats

    with Image.open(io.BytesIO(data), formats=formats()) as image:
        kind = image.format or ""
        turned = image.getexif().get(0x0112, 1) not in (1, None)
        if kind in _PLACEABLE and not turned:
            return data
        upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        if kind in {"JPEG", "MPO"}:
            upright.convert("RGB").save(buffer, "JPEG", quality=90)
        else:
            upright.save(buffer, "PNG")
    return buffer.getvalue()
