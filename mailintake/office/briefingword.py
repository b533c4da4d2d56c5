"""The 简报's Word file: the office's template (or the default one) with its
placeholders filled and the pieces laid out where ``{正文}`` stands.

The template's headers, footers and styles are kept; the placeholders are filled
wherever they stand (body, tables, headers, footers), and the pieces go where
``{正文}`` stands (at the end when it is nowhere):

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
default template has it. python-docx is loaded when a file is made.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("mailintake.office.briefing")

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


def open_template(path: Path | None) -> Any:
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
                   photo_width_cm: float, dropped: list[str] | None = None) -> bytes:
    """The issue: ``template`` (a python-docx Document, changed here) with its
    placeholders filled and the pieces put where ``{正文}`` stands. A photo Word
    cannot take is left out, and its piece's number added to ``dropped``."""
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
            placed = add("", styles["photo"])
            if not _add_photo(placed, photo, width, piece.tracking_no):
                placed._p.getparent().remove(placed._p)  # neither the photo nor its caption
                if dropped is not None:
                    dropped.append(piece.tracking_no)
            elif photo.caption.strip():
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


#: What follows w:pBdr in a paragraph's properties (ECMA-376 CT_PPrBase).
_AFTER_BORDERS = (
    "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
    "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
    "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)


def _rule(paragraph: Any, side: str, color: str, size: int) -> None:
    """A line above or below the paragraph (the red rule under a 简报's heading)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = paragraph._p.get_or_add_pPr()
    borders = properties.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        # Word refuses a file whose paragraph properties are out of the schema's order.
        properties.insert_element_before(borders, *_AFTER_BORDERS)
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


def _add_photo(paragraph: Any, photo: Photo, width: int, number: str) -> bool:
    """The photo, ``width`` wide (less for a tall one), in its own paragraph; False
    when it cannot be placed."""
    from docx.shared import Cm

    if photo.width <= 0 or photo.height <= 0:
        return False
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
        return False
    return True


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
