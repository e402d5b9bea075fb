"""Relating a new claim record to stored claims: same proposition? confirms or contradicts?

Two records state the same proposition when their predicates share a stem
("congratulated", "congratulations", "congratulate" → ``congratul``) and their subject
and object are compatible: the same name up to spelling (Verstka / Vyorstka,
Zelenskyy / Zelensky: a transliteration fold, then at most one or two edits), or one
side is only a description ("the president-elect"), which lowers the confidence. An
empty subject matches nothing, an empty object only another empty one. Swapped or different names ("Trump congratulated Putin") are not the same.

Same polarity confirms; opposite polarity contradicts. A question or a conditional
("whether Putin would congratulate ...") never confirms or contradicts: it discusses.
The confidence is the proposition match times the strength of the record's modality
(a plain statement counts more than a report citing unnamed sources). The claims stage
uses this only to group reports into claims within a story; what alerts is decided by
the pair model (see :mod:`.track`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from monitor.claims.extract import ClaimRecord, Proposition
from monitor.text import fold, words

RelationKind = Literal["confirms", "contradicts", "discusses", "unrelated"]

MODALITY_STRENGTH = {"stated": 1.0, "planned": 0.9, "reported": 0.85}
DESCRIBED = 0.75  # a slot given by a description, against a name
BOTH_EMPTY = 0.9  # no object on either side (an intransitive act)
SAME_PROPOSITION = 0.5  # below this, two records are about different things

# Transliteration folds applied to names before comparing them (Russian/Ukrainian
# romanisations differ most in these places).
_TRANSLIT = [
    ("yo", "e"),
    ("jo", "e"),
    ("yy", "y"),
    ("iy", "y"),
    ("ij", "i"),
    ("kh", "h"),
    ("zh", "j"),
    ("ck", "k"),
    ("ph", "f"),
    ("w", "v"),
    ("ou", "u"),
    ("ya", "ia"),
]


@functools.lru_cache(maxsize=8192)
def name_form(key: str) -> str:
    """A spelling-insensitive form of a name key ("vyorstka" → "verstka")."""
    s = fold(key)
    for a, b in _TRANSLIT:
        s = s.replace(a, b)
    s = re.sub(r"(.)\1+", r"\1", s)  # doubled letters
    return s


def _edits(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or limit + 1 once it exceeds limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


@functools.lru_cache(maxsize=16384)
def name_similarity(a: str, b: str) -> float:
    """1.0 for the same name, 0.85-0.9 for a spelling variant, 0.0 for different names."""
    if not a or not b:
        return 0.0
    if fold(a) == fold(b):
        return 1.0
    fa, fb = name_form(a), name_form(b)
    if fa == fb:
        return 0.9
    n = min(len(fa), len(fb))
    if n >= 5 and _edits(fa, fb, 1) <= 1:
        return 0.85
    if n >= 8 and _edits(fa, fb, 2) <= 2:
        return 0.8
    return 0.0


def _slot(a_key: str, a_named: bool, b_key: str, b_named: bool) -> float:
    if a_named and b_named:
        return name_similarity(a_key, b_key)
    if not a_key and not b_key:
        return BOTH_EMPTY
    if not a_key or not b_key:
        return 0.0  # an empty slot matches nothing but another empty one
    if not a_named and not b_named and a_key and b_key:
        return 1.0 if a_key == b_key else DESCRIBED
    return DESCRIBED


def proposition_match(p: Proposition, q: Proposition) -> float:
    """How surely two propositions are the same one (0: different)."""
    if not p.predicate_key or p.predicate_key != q.predicate_key:
        return 0.0
    if not p.subject_key or not q.subject_key:
        return 0.0  # "it was announced", "officials said": no subject, no match
    s = _slot(p.subject_key, p.subject_named, q.subject_key, q.subject_named)
    o = _slot(p.object_key, p.object_named, q.object_key, q.object_named)
    score = s * o
    return round(score, 4) if score >= SAME_PROPOSITION else 0.0


def sources_overlap(a: Iterable[str], b: Iterable[str]) -> bool:
    """Do two lists of source keys name the same source (Verstka / Vyorstka)?"""
    bs = list(b)
    return any(name_similarity(x, y) > 0 for x in a for y in bs)


def _shingles(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + 3]) for i in range(max(1, len(w) - 2))}


def is_copy(quote: str, earlier: Iterable[str], threshold: float = 0.9) -> bool:
    """Is the quote a verbatim (or near-verbatim) re-run of an earlier report's quote?"""
    mine = _shingles(quote)
    if not mine:
        return False
    for other in earlier:
        theirs = _shingles(other)
        if theirs and len(mine & theirs) / len(mine | theirs) >= threshold:
            return True
    return False


@dataclass
class StoredClaim:
    """A tracked claim as the relating step sees it (built from the store's rows)."""

    id: int
    watch: str
    origin: str  # "article" or "config"
    statement: str
    proposition: Proposition
    polarity: str
    modality: str
    first_source: str | None = None
    first_outlet: str | None = None
    first_url: str | None = None
    first_title: str | None = None
    first_published: str | None = None
    first_article_id: int | None = None
    source_keys: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    articles: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Relation:
    kind: RelationKind
    confidence: float
    same_source: bool = False  # the record's source already stands behind the claim


def relate(record: ClaimRecord, claim: StoredClaim) -> Relation:
    """How a new record relates to a stored claim."""
    m = proposition_match(record.proposition, claim.proposition)
    if m == 0.0:
        return Relation("unrelated", 0.0)
    keys = record.attribution.keys if record.attribution else ()
    same = bool(keys) and sources_overlap(keys, claim.source_keys)
    if not record.assertive:
        return Relation("discusses", m, same)
    conf = round(m * MODALITY_STRENGTH.get(record.modality, 0.8), 4)
    kind: RelationKind = "confirms" if record.polarity == claim.polarity else "contradicts"
    return Relation(kind, conf, same)


def best_match(
    record: ClaimRecord, claims: Sequence[StoredClaim], kind: RelationKind = "confirms"
) -> tuple[StoredClaim, Relation] | None:
    """The stored claim this record most surely relates to in this way."""
    best: tuple[StoredClaim, Relation] | None = None
    for c in claims:
        r = relate(record, c)
        if r.kind == kind and (best is None or r.confidence > best[1].confidence):
            best = (c, r)
    return best


__all__ = [
    "Relation",
    "RelationKind",
    "StoredClaim",
    "best_match",
    "is_copy",
    "name_form",
    "name_similarity",
    "proposition_match",
    "relate",
    "sources_overlap",
]
