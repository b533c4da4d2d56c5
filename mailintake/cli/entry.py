"""The ``mailintake`` command, as installed.

``poll`` and ``run`` read mail in worker processes forked from a forkserver
that loads the reading libraries first (python-docx, Pillow, numpy: half a
second). It is started here, before even the command line is imported, so it
loads on the other core while this process loads the command line, the
database layer and the pipeline.

Modules load with the garbage collector off, and what they made is frozen
then (see ``mailintake.collector``). And once the command is done and has
closed what it opened, the interpreter is not left to garbage-collect every
object on its way out (0.1-0.2 s for the database layer's and the
templates'): the memory goes back with the process.
"""

from __future__ import annotations

import atexit
import gc
import sys

#: Subcommands that read mail.
READS_MAIL = {"poll", "run"}
#: The command's own options that take a value (see ``cli.main``).
_TAKES_VALUE = {"--config", "--now"}


def main() -> None:
    atexit.register(gc.freeze)  # registered first, so it runs after every other handler
    from mailintake import collector

    with collector.loading():
        if subcommand(sys.argv[1:]) in READS_MAIL:
            from mailintake.reading import workers as readers

            readers.start_early()
            import mailintake.intake.loop  # noqa: F401  (what poll and run use, loaded here)
        from mailintake.cli.main import main as command

    command()


def subcommand(args: list[str]) -> str:
    """The subcommand ``args`` name, past the command's own options; "" when none."""
    value_next = False
    for arg in args:
        if value_next:
            value_next = False
        elif arg in _TAKES_VALUE:
            value_next = True
        elif not arg.startswith("-"):
            return arg
    return ""
