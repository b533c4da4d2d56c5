"""A Word document's paragraphs in the order a reader sees them, walked from the
XML: body, tables, content controls, tracked insertions and text boxes, which
python-docx's ``paragraph.text`` skips; and from them the text, the title and
which paragraphs are captions."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "v": "urn:schemas-microsoft-com:vml",
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
}


def _tag(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


W_P, W_T, W_TBL, W_TR, W_TC = (_tag(f"w:{n}") for n in ("p", "t", "tbl", "tr", "tc"))
W_PPR, W_PSTYLE, W_VAL = _tag("w:pPr"), _tag("w:pStyle"), _tag("w:val")
W_STYLE_ID = _tag("w:styleId")
W_R, W_RPR, W_VANISH, W_TXBX = _tag("w:r"), _tag("w:rPr"), _tag("w:vanish"), _tag("w:txbxContent")
A_BLIP, V_IMAGEDATA, WP_ANCHOR = _tag("a:blip"), _tag("v:imagedata"), _tag("wp:anchor")
MC_FALLBACK, R_EMBED, R_ID = _tag("mc:Fallback"), _tag("r:embed"), _tag("r:id")
# Content a reader does not see: old-reader fallbacks, text moved away (tracked).
_UNSEEN = {MC_FALLBACK, _tag("w:moveFrom"), _tag("w:del")}
_BREAKS = {_tag("w:tab"): "\t", _tag("w:ptab"): "\t", _tag("w:br"): "\n", _tag("w:cr"): "\n",
           _tag("w:noBreakHyphen"): "-"}
# Elements that only wrap blocks: their paragraphs and tables are read as if in place.
_BLOCK_WRAPPERS = {_tag(f"w:{n}") for n in ("sdt", "sdtContent", "customXml", "ins", "moveTo",
                                           "smartTag", "body", "tc", "txbxContent")}
_TITLE_STYLES = {"title", "标题"}
_CAPTION_STYLES = {"caption", "题注"}
# Captions typed by hand under a photo: 图为…, 图1 …, 图：…, （图为…）.
_CAPTION_TEXT = re.compile(
    r"^[（(【]?\s*(图片|图|圖)\s*(为|為|[:：]|[0-9０-９一二三四五六七八九十]+)")
_ROW_IDS = itertools.count()


@dataclass
class Paragraph:
    style: str
    text: str
    row: int | None = None  # table rows: the paragraphs of one row share an id
    cell: int = 0
    # (relationship id, floating) of each picture in the paragraph, in order.
    pictures: list[tuple[str, bool]] = field(default_factory=list)


def paragraphs(container: Any, styles: dict[str, str], row: int | None = None,
               cell: int = 0) -> Iterator[Paragraph]:
    """Every paragraph in document order: body, tables, content controls, text boxes."""
    for child in container.iterchildren():
        tag = child.tag
        if tag == W_P:
            paragraph, boxes = _paragraph(child, styles)
            paragraph.row, paragraph.cell = row, cell
            yield paragraph
            for box in boxes:
                yield from paragraphs(box, styles)
        elif tag == W_TBL:
            for tr in _rows(child):
                row_id = next(_ROW_IDS)
                for index, tc in enumerate(tr.iterchildren(W_TC)):
                    yield from paragraphs(tc, styles, row_id, index)
        elif tag in _BLOCK_WRAPPERS:
            yield from paragraphs(child, styles, row, cell)


def _rows(table: Any) -> Iterator[Any]:
    """A table's own rows, also those wrapped in a content control."""
    for child in table.iterchildren():
        if child.tag == W_TR:
            yield child
        elif child.tag in _BLOCK_WRAPPERS:
            yield from _rows(child)


def _paragraph(p: Any, styles: dict[str, str]) -> tuple[Paragraph, list[Any]]:
    """A paragraph's own text and pictures, and the text boxes anchored in it."""
    style_id = p.find(f"{W_PPR}/{W_PSTYLE}")
    style = styles.get(style_id.get(W_VAL), "") if style_id is not None else ""
    parts: list[str] = []
    pictures: list[tuple[str, bool]] = []
    boxes: list[Any] = []

    def visit(element: Any, floating: bool) -> None:
        for child in element.iterchildren():
            tag = child.tag
            if tag in _UNSEEN or (tag == W_R and _hidden(child)):
                continue
            if tag == W_TXBX:
                boxes.append(child)
            elif tag == W_T:
                parts.append(child.text or "")
            elif tag in _BREAKS:
                parts.append(_BREAKS[tag])
            elif tag == A_BLIP and child.get(R_EMBED):
                pictures.append((child.get(R_EMBED), floating))
            elif tag == V_IMAGEDATA and child.get(R_ID):
                pictures.append((child.get(R_ID), floating))
            elif tag != W_P:
                visit(child, floating or tag == WP_ANCHOR)

    visit(p, floating=False)
    return Paragraph(style, "".join(parts), pictures=pictures), boxes


def _hidden(run: Any) -> bool:
    """A run formatted as hidden text (w:vanish), which Word does not show."""
    vanish = run.find(f"{W_RPR}/{W_VANISH}")
    return vanish is not None and vanish.get(W_VAL, "true") not in ("0", "false", "off")


def plain_text(paragraphs: list[Paragraph]) -> str:
    """Non-empty paragraphs one per line; a table row's cells on one line, tab-separated."""
    lines: list[str] = []
    index = 0
    while index < len(paragraphs):
        paragraph = paragraphs[index]
        if paragraph.row is None:
            if paragraph.text.strip():
                lines.append(paragraph.text.strip())
            index += 1
            continue
        cells: dict[int, list[str]] = {}
        while index < len(paragraphs) and paragraphs[index].row == paragraph.row:
            current = paragraphs[index]
            if current.text.strip():
                cells.setdefault(current.cell, []).append(current.text.strip())
            index += 1
        if cells:
            lines.append("\t".join(" ".join(cells[c]) for c in sorted(cells)))
    return "\n".join(lines)


def is_caption(paragraph: Paragraph) -> bool:
    """A paragraph in Word's caption style, or a short one written as a caption (图为…)."""
    text = paragraph.text.strip()
    if not text:
        return False
    return paragraph.style in _CAPTION_STYLES or (
        len(text) <= 120 and _CAPTION_TEXT.match(text) is not None)


def title(paragraphs: list[Paragraph]) -> str:
    """The first paragraph in a title style, else the first one of the body that
    is no caption; "" for a document without text."""
    for paragraph in paragraphs:
        if paragraph.style in _TITLE_STYLES and paragraph.text.strip():
            return paragraph.text.strip()
    for paragraph in paragraphs:
        if paragraph.row is None and paragraph.text.strip() and not is_caption(paragraph):
            return paragraph.text.strip()
    return ""
