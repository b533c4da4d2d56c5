"""How the cyclic garbage collector is run in mailintake's processes.

Starting a command allocates hundreds of thousands of objects (SQLAlchemy,
pydantic, the models; python-docx, lxml and numpy in the readers' forkserver)
and none of them is garbage; Python's collector would still examine them a
few times while they load, and again at every full collection afterwards.
So modules are loaded with the collector off, and what is loaded is then
frozen (``gc.freeze``): later collections never look at it, and workers
forked from the forkserver inherit it frozen. After that the youngest
generation is collected every YOUNG_THRESHOLD allocations rather than 700:
what a mail leaves behind is freed by reference counting, and a collection
finds only the odd cycle (a python-docx package, an lxml tree's proxies).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two collections of the youngest generation (Python's default: 700).
YOUNG_THRESHOLD = 10_000


@contextmanager
def loading() -> Iterator[None]:
    """Load modules without the collector, then ``settle``."""
    gc.disable()
    try:
        yield
    finally:
        settle()


def settle() -> None:
    """What this process holds now stays: freeze it, and collect the young less often."""
    gc.freeze()
    _young, *older = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *older)
    gc.enable()
