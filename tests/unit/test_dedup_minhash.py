"""The dedup MinHash is datasketch's, computed without importing datasketch.

Signatures are stored in the database and compared with new ones, so they must stay
byte-identical to what ``datasketch.MinHash(scheme="affine32")`` computed when they were
written. These tests compute both over the same 32-bit shingle hashes.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from datasketch import MinHash

from monitor.dedup import _SEED, NUM_PERM, _shingle_hashes, minhash_signature, sketch
from monitor.models import Article
from monitor.text import words


def _identity(x: int) -> int:
    return x


def datasketch_signature(hashes: list[int]) -> bytes:
    m = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme="affine32", hashfunc=_identity)
    m.update_batch(hashes)
    return m.hashvalues.astype("<u4").tobytes()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 40, 500, 5000])
def test_random_sets_match_datasketch(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(40):
        hashes = rng.integers(0, 1 << 32, size=size, dtype=np.uint64).tolist()
        assert minhash_signature(hashes) == datasketch_signature(hashes)


def test_extreme_hash_values_match_datasketch() -> None:
    for hashes in ([0], [(1 << 32) - 1], [0, (1 << 32) - 1], list(range(100))):
        assert minhash_signature(hashes) == datasketch_signature(hashes)


def test_signature_layout() -> None:
    sig = minhash_signature([1, 2, 3])
    assert len(sig) == 4 * NUM_PERM
    # the minimum over a superset can only be lower or equal, value by value
    sup = minhash_signature([1, 2, 3, 99, 12345])
    a = np.frombuffer(sig, dtype="<u4")
    b = np.frombuffer(sup, dtype="<u4")
    assert (b <= a).all() and (b < a).any()


def test_article_sketch_matches_datasketch() -> None:
    text = " ".join(
        f"the council voted {i} times on the budget of district {i % 7} before noon"
        for i in range(30)
    )
    article = Article(
        url="https://example.org/a",
        title="Budget vote",
        text=text,
        text_source="page",
        feed_name="f",
        guid="g",
    )
    fp = sketch(article)
    assert fp.minhash == datasketch_signature(_shingle_hashes(words(text)))


def test_signature_is_pinned() -> None:
    """The signature of a fixed set, as datasketch 2.0 computed it: a change to the
    permutations or the mixing would invalidate every stored sketch."""
    sig = minhash_signature(list(range(1000, 1100)))
    assert sig == datasketch_signature(list(range(1000, 1100)))
    assert hashlib.sha256(sig).hexdigest() == (
        "5fda99300b120717711200f848003857a45a070c54cbca5960a59409e1e4d7dc"
    )
