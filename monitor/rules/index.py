"""Index rules by the terms they require, so an article is checked against few rules.

The idea is Lucene Monitor's "presearcher" (also the Elasticsearch percolator): from every
rule take a set of keys — stems, exact words, prefixes — such that *the rule can only
match an article containing at least one of them*. For ``Putin AND congratulat*`` one
key is enough (the stem ``putin``); for ``(Putin OR Kremlin) AND sanction*`` it is the
cheaper side, {``putin``, ``kremlin``} or {prefix ``sanction``}. An article then looks up
its own distinct words and stems in the key table and evaluates only the rules found.

Negated parts contribute nothing, and :func:`~monitor.rules.compile_rule` refuses rules
that could match by negation alone, so every rule has a key set.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping

from monitor.lexicon import STOPWORDS_EN
from monitor.models import Match
from monitor.text import tokenize

from .document import Document, PreparedDocument, as_prepared
from .match import Rule, build_match, word_tests
from .syntax import And, Near, Node, Not, Or, Sent, Term

Key = tuple[str, ...]  # ("s", lang, stem) | ("w", word) | ("p", prefix)

# Very frequent words make poor keys (they would select the rule for almost every
# article), so a rule is indexed under a rarer term when it has one.
_COMMON = STOPWORDS_EN | frozenset(["first", "last", "people", "three", "time"])


# Fields whose few values are shared by many articles (a site, a feed, a tag) make poor keys.
_FIELD_COST = {"source": 25.0, "url": 25.0, "feed": 25.0, "tag": 25.0, "author": 3.0}


def key_cost(key: Key, *, capitalised: bool = False, field: str | None = None) -> float:
    """A guess at how often a key occurs in articles (lower is rarer, so better).

    Short words are more common than long ones; words written with a capital in the rule
    are usually names, which are rarer than ordinary words of the same length.
    """
    text = key[-1]
    n = max(1, len(text))
    cost = 1.0 + 3.0 / n
    if text in _COMMON:
        cost *= 40
    if key[0] == "p":
        cost *= 1.0 + 8.0 / n
    if capitalised:
        cost *= 0.5
    return cost * _FIELD_COST.get(field or "", 1.0)


def _term_keys(term: Term, language: str) -> tuple[frozenset[Key], float]:
    surfaces = [term.source[t.start : t.end] for t in tokenize(term.source)]
    if len(surfaces) != len(term.words):
        surfaces = [w.text for w in term.words]
    best: tuple[Key, float] | None = None
    for wt, surface in zip(word_tests(term, language), surfaces, strict=True):
        if wt.kind == "stem":
            k: Key = ("s", wt.lang, wt.key)
        elif wt.kind == "word":
            k = ("w", wt.key)
        else:
            k = ("p", wt.key)
        cost = key_cost(k, capitalised=surface[:1].isupper(), field=term.field)
        if best is None or cost < best[1]:
            best = (k, cost)
    assert best is not None
    return frozenset([best[0]]), best[1]


def required_keys(node: Node, language: str) -> frozenset[Key] | None:
    """Keys of which any match must contain at least one; None when there is no such set."""
    got = _required(node, language, False)
    return None if got is None else got[0]


def index_keys(node: Node, language: str) -> tuple[frozenset[Key] | None, frozenset[Key] | None]:
    """The rule's required keys (as :func:`required_keys`) and a second key set any match
    must also hit: that of another conjunct than the one chosen (the next rarest side of a
    top-level AND, NEAR or SENT), or None when there is no second required part."""
    if isinstance(node, Near | Sent):
        children: tuple[Node, ...] = (node.left, node.right)
    elif isinstance(node, And):
        children = node.children
    else:
        return required_keys(node, language), None
    options = [s for s in (_required(c, language, False) for c in children) if s is not None]
    if not options:
        return None, None
    options.sort(key=lambda s: s[1])
    return options[0][0], options[1][0] if len(options) > 1 else None


def _required(node: Node, language: str, negated: bool) -> tuple[frozenset[Key], float] | None:
    if isinstance(node, Term):
        return None if negated else _term_keys(node, language)
    if isinstance(node, Not):
        return _required(node.child, language, not negated)
    if isinstance(node, Near | Sent):
        if negated:
            return None
        children: tuple[Node, ...] = (node.left, node.right)
        conjunction = True
    else:
        assert isinstance(node, And | Or)
        children = node.children
        conjunction = isinstance(node, And) != negated
    subs = [_required(c, language, negated) for c in children]
    if conjunction:  # every child is required: one child's keys suffice, take the rarest
        options = [s for s in subs if s is not None]
        return min(options, key=lambda s: s[1]) if options else None
    if any(s is None for s in subs):  # a disjunction is only as required as all its sides
        return None
    keys = frozenset().union(*(s[0] for s in subs if s is not None))
    return keys, sum(s[1] for s in subs if s is not None)


_KeyPair = tuple[frozenset[Key] | None, frozenset[Key] | None]
_KEYS: weakref.WeakKeyDictionary[Rule, _KeyPair] = weakref.WeakKeyDictionary()


def _rule_keys(rule: Rule) -> _KeyPair:
    """A compiled rule's index keys and second keys, worked out once per rule (compiled
    rules are shared between config loads, so a reload re-indexes unchanged rules from here)."""
    try:
        return _KEYS[rule]
    except KeyError:
        got = _KEYS[rule] = index_keys(rule.tree, rule.language)
        return got


class RuleSet:
    """Many compiled rules, indexed by required terms. Keys of ``rules`` are watch names."""

    def __init__(self, rules: Mapping[str, Rule]) -> None:
        self.names: list[str] = list(rules)
        self.rules: list[Rule] = [rules[n] for n in self.names]
        self.languages: tuple[str, ...] = tuple(sorted({r.language for r in self.rules})) or ("en",)
        self._fns = [r._bool for r in self.rules]  # the compiled closures, in rule order
        self._stems: dict[str, dict[str, list[int]]] = {}
        self._words: dict[str, list[int]] = {}
        prefixes: dict[str, list[int]] = {}
        self._always: list[int] = []  # rules without a key set (none, given compile_rule)
        self.keys: list[frozenset[Key] | None] = []
        # per rule: the second key set (kind, lang, key) it must also hit, or None
        self._second: list[tuple[tuple[str, str, str], ...] | None] = []
        for i, rule in enumerate(self.rules):
            keys, second = _rule_keys(rule)
            self.keys.append(keys)
            self._second.append(
                None
                if not second
                else tuple((k[0], k[1], k[2]) if k[0] == "s" else (k[0], "", k[1]) for k in second)
            )
            if not keys:
                self._always.append(i)
                continue
            for k in keys:
                if k[0] == "s":
                    self._stems.setdefault(k[1], {}).setdefault(k[2], []).append(i)
                elif k[0] == "w":
                    self._words.setdefault(k[1], []).append(i)
                else:
                    prefixes.setdefault(k[1], []).append(i)
        # prefixes bucketed by their first two letters (prefixes are at least two long)
        self._prefixes: dict[str, list[tuple[str, list[int]]]] = {}
        for p, ids in prefixes.items():
            self._prefixes.setdefault(p[:2], []).append((p, ids))

    def __len__(self) -> int:
        return len(self.rules)

    def prepare(self, doc: Document | PreparedDocument) -> PreparedDocument:
        return as_prepared(doc, self.languages)

    def candidates(self, doc: Document | PreparedDocument) -> list[int]:
        """Indexes of the rules that could match the document."""
        d = self.prepare(doc)
        found: set[int] = set(self._always)
        words = d.word_bits.keys()
        table = self._words
        for w in table.keys() & words:
            found.update(table[w])
        for lang, stems in self._stems.items():
            for s in stems.keys() & d.stem_bits[lang].keys():
                found.update(stems[s])
        if self._prefixes:
            buckets = self._prefixes
            for w in words:
                bucket = buckets.get(w[:2])
                if bucket is not None:
                    for p, ids in bucket:
                        if w.startswith(p):
                            found.update(ids)
        # a rule whose second required part is absent cannot match: dropping it here costs
        # a dict look-up, where calling its closure costs several
        second = self._second
        stem_bits, word_bits = d.stem_bits, d.word_bits
        out = []
        for i in sorted(found):
            sec = second[i]
            if sec is not None:
                for kind, lang, key in sec:
                    if kind == "s":
                        if key in stem_bits[lang]:
                            break
                    elif kind == "w":
                        if key in word_bits:
                            break
                    elif d.has_prefix(key, -1):
                        break
                else:
                    continue
            out.append(i)
        return out

    def match(self, doc: Document | PreparedDocument) -> list[Match]:
        """Matches of the rules that could match (found through the index), in rule order."""
        d = self.prepare(doc)
        rules, names, fns = self.rules, self.names, self._fns
        return [build_match(names[i], rules[i], d) for i in self.candidates(d) if fns[i](d)]

    def match_naive(self, doc: Document | PreparedDocument) -> list[Match]:
        """Every rule evaluated in turn, without the index (reference and benchmark)."""
        d = self.prepare(doc)
        rules, names, fns = self.rules, self.names, self._fns
        return [build_match(names[i], rules[i], d) for i in range(len(fns)) if fns[i](d)]

    def matching_names(self, doc: Document | PreparedDocument, *, naive: bool = False) -> list[str]:
        """Just the names of the matching watches (no hits or snippets)."""
        d = self.prepare(doc)
        fns = self._fns
        ids: Iterable[int] = range(len(fns)) if naive else self.candidates(d)
        return [self.names[i] for i in ids if fns[i](d)]
