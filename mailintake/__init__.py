"""mailintake: files the news pieces schools email to an education office.

The public front is the command line (``mailintake.cli``); the flow of one
mail is ``mailintake.pipeline``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mailintake")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
