"""The dedup MinHash is datasketch's, computed without importing datasketch; the whole
fingerprint is pinned to the values stored databases hold.

Signatures are stored in the database and compared with new ones, so they must stay
byte-identical to what ``datasketch.MinHash(scheme="affine32")`` computed when they were
written. These tests compute both over the same 32-bit shingle hashes.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import numpy as np
import pytest
from datasketch import MinHash

from monitor.dedup import (
    _SEED,
    NUM_PERM,
    StoredSketch,
    _shingle_hashes,
    minhash_signature,
    pack_terms,
    sketch,
    unpack_terms,
)
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


def _sample_texts() -> list[str]:
    rnd = random.Random(17)
    vocab = (
        "council harbour bridge budget vote river tunnel school market festival museum rail "
        "station tower garden library ferry airport stadium clinic the a of and in on said "
        "would 2024 12 über café naïve résumé it's don't Peña ZELENSKY"
    ).split()
    return [
        " ".join(rnd.choice(vocab) for _ in range(n)) + ("." if n else "")
        for n in (0, 1, 3, 4, 5, 60, 700, 2000)
    ]


def test_fingerprints_are_pinned() -> None:
    """Every stored part of a fingerprint (URL keys, content hash, MinHash, bands, story
    vector, packed terms), for texts from empty to 2,000 words, hashed together, as the
    code that wrote the existing databases computed it (commit 78f1e6f, before the
    sketch was made faster): new fingerprints are compared with stored ones, so a
    faster computation must give the same values."""
    h = hashlib.sha256()
    for i, text in enumerate(_sample_texts()):
        article = Article(
            url=f"https://www.Example.org/a/{i}/?utm_source=x&b=2&a=1#frag",
            title=f"Harbour council vote {i} über",
            text=text,
            text_source="page",
            feed_name="f",
            guid=f"g{i}",
            canonical_url=f"http://example.org/a/{i}" if i % 2 else None,
            site_name="Example News" if i % 3 else None,
            published=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
            fetched_at=datetime(2024, 5, 1, 13, 0, tzinfo=UTC),
        )
        fp = sketch(article, urls=(f"http://example.org/a/{i}?fbclid=1",))
        blob = pack_terms(fp.terms)
        h.update(
            repr(
                (
                    fp.url_keys,
                    fp.canonical_url,
                    fp.content_hash,
                    fp.minhash.hex(),
                    fp.terms,
                    fp.site,
                    fp.when.isoformat(),
                    fp.n_words,
                    fp.bands,
                    fp.key_terms,
                    blob.hex(),
                    unpack_terms(blob),
                )
            ).encode()
        )
    assert h.hexdigest() == "b0e27a01adb5acc434b2f5039a35cfb4dce3d3d92cd05eec3550415302108269"


def test_story_score_is_the_sum_over_the_stored_pairs() -> None:
    """The story score read from the stored columns equals the plain sum over the unpacked
    (term, weight) pairs, bit for bit (same products, same order)."""
    rng = random.Random(5)
    for n in (0, 1, 12, 40):
        terms = [(rng.randrange(1 << 32), round(rng.random(), 4)) for _ in range(n)]
        blob = pack_terms(terms)
        stored = StoredSketch(1, 1, None, "s", datetime(2024, 1, 1, tzinfo=UTC), b"", blob)
        mine = {t: rng.random() for t, _ in terms[::2]} | {rng.randrange(1 << 32): 0.5}
        expected = sum(w * mine.get(k, 0.0) for k, w in unpack_terms(blob))
        assert stored.story_score(mine.get) == expected and stored.n_terms == n
        assert stored.terms == unpack_terms(blob)
