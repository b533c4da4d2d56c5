"""Files on disk: raw mails and attachments, content-addressed, plus a
readable tree a clerk can browse per unit and month.

Everything is written before the database commit that refers to it, by
content hash, so a crash leaves at most an unreferenced file and a retry
writes the same path again. Files are not synced one by one: ``sync`` makes
everything written so far durable in one go, before the mails it came from
are moved on the server (``pipeline._Moves``), where an fsync of each file
cost a journal commit apiece, four for every mail. The readable tree
(``单位/<单位>/<YYYY-MM>/``) holds hard links to the stored files and can
always be rebuilt.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
MAX_NAME = 120


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sanitize_filename(name: str, fallback: str = "附件") -> str:
    """A file name safe on any disk: no path, no control characters, bounded."""
    name = unicodedata.normalize("NFC", name).replace("\x00", "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")
    if not name:
        return fallback
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        stem, ext = name, ""
    budget = MAX_NAME - len(ext) - 1
    encoded = stem.encode("utf-8")[: budget * 2]
    stem = encoded.decode("utf-8", "ignore")[:budget]
    return f"{stem}.{ext}" if ext else stem


class Storage:
    """The ``[storage] dir`` folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _write(self, relative: Path, data: bytes) -> Path:
        if self.holds(relative, len(data)):
            return relative
        path = self.root / relative
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            handle = temporary.open("wb")
        except FileNotFoundError:  # a new folder: made only then (see publish)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = temporary.open("wb")
        with handle:
            handle.write(data)
        temporary.replace(path)
        return relative

    def holds(self, relative: str | Path, size: int) -> bool:
        """Whether the file is there whole (a power cut before ``sync`` can leave it
        empty or short, and it is then written again)."""
        try:
            return (self.root / relative).stat().st_size == size
        except FileNotFoundError:
            return False

    def sync(self) -> None:
        """Make every file written so far durable, names included."""
        try:
            fd = os.open(self.root, os.O_RDONLY)
        except FileNotFoundError:
            return  # nothing was ever written
        try:
            syncfs = _syncfs()
            if syncfs is None or syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def archive_raw(self, raw: bytes, digest: str | None = None) -> Path:
        """Keep the mail exactly as it arrived; returns its path under the root."""
        digest = digest or sha256(raw)
        return self._write(self.raw_path(digest), raw)

    @staticmethod
    def raw_path(digest: str) -> Path:
        """Where ``archive_raw`` keeps the mail with this sha256, under the root."""
        return Path("raw", digest[:2], digest[2:4], f"{digest}.eml")

    def store_blob(self, data: bytes, filename: str) -> tuple[str, Path]:
        """Keep one attachment by content; returns (sha256, path under the root)."""
        digest = sha256(data)
        ext = Path(sanitize_filename(filename)).suffix.lower()[:10]
        return digest, self._write(Path("blobs", digest[:2], f"{digest}{ext}"), data)

    def _link(self, stored: Path, relative: Path) -> None:
        try:
            os.link(self.root / stored, self.root / relative)
        except FileExistsError:
            pass  # published before
        except FileNotFoundError:
            raise  # no folder yet (see publish), or no stored file
        except OSError:
            # Hard links can fail across file systems; a copy will do.
            self._write(relative, self.read(stored))

    def read(self, relative: str | Path) -> bytes:
        return (self.root / relative).read_bytes()

    def publish(self, files: list[tuple[Path, str]], unit: str, month: str, folder: str
                ) -> None:
        """Link stored files (stored path, file name) into one folder of the readable
        tree; idempotent."""
        place = Path("单位", sanitize_filename(unit, "未知单位"), month,
                     sanitize_filename(folder, "稿件"))
        for stored, filename in files:
            relative = place / sanitize_filename(filename)
            try:
                self._link(stored, relative)
            except FileNotFoundError:
                # The folder is new (the first file of a piece): make it and link
                # again. Asking first would cost two system calls for every file.
                (self.root / place).mkdir(parents=True, exist_ok=True)
                self._link(stored, relative)


@cache
def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2): the file system that holds one file, not every mounted one."""
    try:
        function: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # not Linux: os.sync() it is
        return None
    return function
