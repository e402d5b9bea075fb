"""Property tests: printing round-trips, and the indexed matcher agrees with a plain evaluator.

The reference evaluator below is deliberately simple and independent of the compiled
matcher: it tokenises the document fields with monitor.text on every call, compares
words one by one, and finds sentences with split_sentences over the whole field.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.rules import Document, RuleError, RuleSet, compile_rule, parse, to_text
from monitor.rules.document import TAG_GAP
from monitor.rules.syntax import DEFAULT_FIELDS, And, Near, Node, Not, Or, Sent, Term, Word
from monitor.text import (
    _tokenize_re,
    fold,
    get_stemmer,
    split_sentences,
    stemmer_languages,
    tokenize,
    words,
)

# Words with inflections that share stems, accents, a possessive, and other scripts.
VOCAB = [
    "putin",
    "putin's",
    "congratulate",
    "congratulated",
    "congratulations",
    "plan",
    "plans",
    "no",
    "to",
    "trump",
    "peña",
    "pena",
    "zelensky",
    "kremlin",
    "путин",
    "поздравил",
    "αθήνα",
    "習",
    "近",
    "平",
    "19",
]
FIELD_NAMES = [None, "title", "text", "tag"]


# --------------------------------------------------------------------------- trees


@st.composite
def words_st(draw: st.DrawFn) -> tuple[Word, ...]:
    ws = draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3))
    out = []
    for w in ws:
        w = fold(w)
        cut = w[: draw(st.integers(2, max(2, len(w) - 1)))]
        if len(w) > 3 and draw(st.integers(0, 4)) == 0 and words(cut) == [cut]:
            out.append(Word(cut, prefix=True))
        else:
            out.append(Word(w))
    return tuple(out)


@st.composite
def term_st(draw: st.DrawFn, field: str | None) -> Term:
    ws = draw(words_st())
    exact = draw(st.booleans()) and not (len(ws) == 1 and ws[0].prefix)
    return Term(ws, exact, field)


def positional_st(field: str | None) -> st.SearchStrategy[Node]:
    return st.recursive(
        term_st(field),
        lambda inner: st.one_of(
            st.builds(lambda a, b: Or((a, b)), inner, inner),
            st.builds(
                lambda a, b, k, o: Near(a, b, k, o), inner, inner, st.integers(0, 4), st.booleans()
            ),
            st.builds(Sent, inner, inner),
        ),
        max_leaves=4,
    )


_POSITIONAL = st.one_of(*(positional_st(f) for f in FIELD_NAMES))


def tree_st() -> st.SearchStrategy[Node]:
    leaf = _POSITIONAL
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(Not, inner),
            st.lists(inner, min_size=2, max_size=3).map(lambda cs: And(tuple(cs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
        ),
        max_leaves=6,
    )


def normalise(node: Node) -> Node:
    """What the parser builds for a tree: nested AND/AND and OR/OR flattened."""
    if isinstance(node, Term):
        return node
    if isinstance(node, Not):
        return Not(normalise(node.child))
    if isinstance(node, And | Or):
        out: list[Node] = []
        for c in node.children:
            c = normalise(c)
            out.extend(c.children if isinstance(c, type(node)) else [c])
        return type(node)(tuple(out))
    if isinstance(node, Near):
        return Near(normalise(node.left), normalise(node.right), node.distance, node.ordered)
    return Sent(normalise(node.left), normalise(node.right))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree_st())
def test_print_then_parse_gives_the_same_tree(tree: Node) -> None:
    text = to_text(tree)
    try:
        parsed = parse(text)
    except RuleError as e:  # only a NEAR across fields may be refused
        assert "different fields" in e.message, (text, str(e))
        return
    assert parsed == normalise(tree), text
    assert to_text(parsed) == to_text(normalise(tree))


_rule_chars = st.text(
    alphabet=string.ascii_letters + string.digits + ' ()"*=-+:/' + "éñЖ習",
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(_rule_chars)
def test_any_text_parses_or_raises_rule_error(text: str) -> None:
    try:
        rule = compile_rule(text)
    except RuleError as e:
        assert 1 <= e.column <= len(text) + 1
        assert str(e).split("\n")[2].index("^") == e.column + 1
        return
    assert parse(to_text(rule.tree)) == rule.tree


# --------------------------------------------------------------------------- reference


class Reference:
    """A plain evaluator over the tree and the raw document."""

    def __init__(self, doc: Document, language: str) -> None:
        self.doc = doc
        self.lang = language
        self.stem = get_stemmer(language).stem if language in stemmer_languages() else None

    def tokens(self, field: str) -> list[tuple[int, str, int]]:
        """(position, folded word, sentence number) of each word of a field."""
        if field == "tag":
            out = []
            for k, tag in enumerate(self.doc.tags):
                out += [(k * TAG_GAP + i, t.norm, k) for i, t in enumerate(tokenize(tag))]
            return out
        text = getattr(self.doc, field)
        starts = [a for a, _ in split_sentences(text)]
        return [
            (t.index, t.norm, sum(1 for s in starts if s <= t.start) - 1) for t in tokenize(text)
        ]

    def word_matches(self, w: Word, exact: bool, token: str) -> bool:
        if w.prefix:
            return token.startswith(w.text)
        if exact or self.stem is None:
            return token == w.text
        return self.stem(token) == self.stem(w.text)

    def spans(self, node: Node, field: str) -> list[tuple[int, int, int, int]]:
        """(first, last, sentence of first, sentence of last)"""
        toks = self.tokens(field)
        if isinstance(node, Term):
            if field not in (node.field,) if node.field else field not in DEFAULT_FIELDS:
                return []
            at = {p: (w, s) for p, w, s in toks}
            n = len(node.words)
            out = []
            for p, _, s in toks:
                ok = all(
                    (p + i) in at and self.word_matches(w, node.exact, at[p + i][0])
                    for i, w in enumerate(node.words)
                )
                if ok:
                    out.append((p, p + n - 1, s, at[p + n - 1][1]))
            return out
        if isinstance(node, Or):
            return [x for c in node.children for x in self.spans(c, field)]
        left, right = self.spans(node.left, field), self.spans(node.right, field)
        out = []
        for a in left:
            for b in right:
                if not (a[1] < b[0] or b[1] < a[0]):
                    continue
                first, last = (a, b) if a[0] < b[0] else (b, a)
                if isinstance(node, Near):
                    if node.ordered and not a[1] < b[0]:
                        continue
                    if first is b and not node.ordered:
                        pass
                    if last[0] - first[1] - 1 > node.distance:
                        continue
                else:
                    if not (a[2] == a[3] == b[2] == b[3]):
                        continue
                out.append((first[0], max(a[1], b[1]), first[2], max(a[3], b[3])))
        return out

    def eval(self, node: Node) -> bool:
        if isinstance(node, Not):
            return not self.eval(node.child)
        if isinstance(node, And):
            return all(self.eval(c) for c in node.children)
        if isinstance(node, Or) and any(not isinstance(c, Term) for c in node.children):
            return any(self.eval(c) for c in node.children)
        return any(self.spans(node, f) for f in ("title", "text", "tag"))


# --------------------------------------------------------------------------- documents

_sentence = st.lists(
    st.one_of(
        st.sampled_from(VOCAB),
        st.sampled_from(VOCAB).map(str.upper),
        st.sampled_from(VOCAB).map(str.capitalize),
        st.sampled_from(["the", "said", "and", "a", "of"]),
    ),
    min_size=1,
    max_size=8,
).map(lambda ws: " ".join(ws))


@st.composite
def document_st(draw: st.DrawFn) -> Document:
    sents = draw(st.lists(_sentence, min_size=0, max_size=5))
    seps = draw(st.lists(st.sampled_from([". ", "! ", ", ", " — ", ".\n\n"]), min_size=5))
    text = "".join(s[:1].upper() + s[1:] + sep for s, sep in zip(sents, seps, strict=False))
    title = draw(_sentence) if draw(st.booleans()) else ""
    tags = tuple(draw(st.lists(_sentence, max_size=2)))
    return Document(title=title, text=text, tags=tags)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tree_st(), min_size=1, max_size=4), document_st(), st.sampled_from(["en", "ru"]))
def test_indexed_matcher_agrees_with_reference(trees: list[Node], doc: Document, lang: str) -> None:
    rules = {}
    for i, tree in enumerate(trees):
        try:
            rules[f"r{i}"] = compile_rule(to_text(tree), language=lang)
        except RuleError:
            continue  # NEAR across fields, or a rule that would match by negation alone
    assume(rules)
    rs = RuleSet(rules)
    expected = [name for name, r in rules.items() if Reference(doc, lang).eval(r.tree)]
    got = rs.match(doc)
    assert [m.watch for m in got] == expected
    assert rs.match_naive(doc) == got
    # positions, hits and snippets shared between the rules of one article are the same as
    # those of each rule alone on a fresh document
    assert got == [rules[m.watch].match(doc, m.watch) for m in got]
    for m in got:
        assert m.hits, m
        for h in m.hits:
            field_text = "\n\n".join(doc.tags) if h.field == "tag" else getattr(doc, h.field)
            assert field_text[h.start : h.end] == h.word


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(
            codec="utf-8", categories=("L", "M", "N", "P", "Z", "S"), exclude_characters="\x00"
        ),
        max_size=80,
    )
)
def test_fast_word_split_equals_general_tokeniser(text: str) -> None:
    # monitor.text.words / tokenize take an ASCII fast path when they can; the general
    # regex tokeniser is the reference
    ref = _tokenize_re(text)
    assert words(text) == [t.norm for t in ref]
    assert tokenize(text) == ref


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("aZ9 .,'’‘“”—–…\xa0\u2009\n-_é") + ["don't", "''", "x'", "'y"]),
        max_size=40,
    ).map("".join)
)
def test_fast_word_split_on_punctuation_heavy_text(text: str) -> None:
    ref = _tokenize_re(text)
    assert words(text) == [t.norm for t in ref]
    assert tokenize(text) == ref


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + " .,;'’“”—–…\n", max_size=120))
def test_fast_offsets_equal_tokenize(text: str) -> None:
    from monitor.rules.document import PreparedDocument

    f = PreparedDocument(Document(text=text)).fields["text"]
    toks = tokenize(text)
    assert [f.span(i, i) for i in range(len(toks))] == [(t.start, t.end) for t in toks]


# The boundary pattern of monitor.text.split_sentences as first written; the module now
# spells it so that the regex engine can skip ahead, which must not change what it finds.
_BOUNDARY_AS_WRITTEN = re.compile(r"[.!?…]+[\"'”’»)\]]*\s+(?=[\"'“‘«(\[]?[^\W_a-z])|\n\s*\n")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("aZé9 .!?…\n\t\"'”’»)]([“‘«") + ["Mr.", "U.S.", "\n\n", ". A"]),
        max_size=40,
    ).map("".join)
)
def test_sentence_boundary_pattern_is_unchanged(text: str) -> None:
    from monitor.text import _BOUNDARY_RE

    assert [m.span() for m in _BOUNDARY_RE.finditer(text)] == [
        m.span() for m in _BOUNDARY_AS_WRITTEN.finditer(text)
    ]


# --------------------------------------------------------------------------- SENT and sentence splits

_SENT_WORDS = ["alpha", "beta", "gamma", "Mr.", "U.S.", "J.", "said", "Alpha", "BETA"]
_SENT_SEPS = [" ", " ", " ", ". ", "! ", "? ", '." ', ".\n\n", "\n\n", ", ", ".. ", " (", ") "]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_SENT_WORDS), st.sampled_from(_SENT_SEPS)), max_size=40),
    st.sampled_from(["alpha SENT beta", '"alpha" SENT gamma', 'alpha SENT "beta gamma"']),
)
def test_sent_agrees_with_whole_field_split(pieces: list[tuple[str, str]], rule: str) -> None:
    """SENT on ASCII text with abbreviations, initials, quotes and paragraph breaks gives the
    reference's answer (the whole field split into sentences), whether the field's sentences
    are worked out for the rule or were split before it ran."""
    text = "".join(w + sep for w, sep in pieces)
    rs = RuleSet({"r": compile_rule(rule)})
    expected = bool(Reference(Document(text=text), "en").eval(rs.rules[0].tree))
    assert bool(rs.matching_names(Document(text=text))) == expected
    d = rs.prepare(Document(text=text))
    d.fields["text"].sentences()  # split first: the whole-field path
    assert bool(rs.matching_names(d)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("aZé9 .!?…\n\t\"'”’»)]([“‘«") + ["Mr.", "U.S.", "\n\n", ". A", "..."]),
        max_size=60,
    ).map("".join)
)
def test_boundaries_equal_finditer(text: str) -> None:
    """The str.find-driven boundary search finds exactly what the regex scan finds."""
    from monitor.text import _BOUNDARY_RE, _boundaries

    assert [m.span() for m in _boundaries(text)] == [m.span() for m in _BOUNDARY_RE.finditer(text)]
