"""The duplicate check's stored fingerprints stay the same from version to version."""

from __future__ import annotations

import subprocess
import sys

from mailintake.reading.fingerprint import (
    Fingerprint,
    bands,
    normalize_text,
    shingles,
    shingles_of,
    similarity,
)

TEXT = "区教育局召开二〇二六年秋季学期信息员培训会，各校信息员参加。"
# The bands datasketch 2.x computed for TEXT (MinHash, 64 permutations, seed 1,
# scheme affine32): the keys already stored in text_band must keep matching.
DATASKETCH_BANDS = [
    1349377108080672867, 6825011929781531343, 3013319673993268360, 5437207573039242432,
    4825793449046225485, -2774581376052201216, -4169492846304320149, -2468551439126471061,
    6021554260446350108, 6756119136870863055, -3043973428844612721, -3443390349922728334,
    -3350053764862508141, -6043922631255228549, -7675196706933291752, -270158526643425517,
]


def test_bands_are_those_stored_by_earlier_versions() -> None:
    """A text gets the same sixteen band keys as when datasketch computed them."""
    assert bands(shingles(normalize_text(TEXT))) == DATASKETCH_BANDS


def test_same_text_in_another_form_has_the_same_fingerprint() -> None:
    """Spacing, punctuation and full-width forms do not change a text's fingerprint."""
    one = Fingerprint.of(TEXT, 10)
    other = Fingerprint.of("区教育局 召开二〇二六年秋季学期信息员培训会 各校信息员参加!", 10)
    assert one is not None and other is not None
    assert (one.hash, one.bands) == (other.hash, other.bands)


def test_remembered_shingles_are_those_of_the_text() -> None:
    """The shingles kept for a filed text are exactly the ones computed from it."""
    fingerprint = Fingerprint.of(TEXT, 10)
    assert fingerprint is not None
    kept = shingles_of(fingerprint.hash, "")
    assert kept == shingles(normalize_text(TEXT))
    assert similarity(kept, shingles(normalize_text(TEXT + "另有补充。"))) > 0.8


def test_intake_does_not_import_scipy() -> None:
    """Starting the intake does not load scipy (half a second and 85 MB per process)."""
    code = "import sys, mailintake.intake.pipeline; print('scipy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
