"""Learned sentence-pair judgement: does a text (a headline, a sentence or two) confirm or
contradict a claim, or neither?

A small cross-encoder (all-MiniLM-L6-v2 fine-tuned on Emergent and FNC-1 training stories,
see ``docs/claims-model.md`` and ``training/pairs/``) exported to ONNX with int8 weights.
Inference needs only ``onnxruntime`` and ``tokenizers``; the files ship in
``monitor/claims/pair_model/``. Nothing is downloaded, torch is never imported.

    from monitor.claims.pairs import PairModel, judge_sentences

    model = PairModel.load()                       # cached, one per process
    [s] = model.score([("The mayor will close the bridge", "Mayor denies plan to close bridge")])
    s.label, s.contradicts                         # 'contradicts', 0.97

    v = judge_sentences("The mayor will close the bridge", article_sentences)
    v.relation, v.probability, v.evidence          # 'contradicts', 0.93, 'The mayor denied ...'

Thresholds (``pair_model/thresholds.json``) were chosen on the inner validation stories, one
pair for a claim against one sentence or headline (level "sentence", Emergent pairs) and one
for a claim against an article's sentences (level "article", FNC-1 bodies): the lowest that
kept each relation's precision there at 0.85 or more where that was reachable.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.lexicon import RETRIEVAL_STOPWORDS
from monitor.text import split_lines, split_sentences, words

__all__ = [
    "LABELS",
    "LEVELS",
    "MODEL_DIR",
    "PairModel",
    "PairModelError",
    "PairScore",
    "Readings",
    "Verdict",
    "content_words",
    "candidates",
    "is_short",
    "passage",
    "judge_many",
    "judge_sentences",
    "judge_short",
    "most_similar",
    "read_many",
    "split_text",
    "verdict",
]

MODEL_DIR = Path(__file__).with_name("pair_model")
# threshold sets: a claim against one sentence/headline, against an article's sentences
LEVELS = ("sentence", "article")
LABELS = ("confirms", "contradicts", "neither")
# Retrieval: a sentence is a candidate only if it shares at least this share of the
# claim's content words (and at least one); below it the model is not asked.
MIN_OVERLAP = 0.2
# At most this many model readings per text judged (the time budget of one article
# against all claims of its story: ~4-7 ms a reading on one core).
MAX_READINGS = 150
# A short text (a headline, a feed summary) is read whole, as the model was trained on
# claim/headline pairs: at most this many words and two sentences ("Singer dead? Hoax goes
# viral" is one headline).
SHORT_WORDS = 40
SHORT_SENTENCES = 2
# A passage (the article judge's passage reading, :func:`passage`): this many sentences
# most like the claim, and the sentence after the closest one, in article order.
PASSAGE_SENTENCES = 3


class PairModelError(Exception):
    """The pair model's files are missing, corrupt or unusable."""


@dataclass(frozen=True, slots=True)
class PairScore:
    """The model's reading of one (claim, text) pair."""

    confirms: float
    contradicts: float
    neither: float
    label: str  # after the calibrated thresholds: confirms / contradicts / neither

    @property
    def probabilities(self) -> dict[str, float]:
        return {"confirms": self.confirms, "contradicts": self.contradicts, "neither": self.neither}


@dataclass(frozen=True, slots=True)
class Verdict:
    """A claim judged against the sentences of a text.

    ``relation``: confirms / contradicts / neither (calibrated). ``probability``: the model's
    probability of that relation for the deciding text (for neither: one minus the highest
    confirms or contradicts probability of any reading). ``evidence``: the sentence (or two
    consecutive sentences) the model read that way; "" when no sentence was close enough
    to the claim to be asked about.
    """

    relation: str
    probability: float
    evidence: str
    score: PairScore | None = None


NO_EVIDENCE = Verdict("neither", 1.0, "", None)


def content_words(text: str) -> set[str]:
    """Folded content words cut to 6 letters (a cheap stem) for similarity ranking."""
    return {
        w[:6]
        for w in words(text)
        if w not in RETRIEVAL_STOPWORDS and not w.isdigit() and len(w) > 1
    }


def split_text(text: str) -> list[str]:
    """Sentences of a text, also split at line breaks (headlines glued to a first sentence)."""
    return [text[a:b] for a, b in split_lines(text, split_sentences(text))]


def _ranked(cw: set[str], cand_words: Sequence[set[str]], k: int, min_overlap: float) -> list[int]:
    if not cw:
        return []
    scored = []
    for i, sw in enumerate(cand_words):
        shared = len(cw & sw)
        if shared and shared >= min_overlap * len(cw):
            scored.append((2 * shared / (len(cw) + len(sw)), -i))
    scored.sort(reverse=True)
    return [-i for _, i in scored[:k]]


def most_similar(
    claim: str, candidates: Sequence[str], k: int = 3, min_overlap: float = 0.0
) -> list[int]:
    """Indices of the ``k`` candidates sharing most content words with the claim (Dice
    coefficient), best first; candidates sharing none, or less than ``min_overlap`` of the
    claim's content words, are left out."""
    return _ranked(content_words(claim), [content_words(s) for s in candidates], k, min_overlap)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise PairModelError(f"pair model file missing: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PairModelError(f"pair model file unreadable: {path}: {e}") from e
    if not isinstance(data, dict):
        raise PairModelError(f"pair model file unreadable: {path}: not a JSON object")
    return data


class PairModel:
    """The packaged ONNX cross-encoder. Use :meth:`load`; scoring is thread-safe.

    ``thresholds``: {level: {"confirms": t, "contradicts": t}} for the levels "sentence" and
    "article"; None reads ``thresholds.json``.
    ``verify``: check the ONNX file's sha256 against ``meta.json``.
    """

    def __init__(
        self,
        model_dir: Path | str = MODEL_DIR,
        *,
        threads: int = 1,
        thresholds: dict[str, dict[str, float]] | None = None,
        verify: bool = True,
    ) -> None:
        d = Path(model_dir)
        onnx_path, tok_path = d / "model.onnx", d / "tokenizer.json"
        meta_path = d / "meta.json"
        meta = _read_json(meta_path)
        for p in (onnx_path, tok_path):
            if not p.is_file():
                raise PairModelError(f"pair model file missing: {p}")
        try:
            self.labels: tuple[str, ...] = tuple(meta["labels"])
            self.max_length = int(meta["max_length"])
            expected = str(meta["files"]["model.onnx"]["sha256"])
        except (KeyError, TypeError, ValueError) as e:
            raise PairModelError(f"pair model metadata unreadable: {meta_path}: {e}") from e
        if sorted(self.labels) != sorted(LABELS):
            raise PairModelError(f"pair model labels {self.labels} are not {LABELS}: {meta_path}")
        if thresholds is None:
            th_path = d / "thresholds.json"
            th = _read_json(th_path)
            try:
                thresholds = {
                    lv: {k: float(th[lv][k]["threshold"]) for k in ("confirms", "contradicts")}
                    for lv in LEVELS
                }
            except (KeyError, TypeError, ValueError) as e:
                raise PairModelError(f"pair model thresholds unreadable: {th_path}: {e}") from e
            self.calibration: dict = th
        else:
            self.calibration = {}
        self.thresholds: dict[str, dict[str, float]] = {}
        for lv in LEVELS:
            self.thresholds[lv] = {}
            for k in ("confirms", "contradicts"):
                t = float(thresholds[lv][k])
                if not 0.0 < t <= 1.0:
                    raise PairModelError(f"pair model threshold {lv}.{k}={t!r} not in (0, 1]")
                self.thresholds[lv][k] = t
        if verify and _sha256(onnx_path) != expected:
            raise PairModelError(f"pair model file corrupt (sha256 mismatch): {onnx_path}")
        self.meta = meta
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(tok_path))
        except Exception as e:  # tokenizers raises a bare Exception on bad JSON
            raise PairModelError(f"pair model tokenizer unreadable: {tok_path}: {e}") from e
        self._tok.enable_truncation(max_length=self.max_length, strategy="longest_first")
        pad = self._tok.token_to_id("[PAD]")
        self._tok.enable_padding(pad_id=0 if pad is None else pad, pad_token="[PAD]")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(onnx_path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise PairModelError(f"pair model unreadable: {onnx_path}: {e}") from e
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._order = [self.labels.index(name) for name in LABELS]

    @classmethod
    def load(cls) -> PairModel:
        """The packaged model, loaded once per process (one inference thread)."""
        return _load_packaged()

    def decide(self, p: Sequence[float], level: str = "sentence") -> str:
        """The calibrated label of one probability row (``LABELS`` order) at ``level``."""
        conf, contra = float(p[0]), float(p[1])
        th = self.thresholds[level]
        if contra >= th["contradicts"] and contra >= conf:
            return "contradicts"
        if conf >= th["confirms"] and conf > contra:
            return "confirms"
        return "neither"

    def probabilities(self, pairs: Sequence[tuple[str, str]], batch_size: int = 8) -> np.ndarray:
        """Raw probabilities, one row per (claim, text) pair, columns in ``LABELS`` order.

        Batches of 8 were the fastest on one core (vs. 1, 16, 32, 64). Activations are
        quantised per batch, so a reading can move by ~0.001 with its batch companions;
        the same pairs always give the same numbers."""
        out = np.zeros((len(pairs), 3), dtype=np.float32)
        # sorted by length so that a batch pads little
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = self._tok.encode_batch([(pairs[i][0] or " ", pairs[i][1] or " ") for i in idx])
            feed = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            (logits,) = self._session.run(
                None, {k: v for k, v in feed.items() if k in self._inputs}
            )
            out[idx] = _softmax(logits.astype(np.float32))[:, self._order]
        return out

    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 8) -> list[PairScore]:
        """Judge each (claim, text) pair; text is a headline or a sentence (the "sentence"
        thresholds)."""
        return [
            PairScore(float(p[0]), float(p[1]), float(p[2]), self.decide(p))
            for p in self.probabilities(pairs, batch_size)
        ]


@functools.lru_cache(maxsize=1)
def _load_packaged() -> PairModel:
    return PairModel(MODEL_DIR)


def _units(idx: list[int], n: int, windows: bool) -> list[tuple[int, int]]:
    """Sentence spans [a, b) to read: each retrieved sentence, and with ``windows`` the
    sentence together with the next one (a rumour quoted, then refuted)."""
    out: list[tuple[int, int]] = []
    for i in idx:
        out.append((i, i + 1))
        if windows and i + 1 < n:
            out.append((i, i + 2))
    return out


def _spans(
    claim: str,
    sent_words: Sequence[set[str]],
    k: int,
    windows: bool,
    min_overlap: float,
) -> list[tuple[int, int]]:
    idx = _ranked(content_words(claim), sent_words, k, min_overlap)
    return _units(idx, len(sent_words), windows)


def candidates(
    claim: str,
    sents: Sequence[str],
    k: int = 3,
    *,
    windows: bool = True,
    min_overlap: float = MIN_OVERLAP,
    sent_words: Sequence[set[str]] | None = None,
) -> list[str]:
    """The texts a claim is read against: the ``k`` sentences sharing most content words
    with it (at least ``min_overlap`` of the claim's), and with ``windows`` each of them
    together with the sentence after it (a rumour quoted, then refuted)."""
    if sent_words is None:
        sent_words = [content_words(s) for s in sents]
    spans = _spans(claim, sent_words, k, windows, min_overlap)
    return [" ".join(sents[a:b]) for a, b in spans]


def passage(
    claim: str,
    sents: Sequence[str],
    k: int = PASSAGE_SENTENCES,
    *,
    min_overlap: float = MIN_OVERLAP,
    sent_words: Sequence[set[str]] | None = None,
) -> str:
    """The passage of a text read together with a claim (the passage model, one reading
    per claim and article): the ``k`` sentences sharing most content words with the claim
    (at least ``min_overlap`` of them) and the sentence after the closest one (a rumour
    quoted, then refuted), in the text's order, joined. "" when no sentence is close
    enough. ``sents``: non-blank sentences."""
    if sent_words is None:
        sent_words = [content_words(s) for s in sents]
    idx = _ranked(content_words(claim), sent_words, k, min_overlap)
    if not idx:
        return ""
    chosen = set(idx)
    if idx[0] + 1 < len(sents):
        chosen.add(idx[0] + 1)
    return " ".join(sents[i] for i in sorted(chosen))


@dataclass(frozen=True)
class Readings:
    """What the model read of one claim in one text: the sentence spans ``[a, b)`` of the
    (non-blank) sentences, closest first, their texts, and one probability row each
    (``LABELS`` order)."""

    spans: list[tuple[int, int]]
    texts: list[str]
    probs: np.ndarray


def verdict(
    model: PairModel, probs: np.ndarray, texts: Sequence[str], level: str = "article"
) -> Verdict:
    """The verdict from the readings (``probs`` rows, ``LABELS`` order) of one claim
    against ``texts``: a calibrated contradiction wins (the most probable one); a
    calibrated confirmation stands only if no reading is more contradicting than
    confirming; otherwise neither."""
    if not len(texts):
        return NO_EVIDENCE
    scores = [
        (PairScore(float(p[0]), float(p[1]), float(p[2]), model.decide(p, level)), t)
        for p, t in zip(probs, texts, strict=True)
    ]
    contra = [st for st in scores if st[0].label == "contradicts"]
    if contra:
        s, text = max(contra, key=lambda st: st[0].contradicts)
        return Verdict("contradicts", s.contradicts, text, s)
    conf = [st for st in scores if st[0].label == "confirms"]
    if conf and not any(s.contradicts > s.confirms for s, _ in scores):
        s, text = max(conf, key=lambda st: st[0].confirms)
        return Verdict("confirms", s.confirms, text, s)
    s, text = max(scores, key=lambda st: max(st[0].confirms, st[0].contradicts))
    return Verdict("neither", 1.0 - max(s.confirms, s.contradicts), text, s)


def read_many(
    claims: Sequence[str],
    sents: Sequence[str],
    k: int = 3,
    *,
    windows: bool = True,
    min_overlap: float = MIN_OVERLAP,
    max_readings: int | None = MAX_READINGS,
    model: PairModel | None = None,
) -> list[Readings]:
    """The model's readings of each claim against the sentences of one text, in one batched
    call: each claim against its :func:`candidates`. ``sents`` are used without blank ones
    (the spans index that list). ``max_readings`` bounds the model calls for the whole
    text (the time budget): every claim's first reading comes before any claim's second,
    closer matches first."""
    if isinstance(claims, str):
        raise TypeError("claims must be a sequence of strings, not one string")
    sents = [s for s in sents if s and s.strip()]
    sent_words = [content_words(s) for s in sents]
    per_claim = [_spans(claim, sent_words, k, windows, min_overlap) for claim in claims]
    if max_readings is not None and sum(map(len, per_claim)) > max_readings:
        # round-robin by rank; a claim's spans come closest first
        order = sorted((j, ci) for ci, spans in enumerate(per_claim) for j in range(len(spans)))[
            :max_readings
        ]
        keep: list[list[tuple[int, int]]] = [[] for _ in claims]
        for j, ci in sorted(order, key=lambda x: (x[1], x[0])):
            keep[ci].append(per_claim[ci][j])
        per_claim = keep
    per_texts = [[" ".join(sents[a:b]) for a, b in spans] for spans in per_claim]
    index: dict[tuple[str, str], int] = {}
    for claim, texts in zip(claims, per_texts, strict=True):
        for t in texts:
            index.setdefault((claim, t), len(index))
    if index:
        m = model or PairModel.load()
        probs = m.probabilities(list(index))
    else:
        probs = np.zeros((0, 3), dtype=np.float32)
    return [
        Readings(spans, texts, probs[[index[(c, t)] for t in texts]].reshape(-1, 3))
        for c, spans, texts in zip(claims, per_claim, per_texts, strict=True)
    ]


def judge_many(
    claims: Sequence[str],
    sents: Sequence[str],
    k: int = 3,
    *,
    windows: bool = True,
    min_overlap: float = MIN_OVERLAP,
    max_readings: int | None = MAX_READINGS,
    model: PairModel | None = None,
) -> list[Verdict]:
    """Judge each claim against the sentences of one text, in one batched model call.

    Each claim is read against its :func:`candidates` (the ``k`` sentences most like it,
    alone and with the next sentence; :func:`read_many`); see :func:`verdict` for how the
    readings decide. A claim no sentence is close to is ``neither`` with no evidence. A
    text of one sentence (a headline, a summary) is judged with the "sentence" thresholds,
    a longer one with the "article" thresholds (several readings per claim need surer
    ones). The keywords are those of :func:`read_many` (``max_readings``: the time budget).
    """
    readings = read_many(
        claims,
        sents,
        k,
        windows=windows,
        min_overlap=min_overlap,
        max_readings=max_readings,
        model=model,
    )
    if not any(r.texts for r in readings):
        return [NO_EVIDENCE for _ in claims]  # (the model is not even loaded)
    m = model or PairModel.load()
    n = sum(1 for s in sents if s and s.strip())
    level = "sentence" if n == 1 else "article"
    return [verdict(m, r.probs, r.texts, level) for r in readings]


def judge_sentences(
    claim: str, sents: Sequence[str], k: int = 3, *, model: PairModel | None = None
) -> Verdict:
    """Judge one claim against the sentences of a text (:func:`judge_many` with its
    defaults)."""
    return judge_many([claim], sents, k, model=model)[0]


def is_short(text: str) -> bool:
    """Is this text read whole (:func:`judge_short`)? A headline or a feed summary: at most
    :data:`SHORT_WORDS` words in at most :data:`SHORT_SENTENCES` sentences."""
    return len(text.split()) <= SHORT_WORDS and 0 < len(split_text(text.strip())) <= SHORT_SENTENCES


def judge_short(claim: str, text: str, *, model: PairModel | None = None) -> Verdict:
    """Judge one claim against one short text (:func:`is_short`) read whole, at the
    "sentence" thresholds, with no retrieval step: on held-out Emergent claim/headline pairs
    reading the headline whole was right 0.77 of the time, against 0.68 when a headline had
    to share a fifth of the claim's content words to be read (docs/claims-model.md). A text
    sharing no content word with the claim is not read (neither, no evidence)."""
    text = " ".join(text.split())
    if not content_words(claim) & content_words(text):
        return NO_EVIDENCE
    m = model or PairModel.load()
    return verdict(m, m.probabilities([(claim, text)]), [text], "sentence")
