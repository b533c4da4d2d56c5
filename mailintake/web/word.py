"""A filed Word file as HTML the console can show: mammoth, then nh3.

mammoth turns the document's structure (headings, paragraphs, lists,
tables, pictures) into plain HTML; nh3 (ammonia) keeps only harmless tags
and attributes, so a ``<script>``, an event handler or a ``javascript:``
link in the document is gone before the page is built. Pictures become
links to ``/files/<id>/images/<n>``, the n-th picture of the same file,
served from the converted copy kept here for a while.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import mammoth
import nh3

_KEEP = 16  # converted documents kept in memory (HTML and their pictures)
_SAFE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp"}


@dataclass(frozen=True)
class Rendered:
    html: str
    # The pictures in document order: (content type, bytes).
    images: list[tuple[str, bytes]]
    failed: bool = False


_cache: OrderedDict[str, Rendered] = OrderedDict()
_lock = threading.Lock()


def render(attachment_id: int, sha256: str, data: bytes) -> Rendered:
    """The document as safe HTML (cached by content)."""
    key = f"{attachment_id}:{sha256}"
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    rendered = _convert(attachment_id, data)
    with _lock:
        _cache[key] = rendered
        while len(_cache) > _KEEP:
            _cache.popitem(last=False)
    return rendered


def _convert(attachment_id: int, data: bytes) -> Rendered:
    images: list[tuple[str, bytes]] = []

    def image(picture: Any) -> dict[str, str]:
        with picture.open() as stream:
            content = stream.read()
        kind = picture.content_type if picture.content_type in _SAFE_IMAGES else ""
        images.append((kind, content))
        return {"src": f"/files/{attachment_id}/images/{len(images)}"}

    try:
        result = mammoth.convert_to_html(io.BytesIO(data),
                                         convert_image=mammoth.images.img_element(image))
    except Exception:  # a broken file is shown as such, not as an error page
        return Rendered("", [], failed=True)
    return Rendered(clean(result.value), images)


def clean(html: str) -> str:
    """Only harmless HTML: no scripts, styles, event handlers or javascript: links."""
    return nh3.clean(html, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow")
