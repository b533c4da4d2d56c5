"""A file's size as a clerk or a correspondent reads it: 31.2 MB, 30 MB, 512 KB."""

from __future__ import annotations


def size_text(size: int) -> str:
    """Megabytes to one decimal (none when it is .0) from 1 MB up, else whole kilobytes
    (at least 1)."""
    if size >= 2**20:
        return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"
    return f"{max(round(size / 1024), 1)} KB"
