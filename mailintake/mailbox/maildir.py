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


class MaildirMailbox:
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

    def close(self) -> None:
        self._box.close()
