"""Claim records from sentences: who did what to whom, asserted or denied, by whose word.

A *claim record* is what one sentence of one report says about the watch's subject::

    "Kremlin spokesman Dmitry Peskov told reporters that Putin had no plans to
     congratulate Trump"
    → proposition  Putin / congratulate / Trump
      polarity     denied        (negation scoping over the predicate)
      modality     planned       ("no plans to")
      attribution  Kremlin spokesman Dmitry Peskov  (keys: peskov, kremlin)

There is no parser here: the sentence is read as a sequence of word tokens
(:func:`monitor.text.tokenize`) with the punctuation between them, and the cue lists
of :mod:`monitor.lexicon` decide. The predicate is found from the watch's own hit words (a rule such
as ``Putin AND congratulat*`` names the event); light verbs ("extended his
congratulations", "sent congratulations") defer to their noun; Snowball stems make
"congratulated", "congratulations" and "congratulate" one predicate. Names are runs of
capitalised words (the last word is the key: "Russian President Vladimir Putin" →
``putin``). Everything is per sentence and cheap; the article-level work (sentence
spans, the set of words the article capitalises mid-sentence) is done once in
:class:`PreparedArticle`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import simplemma

from monitor.lexicon import (
    APPOSITIVE_OPENERS,
    ASK_WORDS,
    BOILERPLATE_RE,
    CLAUSE_WORDS,
    CONDITION_CUES,
    COPULAS,
    DENY_AFTER,
    DENY_WORDS,
    DETERMINERS,
    FAIL_VERBS,
    FUNCTION_WORDS,
    HEDGES,
    LEADING_CONJUNCTIONS,
    LIGHT_VERBS,
    NEGATORS,
    NOT_SOURCES,
    OBJECT_STOPS,
    OPINION_RE,
    PLAN_WORDS,
    PRONOUNS,
    QUESTION_CUES,
    RELATIVE_OPENERS,
    REPORT_VERBS,
    ROLE_NOUNS,
    SOURCE_NOUNS,
    SPECULATIVE,
    SPEECH_VERBS,
    TITLE_WORDS,
    TRUTH_WORDS,
)
from monitor.models import Article, Match
from monitor.text import fold, get_stemmer, split_lines, split_sentences, tokenize

Polarity = Literal["asserted", "denied"]
Modality = Literal["stated", "reported", "planned", "question", "conditional"]
MODALITIES: tuple[str, ...] = ("stated", "reported", "planned", "question", "conditional")
#: Modalities that make a record an assertion (one that can confirm or contradict).
ASSERTIVE: frozenset[str] = frozenset({"stated", "reported", "planned"})

QUOTE_OPEN = '“«„"'
QUOTE_CLOSE = '”»"'


# -- records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proposition:
    """Who did what to whom, with matching keys (folded names, predicate stem)."""

    subject: str  # as written: "Vladimir Putin", "the Russian leader", "" when unknown
    predicate: str  # lemma: "congratulate"
    object: str  # "Donald Trump", "the president-elect", ""
    subject_key: str  # "putin"
    predicate_key: str  # Snowball stem: "congratul"
    object_key: str
    subject_named: bool = False  # True: a name, False: a description or nothing
    object_named: bool = False

    def text(self) -> str:
        return " / ".join(p for p in (self.subject, self.predicate, self.object) if p)

    def to_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "predicate": self.predicate,
            "object": self.object,
            "subject_key": self.subject_key,
            "predicate_key": self.predicate_key,
            "object_key": self.object_key,
            "subject_named": self.subject_named,
            "object_named": self.object_named,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Proposition:
        return cls(
            subject=str(d.get("subject") or ""),
            predicate=str(d.get("predicate") or ""),
            object=str(d.get("object") or ""),
            subject_key=str(d.get("subject_key") or ""),
            predicate_key=str(d.get("predicate_key") or ""),
            object_key=str(d.get("object_key") or ""),
            subject_named=bool(d.get("subject_named")),
            object_named=bool(d.get("object_named")),
        )


@dataclass(frozen=True)
class Attribution:
    """Who says it: "Kremlin spokesman Dmitry Peskov", "the outlet Verstka", "AFP"."""

    text: str  # the phrase as written
    source: str  # the main name: "Dmitry Peskov" (or the phrase when there is none)
    keys: tuple[str, ...]  # folded keys of the source and its organisation: peskov, kremlin
    verb: str  # "said", "reported", "according to", ...
    via: str = ""  # a second-hand source: "two sources", "people familiar with the matter"


@dataclass(frozen=True)
class ClaimRecord:
    """What one sentence of one report claims about the watch's subject."""

    proposition: Proposition
    polarity: Polarity
    modality: Modality
    attribution: Attribution | None
    quote: str  # the sentence, exactly as in the article
    statement: str  # the clause that carries the proposition
    field: str = "text"  # "title" or "text"
    start: int = 0  # character offsets of the quote in that field
    end: int = 0
    cues: tuple[str, ...] = ()  # the words that decided polarity and modality

    @property
    def assertive(self) -> bool:
        """Does this record assert or deny something (not a question or a condition)?"""
        return self.modality in ASSERTIVE


# -- tokens of one sentence ------------------------------------------------------------------
@dataclass
class _Tok:
    norm: str
    orig: str
    start: int
    end: int
    gap: str  # the characters between the previous token and this one
    cap: bool  # starts with an upper-case letter
    name: bool = False  # part of a proper name


@dataclass
class PreparedArticle:
    """Per-article work done once: sentence spans per field and the article's proper nouns."""

    fields: dict[str, str]
    spans: dict[str, list[tuple[int, int]]]
    proper: frozenset[str] = field(default_factory=frozenset)
    language: str = "en"


def proper_nouns(text: str) -> frozenset[str]:
    """Folded words the text writes with a capital letter in the middle of a sentence."""
    out: set[str] = set()
    lower: set[str] = set()
    for a, b in split_sentences(text):
        toks = tokenize(text[a:b])
        for t in toks[1:]:
            w = text[a + t.start : a + t.end]
            if w[:1].isupper():
                out.add(t.norm)
            else:
                lower.add(t.norm)
    # a word the text also writes in lower case is an ordinary word ("State", "state")
    return frozenset(w for w in out if w not in lower and w not in FUNCTION_WORDS)


def not_claim_worthy(sentence: str, *, own_line: bool = False) -> str:
    """Why a sentence of an article's text is no claim ("" when it may be one).

    Page furniture (captions, credits, navigation, boilerplate), a heading (a short line of
    its own without closing punctuation) and first-person opinion are skipped. Questions
    are read (as modality "question": discussion, never an alert), not skipped.
    """
    s = sentence.strip()
    if BOILERPLATE_RE.match(s):
        return "boilerplate"
    if OPINION_RE.match(s):
        return "opinion"
    if own_line and not re.search(r"[.!?…:;\"'”’»)]$", s) and len(s.split()) <= 14:
        return "heading"
    return ""


def prepare_article(article: Article, language: str = "en") -> PreparedArticle:
    fields = {"title": article.title or "", "text": article.text or ""}
    spans = {k: split_lines(v, split_sentences(v)) for k, v in fields.items()}
    return PreparedArticle(fields, spans, proper_nouns(fields["text"]), language)


def _tokens(sentence: str, proper: frozenset[str], *, title: bool = False) -> list[_Tok]:
    toks: list[_Tok] = []
    prev_end = 0
    for t in tokenize(sentence):
        orig = sentence[t.start : t.end]
        toks.append(
            _Tok(t.norm, orig, t.start, t.end, sentence[prev_end : t.start], orig[:1].isupper())
        )
        prev_end = t.end
    title_case = title and sum(t.cap for t in toks) > 0.6 * max(1, len(toks))
    for i, t in enumerate(toks):
        if not t.cap or t.norm in FUNCTION_WORDS:
            continue
        if t.norm in proper:
            t.name = True
        elif i == 0 or title_case:
            # sentence-initial / title-case: capitals say nothing; an unknown word is a name
            t.name = not simplemma.is_known(t.norm, lang="en")
        else:
            t.name = True
    return toks


def _stem(word: str, language: str) -> str:
    return get_stemmer(language).stem(fold(word))


def _lemma(word: str, language: str) -> str:
    try:
        return str(simplemma.lemmatize(fold(word), lang=language))
    except ValueError:
        return fold(word)


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


def name_key(text: str) -> str:
    """Matching key of a name: its last word, folded, possessive dropped ("Putin's" → putin)."""
    ws = [w for w in tokenize(text) if w.norm not in FUNCTION_WORDS]
    if not ws:
        return fold(text.strip())
    return _strip_possessive(ws[-1].norm)


# -- the sentence reader ---------------------------------------------------------------------
class _Reader:
    def __init__(self, sentence: str, toks: list[_Tok], language: str) -> None:
        self.s = sentence
        self.t = toks
        self.language = language
        self.n = len(toks)
        self.bounds = self._clause_bounds()

    # clauses: ; : dashes, "but", ", and", "even as" start a new clause
    def _clause_bounds(self) -> list[int]:
        starts = [0]
        t = self.t
        for i in range(1, self.n):
            gap = t[i].gap
            if (
                any(c in gap for c in ";:—–")
                or " - " in gap
                or t[i].norm in CLAUSE_WORDS
                or "," in gap
                and t[i].norm in ("and", "or")
                and i + 1 < self.n
                or t[i].norm == "even"
                and i + 1 < self.n
                and t[i + 1].norm in ("as", "though")
            ):
                starts.append(i)
        return starts

    def clause(self, i: int) -> tuple[int, int]:
        a = max(b for b in self.bounds if b <= i)
        later = [b for b in self.bounds if b > i]
        return a, (later[0] if later else self.n)

    def quoted(self, i: int) -> tuple[int, int] | None:
        """Token range of the quotation that holds token i, if any."""
        s = self.s
        pos = self.t[i].start
        opens = [m.start() for m in re.finditer(f"[{QUOTE_OPEN}]", s[:pos])]
        if not opens:
            return None
        o = opens[-1]
        m = re.search(f"[{QUOTE_CLOSE}]", s[pos:])
        if not m:
            return None
        c = pos + m.start()
        if s[o] == '"' and s[:pos].count('"') % 2 == 0:
            return None
        a = next((k for k in range(self.n) if self.t[k].start > o), 0)
        b = next((k for k in range(self.n) if self.t[k].start > c), self.n)
        return a, b

    def in_parenthetical(self, i: int) -> bool:
        """Token i sits in a ", who/which ... ," aside."""
        k = i
        while k > 0 and "," not in self.t[k].gap:
            k -= 1
        if k == 0 or self.t[k].norm not in RELATIVE_OPENERS:
            return False
        return any("," in self.t[j].gap for j in range(i + 1, self.n))

    # -- names
    def name_run(self, i: int) -> tuple[int, int]:
        a = i
        while a > 0 and self.t[a - 1].name and self.t[a].gap.strip() in ("", "-"):
            a -= 1
        b = i + 1
        while (
            b < self.n
            and self.t[b].name
            and (
                self.t[b].gap.strip() in ("", "-")
                or self.t[b].gap.strip() == "."
                and self.t[b - 1].norm in ("mr", "mrs", "ms", "dr", "gen", "sen", "gov", "rep")
            )
        ):
            b += 1
        return a, b

    def text(self, a: int, b: int) -> str:
        if a >= b:
            return ""
        return self.s[self.t[a].start : self.t[b - 1].end]

    def descriptor(self, a: int, b: int, *, backward: bool) -> tuple[int, int] | None:
        """A short noun phrase ("the president-elect", "the winner") in [a, b)."""
        rng = range(b - 1, a - 1, -1) if backward else range(a, b)
        for i in rng:
            w = self.t[i].norm
            if w in ("the", "his", "her", "their", "its", "a", "an"):
                j = i + 1
                while (
                    j < b
                    and j - i <= 4
                    and self.t[j].norm not in OBJECT_STOPS
                    and "," not in self.t[j].gap
                    and not (j > i + 1 and self.t[j].name)
                ):
                    j += 1
                if j > i + 1:
                    return i, j
        return None

    # -- the parts of a claim
    def predicate(self, focus: Sequence[int]) -> int | None:
        cands = [i for i in focus if not self.t[i].name and self.t[i].norm not in FUNCTION_WORDS]
        if cands:
            i = cands[0]
            if self.t[i].norm in LIGHT_VERBS:
                nxt = self._next_content(i + 1)
                if nxt is not None:
                    return nxt
            return i
        # the rule names only entities: the first content word after the first focus name
        start = focus[0] + 1 if focus else 0
        a, b = self.clause(start if start < self.n else 0)
        return self._next_content(start, b)

    def _next_content(self, i: int, stop: int | None = None) -> int | None:
        stop = self.n if stop is None else stop
        for j in range(i, min(stop, self.n)):
            t = self.t[j]
            if t.name or t.norm in FUNCTION_WORDS or t.norm in NEGATORS or t.norm in HEDGES:
                continue
            if t.norm in DENY_WORDS or t.norm in FAIL_VERBS:
                continue
            if t.norm.endswith("ly") or t.norm in SPEECH_VERBS or t.norm in LIGHT_VERBS:
                continue
            if t.norm in PLAN_WORDS or t.norm in ("aware", "knew", "know", "yet"):
                continue
            return j
        return None

    def subject(self, p: int, ca: int) -> tuple[str, str, bool]:
        t = self.t
        # passive: "... was congratulated by Putin"
        if p > 0 and t[p - 1].norm in COPULAS and t[p].norm.endswith("ed"):
            for j in range(p + 1, min(self.n, p + 4)):
                if t[j].norm == "by" and j + 1 < self.n and t[j + 1].name:
                    a, b = self.name_run(j + 1)
                    return self.text(a, b), name_key(self.text(a, b)), True
        for lo in (ca, 0):
            for j in range(p - 1, lo - 1, -1):
                if t[j].name and not self.in_parenthetical(j):
                    if t[j].norm in SPEECH_VERBS:
                        continue
                    a, b = self.name_run(j)
                    if self._is_speaker(b) and not self._denies_own_act(b, p):
                        continue
                    return self.text(a, b), name_key(self.text(a, b)), True
            d = self.descriptor(lo, p, backward=True)
            if d:
                return self.text(*d), name_key(self.text(*d)), False
        return "", "", False

    def _denies_own_act(self, b: int, p: int) -> bool:
        """ "X denies offering ...", "X denies plan to close ...": the one who denies is the
        subject of the denied act (no "that" clause or quotation in between)."""
        t = self.t
        j = next((k for k in range(b, p) if t[k].norm in DENY_WORDS | FAIL_VERBS), None)
        if j is None:
            return False
        between = range(j + 1, p)
        return all(t[k].norm not in ("that", "reports", "report", "claims") for k in between) and (
            not self._quote_inside(j, p + 1)
        )

    def _is_speaker(self, b: int) -> bool:
        """The name ending at b is the one who speaks ("Peskov said ...")."""
        j = b
        while j < self.n and self.t[j].norm in ("has", "had", "have", "also", "then", "later"):
            j += 1
        return (
            j < self.n and self.t[j].norm in SPEECH_VERBS | DENY_WORDS and "," not in self.t[j].gap
        )

    def object(self, p: int, cb: int) -> tuple[str, str, bool]:
        t = self.t
        passive = p > 0 and t[p - 1].norm in COPULAS and t[p].norm.endswith("ed")
        if passive:
            # "Trump was congratulated by Putin": the object is before the predicate
            for j in range(p - 2, -1, -1):
                if t[j].name:
                    a, b = self.name_run(j)
                    return self.text(a, b), name_key(self.text(a, b)), True
            return "", "", False
        end = min(cb, p + 7)
        for j in range(p + 1, end):
            if j > p + 1 and "," in t[j].gap:
                break
            if t[j].name:
                a, b = self.name_run(j)
                return self.text(a, b), name_key(self.text(a, b)), True
            if t[j].norm in OBJECT_STOPS and t[j].norm != "to":
                break
        d = self.descriptor(p + 1, end, backward=False)
        if d:
            return self.text(*d), name_key(self.text(*d)), False
        return "", "", False

    def polarity(self, p: int, ca: int, cb: int) -> tuple[Polarity, list[str]]:
        t = self.t
        cues: list[str] = []
        for j in range(ca, p):
            w = t[j].norm
            if self.in_parenthetical(j):
                continue
            if w in NEGATORS or w.endswith("n't"):
                if w == "not" and j + 1 < self.n and t[j + 1].norm == "only":
                    continue
                if self._scopes_over_matrix(j, p):
                    continue  # "nobody expected that ...", "did not say that ..."
                cues.append(w)
            elif w in DENY_WORDS or w in FAIL_VERBS:
                cues.append(w)
            elif w == "yet" and j + 1 < p and t[j + 1].norm == "to":
                cues.append("yet to")
        for j in range(p + 1, cb):
            w = t[j].norm
            if w in DENY_AFTER and j > 0 and t[j - 1].norm in COPULAS:
                cues.append(w)
        # a denial after the statement: "..., Peskov denied."
        last = [k for k in range(p + 1, self.n) if t[k].norm in DENY_WORDS]
        if last and last[-1] >= self.n - 2:
            cues.append(t[last[-1]].norm)
        return ("denied" if len(cues) % 2 else "asserted"), cues

    def _scopes_over_matrix(self, j: int, p: int) -> bool:
        """The negation at j belongs to a verb that takes the predicate's clause as its
        object ("nobody expected that", "did not say whether"), not to the predicate; a
        denial ("did not deny that") and a truth phrase ("it is not true that") keep it."""
        t = self.t
        for k in range(j + 1, p):
            if t[k].norm in DENY_WORDS or t[k].norm in FAIL_VERBS:
                return False
            if t[k].norm in ("that", "whether") and k > j + 1:
                return t[k - 1].norm not in TRUTH_WORDS
        return False

    def modality(
        self, p: int, ca: int, cb: int, attr: Attribution | None
    ) -> tuple[Modality, list[str]]:
        t = self.t
        before = [t[j].norm for j in range(ca, p)]
        near = before[-4:]
        # a question: "whether", "asked if", a question mark closing the clause
        for j in range(0, p):
            w = t[j].norm
            if w in QUESTION_CUES:
                return "question", [w]
            if w == "if" and j > 0 and t[j - 1].norm in ASK_WORDS:
                return "question", ["asked if"]
        if self.s.rstrip().endswith("?"):
            return "question", ["?"]
        for j in range(ca, p):
            if t[j].norm in CONDITION_CUES:
                return "conditional", [t[j].norm]
        for w in near:
            if w in SPECULATIVE:
                return "conditional", [w]
        hedges = [w for w in (t[j].norm for j in range(ca, cb)) if w in HEDGES]
        if (
            attr and (attr.via or attr.verb in REPORT_VERBS or attr.verb == "according to")
        ) or hedges:
            cue = hedges[:1] or [attr.verb if attr else "reported"]
            return "reported", cue
        for w in before[-6:]:
            if w in PLAN_WORDS:
                return "planned", [w]
        return "stated", []

    def attribution(self, p: int, ca: int, cb: int) -> Attribution | None:
        t = self.t
        # "according to X"
        for j in range(self.n - 1):
            if t[j].norm == "according" and t[j + 1].norm == "to":
                k = j + 2
                e = k
                while e < self.n and "," not in t[e].gap and t[e].norm not in ("that", "who"):
                    e += 1
                if e > k:
                    phrase = self.text(k, e)
                    if (j < p and e <= p) or j > p:
                        return self._make_attr(k, e, "according to", phrase)
        via = self._via()
        # a headline's "Kremlin: Putin has no plans ..." speaks through a colon
        for j in range(1, min(p, 5)):
            if ":" in t[j].gap and all(t[k].name for k in range(j)):
                return self._make_attr(0, j, ":", via=via)
        q = self.quoted(p)
        # the sentence ends with its speaker: "..., Kasper said." / "..., said officials."
        for v in range(max(p + 1, self.n - 5), self.n):
            if self._says(v) and "," in self.t[max(0, self._seg_start(v, p + 1))].gap:
                sp = self._speaker_before(v, after=p + 1) or self._speaker_after(v)
                if sp and max(sp[1], v + 1) >= self.n:
                    return self._make_attr(sp[0], sp[1], t[v].orig, via=via)
        # a quotation closed right before its speaker: '..." said X' / '...," X said'
        for v in range(p + 1, self.n):
            if not self._says(v):
                continue
            closes = any(c in t[v].gap for c in QUOTE_CLOSE + "'’")
            if closes and v + 1 < self.n:
                sp = self._speaker_after(v)
                if sp:
                    return self._make_attr(sp[0], sp[1], t[v].orig, via=via)
            sp = self._speaker_before(v, after=p + 1)
            if sp and any(c in t[sp[0]].gap for c in QUOTE_CLOSE + "'’"):
                return self._make_attr(sp[0], sp[1], t[v].orig, via=via)
        # preposed: the nearest speech verb before the predicate, its speaker before it
        lo = q[0] if q else p
        for v in range(lo - 1, -1, -1):
            if self._says(v) and not self.in_parenthetical(v):
                if v > 0 and (t[v - 1].norm in DENY_WORDS or t[v - 1].norm in DETERMINERS):
                    continue  # a noun: "denied reports that", "the report"
                sp = self._speaker_before(v)
                if sp:
                    return self._make_attr(sp[0], sp[1], t[v].orig, via=via)
        # postposed: "..., X said" / "..., said X" / "” Peskov said" / "..., say officials"
        hi = q[1] if q else p + 1
        for v in range(hi, self.n):
            if self._says(v):
                sp = self._speaker_before(v, after=hi)
                if sp:
                    return self._make_attr(sp[0], sp[1], t[v].orig, via=via)
                sp = self._speaker_after(v)
                if sp:
                    return self._make_attr(sp[0], sp[1], t[v].orig, via=via)
        return None

    def _says(self, v: int) -> bool:
        """Token v is a verb of saying (or denying), not part of a name ("Washington Post")."""
        t = self.t[v]
        return t.norm in SPEECH_VERBS | DENY_WORDS and not (t.name and v > 0)

    def _source_run(self, i: int, lo: int = 0) -> tuple[int, int]:
        """The name run at token i (from lo at the earliest), without a trailing date word
        ("told UPI Wednesday" → UPI)."""
        a, b = self.name_run(i)
        a = max(a, lo)
        while b - 1 > a and self.t[b - 1].norm in NOT_SOURCES:
            b -= 1
        return a, b

    def _not_source(self, a: int, b: int) -> bool:
        """A date, weekday, month, disease or number is never who says something."""
        words = [self.t[i].norm for i in range(a, b) if self.t[i].norm not in FUNCTION_WORDS]
        return not words or all(w in NOT_SOURCES or w[:1].isdigit() for w in words)

    def _speaker_after(self, v: int) -> tuple[int, int] | None:
        """The speaker right after verb v: a name ("said Ty Votaw") or a source noun
        phrase ("said officials", "said a spokesman for the ministry")."""
        t = self.t
        k = v + 1
        if k >= self.n or "," in t[k].gap and not t[k].name:
            return None
        if t[k].name:
            a, b = self._source_run(k)
            return None if self._not_source(a, b) else (a, b)
        j = k
        while j < self.n and t[j].norm in ("a", "an", "the", "its", "their", "his", "her"):
            j += 1
        # up to two modifiers before the noun: "a Moroccan reporter", "a British military expert"
        m = j
        while m < min(self.n, j + 2) and t[m].norm not in SOURCE_NOUNS | FUNCTION_WORDS:
            m += 1
        if m < self.n and t[m].norm in SOURCE_NOUNS and not self._quote_inside(k, m + 1):
            e = m + 1
            while e < self.n and t[e].norm in SOURCE_NOUNS and "," not in t[e].gap:
                e += 1
            # "a spokesman for the ministry": the organisation belongs to the phrase
            if e + 1 < self.n and t[e].norm in ("for", "of") and "," not in t[e].gap:
                e += 1
                while e < self.n and (t[e].name or t[e].norm in ("the", "a")):
                    if "," in t[e].gap:
                        break
                    e += 1
            return k, e
        return None

    def _via(self) -> str:
        t = self.t
        for j in range(self.n):
            if t[j].norm in ("citing", "quoting"):
                e = j + 1
                while e < self.n and "," not in t[e].gap and t[e].norm not in ("that", "reported"):
                    e += 1
                return self.text(j + 1, e)
        return ""

    def _seg_start(self, j: int, after: int) -> int:
        """First token of the comma-separated segment that holds token j."""
        k = j
        while k > after and "," not in self.t[k].gap:
            k -= 1
        return k

    def _speaker_before(self, v: int, after: int = 0) -> tuple[int, int] | None:
        """The name or noun phrase that speaks with verb v, within the same comma segment,
        or before one comma-enclosed aside ("X, head of Y, said", "X, citing Z, reported")."""
        t = self.t
        j = v - 1
        while j >= after and t[j].norm in ("has", "had", "have", "also", "then", "later"):
            j -= 1
        if j < after:
            return None
        seg_a = self._seg_start(j, after)
        if "," in t[j + 1].gap:
            # "..., the Black Death, say officials": what precedes a comma is not the speaker,
            # unless it is an aside after a name ("Humberto Garcia, of the Institute, said")
            if seg_a <= after or t[seg_a].norm not in APPOSITIVE_OPENERS | ROLE_NOUNS:
                return None
            prev = seg_a - 1
            start = self._seg_start(prev, after)
            if t[prev].name:
                a, b = self.name_run(prev)
                a = max(a, start)
            elif prev - start <= 5 and t[prev].norm not in FUNCTION_WORDS | PRONOUNS:
                a, b = start, prev + 1  # "The family statement, which was released ..., said"
            else:
                return None
            return None if self._not_source(a, b) else (a, b)
        if seg_a > j:
            return None
        for i in range(j, seg_a - 1, -1):
            if t[i].name:
                a, b = self._source_run(i, seg_a)
                if self._not_source(a, b):
                    return None
                return a, b
        while seg_a < j and t[seg_a].norm in LEADING_CONJUNCTIONS | RELATIVE_OPENERS:
            seg_a += 1
        # a noun phrase: "officials", "the outlet", "the Kremlin's press office"
        if j - seg_a <= 6 and t[j].norm not in FUNCTION_WORDS and t[j].norm not in PRONOUNS:
            if self._quote_inside(seg_a, j + 1) or self._not_source(seg_a, j + 1):
                return None
            return seg_a, j + 1
        return None

    def _quote_inside(self, a: int, b: int) -> bool:
        """A quotation mark inside [a, b): the words are quoted speech, not a speaker."""
        return any(c in self.t[i].gap for i in range(a + 1, b) for c in QUOTE_OPEN + QUOTE_CLOSE)

    def _make_attr(self, a: int, b: int, verb: str, phrase: str = "", via: str = "") -> Attribution:
        t = self.t
        # widen to the role words just before the name: "Kremlin spokesman Dmitry Peskov"
        ra = a
        while ra > 0 and ra > a - 4 and "," not in t[ra].gap:
            w = t[ra - 1]
            if (
                w.name
                or w.norm in ROLE_NOUNS
                or w.norm in TITLE_WORDS
                or w.norm
                in (
                    "independent",
                    "outlet",
                    "news",
                    "site",
                    "agency",
                    "newspaper",
                    "russian",
                )
            ):
                ra -= 1
                continue
            break
        text = phrase or self.text(ra, b)
        names = [i for i in range(a, b) if t[i].name]
        if names and t[b - 1].norm in SOURCE_NOUNS and not t[b - 1].name:
            # "a Moroccan reporter": the name qualifies the noun that speaks
            source = self.text(a, b)
            keys = [name_key(source)] + [_strip_possessive(t[i].norm) for i in names]
        elif names:
            na, nb = self._source_run(names[-1], a)
            source = self.text(na, nb)
            keys = [name_key(source)]
            # an organisation word before a role noun: "Kremlin spokesman" → kremlin
            for i in range(ra, na):
                if t[i].name and i + 1 < self.n and t[i + 1].norm in ROLE_NOUNS:
                    keys.append(_strip_possessive(t[i].norm))
        else:
            source = self.text(a, b)
            keys = [name_key(source)]
        return Attribution(
            text=text,
            source=source,
            keys=tuple(dict.fromkeys(k for k in keys if k)),
            verb=fold(verb),
            via=via,
        )


def _focus_tokens(toks: list[_Tok], offsets: Iterable[tuple[int, int]]) -> list[int]:
    out = []
    for a, b in offsets:
        for i, t in enumerate(toks):
            if t.start < b and a < t.end:
                out.append(i)
    return sorted(set(out))


def read_sentence(
    sentence: str,
    focus: Iterable[tuple[int, int]] = (),
    *,
    proper: frozenset[str] = frozenset(),
    language: str = "en",
    title: bool = False,
) -> ClaimRecord | None:
    """Read one sentence as a claim record.

    ``focus``: character spans (in the sentence) of the watch's hit words; the predicate
    is chosen among them. Without focus, the first content word after the first name is
    the predicate (the way a headline-like statement reads: "Putin congratulated Trump").
    Returns None when no predicate can be found.
    """
    toks = _tokens(sentence, proper, title=title)
    if not toks:
        return None
    r = _Reader(sentence, toks, language)
    foc = _focus_tokens(toks, focus)
    if not foc:
        first_name = next((i for i, t in enumerate(toks) if t.name), None)
        foc = [first_name] if first_name is not None else []
    p = r.predicate(foc)
    if p is None:
        return None
    ca, cb = r.clause(p)
    q = r.quoted(p)
    if q:
        ca, cb = max(ca, q[0]), min(cb, q[1])
    subj, skey, snamed = r.subject(p, ca)
    obj, okey, onamed = r.object(p, cb)
    attr = r.attribution(p, ca, cb)
    polarity, pcues = r.polarity(p, ca, cb)
    modality, mcues = r.modality(p, ca, cb, attr)
    pw = toks[p].orig
    lemma = _lemma(pw, language)
    prop = Proposition(
        subject=subj,
        predicate=lemma,
        object=obj,
        subject_key=skey,
        predicate_key=_stem(pw, language),
        object_key=okey,
        subject_named=snamed,
        object_named=onamed,
    )
    statement = sentence[toks[ca].start : toks[cb - 1].end] if cb > ca else sentence
    return ClaimRecord(
        proposition=prop,
        polarity=polarity,
        modality=modality,
        attribution=attr,
        quote=sentence,
        statement=statement,
        cues=tuple(pcues + mcues),
    )


def sentence_case(text: str, language: str = "en") -> str:
    """A Title Case or ALL CAPS line in sentence case, for reading: words the dictionary
    knows go to lower case, the others stay capitalised (names), the first word and
    acronyms written in capitals inside Title Case keep their capital. Text already in
    sentence case comes back unchanged."""
    words = re.findall(r"[^\W\d_][\w'’-]*", text)
    if not words:
        return text
    upper = sum(w.isupper() for w in words) >= 0.8 * len(words) and len(words) > 1
    title = sum(w[:1].isupper() for w in words) >= 0.6 * len(words) and len(words) > 2
    if not (upper or title):
        return text

    def known(w: str) -> bool:
        try:
            return bool(simplemma.is_known(fold(w), lang=language))
        except ValueError:
            return False

    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        if not upper and w.isupper() and len(w) > 1:
            return w  # an acronym inside Title Case: "NASA", "ISIS"
        low = w.lower()
        if low in FUNCTION_WORDS or known(low):
            return low
        return w[:1].upper() + w[1:].lower() if upper else w

    out = re.sub(r"[^\W\d_][\w'’-]*", fix, text)
    i = next((k for k, c in enumerate(out) if c.isalpha()), 0)
    return out[:i] + out[i : i + 1].upper() + out[i + 1 :]


def read_statement(text: str, language: str = "en") -> ClaimRecord | None:
    """A user's claim ("Putin congratulated Trump on his election win") as a record.

    Any letter case reads the same: a Title Case or ALL CAPS claim is read in sentence case
    (:func:`sentence_case`); the record keeps the text as the user wrote it for display.
    """
    text = " ".join(text.split())
    parse = sentence_case(text, language)
    rec = read_sentence(parse, proper=proper_nouns("X " + parse), language=language)
    if rec is None or parse == text:
        return rec
    return replace(rec, quote=text, statement=text)


def _own_line(text: str, a: int, b: int) -> bool:
    """The span [a, b) is a whole line of the text."""
    return (a == 0 or text[a - 1] == "\n") and (b == len(text) or text[b] == "\n")


def extract_claims(
    article: Article,
    match: Match,
    language: str = "en",
    prepared: PreparedArticle | None = None,
) -> list[ClaimRecord]:
    """Claim records of the sentences that carry the watch's subject.

    A sentence qualifies when the hits of the match inside it cover all the rule's
    distinct terms that matched (at most two needed), i.e. where the terms occur together.
    Records come in article order, the title first.
    """
    prep = prepared or prepare_article(article, language)
    need = min(2, len({h.term for h in match.hits})) or 1
    out: list[ClaimRecord] = []
    for fname in ("title", "text"):
        text = prep.fields.get(fname, "")
        hits = [h for h in match.hits if h.field == fname]
        if not text or not hits:
            continue
        for a, b in prep.spans[fname]:
            inside = [h for h in hits if a <= h.start and h.end <= b]
            if len({h.term for h in inside}) < need:
                continue
            if fname == "text" and not_claim_worthy(text[a:b], own_line=_own_line(text, a, b)):
                continue
            rec = read_sentence(
                text[a:b],
                [(h.start - a, h.end - a) for h in inside],
                proper=prep.proper,
                language=language,
                title=fname == "title",
            )
            if rec is None:
                continue
            out.append(replace(rec, field=fname, start=a, end=b))
    return out


__all__ = [
    "ASSERTIVE",
    "MODALITIES",
    "Attribution",
    "ClaimRecord",
    "Modality",
    "Polarity",
    "PreparedArticle",
    "Proposition",
    "extract_claims",
    "name_key",
    "not_claim_worthy",
    "prepare_article",
    "proper_nouns",
    "read_sentence",
    "read_statement",
    "sentence_case",
]
