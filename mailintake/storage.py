"""Files on disk: raw mails and attachments, content-addressed, plus a
readable tree a clerk can browse per unit and month.

Everything is written before the database commit that refers to it, by
content hash, so a crash leaves at most an unreferenced file and a retry
writes the same path again. Files are not synced one by one: ``sync`` makes
everything written so far durable in one go, before the mails it came from
are moved on the server (``intake.cycle.Moves``), where an fsync of each file
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

# Characters no file name may hold on some disk: path separators and Windows' reserved.
_UNSAFE = re.compile(r'[/\\:*?"<>|]+')
_SPACES = re.compile(r" {2,}")
# Control, format (the bidirectional controls U+202A–U+202E, U+2066–U+2069, U+200E/F,
# U+061C, zero-width characters, the BOM) and lone surrogates: all invisible or
# unencodable, and a right-to-left override makes "照片\u202egpj.exe" show as "照片exe.jpg".
_INVISIBLE = frozenset({"Cc", "Cf", "Cs"})
# NAME_MAX of ext4, XFS, Btrfs and tmpfs, in bytes of UTF-8.
MAX_NAME_BYTES = 255
MAX_EXTENSION = 10  # characters; a longer ".tail" is part of the name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _visible(name: str) -> str:
    """``name`` with every space-like character a plain space and invisible ones gone."""
    kept = []
    for char in name:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) not in _INVISIBLE:
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _cut(text: str, size: int) -> str:
    """The longest start of ``text`` that is at most ``size`` bytes of UTF-8."""
    return text.encode("utf-8")[: max(size, 0)].decode("utf-8", "ignore")


def sanitize_filename(
    name: str, fallback: str = "附件", *, limit: int = MAX_NAME_BYTES, extension: bool = True
) -> str:
    """A file name safe on any disk and shown as it is: no path, no control or
    bidirectional characters, at most ``limit`` bytes of UTF-8, its extension kept.

    The same name cleaned again is the same name.
    """
    name = _visible(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _SPACES.sub(" ", _UNSAFE.sub("_", name)).strip(" ._")
    if not name:
        return fallback
    stem, dot, ext = name.rpartition(".") if extension else ("", "", "")
    if not dot or not stem or len(ext) > MAX_EXTENSION or len(ext.encode()) >= limit // 2:
        stem, ext = name, ""
    tail = f".{ext}" if ext else ""
    cut = _cut(stem, limit - len(tail.encode()))
    stem = cut if cut == stem else cut.rstrip(" ._")
    return f"{stem}{tail}" if stem else fallback


def numbered(name: str, number: int, limit: int = MAX_NAME_BYTES) -> str:
    """``name`` with `` (number)`` before its extension, still within ``limit`` bytes."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > MAX_EXTENSION:
        stem, ext = name, ""
    mark = f" ({number})" + (f".{ext}" if ext else "")
    return _cut(stem, limit - len(mark.encode())).rstrip(" ._") + mark


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, that ``folder``'s file system takes (at most 255)."""
    for place in (folder, *folder.parents):
        try:
            return min(MAX_NAME_BYTES, os.pathconf(place, "PC_NAME_MAX"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            break
    return MAX_NAME_BYTES


class Storage:
    """The ``[storage] dir`` folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._name_max: int | None = None

    @property
    def name_max(self) -> int:
        """The longest name, in bytes, a published file or folder may have here."""
        if self._name_max is None:
            self._name_max = name_max(self.root)
        return self._name_max

    def _write(self, relative: Path, data: bytes, *, replace: bool = False) -> Path:
        if not replace and self.holds(relative, len(data)):
            return relative
        path = self.root / relative
        # Bounded whatever the name's length; the same name and process, the same file.
        tag = hashlib.sha256(path.name.encode("utf-8")).hexdigest()[:16]
        temporary = path.with_name(f".{tag}.{os.getpid()}.tmp")
        try:
            handle = temporary.open("wb")
        except FileNotFoundError:  # a new folder: made only then (see publish)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = temporary.open("wb")
        try:
            with handle:
                handle.write(data)
            temporary.replace(path)
        except BaseException:  # a full disk: leave no half-written file behind
            temporary.unlink(missing_ok=True)
            raise
        return relative

    def save(self, relative: Path, data: bytes) -> Path:
        """Write a file the office made (a 简报) at ``relative``, replacing what is there."""
        return self._write(relative, data, replace=True)

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

    def forget_raw(self, digest: str) -> None:
        """Remove a mail ``archive_raw`` kept that nothing will record: one made here
        for an upload that was refused (a mail from a mailbox is never removed)."""
        (self.root / self.raw_path(digest)).unlink(missing_ok=True)

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
        tree; idempotent. Every name is cleaned to fit this file system; two files
        whose names come out the same are numbered (``名称 (2).jpg``)."""
        limit = self.name_max
        place = Path("单位", sanitize_filename(unit, "未知单位", limit=limit, extension=False),
                     month, sanitize_filename(folder, "稿件", limit=limit, extension=False))
        taken: dict[str, Path] = {}
        for stored, filename in files:
            name = clean = sanitize_filename(filename, limit=limit)
            number = 1
            while taken.setdefault(name, stored) != stored:
                number += 1
                name = numbered(clean, number, limit)
            relative = place / name
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
