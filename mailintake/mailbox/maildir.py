"""A local Maildir standing in for the IMAP mailbox (the embedded default).

Mail waiting in ``new/`` and ``cur/`` of the Maildir is the intake folder;
outcome folders are Maildir++ subfolders (``.已处理``), which Dovecot and
most mail clients show as ordinary folders.

A mail is moved by renaming its file into the folder, under the same name
(its Maildir key and its flags): one atomic step, so a power cut leaves it
in one place or the other, never in both. The directories are synced after
each batch, so a move that returned stays moved.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from mailintake.mailbox.base import MailboxError, MailRef

#: The most of an oversized mail ever read: its header section, cut here.
HEADER_BYTES = 256 * 1024


class MaildirMailbox:
    fetch_on_thread = False  # local files: nothing to wait for

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"maildir:{path.resolve()}"
        # Where each mail listed last lies, under the Maildir: "new/KEY" or "cur/KEY:2,FLAGS".
        self._files: dict[str, Path] = {}
        try:
            self._box = mailbox.Maildir(path, create=True)
        except OSError as exc:
            raise MailboxError(f"cannot open Maildir {path}: {exc.strerror}") from exc

    def list_new(self) -> list[MailRef]:
        refs = []
        self._files = {}
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.path / sub))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue  # taken away while we looked
                key = entry.name.split(self._box.colon)[0]  # the Maildir key
                self._files[key] = Path(sub, entry.name)
                refs.append(MailRef(
                    source_key=key, folder="INBOX", size=stat.st_size,
                    internaldate=datetime.fromtimestamp(stat.st_mtime, UTC),
                ))
        return sorted(refs, key=lambda r: (r.internaldate, r.source_key))

    def fetch(self, refs: Iterable[MailRef]) -> Iterator[tuple[MailRef, bytes]]:
        for ref in refs:
            try:
                yield ref, self._box.get_bytes(ref.source_key)
            except KeyError:
                continue

    def fetch_headers(self, ref: MailRef) -> bytes:
        """The header section (up to the first blank line, at most HEADER_BYTES)."""
        try:
            with self._box.get_file(ref.source_key) as handle:
                head = handle.read(HEADER_BYTES)
        except KeyError:
            return b""
        end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0),
                  default=len(head))
        return head[:end] + b"\n\n"

    def move(self, ref: MailRef, folder: str) -> None:
        self.move_many([(ref, folder)])

    def move_many(self, pairs: Iterable[tuple[MailRef, str]]) -> None:
        touched: set[Path] = set()
        try:
            for ref, folder in pairs:
                self._rename(ref.source_key, folder, touched)
        finally:
            for directory in sorted(touched):
                _sync_directory(directory)

    def _rename(self, key: str, folder: str, touched: set[Path]) -> None:
        source = self._find(key)
        if source is None:
            return  # already moved: the crash-repair path
        # new/ stays new/ (not yet seen by a client), cur/ stays cur/ with its flags.
        target = self._folder(folder, touched) / source.parent.name / source.name
        try:
            source.rename(target)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and not source.exists():
                return  # taken away since it was listed
            raise MailboxError(f"cannot move {source} to {target}: {exc.strerror}") from exc
        touched.update((source.parent, target.parent))

    def _find(self, key: str) -> Path | None:
        """The file of the mail ``key`` in the intake folder, if it is still there."""
        known = self._files.get(key)
        if known is not None and (self.path / known).exists():
            return self.path / known
        for sub in ("new", "cur"):
            with suppress(FileNotFoundError), os.scandir(self.path / sub) as entries:
                for entry in entries:
                    if entry.name == key or entry.name.startswith(key + self._box.colon):
                        return Path(entry.path)
        return None

    def _folder(self, folder: str, touched: set[Path]) -> Path:
        """The Maildir++ folder's directory, created (and its creation synced) if missing."""
        path = self.path / f".{folder}"
        if not all((path / sub).is_dir() for sub in ("tmp", "new", "cur")):
            try:
                for sub in ("tmp", "new", "cur"):
                    (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
                (path / "maildirfolder").touch()
            except OSError as exc:
                raise MailboxError(f"cannot create folder {path}: {exc.strerror}") from exc
            touched.update((self.path, path))
        return path

    def close(self) -> None:
        self._box.close()


def _sync_directory(path: Path) -> None:
    """Make the entries of directory ``path`` (files renamed in or out) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
