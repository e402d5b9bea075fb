"""Deduplication and story grouping: one decision per incoming article, no writes.

Four questions, asked in this order for every extracted article:

1. **Is it an article we already have?** Every URL the article is known by (the feed's
   link, the final URL after redirects, the page's ``<link rel=canonical>`` / ``og:url``)
   is reduced to an identity key by :func:`canonical_url` / :func:`url_key` (tracking
   parameters, scheme, host case, default port, trailing slash, fragment and ``www.``
   dropped). A known key means the same article: stored once, linked to every feed.
2. **Has it changed?** Same identity with different text is a *revision* of the stored
   article (kept in place, the old text archived), unless the new text comes from a poorer
   source (the feed's summary against the page's full text), which is no revision at all.
3. **Is it a copy of another outlet's article?** Syndicated and lightly edited copies are
   found by MinHash over word shingles with LSH banding (:class:`Fingerprint`); a copy is
   stored as its own article (another outlet, another URL) marked ``duplicate_of`` the
   original and put in the original's story.
4. **Does it report an event we already have?** A term vector per article (stems of
   content words, log-scaled counts, title words weighing more) is compared by cosine with
   the articles of the story window that share its heaviest terms; it joins the story
   whose articles are, on average, similar enough. Short texts form no stories.

The :class:`Deduplicator` reads earlier state through the store handle passed in (see
:class:`DedupState`) and returns a :class:`DedupDecision`; the pipeline writes what was
decided in its one transaction. Thresholds were chosen by measurement: see docs/dedup.md.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import operator
import re
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from courlan.clean import normalize_url, scrub_url

from monitor.lexicon import STOPWORDS_EN
from monitor.models import Article
from monitor.store.rows import KnownArticle, SketchRecord, SketchRow, StoryRow
from monitor.text import get_stemmer, stemmer_languages, words

__all__ = [
    "NEAR_DUPLICATE_THRESHOLD",
    "STORY_THRESHOLD",
    "DecisionKind",
    "DedupDecision",
    "DedupSettings",
    "DedupState",
    "Deduplicator",
    "Fingerprint",
    "StoredSketch",
    "band_keys",
    "canonical_url",
    "cosine",
    "content_hash",
    "jaccard",
    "format_stories",
    "format_story",
    "sketch",
    "stories_overview",
    "story_detail",
    "url_hash",
    "url_key",
]

# -- thresholds (measured: docs/dedup.md, benchmarks/bench_dedup.py quality) ----------
NEAR_DUPLICATE_THRESHOLD = 0.5  # estimated Jaccard of word 4-shingles
STORY_THRESHOLD = 0.3  # cosine of the weighted term vectors

NUM_PERM = 64  # MinHash permutations
BANDS = 16  # LSH bands of ROWS values: P(candidate) = 1 - (1 - J^ROWS)^BANDS
ROWS = 4
SHINGLE = 4  # words per shingle
TITLE_WEIGHT = 1.0  # added to the weight of a title word
MAX_TERMS = 40  # terms kept in an article's story vector
MIN_STORY_TERMS = 12  # distinct terms both articles need before they can form a story
KEY_TERMS = 8  # of those, the heaviest, indexed to find story candidates
PER_KEY = 64  # candidates read per key term (the most recent ones)
MAX_STORY_CANDIDATES = 40  # candidates scored per article
_SEED = 20241106  # MinHash permutations; changing it invalidates stored sketches

DecisionKind = Literal["new", "same", "revision", "near-duplicate", "story"]

# -- article identity --------------------------------------------------------------------

# Trackers courlan does not already strip (it handles utm_*, fbclid, gclid, mc_*, *_source,
# ref, ...): news sites' own campaign parameters.
_EXTRA_TRACKERS = re.compile(
    r"^(?:cmpid|icid|ito|intcmp|ncid|ocid|cmp|mbid|smid|sr_share|at_[a-z]+|__twitter_impression"
    r"|_ga|_gl|ns_[a-z]+|rss|feed|s_kwcid|hootpostid|taid|soc_src|soc_trk|wt\.[a-z_]+)$",
    re.I,
)


@functools.lru_cache(maxsize=4096)
def canonical_url(url: str) -> str:
    """A normalised form of an http(s) URL: the same page, written one way.

    Scheme and host lower-cased, default port, fragment (except ``#!`` routes), trailing
    slash and tracking parameters (utm_*, fbclid, gclid, mc_cid, ...) dropped, remaining
    query parameters sorted. Not a URL: returned stripped, otherwise unchanged. (Cached:
    an article's addresses are looked at several times, by the pipeline and by dedup.)
    """
    u = url.strip()
    try:
        norm = normalize_url(scrub_url(u), strict=False, trailing_slash=False)
    except (ValueError, AttributeError):
        return u
    parts = urlsplit(norm)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return u
    query = "&".join(
        q for q in parts.query.split("&") if q and not _EXTRA_TRACKERS.match(q.split("=", 1)[0])
    )
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc.rstrip("."), path, query, fragment))


@functools.lru_cache(maxsize=4096)
def url_key(url: str) -> str:
    """The identity of a URL: :func:`canonical_url` without scheme and ``www.``.

    ``http://www.Example.com/a/?utm_source=x`` and ``https://example.com/a`` share a key.
    """
    c = canonical_url(url)
    parts = urlsplit(c)
    if not parts.netloc:
        return c
    host = parts.netloc.removeprefix("www.")
    key = host + parts.path
    if parts.query:
        key += "?" + parts.query
    if parts.fragment:
        key += "#" + parts.fragment
    return key


def url_hash(key: str) -> int:
    """A URL key as a signed 64-bit integer (what the store indexes)."""
    return _int64(hashlib.blake2b(key.encode(), digest_size=8).digest())


def site_of(article: Article) -> str:
    """The outlet: the page's site name (folded) if it has one, else the URL's host.

    The site name first, because several outlets can share a host (a publishing platform,
    the demo's loopback server); the host when a page gave no name.
    """
    if article.site_name and article.site_name.strip():
        return " ".join(words(article.site_name)) or article.site_name.strip()
    host = urlsplit(canonical_url(article.canonical_url or article.url)).netloc
    return host.removeprefix("www.") or article.feed_name


# -- the sketch ---------------------------------------------------------------------------

# Function words of the languages most feeds are in; they carry no topic.
_STOPWORDS = STOPWORDS_EN | frozenset(
    """
    according al au auch auf aux cent che con da dans das day days
    de del dem den der des di die du e ein eine el en es est
    et first friday fur gli il im ist la las last le les lo los
    made make mit monday nicht non para pas per percent por pour que
    qui saturday se sich su sunday sur three thursday time times
    tuesday un una und une von wednesday week y zu
    """.split()
)


# MinHash exactly as datasketch (>= 2.0) computes it with scheme="affine32" and an identity
# hash function over our own 32-bit shingle hashes: each value goes through the MurmurHash3
# 32-bit finalizer, then through NUM_PERM affine maps h -> a*h + b mod 2^32 whose (odd) `a`
# and `b` are drawn from numpy's legacy RandomState(seed). Stored signatures depend on every
# detail; tests/unit/test_dedup_minhash.py checks them against datasketch itself. (Importing
# datasketch pulls in scipy.integrate through its LSH module, half of the daemon's start.)
def _affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERM_A, _PERM_B = _affine32_permutations(NUM_PERM, _SEED)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (wrapping uint32 arithmetic)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash_signature(hashes: list[int] | np.ndarray) -> bytes:
    """The MinHash signature (NUM_PERM little-endian uint32) of a set of 32-bit hashes
    (repeated values change nothing: each permutation keeps its minimum)."""
    hv = _fmix32(np.asarray(hashes, dtype=np.uint32).reshape(-1, 1))
    return (hv * _PERM_A + _PERM_B).min(axis=0).astype("<u4").tobytes()


def _int64(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "little", signed=True)


@functools.lru_cache(maxsize=200_000)
def _h32(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little")


@dataclass(frozen=True)
class Fingerprint:
    """Everything dedup needs to know about one article, computed once."""

    url_keys: tuple[str, ...]  # identity keys of every URL the article is known by
    canonical_url: str  # the best URL: the page's canonical, else the final URL
    content_hash: str  # sha256 of the folded words of title and text
    minhash: bytes  # NUM_PERM little-endian uint32 values over word shingles ('' if no text)
    terms: tuple[
        tuple[int, float], ...
    ]  # story vector: (term hash, weight), L2 = 1, heaviest first
    site: str  # the outlet (host)
    when: datetime  # the article's time for story windows: published, else fetched
    n_words: int = 0

    @functools.cached_property
    def bands(self) -> tuple[int, ...]:
        return band_keys(self.minhash)  # (asked for by the decision and by its writing)

    @property
    def key_terms(self) -> tuple[int, ...]:
        return tuple(t for t, _ in self.terms[:KEY_TERMS])


def band_keys(minhash: bytes) -> tuple[int, ...]:
    """LSH band keys of a signature, each a signed 64-bit integer (the band number mixed in)."""
    if not minhash:
        return ()
    step = ROWS * 4
    return tuple(
        _int64(
            hashlib.blake2b(bytes([b]) + minhash[b * step : (b + 1) * step], digest_size=8).digest()
        )
        for b in range(BANDS)
    )


def content_hash(title: str, text: str) -> str:
    """sha256 over the folded words of title and text (spacing, case, punctuation ignored)."""
    return _words_hash(words(title), words(text))


def _words_hash(title_words: list[str], text_words: list[str]) -> str:
    return hashlib.sha256(
        (" ".join(title_words) + "\n" + " ".join(text_words)).encode()
    ).hexdigest()


def _shingle_hashes(norms: list[str]) -> list[int]:
    """32-bit hashes of the word shingles of a text (each word hashed once), as a set."""
    return np.unique(_shingle_array(norms)).tolist()


def _shingle_array(norms: list[str]) -> np.ndarray:
    """The 32-bit hash of each word shingle of a text, in text order (repeats kept)."""
    n = SHINGLE if len(norms) >= SHINGLE else len(norms)
    h = np.fromiter(map(_h32, norms), dtype=np.uint64, count=len(norms))
    acc = np.zeros(len(norms) - n + 1, dtype=np.uint64)
    for i in range(n):
        acc = (acc ^ h[i : len(norms) - n + 1 + i]) * _MIX[i]
    return (acc >> np.uint64(32)).astype(np.uint32)


_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)[: max(SHINGLE, 1)]


def url_keys(article: Article, urls: Iterable[str | None] = ()) -> tuple[str, ...]:
    """The identity keys of every address an article is known by (see :func:`sketch`)."""
    all_urls = [article.canonical_url, article.url, *urls]
    return tuple(dict.fromkeys(url_key(u) for u in all_urls if u))


def _story_terms(
    norms: list[str], title_words: list[str], language: str
) -> tuple[tuple[int, float], ...]:
    """The story vector: (term hash, weight) of the heaviest stems, L2-normalised."""
    stemmer = get_stemmer(language if language in stemmer_languages() else "en")
    counts = Counter(w for w in norms if len(w) >= 3 and w not in _STOPWORDS and not w.isdigit())
    title_content = [
        w for w in title_words if len(w) >= 3 and w not in _STOPWORDS and not w.isdigit()
    ]
    vocab = list(counts.keys() | set(title_content))
    stems = dict(zip(vocab, stemmer.stem_all(vocab), strict=True))
    weights: dict[str, float] = {}
    for w, c in counts.items():
        s = stems[w]
        weights[s] = weights.get(s, 0.0) + c
    for s, c in weights.items():
        weights[s] = 1.0 + math.log(c)
    title_stems = {stems[w] for w in title_content}
    for s in title_stems:
        weights[s] = weights.get(s, 1.0) + TITLE_WEIGHT
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    terms = tuple((_h32(s), round(w / norm, 4)) for s, w in top)
    return terms


def sketch(
    article: Article,
    *,
    urls: Iterable[str | None] = (),
    language: str = "en",
    now: datetime | None = None,
    full: bool = True,
) -> Fingerprint:
    """Fingerprint an article (one tokenisation of title and text).

    ``urls``: other addresses the article is known by (the feed entry's link, the
    requested URL before redirects); the article's own ``url`` and ``canonical_url``
    always count. ``full=False``: the identity only (URL keys, content hash, site, time),
    without the MinHash and the story vector, which cost most of the sketch.
    """
    best = article.canonical_url or article.url
    keys = url_keys(article, urls)
    text = article.text or ""
    norms = words(text)
    title_words = words(article.title)
    chash = _words_hash(title_words, norms)

    # MinHash over word shingles (short texts: whatever shingles there are)
    mh = b""
    if norms and full:
        mh = minhash_signature(_shingle_array(norms))  # (a set's minimum: no need to dedupe)

    # story vector: stems of content words, log-scaled counts; title words weigh more
    terms = _story_terms(norms, title_words, language) if full else ()

    when = article.published or article.fetched_at or now or datetime.now(UTC)
    fetched = article.fetched_at or now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if fetched.tzinfo is None:
        fetched = fetched.replace(tzinfo=UTC)
    when = min(when, fetched)  # a publication date in the future is a feed's mistake
    return Fingerprint(
        url_keys=keys,
        canonical_url=canonical_url(best),
        content_hash=chash,
        minhash=mh,
        terms=terms,
        site=site_of(article),
        when=when,
        n_words=len(norms),
    )


def jaccard(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    if not a or not b or len(a) != len(b):
        return 0.0
    return float(np.count_nonzero(np.frombuffer(a, "<u4") == np.frombuffer(b, "<u4"))) / (
        len(a) // 4
    )


def cosine(a: Sequence[tuple[int, float]], b: Sequence[tuple[int, float]]) -> float:
    """Cosine of two sparse unit vectors given as (term, weight) pairs."""
    if len(a) > len(b):
        a, b = b, a
    bd = dict(b)
    return sum(w * bd.get(t, 0.0) for t, w in a)


def pack_terms(terms: Sequence[tuple[int, float]]) -> bytes:
    """Terms as stored: uint32 hashes then float16 weights."""
    hs = np.array([t for t, _ in terms], dtype="<u4")
    ws = np.array([w for _, w in terms], dtype="<f2")
    return hs.tobytes() + ws.tobytes()


def unpack_terms(blob: bytes) -> tuple[tuple[int, float], ...]:
    """Stored terms (see :func:`pack_terms`) as (hash, weight) pairs."""
    keys, weights = _unpack_columns(blob)
    return tuple(zip(keys, weights, strict=True))


def _unpack_columns(blob: bytes) -> tuple[tuple[int, ...], tuple[float, ...]]:
    n = len(blob) // 6
    values = struct.unpack(f"<{n}I{n}e", blob)
    return values[:n], values[n:]


# -- the decision -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSketch:
    """What the store gives back about one earlier article."""

    article_id: int
    story_id: int | None
    duplicate_of: int | None
    site: str
    when: datetime
    minhash: bytes
    packed_terms: bytes  # the story vector as stored (see pack_terms)

    @functools.cached_property
    def terms(self) -> tuple[tuple[int, float], ...]:
        return unpack_terms(self.packed_terms)

    @property
    def n_terms(self) -> int:
        return len(self.packed_terms) // 6

    def story_score(self, weight: Callable[[int, float], float]) -> float:
        """``sum(w * weight(k, 0.0) for k, w in self.terms)``: the same sum in the same
        order, read straight from the stored columns (no pairs, no generator frames)."""
        keys, ws = _unpack_columns(self.packed_terms)
        return sum(map(operator.mul, ws, map(weight, keys, itertools.repeat(0.0))))


class DedupState(Protocol):
    """The read-only part of the store the deduplicator uses (monitor.store.Store has it)."""

    def dedup_known(self, url_hashes: Sequence[int]) -> KnownArticle | None: ...

    def dedup_by_hash(self, content_hash: str) -> list[KnownArticle]: ...

    def dedup_band_candidates(self, bands: Sequence[int], limit: int) -> list[int]: ...

    def dedup_term_candidates(
        self, keys: Sequence[int], start: int, end: int, per_key: int
    ) -> list[int]: ...

    def dedup_sketches(self, article_ids: Sequence[int]) -> list[SketchRow]: ...

    def story_sites(self, story_id: int) -> set[str]: ...


def _stored(row: SketchRow) -> StoredSketch:
    return StoredSketch(
        article_id=int(row.article_id),
        story_id=row.story_id,
        duplicate_of=row.duplicate_of,
        site=row.site,
        when=datetime.fromtimestamp(row.t, UTC),
        minhash=row.minhash,
        packed_terms=row.terms,  # unpacked when scored: most candidates are not
    )


@dataclass(frozen=True)
class DedupSettings:
    near_duplicate: float = NEAR_DUPLICATE_THRESHOLD
    story: float = STORY_THRESHOLD
    story_window: float = 3 * 86400.0  # seconds between an article and a story's articles
    language: str = "en"


@dataclass(frozen=True)
class DedupDecision:
    """What dedup decided about one article; the pipeline applies it.

    - ``new``: a new article and a new story;
    - ``same``: the article is stored already (``article_id``); only link the feed entry;
    - ``revision``: the stored article ``article_id`` changed; store the new text as
      revision ``revision`` (claims and matching look at it again);
    - ``near-duplicate``: another outlet's copy of ``duplicate_of``; a new article row
      in that article's story ``story_id``;
    - ``story``: a different article on the story ``story_id``.
    """

    kind: DecisionKind
    fingerprint: Fingerprint
    article_id: int | None = None  # same / revision: the stored article
    duplicate_of: int | None = None  # near-duplicate: the original
    story_id: int | None = None  # the story joined (None with "new": make one)
    similarity: float = 0.0  # Jaccard (near-duplicate) or cosine (story) to the best match
    matched_article: int | None = None  # the stored article that decided it
    revision: int | None = None  # revision: the new revision number
    new_outlet: bool = True  # no article of the story came from this site before
    reasons: tuple[str, ...] = field(default=(), compare=False)

    @property
    def stores_article(self) -> bool:
        """True when a new article row is written (new, near-duplicate, story)."""
        return self.kind in ("new", "near-duplicate", "story")

    @property
    def is_revision(self) -> bool:
        return self.kind == "revision"

    @property
    def previous_article_id(self) -> int | None:
        """For a revision: the stored article whose earlier text this replaces."""
        return self.article_id if self.kind == "revision" else None

    @property
    def is_copy(self) -> bool:
        """No new content: the same article, or another outlet's copy of one."""
        return self.kind in ("same", "near-duplicate")


_SOURCE_RANK = {"page": 3, "feed-content": 2, "feed-summary": 1, "title": 0}


def _same(
    fp: Fingerprint, known: KnownArticle, reason: str, similarity: float | None = None
) -> DedupDecision:
    """The article is one already stored (``known``): nothing new to store."""
    extra = {} if similarity is None else {"similarity": similarity}
    return DedupDecision(
        "same",
        fp,
        article_id=known.article_id,
        story_id=known.story_id,
        matched_article=known.article_id,
        new_outlet=False,
        reasons=(reason,),
        **extra,
    )


class Deduplicator:
    """Decides, without writing, what an incoming article is relative to the store."""

    def __init__(self, state: DedupState, settings: DedupSettings | None = None) -> None:
        self.state = state
        self.settings = settings or DedupSettings()

    def sketch(self, article: Article, urls: Iterable[str | None] = ()) -> Fingerprint:
        return sketch(article, urls=urls, language=self.settings.language)

    def decide(
        self,
        article: Article,
        urls: Iterable[str | None] = (),
        fingerprint: Fingerprint | None = None,
    ) -> DedupDecision:
        st = self.state
        # 1. identity by URL, checked before the costly part of the fingerprint (MinHash,
        # story vector): an article already stored needs only its content hash
        keys = fingerprint.url_keys if fingerprint else url_keys(article, urls)
        known = st.dedup_known([url_hash(k) for k in keys])
        fp = fingerprint or sketch(
            article, urls=urls, language=self.settings.language, full=known is None
        )
        if known is not None:
            if known.content_hash == fp.content_hash:
                return _same(fp, known, "same URL", similarity=1.0)
            if _SOURCE_RANK.get(article.text_source, 0) < _SOURCE_RANK.get(known.text_source, 0):
                return _same(fp, known, "same URL; poorer text than the stored one")
            if fingerprint is None:
                fp = self.sketch(article, urls)  # a revision: stored with its full sketch
            return DedupDecision(
                "revision",
                fp,
                article_id=known.article_id,
                story_id=known.story_id,
                matched_article=known.article_id,
                revision=known.revision + 1,
                new_outlet=False,
                reasons=("same URL, changed text",),
            )
        # 2. identical text
        if fp.n_words:
            for k in st.dedup_by_hash(fp.content_hash):
                if k.site == fp.site:
                    return _same(fp, k, "same text on the same site", similarity=1.0)
        # 3. near-duplicates by LSH
        best: tuple[float, StoredSketch] | None = None
        if fp.minhash:
            ids = st.dedup_band_candidates(fp.bands, limit=50)
            for s in map(_stored, st.dedup_sketches(ids)):
                j = jaccard(fp.minhash, s.minhash)
                if best is None or j > best[0]:
                    best = (j, s)
            if best is not None and best[0] >= self.settings.near_duplicate:
                j, s = best
                root = s.duplicate_of or s.article_id
                return DedupDecision(
                    "near-duplicate",
                    fp,
                    duplicate_of=root,
                    story_id=s.story_id,
                    similarity=j,
                    matched_article=s.article_id,
                    new_outlet=self._new_outlet(s.story_id, fp.site),
                    reasons=(f"{j:.2f} of the text shared",),
                )
        # 4. stories by term vectors within the window
        t = int(fp.when.timestamp())
        w = int(self.settings.story_window)
        enough = len(fp.terms) >= MIN_STORY_TERMS
        ids = st.dedup_term_candidates(fp.key_terms, t - w, t + w, PER_KEY) if enough else []
        if ids:
            top = [i for i, _ in Counter(ids).most_common(MAX_STORY_CANDIDATES)]
            weight = dict(fp.terms).get
            scored = [(s.story_score(weight), s) for s in map(_stored, st.dedup_sketches(top))]
            scored = [
                x for x in scored if x[1].story_id is not None and x[1].n_terms >= MIN_STORY_TERMS
            ]
            if scored:
                c, s = self._best_story(scored)
                if c >= self.settings.story:
                    return DedupDecision(
                        "story",
                        fp,
                        story_id=s.story_id,
                        similarity=c,
                        matched_article=s.article_id,
                        new_outlet=self._new_outlet(s.story_id, fp.site),
                        reasons=(f"similar report (cosine {c:.2f})",),
                    )
        return DedupDecision("new", fp, reasons=("nothing similar",))

    def _best_story(self, scored: list[tuple[float, StoredSketch]]) -> tuple[float, StoredSketch]:
        """The story whose retrieved articles are on average the most similar (average link:
        one bridging article cannot merge two stories, as it could with the best single
        article); with it, its most similar article."""
        by_story: dict[int, list[tuple[float, StoredSketch]]] = {}
        for c, s in scored:
            by_story.setdefault(s.story_id or 0, []).append((c, s))
        best: tuple[float, StoredSketch] | None = None
        for members in by_story.values():
            members.sort(key=lambda x: (-x[0], x[1].article_id))
            score = sum(c for c, _ in members) / len(members)
            if best is None or score > best[0]:
                best = (score, members[0][1])
        assert best is not None
        return best

    def _new_outlet(self, story_id: int | None, site: str) -> bool:
        if story_id is None:
            return True
        return site not in self.state.story_sites(story_id)


def window_start(now: datetime, window_seconds: float) -> datetime:
    """The oldest fetch time whose fingerprints are kept."""
    return now - timedelta(seconds=window_seconds)


def fingerprint_row(
    article_id: int,
    fp: Fingerprint,
    story_id: int | None,
    seen: datetime,
    duplicate_of: int | None = None,
) -> SketchRecord:
    """The stored form of a fingerprint (the store's dedup_sketches row)."""
    return SketchRecord(
        article_id=article_id,
        seen=int(seen.timestamp()),
        t=int(fp.when.timestamp()),
        story_id=story_id,
        duplicate_of=duplicate_of,
        site=fp.site,
        content_hash=fp.content_hash,
        minhash=fp.minhash,
        terms=pack_terms(fp.terms),
    )


# -- reading stories back (monitor stories) --------------------------------------------------


class StoryReader(Protocol):
    def stories(
        self, limit: int = 50, watch: str | None = None, *, matched: bool = False
    ) -> list[StoryRow]: ...

    def story(self, story_id: int) -> StoryRow | None: ...


def _story_json(row: StoryRow) -> dict[str, Any]:
    reports = [
        {
            "article_id": a.id,
            "title": a.title,
            "url": a.url,
            "outlet": a.outlet,
            "published": a.published,
            "fetched_at": a.fetched_at,
            "feeds": list(a.feeds),
            "copy_of": a.duplicate_of,
            "revision": a.revision,
        }
        for a in row.article_list
    ]
    return {
        "id": row.id,
        "title": story_title(row.title, reports),
        "articles": row.articles,
        "outlets": list(row.outlets),
        "watches": list(row.watches),
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "updated_at": row.updated_at,
        "reports": reports,
    }


_HASH_TITLE = re.compile(r"(urn:sha256:)?[0-9a-f]{24,}", re.I)


def story_title(title: str | None, reports: list[dict[str, Any]]) -> str:
    """A story's title for people: never an internal hash (an untitled entry once lent its
    guid); then a report's real title, else the opening words of the first report."""
    if title and not _HASH_TITLE.fullmatch(title.strip()):
        return title
    for r in reports:
        t = r.get("title") or ""
        if t and not _HASH_TITLE.fullmatch(t.strip()):
            return t
    outlets = sorted({r["outlet"] for r in reports if r.get("outlet")})
    return f"(untitled report from {', '.join(outlets) or 'an unknown outlet'})"


def stories_overview(
    store: StoryReader,
    watch: str | None = None,
    limit: int = 50,
    *,
    min_articles: int = 1,
    matched: bool = False,
) -> list[dict[str, Any]]:
    """Stories, latest activity first, as JSON-ready dicts (``matched``: only stories a
    watch matched)."""
    rows = store.stories(limit=limit, watch=watch, matched=matched)
    return [_story_json(r) for r in rows if r.articles >= min_articles]


def story_detail(store: StoryReader, story_id: int) -> dict[str, Any] | None:
    row = store.story(story_id)
    return _story_json(row) if row else None


def format_story(story: dict[str, Any], *, reports: bool = True) -> str:
    """A story as text: title, outlets, and each report (copies marked)."""
    n = story["articles"]
    outlets = ", ".join(story["outlets"])
    lines = [f"#{story['id']} {story['title']}"]
    lines.append(f"    {n} report{'s' if n != 1 else ''} from {outlets}")
    if story["watches"]:
        lines.append(f"    watches: {', '.join(story['watches'])}")
    if reports:
        for r in story["reports"]:
            mark = f"copy of #{r['copy_of']}" if r["copy_of"] else f"#{r['article_id']}"
            when = (r["published"] or r["fetched_at"] or "")[:10]
            rev = f", revision {r['revision']}" if r["revision"] and r["revision"] > 1 else ""
            lines.append(f"    - [{mark}] {r['title']} ({r['outlet']}, {when}{rev})")
            lines.append(f"      {r['url']}")
    return "\n".join(lines)


def format_stories(stories: list[dict[str, Any]]) -> str:
    if not stories:
        return "no stories yet (run 'monitor run --once' first)"
    return "\n\n".join(format_story(s, reports=s["articles"] > 1) for s in stories)
