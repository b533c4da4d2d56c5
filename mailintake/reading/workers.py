"""Reading mails on every core, while the main process talks to IMAP and the database.

Reading one piece (MIME, the Word file, picture headers) is pure CPU and
takes about 20 ms, as long as filing it. So a small pool of worker processes,
made once per process and kept, reads mails while the main process files the
ones already read. A worker also keeps the raw mail and its files on disk:
that storage is content-addressed and idempotent and happens before any
commit refers to it, so doing it early and in parallel is safe, and the main
process never hashes or writes attachment bytes itself. Only plain, picklable
data comes back.

A worker that dies (a mail that crashes a library, the OOM killer) breaks the
whole pool; the pool is then rebuilt and each mail that was in flight is read
again alone, so one bad mail cannot take its neighbours down with it. The
workers ignore SIGTERM and SIGINT (systemd and Ctrl-C signal the whole
group): the main process decides when to stop, and the workers go with it.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake.mailbox.base import MailRef
from mailintake.reading import sameness
from mailintake.storage import Storage, sha256

# What reading needs (python-docx, lxml, Pillow, numpy: half a second to
# import) is loaded by the forkserver the workers are forked from
# (``mailintake.reading.preload``), and in this process only when it reads a mail
# itself (see ``start_early``).
if TYPE_CHECKING:
    from mailintake.reading.mail import Reading, ReadLimits

log = logging.getLogger("mailintake.reading.workers")

#: Mails read ahead of the one being filed; enough to keep both cores busy.
AHEAD = 8
#: Raw bytes read ahead at most, so a run of 40 MB mails stays within memory.
AHEAD_BYTES = 48 * 1024 * 1024
#: A mail this big goes to its worker through the raw archive on disk, not a
#: pipe: the main process writes it once and lets go of it, rather than hold it
#: and a pickled copy until the worker is done (a 40 MB mail took 80 MB there).
VIA_DISK = 4 * 1024 * 1024
#: How much lower the workers' CPU priority is than the main process's.
WORKER_NICENESS = 10
#: Modules the forkserver loads for every worker: the reading stage, this
#: module and every library they use (see ``mailintake.reading.preload``).
PRELOAD = ["mailintake.reading.preload"]
#: Seconds the workers may take to start (imports included).
START_TIMEOUT = 60.0


@dataclass
class Prepared:
    """One mail read and kept on disk: what filing it needs, nothing more."""

    raw_sha256: str
    size: int
    reading: Reading | None
    # Why the mail could not be read (the exception's repr), and its traceback.
    error: str = ""
    trace: str = ""
    # What makes it this mail and no other (``sameness.digest``); "" when unknown.
    content_sha256: str = ""


def prepare(raw: bytes, limits: ReadLimits, storage_root: Path) -> Prepared:
    """Archive ``raw``, read it, and keep each of its files (in a worker or inline)."""
    storage = Storage(storage_root)
    digest = sha256(raw)
    storage.archive_raw(raw, digest)
    try:
        from mailintake.reading.mail import read_mail

        reading = read_mail(raw, limits)
    except Exception as exc:  # any mail may be broken in a way nobody foresaw
        return Prepared(digest, len(raw), None, repr(exc), traceback.format_exc())
    content = sameness.digest(raw)
    for part, _kind in reading.files:
        blob_digest, path = storage.store_blob(part.payload, part.filename)
        reading.kept.append((blob_digest, str(path), len(part.payload)))
    reading.drop_kept_payloads()
    return Prepared(digest, len(raw), reading, content_sha256=content)


# ----------------------------------------------------------------- the pool

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_pid = 0
_inline = False  # set once workers proved unable to run here


def workers() -> int:
    """Two workers on a machine with two cores or more; none (read inline) on one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if (cores or 1) > 1 else 0


def _worker_init(main_pid: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The main process files one mail after another and nothing can share
    # that work; the workers only have to stay a few mails ahead. Where they
    # compete for a core, the main process should win it.
    with suppress(OSError):
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(main_pid,), name="exit-with-main",
                     daemon=True).start()


def _exit_with(main_pid: int) -> None:
    """End this worker when the main process ends, however it ends.

    A main process killed with SIGKILL cannot shut its pool down, and the
    worker's parent is the forkserver, which in turn waits for its workers: so
    the worker watches the main process itself (a pidfd becomes readable when
    the process exits; where there is none, it looks once a second).
    """
    try:
        fd = os.pidfd_open(main_pid)
    except (AttributeError, OSError):  # an old kernel, a sandbox, or gone already
        while _alive(main_pid):
            time.sleep(1.0)
    else:
        watch = select.poll()
        watch.register(fd, select.POLLIN)
        watch.poll()
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pool() -> ProcessPoolExecutor | None:
    """The process's pool, started and checked at first use; None: read inline."""
    global _pool, _pool_pid, _inline  # noqa: PLW0603  (one pool per process, by design)
    with _lock:
        if _inline or workers() == 0:
            return None
        if _pool is not None and _pool_pid == os.getpid():
            return _pool
        context = _context()
        executor = ProcessPoolExecutor(
            workers(), mp_context=context, initializer=_worker_init, initargs=(os.getpid(),)
        )
        try:
            # Start every worker now: the first mail need not wait, and a machine
            # where workers cannot run at all shows it here.
            with _main_module_hidden():
                started = [executor.submit(os.getpid) for _ in range(workers())]
            for future in started:
                future.result(timeout=START_TIMEOUT)
        except BrokenProcessPool as exc:
            _inline = _cannot_start(executor, exc)
            return None
        except RuntimeError:  # the program is exiting before its first mail
            executor.shutdown(wait=False, cancel_futures=True)
            return None
        except Exception as exc:  # TimeoutError, OSError ...
            _inline = _cannot_start(executor, exc)
            return None
        _pool, _pool_pid = executor, os.getpid()
        return _pool


def _context() -> Any:
    """The forkserver the workers are forked from, loading what they import once.

    forkserver, not fork: the daemon has threads (IDLE, a scheduler), and
    forking a threaded process can copy a lock some thread holds.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_early() -> None:
    """Start the forkserver now, before this process loads the database layer.

    It loads python-docx, lxml, Pillow and numpy (about half a second) on
    another core while this process imports the rest, connects and lists the
    mailbox; the workers are forked from it, ready, at the first mail. If it
    cannot start here, ``pool`` finds out and says so at the first mail.
    """
    if workers() == 0:
        return
    try:
        _context()
        with _main_module_hidden():
            multiprocessing.forkserver.ensure_running()
    except Exception as exc:  # OSError in a sandbox, ...: pool() reports it
        log.debug("forkserver not started early: %r", exc)
    else:
        atexit.register(_stop_forkserver)


def _stop_forkserver() -> None:
    """End the forkserver with the command.

    It inherited the command's standard output and error; left to notice on
    its own that the command is gone (after loading every library, longer on
    a busy machine), it would keep them open, and whoever reads the command's
    output would wait for it.
    """
    server: Any = multiprocessing.forkserver._forkserver  # private: its pid is not public
    pid = getattr(server, "_forkserver_pid", None)
    if pid:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _cannot_start(executor: ProcessPoolExecutor, exc: Exception) -> bool:
    log.error("reading workers cannot start (%r); reading mails in this process", exc)
    executor.shutdown(wait=False, cancel_futures=True)
    return True


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start processes without telling them the program's main file.

    A new worker imports the main script again unless it is told none; for
    the ``mailintake`` command that is the whole of mailintake (scipy and
    SQLAlchemy included), over 100 MB per worker that reads no more than
    ``mailintake.reading.workers`` does.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is not None:
        del main.__file__  # type: ignore[union-attr]
    try:
        yield
    finally:
        if path is not None:
            main.__file__ = path  # type: ignore[union-attr]


def _reset_pool(broken: ProcessPoolExecutor | None) -> None:
    """Discard a broken pool (unless it was replaced already); the next use makes one."""
    global _pool  # noqa: PLW0603
    if broken is None:
        return
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


def warm_up() -> None:
    """Start the workers now rather than at the first mail."""
    pool()


# --------------------------------------------------------- reading ahead

# The pool a mail went to (None: read inline) and its future result.
Submitted = tuple[ProcessPoolExecutor | None, "Future[Prepared]"]
# What a worker is given: ``prepare`` and the raw mail, or ``prepare_archived``
# and the sha256 of a mail already archived (see VIA_DISK).
Job = tuple[Callable[[Any, "ReadLimits", Path], Prepared], bytes | str]


def prepare_archived(digest: str, limits: ReadLimits, storage_root: Path) -> Prepared:
    """``prepare`` for a mail the main process archived already (see VIA_DISK)."""
    return prepare(Storage(storage_root).read(Storage.raw_path(digest)), limits, storage_root)


def _job(raw: bytes, storage_root: Path) -> Job:
    if len(raw) < VIA_DISK:
        return prepare, raw
    digest = sha256(raw)
    Storage(storage_root).archive_raw(raw, digest)  # what the worker would do first anyway
    return prepare_archived, digest


def read_ahead(
    fetched: Iterable[tuple[MailRef, bytes]], limits: ReadLimits, storage_root: Path,
    idle: Callable[[], bool] | None = None,
) -> Generator[tuple[MailRef, Prepared], None, None]:
    """Each fetched mail, prepared, in the order fetched, reading up to AHEAD ahead.

    The caller files each one as it comes; the workers meanwhile read the next.
    While the next one is not read yet, ``idle`` is called (again while it
    returns True): other work for the caller's otherwise waiting process.
    Closing the iterator early (a stop request) abandons what is in flight:
    none of it was committed, so the next cycle simply reads it again.
    """
    if pool() is None:
        for ref, raw in fetched:
            yield ref, prepare(raw, limits, storage_root)
        return
    from mailintake.reading.mail import Limits

    limits = Limits.of(limits)  # plain data for the workers
    window: deque[tuple[MailRef, Job, int, Submitted]] = deque()
    in_flight = 0
    source = iter(fetched)
    try:
        while True:
            while len(window) < AHEAD and (not window or in_flight < AHEAD_BYTES):
                item = next(source, None)
                if item is None:
                    break
                ref, raw = item
                size, job = len(raw), _job(raw, storage_root)
                del item, raw  # a big mail is on disk now: only the worker reads it
                window.append((ref, job, size, _submit(job, limits, storage_root)))
                in_flight += size
            if not window:
                return
            ref, job, size, submitted = window.popleft()
            in_flight -= size
            while idle is not None and not submitted[1].done() and idle():
                pass
            prepared = _result(submitted, job, size, limits, storage_root)
            del job, submitted  # a 40 MB mail is not kept while the next is read
            yield ref, prepared
    finally:
        for _ref, _queued, _size, (_executor, future) in window:
            future.cancel()


def _submit(job: Job, limits: ReadLimits, storage_root: Path) -> Submitted:
    read, source = job
    for _attempt in range(3):
        executor = pool()
        if executor is None:
            break
        try:
            return executor, executor.submit(read, source, limits, storage_root)
        except (BrokenProcessPool, RuntimeError):  # broken, or shut down meanwhile
            _reset_pool(executor)
    done: Future[Prepared] = Future()
    done.set_result(read(source, limits, storage_root))
    return None, done


def _result(
    submitted: Submitted, job: Job, size: int, limits: ReadLimits, storage_root: Path
) -> Prepared:
    executor, future = submitted
    try:
        return future.result()
    except BrokenProcessPool:
        _reset_pool(executor)
    # The pool broke while this mail was in flight, maybe because of this very
    # mail: read it again alone in a fresh pool, and give up if that breaks too.
    log.warning("a reading worker died; reading that mail again on its own")
    executor, future = _submit(job, limits, storage_root)
    try:
        return future.result()
    except BrokenProcessPool:
        _reset_pool(executor)
    source = job[1]
    digest = source if isinstance(source, str) else sha256(source)
    return Prepared(digest, size, None, "BrokenProcessPool('reading worker died')")
