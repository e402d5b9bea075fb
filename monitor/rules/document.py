"""What a rule can see of an article, prepared once for every rule.

:func:`prepare` folds and splits each field into words once (``monitor.text.split_words``)
and stems each distinct word once per language. Everything else is worked out the first
time some rule needs it and then kept on the :class:`PreparedDocument`, shared by every
rule: the sets that boolean rules test, word and stem positions (for phrases, NEAR, SENT
and hits), character offsets and sentence spans (for hits, snippets and SENT), and the
hits and snippets themselves. So an article costs one tokenisation however many rules
look at it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import count
from urllib.parse import urlsplit

from monitor.models import Article
from monitor.text import get_stemmer, split_sentences, split_words, stemmer_languages, word_offsets

from .syntax import FIELDS, MAX_DISTANCE

_STEMMED = frozenset(stemmer_languages())

# Position gap between two tags, so a phrase or NEAR never spans two tags.
TAG_GAP = MAX_DISTANCE + 100
_NONE: list[int] = []  # positions of an absent word (never modified)
# Words are coded as characters from here on (see PreparedField._encode); the supplementary
# planes leave room for a million distinct words.
_CODE_BASE = 0x10000


@dataclass(frozen=True)
class Document:
    """The fields a rule can see, as plain strings."""

    title: str = ""
    text: str = ""
    author: str = ""
    source: str = ""  # site name and host
    url: str = ""
    feed: str = ""
    tags: tuple[str, ...] = ()


def document_from_article(article: Article) -> Document:
    """The rule's view of an extracted article."""
    host = urlsplit(article.url).hostname or ""
    source = " ".join(x for x in (article.site_name or "", host) if x)
    return Document(
        title=article.title or "",
        text=article.text or "",
        author=article.author or "",
        source=source,
        url=article.url or "",
        feed=article.feed_name or "",
        tags=tuple(article.feed_tags),
    )


class PreparedField:
    """One field of a document: its folded words and, on demand, positions and stems.

    Everything here is computed at most once per article and shared by every rule: the word
    and stem sets, the positions of each word, stem or prefix asked for, character offsets
    and sentence spans.
    """

    __slots__ = (
        "name",
        "text",
        "words",
        "_plain",
        "_pos",
        "_doc",
        "_word_set",
        "_word_pos",
        "_word_codes",
        "_stem_codes",
        "_stem_set",
        "_stem_pos",
        "_sorted",
        "_prefix",
        "_offsets",
        "_sentences",
        "_starts",
        "_firsts",
        "_pindex",
    )

    def __init__(self, doc: PreparedDocument, name: str, text: str, parts: list[str]) -> None:
        self._doc = doc
        self.name = name
        self.text = text
        self._pos: list[int] | None = None
        self._plain: str | None = None
        if len(parts) <= 1:
            self.words, self._plain = split_words(text)
        else:  # tags: each its own segment, far apart
            self.words = []
            self._pos = []
            for k, part in enumerate(parts):
                ws = split_words(part)[0]
                self.words.extend(ws)
                self._pos.extend(range(k * TAG_GAP, k * TAG_GAP + len(ws)))
        self._word_set: frozenset[str] | None = None
        self._word_pos: dict[str, list[int]] = {}
        self._word_codes: tuple[dict[str, str], str] | None = None
        self._stem_codes: dict[str, tuple[dict[str, str], str]] = {}
        self._stem_set: dict[str, frozenset[str]] = {}
        self._stem_pos: dict[tuple[str, str], list[int]] = {}
        self._sorted: list[str] | None = None
        self._prefix: dict[str, list[int]] = {}
        self._offsets: tuple[list[int], list[int]] | None = None
        self._sentences: list[tuple[int, int]] | None = None
        self._starts: list[int] | None = None
        self._firsts: list[int] | None = None
        self._pindex: dict[int, int] | None = None

    # ---- words

    def word_set(self) -> frozenset[str]:
        if self._word_set is None:
            self._word_set = frozenset(self.words)
        return self._word_set

    def word_positions(self, word: str) -> list[int]:
        """Positions of a folded word, in order."""
        got = self._word_pos.get(word)
        if got is None:
            if word not in self.word_set():
                return _NONE
            if self._word_codes is None:
                self._word_codes = self._encode(self.word_set(), self.words)
            table, codes = self._word_codes
            got = self._word_pos[word] = self._find(codes, table[word])
        return got

    @staticmethod
    def _encode(distinct: Iterable[str], keys: Iterable[str]) -> tuple[dict[str, str], str]:
        """One character per distinct key, and the field as a string of those characters.

        The positions of a key are then the places of one character in a short string,
        found with str.find in C: a few µs per key, where a Python loop over the words or
        ``list.index`` would cost ~10 µs per key or ~300 µs to map every word. Built with
        C-level iterators only.
        """
        table = dict(zip(distinct, map(chr, count(_CODE_BASE)), strict=False))
        return table, "".join(map(table.__getitem__, keys))

    def _find(self, codes: str, code: str) -> list[int]:
        out: list[int] = []
        find = codes.find
        i = find(code)
        while i >= 0:
            out.append(i)
            i = find(code, i + 1)
        if self._pos is not None:
            out = [self._pos[i] for i in out]
        return out

    def positions(self) -> Iterable[int]:
        return self._pos if self._pos is not None else range(len(self.words))

    # ---- stems

    def stem_set(self, lang: str) -> frozenset[str]:
        got = self._stem_set.get(lang)
        if got is None:
            table = self._doc.stem_table(lang)
            got = self._stem_set[lang] = frozenset(map(table.__getitem__, self.word_set()))
        return got

    def stem_positions(self, lang: str, stem: str) -> list[int]:
        """Positions of the words with this stem, in order."""
        key = (lang, stem)
        got = self._stem_pos.get(key)
        if got is None:
            if stem not in self.stem_set(lang):
                return _NONE
            encoded = self._stem_codes.get(lang)
            if encoded is None:
                stems = map(self._doc.stem_table(lang).__getitem__, self.words)
                encoded = self._stem_codes[lang] = self._encode(self.stem_set(lang), stems)
            table, codes = encoded
            got = self._stem_pos[key] = self._find(codes, table[stem])
        return got

    # ---- prefixes

    def has_prefix(self, prefix: str) -> bool:
        srt = self._sorted_words()
        i = bisect_left(srt, prefix)
        return i < len(srt) and srt[i].startswith(prefix)

    def prefix_positions(self, prefix: str) -> list[int]:
        """Positions of the words starting with a prefix, in order."""
        got = self._prefix.get(prefix)
        if got is None:
            srt = self._sorted_words()
            i = bisect_left(srt, prefix)
            j = bisect_right(srt, prefix + "\U0010ffff")
            if j - i == 1:
                got = self.word_positions(srt[i])
            else:
                got = sorted([p for w in srt[i:j] for p in self.word_positions(w)])
            self._prefix[prefix] = got
        return got

    def _sorted_words(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.word_set())
        return self._sorted

    # ---- offsets and sentences (for hits, snippets and SENT)

    def offsets(self) -> tuple[list[int], list[int]]:
        """Start and end character offsets of every word."""
        if self._offsets is None:
            plain = self._plain if self._pos is None else split_words(self.text)[1]
            self._offsets = word_offsets(self.text, plain)
        return self._offsets

    def token_index(self, pos: int) -> int:
        if self._pos is None:
            return pos
        if self._pindex is None:
            self._pindex = {p: i for i, p in enumerate(self._pos)}
        return self._pindex[pos]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Character offsets of the words at positions first..last."""
        starts, ends = self.offsets()
        if self._pos is None:
            return starts[first], ends[last]
        return starts[self.token_index(first)], ends[self.token_index(last)]

    def sentences(self) -> list[tuple[int, int]]:
        """Sentence spans of the field's text (split once per article)."""
        if self._sentences is None:
            self._sentences = split_sentences(self.text)
        return self._sentences

    def sentence_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [a for a, _ in self.sentences()]
        return self._starts

    def sentence_of(self, pos: int) -> int:
        """Number of the sentence the word at a position is in."""
        firsts = self._sentence_firsts()
        if firsts is not None:
            return bisect_right(firsts, pos) - 1
        return bisect_right(self.sentence_starts(), self.span(pos, pos)[0]) - 1

    def _sentence_firsts(self) -> list[int] | None:
        """Position of the first word of each sentence, for text on the ASCII fast path.

        A sentence starts after white space, never inside a word, so counting the words of
        the plain text between two sentence starts (str.split, in C) numbers them without
        the character offsets of every word. None for other text (and tags).
        """
        if self._firsts is None and self._plain is not None and self._pos is None:
            plain = self._plain
            firsts: list[int] = []
            n = prev = 0
            for a in self.sentence_starts():
                n += len(plain[prev:a].split())
                firsts.append(n)
                prev = a
            self._firsts = firsts
        return self._firsts

    def has_sentences(self) -> bool:
        """True once sentences are known without splitting more than the stretch asked about:
        the field was split already, or will be cheaply (no character offsets needed)."""
        return self._sentences is not None or (self._plain is not None and self._pos is None)

    def same_sentence_local(self, first: int, last: int) -> bool:
        """True when the words from position first to last are all in one sentence,
        found by splitting just the stretch between them: a sentence boundary between two
        words is found there exactly as in the whole text."""
        a, b = self.span(first, last)
        return len(split_sentences(self.text[a:b])) <= 1


class _Table(dict):  # type: ignore[type-arg]
    """A dict that builds a missing value on first look-up (then it is a plain dict hit)."""

    def __init__(self, build: Callable[[str], object]) -> None:
        super().__init__()
        self._build = build

    def __missing__(self, key: str) -> object:
        value = self[key] = self._build(key)
        return value


class PreparedDocument:
    """A document split into words once, shared by every rule that looks at it."""

    def __init__(self, doc: Document, languages: Iterable[str] = ("en",)) -> None:
        self.doc = doc
        self.fields: dict[str, PreparedField] = {}
        for name in FIELDS:
            if name == "tag":
                parts = [t for t in doc.tags if t]
                text = "\n\n".join(parts)
            else:
                text = getattr(doc, name) or ""
                parts = [text]
            self.fields[name] = PreparedField(self, name, text, parts)
        self._stem_tables: dict[str, dict[str, str]] = {}
        self.memo: dict[object, object] = {}  # per-article results shared between rules
        self._all_words: frozenset[str] | None = None
        self._all_stems: dict[str, frozenset[str]] = {}
        # Sets that compiled rules test membership in, per group of fields (the key is the
        # field names joined by spaces, e.g. "title text"; for stems "en:title text").
        self.word_sets: dict[str, frozenset[str]] = _Table(self._group_words)
        self.stem_sets: dict[str, frozenset[str]] = _Table(self._group_stems)
        self.sorted_words: dict[str, list[str]] = _Table(self._group_sorted)
        for lang in languages:
            if lang in _STEMMED:
                self.stem_table(lang)

    def field(self, name: str) -> PreparedField:
        return self.fields[name]

    def _group_words(self, group: str) -> frozenset[str]:
        names = group.split(" ")
        if len(names) == 1:
            return self.fields[names[0]].word_set()
        return frozenset().union(*(self.fields[n].word_set() for n in names))

    def _group_stems(self, key: str) -> frozenset[str]:
        lang, _, group = key.partition(":")
        names = group.split(" ")
        if len(names) == 1:
            return self.fields[names[0]].stem_set(lang)
        return frozenset(map(self.stem_table(lang).__getitem__, self.word_sets[group]))

    def _group_sorted(self, group: str) -> list[str]:
        return sorted(self.word_sets[group])

    def all_words(self) -> frozenset[str]:
        """Every distinct folded word of every field."""
        if self._all_words is None:
            self._all_words = frozenset().union(*(f.word_set() for f in self.fields.values()))
        return self._all_words

    def stem_table(self, lang: str) -> dict[str, str]:
        """word → stem for every distinct word of the document."""
        table = self._stem_tables.get(lang)
        if table is None:
            distinct = list(self.all_words())
            table = dict(zip(distinct, get_stemmer(lang).stem_all(distinct), strict=True))
            self._stem_tables[lang] = table
        return table

    def all_stems(self, lang: str) -> frozenset[str]:
        s = self._all_stems.get(lang)
        if s is None:
            s = self._all_stems[lang] = frozenset(self.stem_table(lang).values())
        return s


def prepare(doc: Document, languages: Iterable[str] = ("en",)) -> PreparedDocument:
    """Split and stem a document once; pass the result to every rule."""
    if isinstance(doc, PreparedDocument):
        return doc
    return PreparedDocument(doc, languages)


def as_prepared(doc: Document | PreparedDocument, languages: Iterable[str]) -> PreparedDocument:
    if isinstance(doc, PreparedDocument):
        return doc
    if not isinstance(doc, Document):
        raise TypeError(f"expected a Document or PreparedDocument, got {type(doc).__name__}")
    return PreparedDocument(doc, languages)


__all__ = [
    "Document",
    "PreparedDocument",
    "PreparedField",
    "document_from_article",
    "prepare",
]
