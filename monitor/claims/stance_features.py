"""Text preparation and claim/text pair features for the stance engine.

Everything here needs only numpy and scipy, and is shared by inference
(``monitor.claims.stance``) and training (``training.stance``), so the
features a model was trained on are exactly the ones it is asked about later.

Three groups of features describe one (claim, text) pair:

* relatedness: TF-IDF cosines (whole text, best sentences, lead), SVD cosines,
  word and bigram overlap. Words never seen in training are hashed into extra
  columns with the highest IDF, so a new story's names still count.
* cues: negation, denial, hedging, confirmation, question and quotation counts in
  the sentences most similar to the claim, in the whole text and in the claim.
* proposition: the sentences that carry the claim's own predicate (its content
  words that are not names) and whether a negation or denial scopes over that
  predicate, or a hedge qualifies it. The rule layer in ``stance.py`` reads the
  same analysis.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from monitor.lexicon import (
    ATTRIBUTION_WORDS,
    CLAUSE_BREAKS,
    CONFIRM_RE,
    CONTRAST,
    CONTRAST_PAIRS,
    DEBUNK_PAIRS,
    DEBUNK_WORDS,
    DENY_VERB_RE,
    DENY_WORD_RE,
    DOUBT_NEG,
    DOUBT_OBJECT_RE,
    DOUBT_PAIRS,
    DOUBT_RE,
    HEDGE_RE,
    NEGATIONS,
    NO_PLAN_WORDS,
    NONCOMMITTAL,
    QUESTION_OPENERS,
    REFUTED_AFTER,
    REPORT_NOUNS,
    STOPWORDS_EN,
    STRONG_HEDGE_RE,
)
from monitor.text import get_stemmer, split_sentences, tokenize

# Function words left out of the TF-IDF vectors and of overlap counts. Negations are
# here too: they are counted as cues, and should not make two texts look alike.
STOPWORDS = STOPWORDS_EN


def debunk_count(words: list[str]) -> int:
    """Debunking words and word pairs in one sentence's folded words."""
    n = sum(w in DEBUNK_WORDS for w in words)
    n += sum(p in DEBUNK_PAIRS for p in zip(words, words[1:], strict=False))
    return n


# Doubt, as opposed to denial: FNC-1 labels "NASA raises doubts", "experts sceptical",
# "could not confirm", "no evidence" bodies `disagree`, though they carry no negation of the
# claim's verb: words, a negated evidence/confirmation noun or verb, and word pairs
# (DOUBT_RE, DOUBT_NEG/DOUBT_OBJECT_RE, DOUBT_PAIRS in monitor.lexicon).


def doubt_count(words: list[str]) -> int:
    """Doubt cues in one sentence's folded words ("doubts", "no evidence", "ruled out")."""
    n = sum(bool(DOUBT_RE.match(w)) for w in words)
    for j, w in enumerate(words):
        if DOUBT_OBJECT_RE.match(w) and any(x in DOUBT_NEG for x in words[max(0, j - 3) : j]):
            n += 1
    n += sum(p in DOUBT_PAIRS for p in zip(words, words[1:], strict=False))
    return n


def contrast_count(words: list[str]) -> int:
    n = sum(w in CONTRAST for w in words)
    return n + sum(p in CONTRAST_PAIRS for p in zip(words, words[1:], strict=False))


NEG, DENY, HEDGE, CONFIRM = 1, 2, 4, 8
CUE_NAMES = ("neg", "deny", "hedge", "confirm", "question", "quote")
N_CUES = len(CUE_NAMES)

NEG_WINDOW = 8  # tokens before the predicate that a negation may stand in
DENY_WINDOW = 14


@functools.lru_cache(maxsize=200_000)
def cue_bits(word: str) -> int:
    """Bit set of the cue families a folded word belongs to."""
    bits = 0
    if word in NEGATIONS or word.endswith("n't"):
        bits |= NEG
    if DENY_WORD_RE.match(word):
        bits |= DENY
    if HEDGE_RE.match(word):
        bits |= HEDGE
    if CONFIRM_RE.match(word):
        bits |= CONFIRM
    return bits


@functools.lru_cache(maxsize=200_000)
def strong_hedge(word: str) -> bool:
    return bool(STRONG_HEDGE_RE.match(word))


def is_cue_word(word: str) -> bool:
    return cue_bits(word) != 0 or strong_hedge(word)


def _clean(word: str) -> str:
    if word.endswith("'s"):
        return word[:-2]
    return word


def stems_of(words: list[str]) -> list[str]:
    return get_stemmer("en").stem_all([_clean(w) for w in words])


def is_content(word: str) -> bool:
    return (
        word not in STOPWORDS
        and "'" not in word
        and not word.isdigit()
        and len(word) > 1
        and not cue_bits(word) & NEG
    )


# ---------------------------------------------------------------------------------------
# Vocabulary: IDF weights, hashed columns for unseen words, SVD projection


@dataclass
class Vocabulary:
    index: dict[str, int]
    idf: np.ndarray  # (V,) float64
    n_hash: int
    unseen_idf: float
    components: np.ndarray  # (V, k) float32, SVD term loadings

    @property
    def dim(self) -> int:
        return len(self.index) + self.n_hash

    @functools.cached_property
    def idf_full(self) -> np.ndarray:
        return np.concatenate([self.idf, np.full(self.n_hash, self.unseen_idf)])

    def column(self, stem: str) -> int:
        j = self.index.get(stem)
        if j is None:
            j = len(self.index) + zlib.crc32(stem.encode("utf-8")) % self.n_hash
        return j

    def known(self, stem: str) -> bool:
        return stem in self.index

    def vectorize(self, docs: list[list[str]]) -> sp.csr_matrix:
        """L2-normalised sublinear TF-IDF rows for lists of content stems."""
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        idf = self.idf_full
        for doc in docs:
            counts = Counter(self.column(s) for s in doc)
            cols = list(counts)
            vals = np.array([(1.0 + math.log(counts[c])) * idf[c] for c in cols])
            norm = float(np.sqrt((vals * vals).sum())) if cols else 0.0
            if norm > 0:
                vals /= norm
            indices.extend(cols)
            data.extend(vals.tolist())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
            shape=(len(docs), self.dim),
        )

    def project(self, mat: sp.csr_matrix) -> np.ndarray:
        """SVD coordinates of TF-IDF rows, L2-normalised (hashed columns drop out)."""
        v = len(self.index)
        known = mat[:, :v]
        z = np.asarray(known @ self.components, dtype=np.float64)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return z / norms


def fit_vocabulary(
    docs: list[list[str]], *, min_df: int = 2, n_hash: int = 4096, k: int = 100, seed: int = 0
) -> Vocabulary:
    """Fit IDF and an SVD on documents given as lists of content stems (training only)."""
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    terms = sorted(t for t, c in df.items() if c >= min_df)
    index = {t: i for i, t in enumerate(terms)}
    n = len(docs)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms])
    unseen_idf = math.log(1 + n) + 1.0
    vocab = Vocabulary(index, idf, n_hash, unseen_idf, np.zeros((len(terms), 0), np.float32))
    mat = vocab.vectorize(docs)[:, : len(terms)].tocsc()
    from scipy.sparse.linalg import svds

    k = max(1, min(k, min(mat.shape) - 1))
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(min(mat.shape))
    _, s, vt = svds(mat.astype(np.float64), k=k, v0=v0)
    order = np.argsort(-s)
    vocab.components = np.ascontiguousarray(vt[order].T.astype(np.float32))
    return vocab


# ---------------------------------------------------------------------------------------
# Prepared texts and claims


@dataclass
class PreparedText:
    """An article analysed once, ready to be judged against any number of claims."""

    text: str
    spans: list[tuple[int, int]]
    sent_words: list[list[str]]
    sent_stems: list[list[str]]
    sent_stem_sets: list[frozenset[str]]
    sent_mat: sp.csr_matrix  # (S, D)
    body_vec: sp.csr_matrix  # (1, D)
    sent_svd: np.ndarray  # (S, k)
    body_svd: np.ndarray  # (k,)
    sent_cues: np.ndarray  # (S, N_CUES)
    body_cues: np.ndarray  # (N_CUES,) per 100 words
    body_stems: frozenset[str]
    body_bigrams: frozenset[tuple[str, str]]
    cap_ratio: dict[str, float]
    n_words: int
    vocab_id: int = 0
    # per sentence: debunking phrases ("not true", "no evidence", "satirical", ...) and the
    # token positions of negation/denial words (for their distance to the claim's words)
    sent_debunk: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    sent_refute_pos: list[list[int]] = field(repr=False, default_factory=list)
    # per sentence: doubt cues, contrast markers, denial words + debunking phrases
    sent_doubt: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    sent_contrast: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    sent_refute: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]

    def sentence(self, i: int) -> str:
        a, b = self.spans[i]
        return self.text[a:b]


@dataclass
class PreparedClaim:
    text: str
    words: list[str]
    stems: list[str]
    core: list[str]  # content stems that are not cue words, in order, unique
    capitalised: dict[str, bool]  # core stem → written with a capital in the claim
    title_case: bool
    cues: np.ndarray  # (N_CUES + 1,)
    negated: bool
    bigrams: frozenset[tuple[str, str]]
    vec: sp.csr_matrix = field(repr=False, default=None)  # type: ignore[assignment]
    svd: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]


MAX_SENTENCES = 400


# Training prepares the same bodies under several vocabularies; it sets this to a dict
# so the vocabulary-independent analysis (sentences, tokens, stems) is done once per text.
ANALYSIS_CACHE: dict[str, tuple] | None = None


def prepare_text(text: str, vocab: Vocabulary) -> PreparedText:
    cache = ANALYSIS_CACHE
    if cache is not None and text in cache:
        spans, sent_words, sent_stems, cap_ratio = cache[text]
    else:
        spans, sent_words, sent_stems, cap_ratio = _analyse(text)
        if cache is not None:
            cache[text] = (spans, sent_words, sent_stems, cap_ratio)
    return _vectorise(text, spans, sent_words, sent_stems, cap_ratio, vocab)


def _analyse(text: str) -> tuple:
    spans = split_sentences(text)[:MAX_SENTENCES]
    if not spans and text.strip():
        spans = [(0, len(text))]
    sent_words: list[list[str]] = []
    caps: Counter[str] = Counter()
    seen_mid: Counter[str] = Counter()
    all_words: list[str] = []
    tok_sents: list[list] = []
    for a, b in spans:
        toks = tokenize(text[a:b])
        tok_sents.append(toks)
        ws = [t.norm for t in toks]
        sent_words.append(ws)
        all_words.extend(ws)
    all_stems = stems_of(all_words)
    sent_stems: list[list[str]] = []
    pos = 0
    for si, ws in enumerate(sent_words):
        st = all_stems[pos : pos + len(ws)]
        pos += len(ws)
        sent_stems.append(st)
        a = spans[si][0]
        for j, t in enumerate(tok_sents[si]):
            if j == 0:
                continue
            stem = st[j]
            seen_mid[stem] += 1
            if text[a + t.start].isupper():
                caps[stem] += 1
    cap_ratio = {s: caps[s] / n for s, n in seen_mid.items()}
    return spans, sent_words, sent_stems, cap_ratio


def _vectorise(
    text: str,
    spans: list[tuple[int, int]],
    sent_words: list[list[str]],
    sent_stems: list[list[str]],
    cap_ratio: dict[str, float],
    vocab: Vocabulary,
) -> PreparedText:
    content = [
        [s for w, s in zip(ws, st, strict=True) if is_content(w)]
        for ws, st in zip(sent_words, sent_stems, strict=True)
    ]
    all_content = [s for c in content for s in c]
    sent_mat = vocab.vectorize(content) if content else sp.csr_matrix((0, vocab.dim))
    body_vec = vocab.vectorize([all_content])
    sent_svd = vocab.project(sent_mat) if content else np.zeros((0, vocab.components.shape[1]))
    body_svd = vocab.project(body_vec)[0]

    cues = np.zeros((len(spans), N_CUES))
    for si, ws in enumerate(sent_words):
        for w in ws:
            bits = cue_bits(w)
            if bits:
                cues[si, 0] += bool(bits & NEG)
                cues[si, 1] += bool(bits & DENY)
                cues[si, 2] += bool(bits & HEDGE)
                cues[si, 3] += bool(bits & CONFIRM)
        a, b = spans[si]
        s = text[a:b]
        cues[si, 4] = 1.0 if s.rstrip("\"'”’) ").endswith("?") else 0.0
        cues[si, 5] = 1.0 if any(q in s for q in '"“”«»') else 0.0
    debunk = np.array([debunk_count(ws) for ws in sent_words], dtype=np.float64)
    doubt = np.array([doubt_count(ws) for ws in sent_words], dtype=np.float64)
    contrast = np.array([contrast_count(ws) for ws in sent_words], dtype=np.float64)
    refute = cues[:, 1] + debunk if len(spans) else np.zeros(0)
    refute_pos = [[j for j, w in enumerate(ws) if cue_bits(w) & (NEG | DENY)] for ws in sent_words]
    n_words = sum(len(ws) for ws in sent_words)
    body_cues = cues.sum(axis=0) * (100.0 / max(n_words, 1))
    bigrams = frozenset(zip(all_content, all_content[1:], strict=False))
    return PreparedText(
        text=text,
        spans=spans,
        sent_words=sent_words,
        sent_stems=sent_stems,
        sent_stem_sets=[frozenset(s) for s in sent_stems],
        sent_mat=sent_mat,
        body_vec=body_vec,
        sent_svd=sent_svd,
        body_svd=body_svd,
        sent_cues=cues,
        body_cues=body_cues,
        body_stems=frozenset(all_content),
        body_bigrams=bigrams,
        cap_ratio=cap_ratio,
        n_words=n_words,
        vocab_id=id(vocab),
        sent_debunk=debunk,
        sent_refute_pos=refute_pos,
        sent_doubt=doubt,
        sent_contrast=contrast,
        sent_refute=refute,
    )


def prepare_claims(claims: list[str], vocab: Vocabulary) -> list[PreparedClaim]:
    out: list[PreparedClaim] = []
    for claim in claims:
        toks = tokenize(claim)
        ws = [t.norm for t in toks]
        st = stems_of(ws)
        core: list[str] = []
        capitalised: dict[str, bool] = {}
        n_alpha = n_upper = 0
        for t, w, s in zip(toks, ws, st, strict=True):
            upper = claim[t.start].isupper()
            if w not in STOPWORDS and w[:1].isalpha():
                n_alpha += 1
                n_upper += upper
            if is_content(w) and not is_cue_word(w) and s not in capitalised:
                core.append(s)
                capitalised[s] = upper
            elif s in capitalised and upper:
                capitalised[s] = True
        cues = np.zeros(N_CUES + 1)
        for w in ws:
            bits = cue_bits(w)
            cues[0] += bool(bits & NEG)
            cues[1] += bool(bits & DENY)
            cues[2] += bool(bits & HEDGE)
            cues[3] += bool(bits & CONFIRM)
        cues[4] = 1.0 if "?" in claim else 0.0
        cues[5] = 1.0 if any(q in claim for q in "\"'“”‘’") else 0.0
        cues[6] = len(ws)
        content = [s for w, s in zip(ws, st, strict=True) if is_content(w)]
        out.append(
            PreparedClaim(
                text=claim,
                words=ws,
                stems=st,
                core=core,
                capitalised=capitalised,
                title_case=n_alpha > 2 and n_upper >= 0.7 * n_alpha,
                cues=cues,
                negated=bool(cues[0] or cues[1]),
                bigrams=frozenset(zip(content, content[1:], strict=False)),
            )
        )
    if out:
        mat = vocab.vectorize(
            [[s for w, s in zip(c.words, c.stems, strict=True) if is_content(w)] for c in out]
        )
        z = vocab.project(mat)
        for i, c in enumerate(out):
            c.vec = mat[i]
            c.svd = z[i]
    return out


# ---------------------------------------------------------------------------------------
# Proposition analysis: which sentences state the claim's predicate, and how


@dataclass
class PropositionReading:
    names: tuple[str, ...]
    predicates: tuple[str, ...]
    affirm: list[int] = field(default_factory=list)  # sentence indices
    contra: list[int] = field(default_factory=list)
    weak: list[int] = field(default_factory=list)  # a negation nearby, no clear scope
    hedged: list[int] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)  # predicate inside a question
    full: list[int] = field(default_factory=list)  # sentences stating the whole claim
    best_coverage: float = 0.0
    predicate_found: bool = False
    claim_negated: bool = False
    claim_attributed: bool = False  # "X says ...", "Report: ...", "... may ...", a question
    claim_refuting: bool = False  # the claim itself negates, denies, debunks or doubts
    doubt_near: float = 0.0  # doubt cues in the three sentences most like the claim

    @property
    def n_prop(self) -> int:
        return (
            len(self.affirm)
            + len(self.contra)
            + len(self.weak)
            + len(self.hedged)
            + len(self.asked)
        )


def _colon_speaker(text: str) -> bool:
    """A short colon-prefixed speaker or label: "GOP Rep: ...", "Report: ..."."""
    head = text.split(":", 1)
    return len(head) == 2 and 0 < len(head[0].split()) <= 5 and bool(head[1].strip())


def claim_attributed(text: str, words: list[str]) -> bool:
    """The claim reports what someone says (or asks) rather than stating it itself."""
    if "?" in text or any(w in ATTRIBUTION_WORDS for w in words):
        return True
    return _colon_speaker(text)


def _split_names(claim: PreparedClaim, body: PreparedText) -> tuple[list[str], list[str]]:
    names, preds = [], []
    for s in claim.core:
        r = body.cap_ratio.get(s)
        if r is not None:
            name = r >= 0.6
        else:
            # never written mid-sentence in the text: trust the claim's capital letter,
            # its first word included ("Putin congratulated Trump")
            name = claim.capitalised.get(s, False) and not claim.title_case
        (names if name else preds).append(s)
    return names, preds


def read_proposition(claim: PreparedClaim, body: PreparedText) -> PropositionReading:
    """Find the sentences that state the claim's predicate and read how each treats it.

    A sentence counts when it holds at least half of the claim's predicate words (at
    least one), every name of the claim appears in it or the sentence before, and it
    covers at least 60 % of the claim's content words. For a negated claim ("X did not
    ...") the readings are the sentences' own polarities; the rule layer ignores them.
    """
    names, preds = _split_names(claim, body)
    reading = PropositionReading(
        tuple(names),
        tuple(preds),
        claim_negated=claim.negated,
        claim_attributed=claim_attributed(claim.text, claim.words),
    )
    if not preds or not claim.core:
        return reading
    core = set(claim.core)
    pred_set = set(preds)
    name_set = set(names)
    need = max(1, (len(pred_set) + 1) // 2)
    for si, stems in enumerate(body.sent_stems):
        sset = body.sent_stem_sets[si]
        found = pred_set & sset
        if not found:
            continue
        reading.predicate_found = True
        context = sset | body.sent_stem_sets[si - 1] if si > 0 else sset
        cov = len(core & context) / len(core)
        reading.best_coverage = max(reading.best_coverage, cov)
        if cov < 0.6 or len(found) < need or not name_set <= context:
            continue
        verdict = _polarity(body.sent_words[si], stems, pred_set, set(claim.words))
        full = cov == 1.0 and found == pred_set
        if verdict == "hedged" and not full:
            continue  # a hedge over part of the claim says little about the whole
        getattr(reading, verdict).append(si)
        if full:
            reading.full.append(si)
    return reading


def _polarity(words: list[str], stems: list[str], preds: set[str], claim_words: set[str]) -> str:
    """How one sentence treats the predicate: affirm, contra, weak, hedged or asked.

    "contra" needs an explicit pattern: a negation right before the predicate ("did not
    congratulate", "has no plans to congratulate"), a negated awareness/plan phrase ("not
    aware of any plans for ... to congratulate"), a denial verb governing a report of it
    ("denied that", "dismissed reports that"), a false-ness adjective after it ("reports
    that ... are false"), or a negative answer to a question about it ("asked whether ...,
    he said he was not aware"). Any other negation or denial before the predicate in the
    same clause is "weak".
    """
    positions = [i for i, s in enumerate(stems) if s in preds]
    hedged = any(strong_hedge(w) and w not in claim_words for w in words)
    asked_any = weak = False
    for i in positions:
        asked = False
        saw_plan = saw_report = noncommittal = False
        for j in range(i - 1, max(-1, i - DENY_WINDOW - 1), -1):
            w = words[j]
            if w in CLAUSE_BREAKS:
                break
            if w in NO_PLAN_WORDS:
                saw_plan = True
            if w in REPORT_NOUNS:
                saw_report = True
            if w in NONCOMMITTAL or w in QUESTION_OPENERS:
                noncommittal = True
            bits = cue_bits(w)
            if bits & NEG and i - j <= NEG_WINDOW:
                if noncommittal and not saw_plan:
                    # "would not say whether ... was killed", "don't use ...": the
                    # negation scopes over the speaker's act, not over the claim
                    weak = True
                elif i - j <= 3 or saw_plan:
                    return "contra"
                else:
                    weak = True
            if DENY_VERB_RE.match(w) and (saw_report or i - j <= 4):
                return "contra"
            if bits & DENY:
                weak = True
            if w in QUESTION_OPENERS:
                asked = True
        after = words[i + 1 :]
        if asked:
            # "Asked whether Putin would congratulate Trump, Peskov said he was not aware ..."
            if any(cue_bits(w) & (NEG | DENY) for w in after):
                return "contra"
            asked_any = True
            continue
        # "reports that Putin congratulated Trump are false"
        if any(w in REFUTED_AFTER for w in after[:12]) and any(
            w in REPORT_NOUNS for w in words[max(0, i - DENY_WINDOW) : i]
        ):
            return "contra"
    if asked_any:
        return "asked"
    if weak:
        return "weak"
    return "hedged" if hedged else "affirm"


# ---------------------------------------------------------------------------------------
# Pair features

RELATED_FEATURES = (
    "cos_body",
    "cos_max_sent",
    "cos_top3",
    "cos_lead",
    "svd_body",
    "svd_max_sent",
    "svd_top3",
    "overlap",
    "idf_overlap",
    "overlap_best_sent",
    "bigram_hits",
    "unseen_overlap",
    "claim_len",
    "body_len",
    "n_sents",
    "best_sent_pos",
)
PROPOSITION_FEATURES = (
    "prop_n",
    "prop_affirm",
    "prop_contra",
    "prop_hedged",
    "prop_asked",
    "prop_weak",
    "prop_best_cov",
    "prop_pred_found",
    "prop_has_preds",
    "claim_negated",
)
REFUTE_FEATURES = (
    "top5_neg",
    "top5_deny",
    "lead_deny",
    "sim_deny_sent",
    "sim_neg_sent",
    "sim_hedge_sent",
    "simw_deny",
    "near_refute",
    "body_debunk",
    "top3_debunk",
    "sim_debunk_sent",
    "rel_deny_sent",
    "claim_debunk",
)
# Doubt near the claim's most similar sentences, and who states the claim: an attributed
# claim ("GOP Rep: ...", "X says ...") or one that itself denies ("DHS debunks ...") is not
# contradicted by an official's denial, so the body's refutation cues are also given
# crossed with the claim's own voice.
DOUBT_FEATURES = (
    "top1_doubt",
    "top3_doubt",
    "top5_doubt",
    "body_doubt",
    "lead_doubt",
    "rel_doubt_sent",
    "top3_contrast",
    "body_contrast",
    "claim_doubt",
)
ATTRIBUTION_FEATURES = (
    "claim_attributed",
    "claim_colon",
    "claim_refuting",
    "refute_x_refuting",
    "refute_x_attributed",
    "refute_plain",
)
FEATURE_NAMES = (
    RELATED_FEATURES
    + tuple(f"top1_{c}" for c in CUE_NAMES)
    + tuple(f"top3_{c}" for c in CUE_NAMES)
    + tuple(f"body_{c}" for c in CUE_NAMES)
    + tuple(f"claim_{c}" for c in CUE_NAMES)
    + ("claim_words",)
    + PROPOSITION_FEATURES
    + REFUTE_FEATURES
    + DOUBT_FEATURES
    + ATTRIBUTION_FEATURES
)
N_FEATURES = len(FEATURE_NAMES)


def pair_features(
    claims: list[PreparedClaim], body: PreparedText, vocab: Vocabulary
) -> tuple[np.ndarray, list[PropositionReading], np.ndarray]:
    """Features of every claim against one text: (C, N_FEATURES), readings, (C, S) sims."""
    n_c = len(claims)
    n_s = len(body.spans)
    X = np.zeros((n_c, N_FEATURES))
    readings: list[PropositionReading] = []
    if n_c == 0:
        return X, readings, np.zeros((0, n_s))
    cmat = sp.vstack([c.vec for c in claims]).tocsr()
    csvd = np.vstack([c.svd for c in claims])
    cos_body = np.asarray((cmat @ body.body_vec.T).todense()).ravel()
    svd_body = csvd @ body.body_svd
    if n_s:
        sims = np.asarray((cmat @ body.sent_mat.T).todense())
        svd_sims = csvd @ body.sent_svd.T
    else:
        sims = np.zeros((n_c, 0))
        svd_sims = np.zeros((n_c, 0))
    idf = vocab.idf_full
    log_body = math.log1p(body.n_words)
    log_sents = math.log1p(n_s)
    r0 = FEATURE_NAMES.index(REFUTE_FEATURES[0])
    d0 = FEATURE_NAMES.index(DOUBT_FEATURES[0])
    a0 = FEATURE_NAMES.index(ATTRIBUTION_FEATURES[0])
    zeros = np.zeros(n_s)
    doubt = body.sent_doubt if body.sent_doubt is not None else zeros
    contrast = body.sent_contrast if body.sent_contrast is not None else zeros
    refute = body.sent_refute if body.sent_refute is not None else zeros
    words_total = 100.0 / max(body.n_words, 1)
    debunk = body.sent_debunk if body.sent_debunk is not None else np.zeros(n_s)
    if n_s:
        cues = body.sent_cues
        pos_sims = np.maximum(sims, 0.0)
        best_sim = pos_sims.max(axis=1)

        def _max_where(mask: np.ndarray) -> np.ndarray:
            if not mask.any():
                return np.zeros(n_c)
            return pos_sims[:, mask].max(axis=1)

        sim_deny = _max_where(cues[:, 1] > 0)
        X[:, r0 + 3] = sim_deny
        X[:, r0 + 4] = _max_where(cues[:, 0] > 0)
        X[:, r0 + 5] = _max_where(cues[:, 2] > 0)
        tot = pos_sims.sum(axis=1)
        X[:, r0 + 6] = np.where(tot > 0, (pos_sims @ cues[:, 1]) / np.maximum(tot, 1e-12), 0.0)
        X[:, r0 + 8] = debunk.sum() * (100.0 / max(body.n_words, 1))
        X[:, r0 + 10] = _max_where(debunk > 0)
        X[:, r0 + 11] = np.where(best_sim > 0, sim_deny / np.maximum(best_sim, 1e-12), 0.0)
        X[:, r0 + 2] = cues[:3, 1].sum()
        X[:, d0 + 3] = doubt.sum() * words_total
        X[:, d0 + 4] = doubt[:3].sum()
        X[:, d0 + 5] = np.where(
            best_sim > 0, _max_where(doubt > 0) / np.maximum(best_sim, 1e-12), 0.0
        )
        X[:, d0 + 7] = contrast.sum() * words_total
    for ci, claim in enumerate(claims):
        row = X[ci]
        row[0] = cos_body[ci]
        row[4] = svd_body[ci]
        if n_s:
            s = sims[ci]
            k = min(3, n_s)
            top = np.argpartition(-s, k - 1)[:k] if n_s > k else np.arange(n_s)
            top = top[np.argsort(-s[top])]
            best = int(top[0])
            row[1] = s[best]
            row[2] = s[top].mean()
            row[3] = s[: min(2, n_s)].max()
            sv = svd_sims[ci]
            row[5] = sv.max()
            row[6] = np.sort(sv)[-k:].mean()
            row[15] = best / n_s
            cues1 = body.sent_cues[best]
            cues3 = body.sent_cues[top].sum(axis=0)
            best_set = body.sent_stem_sets[best]
        else:
            cues1 = cues3 = np.zeros(N_CUES)
            best_set = frozenset()
        content = [s for w, s in zip(claim.words, claim.stems, strict=True) if is_content(w)]
        uniq = list(dict.fromkeys(content))
        if uniq:
            hits = [s in body.body_stems for s in uniq]
            row[7] = sum(hits) / len(uniq)
            w = np.array([idf[vocab.column(s)] for s in uniq])
            row[8] = float((w * np.array(hits)).sum() / w.sum())
            row[9] = sum(s in best_set for s in uniq) / len(uniq)
            unseen = [s for s in uniq if not vocab.known(s)]
            row[11] = sum(s in body.body_stems for s in unseen) / len(unseen) if unseen else -1.0
        if claim.bigrams:
            row[10] = sum(b in body.body_bigrams for b in claim.bigrams) / len(claim.bigrams)
        row[12] = len(uniq)
        row[13] = log_body
        row[14] = log_sents
        o = len(RELATED_FEATURES)
        row[o : o + N_CUES] = cues1
        row[o + N_CUES : o + 2 * N_CUES] = cues3
        row[o + 2 * N_CUES : o + 3 * N_CUES] = body.body_cues
        row[o + 3 * N_CUES : o + 4 * N_CUES + 1] = claim.cues
        reading = read_proposition(claim, body)
        readings.append(reading)
        p = o + 4 * N_CUES + 1
        row[p] = reading.n_prop
        row[p + 1] = len(reading.affirm)
        row[p + 2] = len(reading.contra)
        row[p + 3] = len(reading.hedged)
        row[p + 4] = len(reading.asked)
        row[p + 5] = len(reading.weak)
        row[p + 6] = reading.best_coverage
        row[p + 7] = float(reading.predicate_found)
        row[p + 8] = float(bool(reading.predicates))
        row[p + 9] = float(claim.negated)
        row[r0 + 12] = debunk_count(claim.words) + claim.cues[0]
        if n_s:
            k5 = min(5, n_s)
            top5 = np.argsort(-sims[ci], kind="stable")[:k5]
            row[r0] = body.sent_cues[top5, 0].sum()
            row[r0 + 1] = body.sent_cues[top5, 1].sum()
            row[r0 + 9] = debunk[top[: min(3, n_s)]].sum()
            row[r0 + 7] = _near_refute(body, top5, set(uniq))
            t3 = top[: min(3, n_s)]
            row[d0] = doubt[best]
            row[d0 + 1] = doubt[t3].sum()
            row[d0 + 2] = doubt[top5].sum()
            row[d0 + 6] = contrast[t3].sum()
            body_refute = float(refute[t3].sum() + doubt[t3].sum())
            reading.doubt_near = float(row[d0 + 1])
        else:
            body_refute = 0.0
        row[d0 + 8] = doubt_count(claim.words)
        attributed = float(claim_attributed(claim.text, claim.words))
        refuting = float(
            bool(claim.cues[0] or claim.cues[1]) or row[r0 + 12] > 0 or row[d0 + 8] > 0
        )
        row[a0] = attributed
        row[a0 + 1] = float(_colon_speaker(claim.text))
        row[a0 + 2] = refuting
        reading.claim_refuting = bool(refuting)
        row[a0 + 3] = body_refute * refuting
        row[a0 + 4] = body_refute * attributed
        row[a0 + 5] = body_refute * (1.0 - refuting) * (1.0 - attributed)
    return X, readings, sims


def _near_refute(body: PreparedText, sents: np.ndarray, stems: set[str]) -> float:
    """1 / (1 + token distance) of the closest negation/denial word to a claim word."""
    best = 0.0
    for si in sents:
        cue_pos = body.sent_refute_pos[si] if body.sent_refute_pos else []
        if not cue_pos:
            continue
        hit = [j for j, st in enumerate(body.sent_stems[si]) if st in stems]
        if not hit:
            continue
        d = min(abs(a - b) for a in cue_pos for b in hit)
        best = max(best, 1.0 / (1.0 + d))
    return best
