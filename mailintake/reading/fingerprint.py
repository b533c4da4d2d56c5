"""A document's text as the duplicate check compares it: pure computation, no database.

A text is normalized (folded, letters and digits only), cut into shingles of
SHINGLE characters, and summarized by the 16 LSH bands of its MinHash
signature (see ``history`` for how the bands find candidates). The reading
workers compute a piece's fingerprint with the rest of its reading, so the
process that files mail only compares.

What is fingerprinted is bounded: the first MAX_CHARS characters of a text
(a news piece has a few thousand), so a Word file of megabytes of text costs
no more than a long piece; the rest of it only goes into the hash. The
shingles kept for comparing are bounded too (SHINGLE_CACHE_GRAMS in all).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache, partial
from operator import methodcaller
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

SHINGLE = 4  # characters; Chinese words are one to four characters long
PERMUTATIONS = 64
ROWS_PER_BAND = 4  # 16 bands of 4 rows: see the probabilities above
#: Characters of a text that are fingerprinted (before and after normalizing):
#: some ten pages of Chinese. Two texts that share their first MAX_CHARS are
#: nearly the same piece whatever follows.
MAX_CHARS = 20_000
# What is not a letter or a digit: exactly the characters ``str.isalnum`` refuses.
_NOT_ALNUM = re.compile(r"[\W_]+")
_HASH_CHUNK = 1 << 20


def normalize_text(text: str) -> str:
    """The text as compared: folded, letters and digits only.

    Spacing, punctuation, full- or half-width forms and line breaks do not
    make a different document.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_ALNUM.sub("", folded)


def head_of(text: str) -> str:
    """The normalized text that is fingerprinted: that of its first MAX_CHARS
    characters, at most MAX_CHARS long (NFKC can make one character eighteen)."""
    return normalize_text(text[:MAX_CHARS])[:MAX_CHARS]


def shingles(normalized: str) -> set[str]:
    """Every run of SHINGLE characters in a normalized text."""
    if len(normalized) <= SHINGLE:
        return {normalized} if normalized else set()
    return {normalized[i:i + SHINGLE] for i in range(len(normalized) - SHINGLE + 1)}


def similarity(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    """Jaccard similarity of two shingle sets."""
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def shingles_of(text_hash: str, text: str) -> frozenset[str]:
    """The shingles of a filed text, known by the hash of its normalized form.

    Each new piece is compared with up to MAX_CANDIDATES earlier ones, mostly
    the same recent pieces again and again: normalizing each of them anew for
    every mail cost more than everything else in the check. Equal hashes mean
    equal normalized texts, so the shingles are kept by hash, for a bounded
    number of texts (a few MB).
    """
    found = _SHINGLES.get(text_hash) if text_hash else None
    if found is not None:
        _SHINGLES.move_to_end(text_hash)
        return found
    grams = frozenset(shingles(head_of(text)))
    if text_hash:
        _keep(text_hash, grams)
    return grams


def _keep(text_hash: str, grams: frozenset[str]) -> None:
    global _kept_grams  # noqa: PLW0603  (one cache per process, by design)
    old = _SHINGLES.pop(text_hash, None)
    _kept_grams += len(grams) - (len(old) if old is not None else 0)
    _SHINGLES[text_hash] = grams
    while _kept_grams > SHINGLE_CACHE_GRAMS and len(_SHINGLES) > 1:
        _kept_grams -= len(_SHINGLES.popitem(last=False)[1])


#: Shingles kept in all (about 120 bytes each): the texts of a few hundred pieces.
SHINGLE_CACHE_GRAMS = 250_000
_SHINGLES: OrderedDict[str, frozenset[str]] = OrderedDict()
_kept_grams = 0


def bands(grams: AbstractSet[str]) -> list[int]:
    """The LSH band keys of a shingle set's MinHash signature, as signed 64-bit
    integers (half the size of text keys in a table of millions of rows).

    The seed and the permutation scheme are fixed: the keys are stored, and
    must come out the same for the same text in every later version. The
    signature is datasketch's ``MinHash(num_perm=64, seed=1, scheme="affine32")``
    (the first version used it; ``tests/test_history.py`` checks they agree),
    computed here with numpy alone: importing datasketch imports scipy too,
    0.5 s and some 85 MB in every process for three lines of arithmetic.
    """
    import numpy as np  # only where texts are compared, not in every CLI command

    a, b = _permutations()
    hashed = _sha1_32_all(grams)
    values = np.full(PERMUTATIONS, 0xFFFFFFFF, dtype=np.uint32)
    if hashed.size:
        mixed = _fmix32(hashed).reshape(-1, 1)
        # a * h + b in uint32: the wraparound is the modulo 2**32 of the scheme.
        values = np.minimum(values, (mixed * a + b).min(axis=0))
    raw = values.astype("<u4")
    keys = []
    for band in range(PERMUTATIONS // ROWS_PER_BAND):
        rows = raw[band * ROWS_PER_BAND:(band + 1) * ROWS_PER_BAND].tobytes()
        digest = hashlib.blake2b(bytes([band]) + rows, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


_sha1 = partial(hashlib.sha1, usedforsecurity=False)
_digest = methodcaller("digest")


def _sha1_32_all(grams: AbstractSet[str]) -> NDArray[np.uint32]:
    """datasketch's ``sha1_hash32`` of every gram (the first four bytes of its UTF-8
    SHA-1, little-endian), in one array: the digests are made in C loops and cut
    by numpy, where a Python function per gram made and converted each one."""
    import numpy as np

    digests = b"".join(map(_digest, map(_sha1, map(str.encode, grams))))
    table = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 20)
    return np.ascontiguousarray(table[:, :4]).view("<u4").ravel().astype(np.uint32)


@cache
def _permutations() -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """The affine permutations h -> a*h + b (a odd) of datasketch's affine32 scheme, seed 1."""
    import numpy as np

    gen = np.random.RandomState(1)  # the legacy generator: its stream never changes
    a = gen.randint(0, 1 << 31, PERMUTATIONS, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, PERMUTATIONS, dtype=np.uint32)
    return a, b


def _fmix32(h: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """MurmurHash3's 32-bit finalizer, which the affine32 scheme applies first."""
    import numpy as np

    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@dataclass(frozen=True)
class Fingerprint:
    """A document's text as the duplicate check compares it."""

    normalized: str
    hash: str
    bands: tuple[int, ...]
    # Its shingles, which the duplicate check compares (computed with the bands).
    grams: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @classmethod
    def of(cls, text: str, min_chars: int = 1) -> Fingerprint | None:
        """None when the text is too short to say anything about duplicates."""
        whole = normalize_text(text[:MAX_CHARS])
        normalized = whole[:MAX_CHARS]  # head_of(text)
        if len(normalized) < min_chars:
            return None
        digest = hashlib.sha256(whole.encode("utf-8"))
        for start in range(MAX_CHARS, len(text), _HASH_CHUNK):  # the rest, only hashed
            digest.update(text[start:start + _HASH_CHUNK].encode("utf-8", "surrogatepass"))
        grams = frozenset(shingles(normalized))
        fingerprint = cls(normalized, digest.hexdigest(), tuple(bands(grams)), grams)
        keep(fingerprint)  # the duplicate check and later pieces compare with these
        return fingerprint


def keep(fingerprint: Fingerprint) -> None:
    """Remember a text's shingles by its hash (see ``shingles_of``), as the
    process that read it did: they come along when the text was read elsewhere."""
    if fingerprint.grams:
        _keep(fingerprint.hash, fingerprint.grams)
