"""A local Maildir standing in for the IMAP mailbox (the embedded default).

Mail waiting in ``new/`` and ``cur/`` of the Maildir is the intake folder;
outcome folders are Maildir++ subfolders (``.已处理``), which Dovecot and
most mail clients show as ordinary folders.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterable, Iterator
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
        try:
            self._box = mailbox.Maildir(path, create=True)
        except OSError as exc:
            raise MailboxError(f"cannot open Maildir {path}: {exc.strerror}") from exc

    def list_new(self) -> list[MailRef]:
        refs = []
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
                refs.append(MailRef(
                    source_key=entry.name.split(self._box.colon)[0],  # the Maildir key
                    folder="INBOX",
                    size=stat.st_size,
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
        try:
            # Bytes, not a Message: the stored mail must stay byte-for-byte.
            message = self._box.get_bytes(ref.source_key)
        except KeyError:
            return  # already moved: the crash-repair path
        try:
            target = self._box.get_folder(folder)
        except mailbox.NoSuchMailboxError:
            target = self._box.add_folder(folder)
        target.add(message)
        self._box.discard(ref.source_key)

    def move_many(self, pairs: Iterable[tuple[MailRef, str]]) -> None:
        for ref, folder in pairs:
            self.move(ref, folder)

    def close(self) -> None:
        self._box.close()
