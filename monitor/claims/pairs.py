"""Learned sentence-pair judgement: does a text (a headline or one sentence) confirm or
contradict a claim, or neither?

A small cross-encoder (all-MiniLM-L6-v2 fine-tuned on Emergent and FNC-1, see
``docs/claims-model.md`` and ``training/pairs/``) exported to ONNX and quantised to int8.
Inference needs only ``onnxruntime`` and ``tokenizers``; the files ship in
``monitor/claims/pair_model/``. Nothing is downloaded.

    from monitor.claims.pairs import PairModel

    model = PairModel.load()                       # cached
    [s] = model.score([("The mayor will close the bridge", "Mayor denies plan to close bridge")])
    s.label, s.confirms, s.contradicts, s.neither  # 'contradicts', 0.02, 0.95, 0.03

    # one article against many claims: compare each claim with its most similar sentences
    verdicts = model.judge_text(claims, article_text, k=3)
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.text import sentences, words

MODEL_DIR = Path(__file__).with_name("pair_model")
LABELS = ("confirms", "contradicts", "neither")

_STOP = frozenset(
    "a an the of to in on at for by with from and or but as is are was were be been being "
    "it its this that these those he she they them his her their we our you your i me my "
    "has have had do does did will would can could should may might must not no than then "
    "there here what which who whom whose when where why how all any some such into over "
    "about after before up down out off again so very just also said says say".split()
)


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
class TextVerdict:
    """A claim judged against a longer text: the deciding sentence and its score."""

    claim: str
    score: PairScore
    evidence: str  # the sentence that decided ("" when the text had none)


def content_words(text: str) -> set[str]:
    """Folded content words cut to 6 letters (a cheap stem) for similarity ranking."""
    return {w[:6] for w in words(text) if w not in _STOP and not w.isdigit() and len(w) > 1}


def split_text(text: str) -> list[str]:
    """Sentences of a text, also split at line breaks (headlines glued to a first sentence)."""
    out: list[str] = []
    for block in re.split(r"\n\s*", text):
        out.extend(s.strip() for s in sentences(block) if s.strip())
    return out


def most_similar(claim: str, candidates: Sequence[str], k: int = 3) -> list[int]:
    """Indices of the ``k`` candidates sharing most content words with the claim (Dice
    coefficient), best first; candidates sharing none are left out."""
    cw = content_words(claim)
    if not cw:
        return []
    scored = []
    for i, s in enumerate(candidates):
        sw = content_words(s)
        shared = len(cw & sw)
        if shared:
            scored.append((2 * shared / (len(cw) + len(sw)), -i))
    scored.sort(reverse=True)
    return [-i for _, i in scored[:k]]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class PairModel:
    """The packaged ONNX cross-encoder. Use :meth:`load`; thread-safe for scoring."""

    def __init__(self, model_dir: Path | str = MODEL_DIR, *, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        d = Path(model_dir)
        meta_path, onnx_path, tok_path = d / "meta.json", d / "model.onnx", d / "tokenizer.json"
        for p in (meta_path, onnx_path, tok_path):
            if not p.is_file():
                raise PairModelError(f"pair model file missing: {p}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            self.labels: tuple[str, ...] = tuple(meta["labels"])
            self.max_length = int(meta["max_length"])
            th = meta["thresholds"]
            self.thresholds = {"confirms": float(th["confirms"]), "contradicts": float(th["contradicts"])}
            expected = meta["files"]["model.onnx"]["sha256"]
        except (ValueError, KeyError, TypeError) as e:
            raise PairModelError(f"pair model metadata unreadable: {meta_path}: {e}") from e
        if set(self.labels) != set(LABELS):
            raise PairModelError(f"pair model labels {self.labels} are not {LABELS}: {meta_path}")
        if _sha256(onnx_path) != expected:
            raise PairModelError(f"pair model file corrupt (sha256 mismatch): {onnx_path}")
        self.meta = meta
        try:
            self._tok = Tokenizer.from_file(str(tok_path))
        except Exception as e:  # tokenizers raises a bare Exception on bad JSON
            raise PairModelError(f"pair model tokenizer unreadable: {tok_path}: {e}") from e
        self._tok.enable_truncation(max_length=self.max_length, strategy="longest_first")
        self._tok.enable_padding(pad_id=self._tok.token_to_id("[PAD]") or 0)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
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
        """The packaged model, loaded once per process."""
        return _load_packaged()

    def _decide(self, p: np.ndarray) -> str:
        conf, contra = float(p[0]), float(p[1])
        if contra >= self.thresholds["contradicts"] and contra >= conf:
            return "contradicts"
        if conf >= self.thresholds["confirms"]:
            return "confirms"
        return "neither"

    def probabilities(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
        """Raw probabilities, one row per pair, columns in ``LABELS`` order."""
        out = np.zeros((len(pairs), 3), dtype=np.float32)
        # sort by length so that a batch pads little
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = self._tok.encode_batch([(pairs[i][0] or " ", pairs[i][1] or " ") for i in idx])
            feed = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            (logits,) = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
            out[idx] = _softmax(logits.astype(np.float32))[:, self._order]
        return out

    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[PairScore]:
        """Judge each (claim, text) pair; text is a headline or one sentence."""
        probs = self.probabilities(pairs, batch_size)
        return [
            PairScore(float(p[0]), float(p[1]), float(p[2]), self._decide(p)) for p in probs
        ]

    def judge_text(self, claims: Sequence[str], text: str, k: int = 3) -> list[TextVerdict]:
        """Judge each claim against a longer text: each claim is compared with the ``k``
        sentences most similar to it; a contradicting sentence wins over a confirming one,
        and among equals the most probable decides."""
        sents = split_text(text)
        jobs: list[tuple[int, str]] = []
        for ci, claim in enumerate(claims):
            jobs.extend((ci, sents[si]) for si in most_similar(claim, sents, k))
        probs = self.probabilities([(claims[ci], s) for ci, s in jobs]) if jobs else None
        best: dict[int, tuple[tuple[int, float], PairScore, str]] = {}
        rank = {"contradicts": 2, "confirms": 1, "neither": 0}
        for (ci, sent), p in zip(jobs, probs if probs is not None else [], strict=True):
            s = PairScore(float(p[0]), float(p[1]), float(p[2]), self._decide(p))
            key = (rank[s.label], max(s.confirms, s.contradicts) if s.label != "neither" else s.neither)
            if ci not in best or key > best[ci][0]:
                best[ci] = (key, s, sent)
        none = PairScore(0.0, 0.0, 1.0, "neither")
        return [
            TextVerdict(c, best[i][1], best[i][2]) if i in best else TextVerdict(c, none, "")
            for i, c in enumerate(claims)
        ]


@functools.lru_cache(maxsize=1)
def _load_packaged() -> PairModel:
    return PairModel(MODEL_DIR)
