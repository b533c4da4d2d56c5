"""Pictures read from their header only: format, size as a person sees it.

``Image.open`` parses the header and stops; nothing here ever decodes the
pixels, so a 30 000 × 30 000 PNG of a few kilobytes costs nothing but is
refused as a decompression bomb. iPhone photos (HEIC) are read through
pillow-heif, which applies the photo's rotation itself; for other formats an
EXIF orientation of 5–8 means the photo stands on its side, so width and
height are swapped.

Pillow is loaded at the first picture: the main process unpickles ``Picture``
from the readers and never opens one itself.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Formats a school sends (photos, screenshots, Word's own metafiles); anything
# else is not handed to a Pillow plugin at all.
WANTED = ("JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP", "TIFF", "HEIF", "WMF")
_EXIF_ORIENTATION = 0x0112
_SIDEWAYS = {5, 6, 7, 8}


class PictureError(Exception):
    """The picture cannot be taken; ``code`` names the finding."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Picture:
    source: str  # "document", "attachment" or "inline" (in the mail body)
    format: str
    width: int  # as displayed: EXIF rotation applied
    height: int
    caption: str = ""
    filename: str = ""
    floating: bool = False  # a Word picture not in line with text (wp:anchor)

    @property
    def pixels(self) -> int:
        return self.width * self.height


@cache
def formats() -> tuple[str, ...]:
    """Pillow, with HEIF and every plugin registered; the WANTED formats it can open."""
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    Image.init()
    return tuple(f for f in WANTED if f in Image.OPEN)


def read_picture(
    data: bytes, source: str, *, caption: str = "", filename: str = "", floating: bool = False
) -> Picture:
    """Format and displayed size from the header; PictureError when it is no usable picture."""
    known = formats()
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and refuses at twice that;
            # both are a bomb to us.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=known) as image:
                width, height = image.size
                if _orientation(image) in _SIDEWAYS:
                    width, height = height, width
                return Picture(source, image.format or "", width, height, caption, filename,
                               floating)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PictureError("picture.bomb", _pixels(str(exc))) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        # Pillow's plugins raise SyntaxError for malformed headers.
        raise PictureError("picture.unreadable", str(exc)[:200]) from exc


def picture_info(data: bytes, source: str, caption: str = "") -> Picture | None:
    """Like ``read_picture``, but None for anything that is not a usable picture."""
    try:
        return read_picture(data, source, caption=caption)
    except PictureError:
        return None


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation from the header, without decoding the pixels.

    ``getexif()`` would load a PNG whole to look for a trailing eXIf chunk,
    so the raw EXIF block the plugin already read is parsed instead.
    """
    tags = getattr(image, "tag_v2", None)  # TIFF keeps its tags itself
    if tags is not None:
        return int(tags.get(_EXIF_ORIENTATION, 1))
    raw = image.info.get("exif")
    if not isinstance(raw, bytes):
        return 1
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(raw)
    except (SyntaxError, ValueError, OSError, KeyError):  # a broken EXIF block: no rotation
        return 1
    value = exif.get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _pixels(message: str) -> str:
    """'约 9 亿像素' from Pillow's bomb message, for the finding."""
    match = re.search(r"\((\d+) pixels\)", message)
    if not match:
        return ""
    pixels = int(match.group(1))
    return f"约 {pixels / 1e8:.1f} 亿像素" if pixels >= 1e8 else f"约 {pixels // 10000} 万像素"
