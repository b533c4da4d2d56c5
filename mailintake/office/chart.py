"""The digest's chart: pieces per unit as horizontal bars, drawn with
matplotlib's Agg backend (no display, no global pyplot state).

Unit names are Chinese, so the chart needs a CJK font. It uses the font the
config names, else the first one installed that it knows (Debian packages
``fonts-wqy-microhei``, ``fonts-noto-cjk`` …). Without any, it says so once
in the log and labels the bars with their row numbers in the mail's table
instead of drawing empty boxes.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger("mailintake.office.chart")

# File-name fragments of CJK fonts, in order of preference.
_KNOWN_FONTS = (
    "wqy-microhei", "wqy-zenhei", "NotoSansCJK", "NotoSansSC", "NotoSerifCJK",
    "SourceHanSans", "DroidSansFallback", "simhei", "msyh", "PingFang",
)
NO_FONT = ("no CJK font found: install the Debian package fonts-wqy-microhei "
           "(or fonts-noto-cjk) or set [digest] font; the chart labels units by number")


@dataclass(frozen=True)
class Bar:
    label: str
    accepted: int
    rejected: int


@cache
def cjk_font(setting: str = "") -> str | None:
    """The path of a font file that has Chinese glyphs, or None."""
    if setting:
        if Path(setting).is_file():
            return setting
        log.warning("[digest] font %s is not a file; looking for an installed CJK font", setting)
    from matplotlib import font_manager

    found = font_manager.findSystemFonts(fontext="ttf")  # also .otf and .ttc
    for fragment in _KNOWN_FONTS:
        for path in sorted(found):
            if fragment.lower() in Path(path).name.lower():
                return path
    log.warning(NO_FONT)
    return None


def bar_chart(bars: list[Bar], title: str, font_setting: str = "") -> bytes:
    """A PNG of accepted and rejected pieces per unit, the largest first."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import MaxNLocator

    font_path = cjk_font(font_setting)
    font = FontProperties(fname=font_path) if font_path else FontProperties()
    labels = [b.label if font_path else f"#{i}" for i, b in enumerate(bars, start=1)]
    if not font_path:
        title = "Pieces per unit (numbers as in the table)"
    figure = Figure(figsize=(8, max(2.5, 0.35 * len(bars) + 1.2)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows = list(range(len(bars)))[::-1]
    accepted = [b.accepted for b in bars]
    axes.barh(rows, accepted, color="#3b7dd8", label="登记" if font_path else "accepted")
    axes.barh(rows, [b.rejected for b in bars], left=accepted, color="#e07b39",
              label="退回" if font_path else "rejected")
    axes.set_yticks(rows, labels, fontproperties=font)
    axes.set_title(title, fontproperties=font)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(prop=font, loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
