"""A file's size as people read it, the same in a rejection, the console and a form."""

from __future__ import annotations

import pytest

from mailintake.rules.limits import size_text


@pytest.mark.parametrize(("size", "shown"), [
    (30 * 2**20, "30 MB"), (int(22.5 * 2**20), "22.5 MB"), (int(31.24 * 2**20), "31.2 MB"),
    (2**20, "1 MB"), (512 * 1024, "512 KB"), (1500, "1 KB"), (10, "1 KB"),
])
def test_a_size_reads_in_megabytes_or_kilobytes(size: int, shown: str) -> None:
    assert size_text(size) == shown
