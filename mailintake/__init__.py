"""mailintake: files the news pieces schools email to an education office.

The public front is the command line (``mailintake.cli.main``); the flow of one
mail is ``mailintake.intake.pipeline``.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version is looked up when asked for: importlib.metadata costs every
    # process that imports mailintake (the readers' too) some 40 ms.
    if name != "__version__":
        raise AttributeError(f"module 'mailintake' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailintake")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"
