"""Compiled rules: evaluate a rule against a prepared document, and explain the result.

A rule is compiled once into a tree of small closures. The boolean closures only ask
"is this stem / word / prefix in these fields?" (one set look-up in a set the document
builds once for all rules); positions are computed only for phrases, NEAR/ONEAR and SENT,
and character offsets only when a rule matched and its hits and snippets are reported.
Term positions, hits and marked snippet sentences are kept on the document
(``PreparedDocument.memo``), so rules that share a term or a sentence share the work.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from monitor.models import Hit, Match
from monitor.text import get_stemmer, stemmer_languages

from .document import Document, PreparedDocument, PreparedField, as_prepared, field_bits
from .syntax import (
    And,
    Near,
    Node,
    Not,
    Or,
    RuleError,
    Sent,
    Term,
    Word,
    iter_terms,
    node_fields,
    parse,
    to_text,
)

# A span of positions in one field and the term occurrences it is made of.
Leaf = tuple[Term, int, int]
Span = tuple[int, int, tuple[Leaf, ...]]
BoolFn = Callable[[PreparedDocument], bool]
SpanFn = Callable[[PreparedDocument, str], list[Span]]

MAX_SPANS = 2000  # per field and node; a NEAR of two very common words stays bounded


# --------------------------------------------------------------------------- terms


class WordTest(NamedTuple):
    """How one word of a term is looked up: ("stem", key, lang) / ("word", key) / ("prefix", key)."""

    kind: str
    key: str
    lang: str = ""

    def positions(self, f: PreparedField) -> list[int]:
        if self.kind == "stem":
            return f.stem_positions(self.lang, self.key)
        if self.kind == "word":
            return f.word_positions(self.key)
        return f.prefix_positions(self.key)


def word_tests(term: Term, language: str) -> tuple[WordTest, ...]:
    stemming = language in stemmer_languages()
    out = []
    for w in term.words:
        if w.prefix:
            out.append(WordTest("prefix", w.text))
        elif term.exact or not stemming:
            out.append(WordTest("word", w.text))
        else:
            out.append(WordTest("stem", get_stemmer(language).stem(w.text), language))
    return tuple(out)


def term_starts(d: PreparedDocument, tests: tuple[WordTest, ...], f: str) -> list[int]:
    """Positions where a term (its word tests in a row) starts in a field; once per article."""
    key = (tests, f)
    memo = d.memo
    got = memo.get(key)
    if got is None:
        fd = d.fields[f]
        got = tests[0].positions(fd)
        if got and len(tests) > 1:
            got = _phrase_starts(d, fd, tests, got)
        memo[key] = got
    return got  # type: ignore[return-value]


def _phrase_starts(
    d: PreparedDocument, fd: PreparedField, tests: tuple[WordTest, ...], first: list[int]
) -> list[int]:
    kinds = {(t.kind, t.lang) for t in tests}
    if len(kinds) == 1 and tests[0].kind != "prefix":
        # all stems (or all exact words): the phrase is a substring of the field's codes
        if tests[0].kind == "stem":
            code, codes = d.stem_code(tests[0].lang), fd.stem_codes(tests[0].lang)
        else:
            code, codes = d.word_code(), fd.word_codes()
        if not all(t.key in code for t in tests):
            return []
        got = fd.find_sequence(codes, "".join([code[t.key] for t in tests]))
        if got is not None:
            return got
    rest = []
    for t in tests[1:]:
        ps = t.positions(fd)
        if not ps:
            return []
        rest.append(set(ps))
    return [p for p in first if all((p + i + 1) in s for i, s in enumerate(rest))]


def _term_spans(term: Term, tests: tuple[WordTest, ...], d: PreparedDocument, f: str) -> list[Span]:
    n = len(tests) - 1
    return [(p, p + n, ((term, p, p + n),)) for p in term_starts(d, tests, f)]


# --------------------------------------------------------------------------- compiling


class _Compiler:
    def __init__(self, language: str) -> None:
        self.language = language
        self.tests: dict[int, tuple[WordTest, ...]] = {}
        self._bools: dict[int, BoolFn] = {}
        self._spans: dict[int, SpanFn] = {}
        self.labels: dict[int, str] = {}  # id(term) → the term as shown in hits
        self.positive_labels: tuple[str, ...] = ()  # labels of the non-negated terms, once each

    def term_tests(self, t: Term) -> tuple[WordTest, ...]:
        got = self.tests.get(id(t))
        if got is None:
            got = self.tests[id(t)] = word_tests(t, self.language)
        return got

    # boolean closures

    def boolean(self, node: Node) -> BoolFn:
        fn = self._bools.get(id(node))
        if fn is None:
            fn = self._bools[id(node)] = self._boolean(node)
        return fn

    def _boolean(self, node: Node) -> BoolFn:
        if isinstance(node, Term):
            return self.term_bool(node)
        if isinstance(node, Not):
            c = self.boolean(node.child)
            return lambda d: not c(d)
        if isinstance(node, And):
            cs = [self.boolean(c) for c in sorted(node.children, key=_cost)]
            if len(cs) == 2:
                a, b = cs
                return lambda d: a(d) and b(d)

            def all_of(d: PreparedDocument) -> bool:
                for c in cs:  # noqa: SIM110 - a loop is faster than any() here
                    if not c(d):
                        return False
                return True

            return all_of
        if isinstance(node, Or):
            cs = [self.boolean(c) for c in sorted(node.children, key=_cost)]
            if len(cs) == 2:
                a, b = cs
                return lambda d: a(d) or b(d)

            def any_of(d: PreparedDocument) -> bool:
                for c in cs:  # noqa: SIM110 - a loop is faster than any() here
                    if c(d):
                        return True
                return False

            return any_of
        # NEAR / SENT: both sides present (cheap), then positions
        left, right = self.boolean(node.left), self.boolean(node.right)
        fields = sorted(node_fields(node))
        if isinstance(node.left, Term) and isinstance(node.right, Term):
            # the common case, two words or phrases: search the sorted positions directly
            exists = self._pair_exists(node, node.left, node.right)
        else:
            spans = self.spans(node)

            def exists(d: PreparedDocument, f: str) -> bool:
                return bool(spans(d, f, True))  # type: ignore[call-arg]

        def positional(d: PreparedDocument) -> bool:
            if not (left(d) and right(d)):
                return False
            for f in fields:  # noqa: SIM110
                if exists(d, f):
                    return True
            return False

        return positional

    def _pair_exists(
        self, node: Near | Sent, a: Term, b: Term
    ) -> Callable[[PreparedDocument, str], bool]:
        """Whether two terms occur near each other (NEAR/ONEAR) or in one sentence (SENT) in
        a field: the same answer as the spans of the node, without building them."""
        at, bt = self.term_tests(a), self.term_tests(b)
        na, nb = len(at), len(bt)
        both = set(a.fields) & set(b.fields)
        if isinstance(node, Near):
            k, ordered = node.distance, node.ordered

            def near(d: PreparedDocument, f: str) -> bool:
                if f not in both:
                    return False
                starts_a = term_starts(d, at, f)
                starts_b = term_starts(d, bt, f) if starts_a else None
                if not starts_b:
                    return False
                m = len(starts_b)
                for a0 in starts_a:
                    after = a0 + na  # b starts within k words after a ends
                    i = bisect_left(starts_b, after)
                    if i < m and starts_b[i] <= after + k:
                        return True
                    if not ordered:  # b ends within k words before a starts
                        i = bisect_left(starts_b, a0 - k - nb)
                        if i < m and starts_b[i] <= a0 - nb:
                            return True
                return False

            return near

        def same_sentence(d: PreparedDocument, f: str) -> bool:
            if f not in both:
                return False
            starts_a = term_starts(d, at, f)
            starts_b = term_starts(d, bt, f) if starts_a else None
            if not starts_b:
                return False
            fd = d.fields[f]
            if not fd.has_sentences():
                return bool(self.spans(node)(d, f, True))  # type: ignore[call-arg]
            sentence_of = fd.sentence_of
            by_sentence: dict[int, list[int]] = {}
            for a0 in starts_a:
                s = sentence_of(a0)
                if na == 1 or sentence_of(a0 + na - 1) == s:
                    by_sentence.setdefault(s, []).append(a0)
            for b0 in starts_b:
                s = sentence_of(b0)
                if s in by_sentence and (nb == 1 or sentence_of(b0 + nb - 1) == s):
                    for a0 in by_sentence[s]:
                        if a0 + na <= b0 or b0 + nb <= a0:  # two different stretches
                            return True
            return False

        return same_sentence

    def term_bool(self, t: Term) -> BoolFn:
        tests = self.term_tests(t)
        bits = field_bits(t.fields)
        checks = [self._word_bool(wt, bits) for wt in tests]
        if len(tests) == 1:
            return checks[0]
        fields = t.fields

        def phrase(d: PreparedDocument) -> bool:
            for c in checks:  # every word somewhere in the fields (dict look-ups) ...
                if not c(d):
                    return False
            for f in fields:  # noqa: SIM110 - ... then in a row in one field
                if term_starts(d, tests, f):
                    return True
            return False

        return phrase

    @staticmethod
    def _word_bool(wt: WordTest, bits: int) -> BoolFn:
        """Whether a word is in any of some fields: one dict look-up and a bit mask (the
        closures return the masked bits; callers only test their truth)."""
        key = wt.key
        if wt.kind == "stem":
            lang = wt.lang
            return lambda d: d.stem_bits[lang].get(key, 0) & bits  # type: ignore[return-value]
        if wt.kind == "word":
            return lambda d: d.word_bits.get(key, 0) & bits  # type: ignore[return-value]
        return lambda d: d.has_prefix(key, bits)

    # span closures

    def spans(self, node: Node) -> SpanFn:
        fn = self._spans.get(id(node))
        if fn is None:
            fn = self._spans[id(node)] = self._span_fn(node)
        return fn

    def _span_fn(self, node: Node) -> SpanFn:
        if isinstance(node, Term):
            tests = self.term_tests(node)
            fields = set(node.fields)

            def term_spans(d: PreparedDocument, f: str) -> list[Span]:
                if f not in fields:
                    return []
                return _term_spans(node, tests, d, f)

            return term_spans
        if isinstance(node, Or):
            cs = [self.spans(c) for c in node.children]

            def or_spans(d: PreparedDocument, f: str) -> list[Span]:
                out: list[Span] = []
                for c in cs:  # noqa: SIM110 - a loop is faster than any() here
                    out.extend(c(d, f))
                return out

            return or_spans
        if isinstance(node, Near):
            return _near(self.spans(node.left), self.spans(node.right), node.distance, node.ordered)
        if isinstance(node, Sent):
            return _same_sentence(self.spans(node.left), self.spans(node.right))
        raise TypeError(f"{type(node).__name__} has no positions")  # pragma: no cover


def _near(left: SpanFn, right: SpanFn, k: int, ordered: bool) -> SpanFn:
    def near(d: PreparedDocument, f: str, first: bool = False) -> list[Span]:
        a_spans = left(d, f)
        if not a_spans:
            return []
        b_spans = right(d, f)
        out: list[Span] = []
        for a0, a1, al in a_spans:
            for b0, b1, bl in b_spans:
                if a1 < b0:
                    gap = b0 - a1 - 1
                elif b1 < a0 and not ordered:
                    gap = a0 - b1 - 1
                else:
                    continue
                if gap <= k:
                    out.append((min(a0, b0), max(a1, b1), al + bl))
                    if first or len(out) >= MAX_SPANS:
                        return out
        return out

    return near


LOCAL_SENTENCE_CHECKS = 4
LOCAL_SENTENCE_WORDS = 40


def _same_sentence(left: SpanFn, right: SpanFn) -> SpanFn:
    def sent(d: PreparedDocument, f: str, first: bool = False) -> list[Span]:
        a_spans = left(d, f)
        if not a_spans:
            return []
        b_spans = right(d, f)
        if not b_spans:
            return []
        fd = d.fields[f]
        pairs = [
            (min(a0, b0), max(a1, b1), al + bl)
            for a0, a1, al in a_spans
            for b0, b1, bl in b_spans
            if a1 < b0 or b1 < a0
        ]
        if first:
            pairs.sort(key=lambda p: p[1] - p[0])  # nearest pairs first
        out: list[Span] = []
        local = 0 if fd.has_sentences() else LOCAL_SENTENCE_CHECKS
        for p0, p1, leaves in pairs:
            # a near pair: split only the stretch between them; else the whole field once
            if local and p1 - p0 <= LOCAL_SENTENCE_WORDS:
                local -= 1
                same = fd.same_sentence_local(p0, p1)
            else:
                same = fd.sentence_of(p0) == fd.sentence_of(p1)
            if same:
                out.append((p0, p1, leaves))
                if first or len(out) >= MAX_SPANS:
                    return out
        return out

    return sent


def _cost(node: Node) -> int:
    """Evaluation order inside AND/OR: cheap set look-ups first, positions last."""
    if isinstance(node, Term):
        return 0 if len(node.words) == 1 and not node.words[0].prefix else 1
    if isinstance(node, Not):
        return 2 + _cost(node.child)
    if isinstance(node, And | Or):
        return 2 + max(_cost(c) for c in node.children)
    return 5


# --------------------------------------------------------------------------- rules


@dataclass(eq=False)
class Rule:
    """A compiled watch rule. Build with :func:`compile_rule`."""

    text: str
    language: str
    tree: Node
    _bool: BoolFn = field(repr=False)
    _compiler: _Compiler = field(repr=False)

    def __str__(self) -> str:
        return to_text(self.tree)

    @property
    def terms(self) -> list[tuple[Term, bool]]:
        """Every term of the rule and whether it is negated."""
        return iter_terms(self.tree)

    def matches(self, doc: PreparedDocument | Document) -> bool:
        """True when the rule matches the document."""
        return bool(self._bool(as_prepared(doc, (self.language,))))

    def hits(self, doc: PreparedDocument | Document) -> list[Hit]:
        """Where the positive terms that make the rule true occur (call on a match)."""
        d = as_prepared(doc, (self.language,))
        return _hits(self, d)

    def match(self, doc: PreparedDocument | Document, watch: str = "") -> Match | None:
        """The :class:`Match` (with hits and snippets), or None."""
        d = as_prepared(doc, (self.language,))
        if not self._bool(d):
            return None
        return build_match(watch, self, d)


def compile_rule(text: str, *, language: str = "en") -> Rule:
    """Parse and compile a watch rule; raises :class:`RuleError` for a rule that cannot work.

    Compiled rules are kept (up to 50,000, least recently used dropped first) and shared:
    a compiled rule is never changed, and a config reload then compiles only the rules
    that are new or edited (lark takes ~0.25 ms to parse one, so 10,000 take seconds).
    """
    if not isinstance(text, str):
        raise TypeError("a rule is a string")
    if not isinstance(language, str):
        raise TypeError("a language is a string")
    return _compile_cached(text, language)


@functools.lru_cache(maxsize=50_000)
def _compile_cached(text: str, language: str) -> Rule:
    if not re.fullmatch(r"[a-z]{2,3}", language):
        raise RuleError(
            f"unknown language {language!r}: use a two-letter code such as en, de, fr",
            text,
            1,
            "a language code",
        )
    tree = parse(text)
    culprit = _negation_only(tree)
    if culprit is not None:
        raise RuleError(
            "this rule can match by negation alone: it would match every article that lacks "
            "these words. Add a term that must appear, e.g. 'Putin NOT Trump' instead of "
            "'NOT Trump'",
            text,
            culprit.pos + 1,
            "a term that must appear",
        )
    compiler = _Compiler(language)
    fn = compiler.boolean(tree)
    terms = iter_terms(tree)
    compiler.labels = {id(t): _label(t) for t, _ in terms}
    compiler.positive_labels = tuple(dict.fromkeys(_label(t) for t, neg in terms if not neg))
    return Rule(text, language, tree, fn, compiler)


def _true_when_empty(node: Node) -> bool:
    """The rule's value on a document that contains none of its terms."""
    if isinstance(node, Not):
        return not _true_when_empty(node.child)
    if isinstance(node, And):
        return all(_true_when_empty(c) for c in node.children)
    if isinstance(node, Or):
        return any(_true_when_empty(c) for c in node.children)
    return False


def _negation_only(node: Node) -> Node | None:
    """The NOT that lets the rule match a document without any of its terms, or None."""
    if not _true_when_empty(node):
        return None
    if isinstance(node, Not):
        return node
    if isinstance(node, And | Or):
        for c in node.children:
            found = _negation_only(c)
            if found is not None:
                return found
    return node  # pragma: no cover


# --------------------------------------------------------------------------- hits


HitEntry = tuple[tuple[int, str, int, int], Hit]  # (sort key, hit)


def _hit(d: PreparedDocument, label: str, f: str, p0: int, p1: int) -> HitEntry:
    """The hit of a term at positions p0..p1 of a field, made once per article."""
    key = (label, f, p0, p1)
    got = d.memo.get(key)
    if got is None:
        fd = d.fields[f]
        s, e = fd.span(p0, p1)
        hit = Hit(term=label, word=fd.text[s:e], field=f, start=s, end=e)
        got = d.memo[key] = ((_FIELD_ORDER.get(f, 2), f, p0, p1), hit)
    return got  # type: ignore[return-value]


def _term_hits(
    d: PreparedDocument, label: str, tests: tuple[WordTest, ...], f: str
) -> list[HitEntry]:
    """Every hit of a term in a field; once per article, shared by every rule with the term."""
    key = ("hits", label, tests, f)
    got = d.memo.get(key)
    if got is None:
        n = len(tests) - 1
        got = d.memo[key] = [_hit(d, label, f, p, p + n) for p in term_starts(d, tests, f)]
    return got  # type: ignore[return-value]


def _hits(rule: Rule, d: PreparedDocument) -> list[Hit]:
    """Where the positive terms that make the rule true occur: title first, then text, then
    the other fields; by position; each hit once."""
    entries: list[HitEntry] = []
    _walk_hits(rule.tree, True, rule._compiler, d, entries)
    entries.sort(key=_SORT_KEY)  # stable: hits at the same place keep the order found
    return list({id(h): h for _, h in entries}.values())


def _walk_hits(
    node: Node, positive: bool, comp: _Compiler, d: PreparedDocument, entries: list[HitEntry]
) -> None:
    """Collect the hits of a node. ``positive``: the node's truth helps the match (under a
    NOT the false parts do). A module-level function, not a closure calling itself, so no
    reference cycle keeps the document alive."""
    labels = comp.labels
    if isinstance(node, Term):
        if positive:
            tests = comp.term_tests(node)
            label = labels[id(node)]
            for f in node.fields:
                entries.extend(_term_hits(d, label, tests, f))
    elif isinstance(node, Not):
        _walk_hits(node.child, not positive, comp, d, entries)
    elif isinstance(node, And | Or):
        for c in node.children:
            if bool(comp.boolean(c)(d)) == positive:
                _walk_hits(c, positive, comp, d, entries)
    elif positive:
        fn = comp.spans(node)
        for f in sorted(node_fields(node)):
            for _, _, leaves in fn(d, f):
                for term, p0, p1 in leaves:
                    entries.append(_hit(d, labels[id(term)], f, p0, p1))


_SORT_KEY = itemgetter(0)
_FIELD_ORDER = {"title": 0, "text": 1}


def _label(term: Term) -> str:
    return (f"{term.field}:" if term.field else "") + (term.source or to_text(term))


def build_match(watch: str, rule: Rule, d: PreparedDocument) -> Match:
    hits = _hits(rule, d)
    hit_terms = {h.term for h in hits}
    terms = tuple(x for x in rule._compiler.positive_labels if x in hit_terms)
    return Match(watch=watch, terms=terms, hits=tuple(hits), snippets=tuple(snippets(d, hits)))


# --------------------------------------------------------------------------- snippets

SNIPPET_CHARS = 320


def snippets(d: PreparedDocument, hits: list[Hit], limit: int = 2) -> list[str]:
    """The best one or two sentences around the hits, hit words marked [[like this]]."""
    if not hits:
        return []
    fields = {h.field for h in hits}
    f = "text" if "text" in fields else ("title" if "title" in fields else hits[0].field)
    fd = d.fields[f]
    text = fd.text
    if f == "text":
        spans, starts = fd.sentences(), fd.sentence_starts()
    else:
        spans, starts = [(0, len(text))], [0]
    per: dict[int, list[Hit]] = {}
    for h in hits:
        if h.field == f:
            i = max(0, bisect_right(starts, h.start) - 1)
            got = per.get(i)
            if got is None:
                per[i] = [h]
            else:
                got.append(h)
    if len(per) > limit:
        ranked = sorted(per, key=lambda i: (-len({h.term for h in per[i]}), -len(per[i]), i))
        chosen = sorted(ranked[:limit])
    else:
        chosen = sorted(per)
    memo = d.memo
    out = []
    for i in chosen:
        marks = _marks(spans[i], per[i])
        key = ("snippet", f, i, marks)
        got = memo.get(key)
        if got is None:  # the same marked sentence is often wanted by several rules
            got = memo[key] = _mark(text, spans[i], marks)
        out.append(got)
    return out  # type: ignore[return-value]


def _marks(span: tuple[int, int], hits: list[Hit]) -> tuple[tuple[int, int], ...]:
    """The character ranges to mark in a sentence: the hits, overlapping ones merged."""
    a, b = span
    marks: list[tuple[int, int]] = []
    for h in sorted(hits, key=_START_END):
        s, e = max(a, h.start), min(b, h.end)
        if marks and s < marks[-1][1]:
            marks[-1] = (marks[-1][0], max(marks[-1][1], e))
        else:
            marks.append((s, e))
    return tuple(marks)


_START_END = attrgetter("start", "end")


def _mark(text: str, span: tuple[int, int], marks: tuple[tuple[int, int], ...]) -> str:
    a, b = span
    lo, hi = a, b
    if b - a > SNIPPET_CHARS:  # a very long sentence: keep the part around the hits
        first, last = marks[0][0], marks[-1][1]
        room = max(40, (SNIPPET_CHARS - (last - first)) // 2)
        lo = max(a, first - room)
        hi = min(b, last + room)
        lo = _word_edge(text, lo, a, -1)
        hi = _word_edge(text, hi, b, 1)
    out = ["…" if lo > a else ""]
    cur = lo
    for s, e in marks:
        if s < lo or e > hi:
            continue
        out.append(_unmarked(text[cur:s]))
        out.append("[[" + _unmarked(text[s:e]) + "]]")
        cur = e
    out.append(_unmarked(text[cur:hi]))
    out.append("…" if hi < b else "")
    return " ".join("".join(out).split())  # whitespace runs become one space


_BRACKETS = re.compile(r"\[(?=\[|$)|(?:^|(?<=\]))\]")


def _unmarked(s: str) -> str:
    """Article text with a WORD JOINER between doubled brackets, so a ``[[`` or ``]]`` the
    article itself contains is never read as a hit marker (and still reads the same)."""
    return _BRACKETS.sub(lambda m: m.group() + "\u2060" if m.group() == "[" else "\u2060]", s)


def _word_edge(text: str, i: int, limit: int, step: int) -> int:
    while i != limit and 0 < i < len(text) and not text[i - 1].isspace():
        i += step
    return i


# --------------------------------------------------------------------------- explain


@dataclass(frozen=True)
class TermReport:
    """One term of a rule: where it was found in the document (whether or not it counted)."""

    term: str
    fields: tuple[str, ...]
    negated: bool
    mode: str  # "stemmed", "exact", "prefix", "phrase", "exact phrase"
    found: tuple[tuple[str, str, int], ...]  # (field, word as written, count)

    @property
    def present(self) -> bool:
        return bool(self.found)

    @property
    def ok(self) -> bool:
        """Present for a positive term, absent for a negated one."""
        return self.present != self.negated


@dataclass(frozen=True)
class Explanation:
    """Why a rule did or did not match a document."""

    rule: str
    canonical: str
    language: str
    matched: bool
    terms: tuple[TermReport, ...]
    hits: tuple[Hit, ...]
    snippets: tuple[str, ...]
    tree: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "canonical": self.canonical,
            "language": self.language,
            "matched": self.matched,
            "terms": [
                {
                    "term": t.term,
                    "fields": list(t.fields),
                    "negated": t.negated,
                    "mode": t.mode,
                    "present": t.present,
                    "found": [{"field": f, "word": w, "count": n} for f, w, n in t.found],
                }
                for t in self.terms
            ],
            "hits": [
                {"term": h.term, "word": h.word, "field": h.field, "start": h.start, "end": h.end}
                for h in self.hits
            ],
            "snippets": list(self.snippets),
            "tree": self.tree,
        }

    def format(self) -> str:
        """Plain text for a terminal."""
        lines = [f"rule:    {self.rule}"]
        if self.canonical != self.rule:
            lines.append(f"read as: {self.canonical}")
        lines.append(f"result:  {'MATCH' if self.matched else 'no match'}")
        lines.append("")
        lines.append("terms:")
        width = max(len(t.term) for t in self.terms) if self.terms else 0
        for t in self.terms:
            mark = "✓" if t.ok else "✗"
            name = ("NOT " if t.negated else "") + t.term
            where = ", ".join(t.fields)
            if t.found:
                seen = "; ".join(
                    f"{f}: {w}" + (f" ×{n}" if n > 1 else "") for f, w, n in t.found[:8]
                )
                if len(t.found) > 8:
                    seen += f"; … {len(t.found) - 8} more"
            else:
                seen = f"not found in {where}"
            lines.append(f"  {mark} {name:<{width + 4}} [{t.mode}]  {seen}")
        lines.append("")
        lines.append("evaluation:")
        lines.extend(_format_tree(self.tree, "  "))
        if self.snippets:
            lines.append("")
            lines.append("snippets:")
            lines.extend(f"  {s}" for s in self.snippets)
        return "\n".join(lines)


def _format_tree(node: dict[str, Any], indent: str) -> list[str]:
    mark = "✓" if node["value"] else "✗"
    line = f"{indent}{mark} {node['label']}"
    out = [line]
    for c in node.get("children", []):
        out.extend(_format_tree(c, indent + "    "))
    return out


def explain(rule: Rule, doc: PreparedDocument | Document) -> Explanation:
    """Which terms were found where, whether the rule matched, and the best snippets."""
    d = as_prepared(doc, (rule.language,))
    comp = rule._compiler
    reports: list[TermReport] = []
    seen: set[tuple[Term, bool]] = set()
    for term, negated in rule.terms:
        if (term, negated) in seen:
            continue
        seen.add((term, negated))
        reports.append(_term_report(term, negated, comp, d))
    matched = bool(rule._bool(d))
    hits = _hits(rule, d) if matched else []
    return Explanation(
        rule=rule.text,
        canonical=str(rule),
        language=rule.language,
        matched=matched,
        terms=tuple(reports),
        hits=tuple(hits),
        snippets=tuple(snippets(d, hits)),
        tree=_tree_report(rule.tree, comp, d),
    )


def _mode(term: Term) -> str:
    if len(term.words) > 1:
        return "exact phrase" if term.exact else "phrase"
    if term.words[0].prefix:
        return "prefix"
    return "exact" if term.exact else "stemmed"


def _term_report(term: Term, negated: bool, comp: _Compiler, d: PreparedDocument) -> TermReport:
    counts: dict[tuple[str, str], int] = {}
    for f in term.fields:
        fd = d.fields[f]
        for p0, p1, _ in _term_spans(term, comp.term_tests(term), d, f):
            s, e = fd.span(p0, p1)
            key = (f, fd.text[s:e])
            counts[key] = counts.get(key, 0) + 1
    return TermReport(
        term=_label(term),
        fields=term.fields,
        negated=negated,
        mode=_mode(term),
        found=tuple((f, w, n) for (f, w), n in counts.items()),
    )


def _tree_report(node: Node, comp: _Compiler, d: PreparedDocument) -> dict[str, Any]:
    value = bool(comp.boolean(node)(d))
    if isinstance(node, Term):
        return {"label": _label(node), "value": value}
    if isinstance(node, Not):
        return {"label": "NOT", "value": value, "children": [_tree_report(node.child, comp, d)]}
    if isinstance(node, And | Or):
        return {
            "label": "AND" if isinstance(node, And) else "OR",
            "value": value,
            "children": [_tree_report(c, comp, d) for c in node.children],
        }
    if isinstance(node, Near):
        label = f"{'ONEAR' if node.ordered else 'NEAR'}/{node.distance}"
    else:
        label = "SENT (same sentence)"
    return {
        "label": label,
        "value": value,
        "children": [_tree_report(node.left, comp, d), _tree_report(node.right, comp, d)],
    }


__all__ = [
    "Explanation",
    "Rule",
    "TermReport",
    "Word",
    "build_match",
    "compile_rule",
    "explain",
    "snippets",
]
