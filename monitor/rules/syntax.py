"""Watch-rule syntax: text → tree, tree → text, and the errors a user sees.

The grammar lives in ``grammar.lark`` (LALR, one token of look-ahead). This module turns
lark's parse tree into the small frozen dataclasses below, checks what the grammar cannot
(unknown fields, ``NEAR`` without a number, a wildcard in the middle of a word, ...), and
turns every failure into a :class:`RuleError` whose message points at the column.

Tree equality ignores positions and the text as written, so ``parse(to_text(t)) == t``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as _field
from functools import lru_cache
from pathlib import Path
from typing import Union

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from monitor.errors import RuleError
from monitor.text import fold, tokenize

FIELDS: tuple[str, ...] = ("title", "text", "author", "source", "url", "feed", "tag")
DEFAULT_FIELDS: tuple[str, ...] = ("title", "text")
MAX_DISTANCE = 500
MIN_PREFIX = 2
MAX_DEPTH = 64  # parentheses, NOT/-/+ and field scopes inside one another
_OPENERS = frozenset({"_LPAR", "NOT", "MINUS", "PLUS", "FIELD"})


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Word:
    """One word of a term: folded, and whether it is a prefix (``congratulat*``)."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Term:
    """A word or a phrase (several words in a row), in one field or the default fields.

    ``exact`` switches stemming off; prefix words never stem.
    """

    words: tuple[Word, ...]
    exact: bool = False
    field: str | None = None  # None: title + text
    source: str = _field(default="", compare=False)  # as written, for explanations
    pos: int = _field(default=0, compare=False)  # 0-based offset in the rule

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,) if self.field else DEFAULT_FIELDS

    @property
    def label(self) -> str:
        return self.source or to_text(self)


@dataclass(frozen=True)
class Not:
    child: Node
    pos: int = _field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    pos: int = _field(default=0, compare=False)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    pos: int = _field(default=0, compare=False)


@dataclass(frozen=True)
class Near:
    """Both sides within ``distance`` words of each other (other words between them);
    ``ordered``: the left side first (``ONEAR``)."""

    left: Node
    right: Node
    distance: int
    ordered: bool = False
    pos: int = _field(default=0, compare=False)


@dataclass(frozen=True)
class Sent:
    """Both sides in one sentence."""

    left: Node
    right: Node
    pos: int = _field(default=0, compare=False)


Node = Union[Term, Not, And, Or, Near, Sent]  # noqa: UP007 - used at runtime in isinstance
POSITIONAL = (Term, Or, Near, Sent)


def iter_terms(node: Node) -> list[tuple[Term, bool]]:
    """Every term of a tree with whether it sits under a NOT, in rule order."""
    out: list[tuple[Term, bool]] = []

    def walk(n: Node, negated: bool) -> None:
        if isinstance(n, Term):
            out.append((n, negated))
        elif isinstance(n, Not):
            walk(n.child, not negated)
        elif isinstance(n, And | Or):
            for c in n.children:
                walk(c, negated)
        else:
            walk(n.left, negated)
            walk(n.right, negated)

    walk(node, False)
    return out


def node_fields(node: Node) -> frozenset[str]:
    """The fields a positional node can match in."""
    if isinstance(node, Term):
        return frozenset(node.fields)
    if isinstance(node, Or):
        return frozenset().union(*(node_fields(c) for c in node.children))
    if isinstance(node, Near | Sent):
        return node_fields(node.left) & node_fields(node.right)
    return frozenset(FIELDS)


# --------------------------------------------------------------------------- printing


def _word_text(w: Word) -> str:
    return w.text + ("*" if w.prefix else "")


def to_text(node: Node) -> str:
    """Print a tree as a rule that parses back to the same tree."""
    if isinstance(node, Term):
        prefix = f"{node.field}:" if node.field else ""
        if len(node.words) == 1:
            body = ("=" if node.exact and not node.words[0].prefix else "") + _word_text(
                node.words[0]
            )
        else:
            body = ("=" if node.exact else "") + '"' + " ".join(map(_word_text, node.words)) + '"'
        return prefix + body
    if isinstance(node, Not):
        return "NOT " + _wrap(node.child, (And, Or))
    if isinstance(node, And):
        return " AND ".join(_wrap(c, (Or,)) for c in node.children)
    if isinstance(node, Or):
        return " OR ".join(to_text(c) for c in node.children)
    if isinstance(node, Near):
        op = f"{'ONEAR' if node.ordered else 'NEAR'}/{node.distance}"
        return f"{_wrap(node.left, (Or,))} {op} {_wrap(node.right, (Or, Near, Sent))}"
    if isinstance(node, Sent):
        return f"{_wrap(node.left, (Or,))} SENT {_wrap(node.right, (Or, Near, Sent))}"
    raise TypeError(node)


def _wrap(node: Node, kinds: tuple[type, ...]) -> str:
    s = to_text(node)
    return f"({s})" if isinstance(node, kinds) else s


# --------------------------------------------------------------------------- parsing


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True)


_TERMINAL_NAMES = {
    "WORD": "a word",
    "PHRASE": 'a "quoted phrase"',
    "EXACT": "an =exact word",
    "LPAR": "'('",
    "RPAR": "')'",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "NOT": "NOT",
    "MINUS": "'-'",
    "PLUS": "'+'",
    "FIELD": "a field such as title:",
    "_AND": "AND",
    "_OR": "OR",
    "PROX": "NEAR/n",
    "SENT": "SENT",
    "$END": "the end of the rule",
}
_OPERAND = "a word, a \"quoted phrase\" or '('"


def _describe(tok: lark.Token | None) -> str:
    if tok is None or tok.type == "$END":
        return "the end of the rule"
    return f"'{tok.value}'"


def parse(text: str) -> Node:
    """Parse a rule into a tree; raises :class:`RuleError` with the column of the problem."""
    if not text or not text.strip():
        raise RuleError("empty rule: write at least one word", text, 1, _OPERAND)
    _check_depth(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(text, e) from None
    return _Builder(text).build(tree)


def _check_depth(text: str) -> None:
    """Refuse a rule nested deeper than :data:`MAX_DEPTH` before it is parsed (the tree is
    built and matched recursively), pointing at the first level too many."""
    outer: list[int] = []  # per open parenthesis: the prefix operators in front of it
    chain = 0  # prefix operators (NOT, -, +, field:) in a row since the last '('
    for tok in _tokens(text):
        if tok.type == "_LPAR":
            outer.append(chain)
            chain = 0
        elif tok.type == "_RPAR":
            if outer:
                outer.pop()
            chain = 0
        elif tok.type in _OPENERS:
            chain += 1
        else:
            chain = 0
        depth = len(outer) + sum(outer) + chain
        if depth > MAX_DEPTH:
            raise RuleError(
                f"rule nested too deeply: more than {MAX_DEPTH} levels of parentheses, "
                "NOT and field scopes",
                text,
                (tok.start_pos or 0) + 1,
                "a flatter rule",
            )


def _tokens(text: str) -> list[lark.Token]:
    toks: list[lark.Token] = []
    try:
        for t in _parser().lex(text):
            toks.append(t)
    except UnexpectedInput:
        pass
    return toks


def _syntax_error(text: str, e: UnexpectedInput) -> RuleError:
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream
        ch = text[pos]
        if ch == '"':
            return RuleError(
                "unbalanced quote: this '\"' is never closed", text, pos + 1, "a closing '\"'"
            )
        if ch == "=":
            return RuleError(
                "'=' must be followed by a word or a \"phrase\", e.g. =Apple",
                text,
                pos + 1,
                "a word right after '='",
            )
        return RuleError(f"unexpected character {ch!r}", text, pos + 1, _OPERAND)
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    toks = _tokens(text)
    expected = set(e.expected)
    if tok.type == "$END":
        unclosed = _unclosed_paren(text)
        if unclosed is not None:
            return RuleError(
                "unbalanced parenthesis: this '(' is never closed", text, unclosed + 1, "')'"
            )
        last = toks[-1] if toks else None
        if last is not None:
            what = last.value if last.type != "FIELD" else last.value
            kind = "field" if last.type == "FIELD" else "operator"
            return RuleError(
                f"dangling {kind} {what!r}: the rule ends where a term should follow",
                text,
                last.start_pos + 1,
                _OPERAND,
            )
        return RuleError("empty rule: write at least one word", text, 1, _OPERAND)
    pos = tok.start_pos
    before = text[:pos].rstrip()
    if tok.type == "_RPAR":
        if before.endswith("("):
            return RuleError(
                "empty group: '()' has nothing inside", text, len(before), "a term inside ( )"
            )
        if "_RPAR" not in expected:
            if any(t in expected for t in ("WORD", "PHRASE")):
                return RuleError(
                    f"dangling operator before ')': expected {_OPERAND}", text, pos + 1, _OPERAND
                )
            return RuleError(
                "unbalanced parenthesis: no '(' for this ')'",
                text,
                pos + 1,
                "an operator or the end of the rule",
            )
    if tok.type in ("_AND", "_OR", "PROX", "SENT", "BARE_PROX") and "WORD" in expected:
        prev = _previous(toks, pos)
        if prev is None or prev.type == "_LPAR":
            return RuleError(
                f"{tok.value} needs a term on its left: expected {_OPERAND}",
                text,
                pos + 1,
                _OPERAND,
            )
        return RuleError(
            f"{tok.value} cannot follow {prev.value}: expected {_OPERAND}",
            text,
            pos + 1,
            _OPERAND,
        )
    if tok.type in ("NOT", "MINUS"):
        prev = _previous(toks, pos)
        if prev is not None and prev.type in ("PROX", "SENT"):
            return RuleError(
                f"{tok.value} is not allowed inside {prev.value}: it joins words, phrases "
                "or (… OR …) groups",
                text,
                pos + 1,
                _OPERAND,
            )
    if "WORD" in expected and tok.type not in ("WORD", "PHRASE", "EXACT"):
        return RuleError(
            f"unexpected {_describe(tok)}: expected {_OPERAND}", text, pos + 1, _OPERAND
        )
    names = sorted({_TERMINAL_NAMES.get(x, x) for x in expected})
    exp = ", ".join(names)
    return RuleError(f"unexpected {_describe(tok)}: expected {exp}", text, pos + 1, exp)


def _previous(toks: list[lark.Token], pos: int) -> lark.Token | None:
    prev = None
    for t in toks:
        if t.start_pos >= pos:
            break
        prev = t
    return prev


def _unclosed_paren(text: str) -> int | None:
    """Offset of the first '(' that is never closed (quotes skipped)."""
    stack: list[int] = []
    in_quote = False
    for i, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
    return stack[0] if stack else None


class _Builder:
    """lark tree → rule tree, with the checks the grammar cannot make."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, pos: int, expected: str = "") -> RuleError:
        return RuleError(message, self.text, pos + 1, expected)

    def build(self, t: lark.Tree | lark.Token) -> Node:
        if isinstance(t, lark.Token):  # pragma: no cover - the grammar wraps tokens
            raise self.error(f"unexpected {t.value!r}", t.start_pos)
        kind = t.data
        if kind == "term":
            tok = t.children[0]
            if tok.type == "PHRASE" and not tok.value.endswith('"'):
                return self.phrase_near(tok)
            return self.term(tok)
        if kind == "group":
            return self.build(t.children[0])
        if kind == "negation":
            op, child = t.children
            return Not(self.build(child), pos=op.start_pos)
        if kind == "required":
            return self.build(t.children[1])
        if kind == "scoped":
            ftok, child = t.children
            name = ftok.value[:-1].lower()
            if name == "tags":
                name = "tag"
            if name not in FIELDS:
                raise self.error(
                    f"unknown field {ftok.value!r}: expected one of "
                    + ", ".join(f + ":" for f in FIELDS)
                    + " (to search for the word itself, drop the colon or quote it)",
                    ftok.start_pos,
                    "a field: " + ", ".join(FIELDS),
                )
            return self.scope(self.build(child), name, ftok.start_pos)
        if kind == "and_expr":
            return And(self.flatten(And, t.children), pos=t.meta.start_pos)
        if kind == "or_expr":
            return Or(self.flatten(Or, t.children), pos=t.meta.start_pos)
        if kind == "prox":
            return self.prox(t)
        raise AssertionError(kind)  # pragma: no cover

    def flatten(self, kind: type, children: list) -> tuple[Node, ...]:
        out: list[Node] = []
        for c in children:
            n = self.build(c)
            if isinstance(n, kind):
                out.extend(n.children)  # type: ignore[union-attr]
            else:
                out.append(n)
        return tuple(out)

    def prox(self, t: lark.Tree) -> Node:
        items = t.children
        left = self.operand(items[0])
        for i in range(1, len(items), 2):
            op = items[i].children[0]
            right = self.operand(items[i + 1])
            pos = op.start_pos
            if op.type == "BARE_PROX":
                word = op.value.split("/")[0]
                raise self.error(
                    f"{word} needs a distance in words, e.g. {word}/5", pos, f"{word}/<number>"
                )
            if op.type == "SENT":
                node: Node = Sent(left, right, pos=pos)
            else:
                name, _, num = op.value.partition("/")
                distance = self.distance(num, op.value, pos)
                node = Near(left, right, distance, name.lower() == "onear", pos=pos)
            if not node_fields(left) & node_fields(right):
                raise self.error(
                    f"{op.value} joins terms of different fields ("
                    + ", ".join(sorted(node_fields(left)))
                    + " / "
                    + ", ".join(sorted(node_fields(right)))
                    + "), which can never be near each other",
                    pos,
                    "terms in the same field",
                )
            left = node
        return left

    def distance(self, num: str, shown: str, pos: int) -> int:
        """The word distance of NEAR/n, ONEAR/n or "a b"~n, checked."""
        distance = int(num)
        if distance > MAX_DISTANCE:
            raise self.error(
                f"{shown}: the distance can be at most {MAX_DISTANCE} words",
                pos,
                f"a number from 0 to {MAX_DISTANCE}",
            )
        return distance

    def operand(self, t: lark.Tree) -> Node:
        node = self.build(t)
        bad = _non_positional(node)
        if bad is not None:
            what = {Not: "NOT", And: "AND"}[type(bad)]
            raise self.error(
                f"NEAR, ONEAR and SENT join words, phrases or (… OR …) groups; {what} is not "
                "allowed inside them",
                bad.pos,
                "a word, a phrase or an OR group",
            )
        return node

    def scope(self, node: Node, name: str, pos: int) -> Node:
        if isinstance(node, Term):
            if node.field is not None and node.field != name:
                raise self.error(
                    f"field {node.field}: inside field {name}: — a term has one field",
                    pos,
                    "a term without its own field",
                )
            return Term(node.words, node.exact, name, node.source, node.pos)
        if isinstance(node, Not):
            return Not(self.scope(node.child, name, pos), pos=node.pos)
        if isinstance(node, And | Or):
            return type(node)(tuple(self.scope(c, name, pos) for c in node.children), pos=node.pos)
        if isinstance(node, Near):
            return Near(
                self.scope(node.left, name, pos),
                self.scope(node.right, name, pos),
                node.distance,
                node.ordered,
                pos=node.pos,
            )
        return Sent(self.scope(node.left, name, pos), self.scope(node.right, name, pos), node.pos)

    def phrase_near(self, tok: lark.Token) -> Node:
        """Lucene's ``"a b"~N`` (the words within N of each other): ``a NEAR/N b``."""
        quoted, _, num = tok.value.rpartition("~")
        tilde = tok.start_pos + len(quoted)
        if not num.isdigit():
            raise self.error(
                f"{tok.value!r}: after a phrase, '~' takes a number of words, as in "
                f'"{quoted[1:-1]}"~5 (read as NEAR/5)',
                tilde,
                "~<number>",
            )
        distance = self.distance(num, tok.value, tilde)
        words = self.words(quoted[1:-1], tok.start_pos + 1)
        if len(words) < 2:
            raise self.error(
                f"{tok.value!r}: ~{num} after a single word is Lucene's fuzzy search, which "
                "rules do not have; write the word (stemming finds its forms), a prefix "
                "(word*), or OR its spellings",
                tilde,
                "two or more words before ~",
            )
        terms = [Term((w,), False, None, w.text, tok.start_pos) for w in words]
        node: Node = terms[0]
        for term in terms[1:]:
            node = Near(node, term, distance, pos=tilde)
        return node

    def term(self, tok: lark.Token) -> Term:
        raw = tok.value
        pos = tok.start_pos
        if tok.type == "WORD":
            self.lucene_habits(raw, pos)
        if tok.type == "AMBIGUOUS":
            up = raw.upper()
            raise self.error(
                f"{raw!r} is ambiguous: write {up} for the operator, or quote a phrase "
                f'such as "rock {raw} roll" to search for the word',
                pos,
                f"{up} or a quoted phrase",
            )
        exact = False
        quoted = False
        body = raw
        if body.startswith("="):
            exact = True
            body = body[1:]
        if body.startswith('"'):
            quoted = True
            body = body[1:-1]
        words = self.words(body, pos + (len(raw) - len(body)) - (1 if quoted else 0))
        if not words:
            raise self.error(
                f"{raw!r} has no letters or digits to search for",
                pos,
                "a term with letters or digits",
            )
        if quoted and len(words) == 1 and not words[0].prefix:
            exact = True
        if len(words) == 1 and words[0].prefix:
            exact = False
        return Term(tuple(words), exact, None, raw, pos)

    def lucene_habits(self, raw: str, pos: int) -> None:
        """Other engines' syntax that would otherwise be read silently as something else."""
        if raw.startswith("~"):
            raise self.error(
                f"{raw!r}: a proximity '~N' goes right after a phrase's closing quote, "
                'as in "Putin Trump"~5 (read as Putin NEAR/5 Trump)',
                pos,
                '"a phrase"~<number>',
            )
        tilde = raw.find("~")
        if tilde > 0:
            word = raw[:tilde]
            raise self.error(
                f"{raw!r}: '~' after a word is Lucene's fuzzy search, which rules do not have; "
                f"write {word} (stemming finds its forms), a prefix such as {word[:4]}*, or OR "
                f'its spellings; for words near each other write "{word} other"~5 or '
                f"{word} NEAR/5 other",
                pos + tilde,
                "a word without '~'",
            )
        mark = raw.find("?")
        if mark >= 0:
            stem = raw[:mark]
            hint = f"a prefix such as {stem}* or " if len(stem) >= MIN_PREFIX else ""
            raise self.error(
                f"{raw!r}: '?' (one-character wildcard) is not supported; write {hint}the "
                "spellings joined with OR, e.g. (Putin OR Poutine); quote a phrase to search "
                "for a question",
                pos + mark,
                "a word without '?'",
            )

    def words(self, body: str, pos: int) -> list[Word]:
        toks = tokenize(body)
        ends = {t.end: i for i, t in enumerate(toks)}
        prefixes: set[int] = set()
        for m in re.finditer(r"\*", body):
            i = ends.get(m.start())
            if i is None or (m.end() < len(body) and not body[m.end()].isspace()):
                raise self.error(
                    "'*' only works at the end of a word (prefix search, e.g. congratulat*)",
                    pos + m.start(),
                    "letters before '*'",
                )
            if len(toks[i].norm) < MIN_PREFIX:
                raise self.error(
                    f"a prefix needs at least {MIN_PREFIX} letters before '*'",
                    pos + m.start(),
                    f"{MIN_PREFIX} or more letters before '*'",
                )
            prefixes.add(i)
        return [Word(fold(t.norm), i in prefixes) for i, t in enumerate(toks)]


def _non_positional(node: Node) -> Not | And | None:
    if isinstance(node, Not | And):
        return node
    if isinstance(node, Or):
        for c in node.children:
            bad = _non_positional(c)
            if bad is not None:
                return bad
    return None
