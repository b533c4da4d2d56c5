"""The pictures in a Word document, each with its pixel size and the caption that
follows it, unpacked from the zip one at a time."""

from __future__ import annotations

import zipfile
from pathlib import PurePosixPath
from typing import Any

from mailintake.reading.pictures import Picture, PictureError, read_picture
from mailintake.reading.wordtext import Paragraph, is_caption
from mailintake.reading.wordzip import read_member

_CAPTION_WINDOW = 3  # paragraphs after a picture in which its caption may follow


def document_pictures(archive: zipfile.ZipFile, document: Any, paragraphs: list[Paragraph],
                      blobs: list[bytes] | None = None
                      ) -> tuple[list[Picture], list[tuple[str, str]]]:
    """Each picture with its size and the caption that follows it, and (code, detail)
    for each one that could not be taken. python-docx was given none of their bytes
    (see ``wordpackage``); ``blobs``, when given, gets the bytes of each picture taken."""
    related = document.part.related_parts
    used: set[int] = set()
    pictures: list[Picture] = []
    errors: list[tuple[str, str]] = []
    for index, paragraph in enumerate(paragraphs):
        for rid, floating in paragraph.pictures:
            part = related.get(rid)
            if part is None:
                continue  # a linked picture, not in the file
            caption = _caption_for(paragraphs, index, used)
            try:
                blob = read_member(archive, archive.getinfo(part.partname.membername))
                pictures.append(read_picture(blob, "document", caption=caption,
                                             filename=PurePosixPath(part.partname).name,
                                             floating=floating))
                if blobs is not None:
                    blobs.append(blob)
            except PictureError as exc:
                errors.append((exc.code, str(exc)))
    return pictures, errors


def _caption_for(paragraphs: list[Paragraph], index: int, used: set[int]) -> str:
    """The first unused caption in the picture's own paragraph or just after it."""
    end = min(len(paragraphs), index + 1 + _CAPTION_WINDOW)
    for position in range(index, end):
        candidate = paragraphs[position]
        if position > index and candidate.pictures:
            break  # the next picture's territory
        if position not in used and is_caption(candidate):
            used.add(position)
            return candidate.text.strip()
    return ""
