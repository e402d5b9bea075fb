"""What a rule can see of an article, prepared once for every rule.

:func:`prepare` folds and splits each field into words once (``monitor.text.split_words``)
and stems each distinct word once per language, keeping for every distinct word and stem
the fields it occurs in (one bit per field), which is all a boolean rule tests. Everything
else is worked out the first time some rule needs it and then kept on the
:class:`PreparedDocument`, shared by every rule: the field as a string of stem codes (for
positions: phrases, NEAR, SENT and hits), character offsets and sentence spans (for hits,
snippets and SENT), and the hits and snippets themselves. So an article costs one
tokenisation however many rules look at it.

A field refers to its document weakly, so an article's structures are freed by reference
counting the moment the document is dropped, not by the cyclic garbage collector (whose
runs, with 10,000 compiled rules in memory, cost ~0.1–0.2 ms per article).
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
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
# Words are coded as characters from here on (see PreparedField.word_codes); the supplementary
# planes leave room for a million distinct words.
_CODE_BASE = 0x10000
# The first code characters, made once: chr() of a character past Latin-1 allocates a new
# string every time, which would be half the cost of coding a field.
_CODE_CACHE: tuple[str, ...] = tuple(map(chr, range(_CODE_BASE, _CODE_BASE + 8192)))


def _codes(n: int) -> Iterable[str]:
    """n distinct code characters."""
    if n <= len(_CODE_CACHE):
        return _CODE_CACHE
    return map(chr, count(_CODE_BASE))


def _occurrences(codes: str, sub: str) -> list[int]:
    """Every place where ``sub`` starts in ``codes`` (str.find in C, overlaps included)."""
    out: list[int] = []
    find = codes.find
    i = find(sub)
    while i >= 0:
        out.append(i)
        i = find(sub, i + 1)
    return out


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


def document_of(
    *,
    title: str | None,
    text: str | None,
    author: str | None,
    url: str | None,
    site_name: str | None,
    feed: str | None = None,
    tags: Iterable[str] = (),
) -> Document:
    """The rule's view of an article's fields (``source``: the site name and the URL's
    host): one place for the pipeline's new articles and the stored ones "try a rule"
    reads."""
    host = urlsplit(url or "").hostname or ""
    return Document(
        title=title or "",
        text=text or "",
        author=author or "",
        source=" ".join(x for x in (site_name or "", host) if x),
        url=url or "",
        feed=feed or "",
        tags=tuple(tags),
    )


def document_from_article(article: Article) -> Document:
    """The rule's view of an extracted article."""
    return document_of(
        title=article.title,
        text=article.text,
        author=article.author,
        url=article.url,
        site_name=article.site_name,
        feed=article.feed_name,
        tags=article.feed_tags,
    )


FIELD_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(FIELDS)}


def field_bits(names: Iterable[str]) -> int:
    """The bit mask of some fields, as used by ``PreparedDocument.word_bits``/``stem_bits``."""
    bits = 0
    for n in names:
        bits |= FIELD_BITS[n]
    return bits


class PreparedField:
    """One field of a document: its folded words and, on demand, positions and sentences.

    Everything here is computed at most once per article and shared by every rule: the
    positions of each word, stem or prefix asked for, character offsets and sentence spans.
    Which words and stems a field has is kept on the document, as one bit per field
    (``PreparedDocument.word_bits``), so a term is looked up once for all its fields.
    """

    __slots__ = (
        "name",
        "text",
        "words",
        "bit",
        "_plain",
        "_pos",
        "_doc",
        "_word_pos",
        "_word_codes",
        "_stem_codes",
        "_stem_pos",
        "_prefix",
        "_offsets",
        "_sentences",
        "_starts",
        "_firsts",
        "_pindex",
    )

    def __init__(self, doc: PreparedDocument, name: str, text: str, parts: list[str]) -> None:
        # a weak reference: the document owns its fields, and an article's structures are
        # freed as soon as the document is dropped (no reference cycle for the GC to find)
        self._doc = weakref.ref(doc)
        self.name = name
        self.bit = FIELD_BITS[name]
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
        self._word_pos: dict[str, list[int]] = {}
        self._word_codes: str | None = None
        self._stem_codes: dict[str, str] = {}
        self._stem_pos: dict[tuple[str, str], list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._offsets: tuple[list[int], list[int]] | None = None
        self._sentences: list[tuple[int, int]] | None = None
        self._starts: list[int] | None = None
        self._firsts: list[int] | None = None
        self._pindex: dict[int, int] | None = None

    def document(self) -> PreparedDocument:
        d = self._doc()
        if d is None:  # pragma: no cover - a field is only reached through its document
            raise RuntimeError("the prepared document of this field is gone")
        return d

    # ---- words

    def word_positions(self, word: str) -> list[int]:
        """Positions of a folded word, in order."""
        got = self._word_pos.get(word)
        if got is None:
            d = self.document()
            if not d.word_bits.get(word, 0) & self.bit:
                return _NONE
            lang = d.code_language()
            if lang is None:
                got = self._find(self.word_codes(), d.word_code()[word])
            else:  # the positions of its stem, keeping this word only
                stem = d.stem_table(lang)[word]
                ws = self.words
                got = [p for p in self.stem_positions(lang, stem) if ws[self._index(p)] == word]
            self._word_pos[word] = got
        return got

    def word_codes(self) -> str:
        """The field as a string with one character per distinct word (``_codes``)."""
        if self._word_codes is None:
            self._word_codes = "".join(map(self.document().word_code().__getitem__, self.words))
        return self._word_codes

    def stem_codes(self, lang: str) -> str:
        """The field as a string with one character per distinct stem.

        The positions of a stem are then the places of one character in a short string,
        found with str.find in C: a few µs per stem, where a Python loop over the words or
        ``list.index`` would cost ~10 µs per stem or ~300 µs to map every word. A phrase
        is a substring. Built with C-level iterators only (~80 µs for 1,000 words); the
        positions of exact words and prefixes are read from their stems' positions, so a
        field is coded once.
        """
        got = self._stem_codes.get(lang)
        if got is None:
            d = self.document()
            code, table = d.stem_code(lang), d.stem_table(lang)
            got = self._stem_codes[lang] = "".join(
                map(code.__getitem__, map(table.__getitem__, self.words))
            )
        return got

    def _index(self, pos: int) -> int:
        """Index in ``words`` of the word at a position."""
        return pos if self._pos is None else self.token_index(pos)

    def _find(self, codes: str, code: str) -> list[int]:
        out = _occurrences(codes, code)
        if self._pos is not None:
            out = [self._pos[i] for i in out]
        return out

    def find_sequence(self, codes: str, seq: str) -> list[int] | None:
        """Positions where a run of codes (a phrase) starts; None for a field whose words
        are not consecutive positions (tags: a phrase must not span two tags)."""
        return None if self._pos is not None else _occurrences(codes, seq)

    # ---- stems

    def stem_positions(self, lang: str, stem: str) -> list[int]:
        """Positions of the words with this stem, in order."""
        key = (lang, stem)
        got = self._stem_pos.get(key)
        if got is None:
            d = self.document()
            if not d.stem_bits[lang].get(stem, 0) & self.bit:
                return _NONE
            got = self._find(self.stem_codes(lang), d.stem_code(lang)[stem])
            self._stem_pos[key] = got
        return got

    # ---- prefixes

    def prefix_positions(self, prefix: str) -> list[int]:
        """Positions of the words starting with a prefix, in order."""
        got = self._prefix.get(prefix)
        if got is None:
            d = self.document()
            srt = d.sorted_words()
            bits = d.word_bits
            i = bisect_left(srt, prefix)
            j = bisect_right(srt, prefix + "\U0010ffff")
            forms = [w for w in srt[i:j] if bits[w] & self.bit]
            if len(forms) == 1:
                got = self.word_positions(forms[0])
            else:
                got = sorted([p for w in forms for p in self.word_positions(w)])
            self._prefix[prefix] = got
        return got

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


class _StemBits(dict):  # type: ignore[type-arg]
    """lang → (stem → field bits), built for a language the first time it is asked for."""

    def __init__(self, doc: PreparedDocument) -> None:
        super().__init__()
        self._doc = weakref.ref(doc)

    def __missing__(self, lang: str) -> dict[str, int]:
        d = self._doc()
        assert d is not None
        value = self[lang] = d._build_stem_bits(lang)
        return value


class PreparedDocument:
    """A document split into words once, shared by every rule that looks at it.

    ``word_bits`` maps every distinct folded word of the document to the fields it occurs
    in, one bit per field (``FIELD_BITS``); ``stem_bits[lang]`` does the same for stems. A
    compiled term tests its fields with one dict look-up and a bit mask: "is this stem in
    the title or the text?" is ``stem_bits["en"].get(stem, 0) & TITLE_TEXT``.
    """

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
        self.memo: dict[object, object] = {}  # per-article results shared between rules
        # word → field bits: the longest field with dict.fromkeys (in C), the others by hand
        by_size = sorted(self.fields.values(), key=lambda f: len(f.words), reverse=True)
        big = by_size[0]
        bits = dict.fromkeys(big.words, big.bit)
        self._big: tuple[int, list[str]] = (big.bit, list(bits))  # its distinct words
        for f in by_size[1:]:
            if f.words:
                b = f.bit
                get = bits.get
                for w in f.words:
                    bits[w] = get(w, 0) | b
        self.word_bits: dict[str, int] = bits
        self._stem_tables: dict[str, dict[str, str]] = {}
        self._word_code: dict[str, str] | None = None
        self._stem_code: dict[str, dict[str, str]] = {}
        self._sorted: list[str] | None = None
        self.stem_bits: dict[str, dict[str, int]] = _StemBits(self)
        self._code_lang: str | None = None
        for lang in languages:
            if lang in _STEMMED:
                self.stem_bits[lang]  # noqa: B018 - built now, with the document
                self._code_lang = self._code_lang or lang

    def stem_table(self, lang: str) -> dict[str, str]:
        """word → stem for every distinct word of the document."""
        table = self._stem_tables.get(lang)
        if table is None:
            distinct = list(self.word_bits)
            table = dict(zip(distinct, get_stemmer(lang).stem_all(distinct), strict=True))
            self._stem_tables[lang] = table
        return table

    def _build_stem_bits(self, lang: str) -> dict[str, int]:
        table = self.stem_table(lang)
        big_bit, big_words = self._big
        bits = dict.fromkeys(map(table.__getitem__, big_words), big_bit)
        get = bits.get
        for f in self.fields.values():
            if f.bit != big_bit and f.words:
                b = f.bit
                for w in f.words:
                    s = table[w]
                    bits[s] = get(s, 0) | b
        return bits

    def code_language(self) -> str | None:
        """The language whose stems code the fields' positions (None: no stemmer; words)."""
        return self._code_lang

    def word_code(self) -> dict[str, str]:
        """word → its code character (see ``PreparedField.word_codes``), for all fields."""
        if self._word_code is None:
            self._word_code = dict(zip(self.word_bits, _codes(len(self.word_bits)), strict=False))
        return self._word_code

    def stem_code(self, lang: str) -> dict[str, str]:
        """stem → its code character (see ``PreparedField.stem_codes``)."""
        got = self._stem_code.get(lang)
        if got is None:
            stems = self.stem_bits[lang]
            got = self._stem_code[lang] = dict(zip(stems, _codes(len(stems)), strict=False))
        return got

    def sorted_words(self) -> list[str]:
        """The distinct words of the document, sorted (for prefixes)."""
        if self._sorted is None:
            self._sorted = sorted(self.word_bits)
        return self._sorted

    def has_prefix(self, prefix: str, bits: int) -> bool:
        """Whether a word of the given fields starts with the prefix."""
        srt = self.sorted_words()
        i = bisect_left(srt, prefix)
        n = len(srt)
        wb = self.word_bits
        while i < n and srt[i].startswith(prefix):
            if wb[srt[i]] & bits:
                return True
            i += 1
        return False


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
