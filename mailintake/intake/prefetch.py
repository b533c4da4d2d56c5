"""Fetching mail one group ahead of the reading, on a thread of its own.

The main process files one mail after another, and a FETCH of the next group
(50 mails of 340 KB take some 25 ms from a local server, longer over a
network) used to stop it in between. Here a thread fetches the next group
while the main thread files the one before; the main thread only waits when
the thread is behind. At most FETCH_BYTES wait fetched beyond the group
being fetched, so a run of big mails stays within memory.

The mailbox must allow this (``Mailbox.fetch_on_thread``): the IMAP mailbox
runs one command at a time on its connection, so a move from the main thread
waits for a FETCH in flight, and the other way round.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

from mailintake.mailbox.base import Mailbox, MailRef

#: Bytes fetched per group at most, and waiting fetched at most.
FETCH_BYTES = 16 * 1024 * 1024


def groups(refs: list[MailRef]) -> Iterator[list[MailRef]]:
    """``refs`` in order, in groups of at most FETCH_BYTES (a bigger mail alone)."""
    group: list[MailRef] = []
    size = 0
    for ref in refs:
        if group and size + ref.size > FETCH_BYTES:
            yield group
            group, size = [], 0
        group.append(ref)
        size += ref.size
    if group:
        yield group


class Prefetch:
    """Each mail of ``refs``, fetched in groups by a thread that stays a group ahead.

    Iterate it from one thread, and ``close`` it when done or abandoned: the
    thread finishes the FETCH in flight and stops. An error the thread met
    is raised where the mails fetched before it have been handed out.
    """

    def __init__(self, mailbox: Mailbox, refs: list[MailRef]) -> None:
        self._mailbox = mailbox
        self._groups = list(groups(refs))
        self._ready: deque[tuple[MailRef, bytes]] = deque()
        self._waiting_bytes = 0
        self._error: BaseException | None = None
        self._finished = False
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="fetch-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for group in self._groups:
                with self._changed:
                    self._changed.wait_for(
                        lambda: self._closed or self._waiting_bytes < FETCH_BYTES)
                    if self._closed:
                        return
                if not self._hand_over(list(self._mailbox.fetch(group))):
                    return
        except BaseException as exc:  # raised again in the thread that iterates
            with self._changed:
                self._error = exc
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def _hand_over(self, fetched: list[tuple[MailRef, bytes]]) -> bool:
        """Make a group's mails ready; False when closed meanwhile (nobody takes them)."""
        with self._changed:
            if self._closed:
                return False
            self._ready.extend(fetched)
            self._waiting_bytes += sum(len(raw) for _ref, raw in fetched)
            self._changed.notify_all()
            return True

    def __iter__(self) -> Iterator[tuple[MailRef, bytes]]:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._ready) or self._finished)
                if not self._ready:
                    if self._error is not None:
                        raise self._error
                    return
                ref, raw = self._ready.popleft()
                self._waiting_bytes -= len(raw)
                self._changed.notify_all()
            yield ref, raw
            del raw

    def close(self) -> None:
        """Stop fetching (after the FETCH in flight) and let go of what was fetched."""
        with self._changed:
            self._closed = True
            self._ready.clear()
            self._changed.notify_all()
        self._thread.join()
