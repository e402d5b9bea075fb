"""Article-level stance: does a text confirm, contradict, discuss a claim, or is it unrelated?

Two layers decide together:

1. A learned two-stage model (trained on FNC-1): stage 1 says whether the text is about
   the claim at all, stage 2 splits related texts into confirms / contradicts /
   discusses. Its features are TF-IDF and SVD similarities plus negation, denial and
   hedging cue counts in the sentences most like the claim (``stance_features``). The
   trees are evaluated with numpy (``stance_gbdt``), so inference needs no LightGBM.
2. An explicit cue layer over the sentences that carry the claim's own predicate (its
   content words that are not names): a negation or denial scoping over that predicate
   ("has no plans to congratulate", "denied that ... congratulated", "reports that ...
   are false") reads as a contradiction, a hedge ("reportedly", "citing a source") as a
   weaker confirmation. A learned model trained on FNC headlines does not transfer
   contradiction across topics; this layer does not depend on the topic.

Contradiction is called only when the model's probability of it, among related
readings, reaches ``contradicts_threshold`` (precision over recall; see docs/stance.md).
Reported probabilities are rescaled so that this threshold sits at 0.5.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from monitor.claims.stance_features import (
    FEATURE_NAMES,
    PreparedText,
    PropositionReading,
    Vocabulary,
    pair_features,
    prepare_claims,
    prepare_text,
)
from monitor.claims.stance_gbdt import TreeEnsemble
from monitor.errors import ModelError

__all__ = [
    "STANCES",
    "DEFAULT_CONTRADICTS_THRESHOLD",
    "MODEL_DIR",
    "PreparedText",
    "StanceEngine",
    "StanceVerdict",
    "load_engine",
    "pair_verdict",
    "run_jsonl",
]

STANCES = ("confirms", "contradicts", "discusses", "unrelated")
STAGE2 = ("confirms", "contradicts", "discusses")
MODEL_DIR = Path(__file__).with_name("stance_model")
# Used only when the model files carry no tuned value of their own.
DEFAULT_CONTRADICTS_THRESHOLD = 0.2

# Cue-layer strengths (probabilities among related readings, before the threshold).
RULE_CONTRA = 0.6  # a denial/negation scoping over the claim's predicate
RULE_RELATED = 0.8  # a sentence that states the claim's predicate and names is related
RULE_AFFIRM = 0.8  # a plain sentence stating the whole claim: confirms
RULE_HEDGED_CONFIRM = 0.55  # a hedged restatement: confirms, with less confidence
# Doubt: at least this many doubt cues ("doubt", "sceptical", "no evidence", "unlikely",
# ...) in the three sentences most like a claim stated in its own voice read as a
# contradiction unless the model reads a confirmation. On the training side of the three
# story splits such pairs were `disagree` 50-61 % of the time (2 cues: 28-42 %), against
# 6 % of all related pairs.
DOUBT_RULE_MIN = 3.0
RULE_DOUBT = 0.6
# An attributed claim's contradicts threshold is the configured one times the model's
# tuned factor (meta "attributed_threshold_factor"), capped here.
ATTRIBUTED_THRESHOLD_CAP = 0.99


@dataclass(frozen=True)
class StanceVerdict:
    stance: str  # one of STANCES
    score: float  # confidence in that stance, 0..1
    probabilities: dict[str, float]
    evidence: tuple[str, ...]  # the sentence(s) of the text that decided it


@dataclass(frozen=True)
class Decision:
    stance: str
    score: float
    probabilities: dict[str, float]
    evidence: tuple[int, ...]  # sentence indices
    source: str  # "model" or "rule:<kind>"


def _raise(p: np.ndarray, k: int, floor: float) -> np.ndarray:
    """Lift class k to at least ``floor``, shrinking the others in proportion."""
    if p[k] >= floor:
        return p
    out = p.copy()
    rest = 1.0 - p[k]
    out[k] = floor
    others = [i for i in range(len(p)) if i != k]
    if rest > 0:
        for i in others:
            out[i] = p[i] * (1.0 - floor) / rest
    else:
        for i in others:
            out[i] = (1.0 - floor) / len(others)
    return out


def decide(
    p_rel: float,
    p2: np.ndarray,
    reading: PropositionReading | None,
    best_sentences: Sequence[int],
    threshold: float,
    rules: str = "all",
    gate: bool = True,
    attributed_factor: float = 1.0,
) -> Decision:
    """Combine the model's probabilities with the cue layer into one verdict.

    ``rules``: "all" (denials and hedged restatements), "contra" (denials only) or "none".
    ``attributed_factor``: a claim that reports what someone says ("GOP Rep: ...", "X says
    ...") needs ``threshold * attributed_factor`` (at most 0.99) for a contradiction.
    """
    p2 = np.asarray(p2, dtype=np.float64)
    if attributed_factor != 1.0 and reading is not None and reading.claim_attributed:
        threshold = min(threshold * attributed_factor, ATTRIBUTED_THRESHOLD_CAP)
    source = "model"
    evidence: tuple[int, ...] = tuple(best_sentences[:1])
    downgrade = False
    if reading is not None and rules != "none" and not reading.claim_negated:
        full = set(reading.full)
        affirm_full = [i for i in reading.affirm if i in full]
        contra = reading.contra
        hedged = reading.hedged
        if gate:
            # overrides only for a claim stated in its own voice, read in one of the two
            # sentences most like it (measured on FNC-1: ungated, they misfire on
            # incidental negations and on attributed headlines)
            top = set(best_sentences[:2])
            if getattr(reading, "claim_attributed", False):
                top = set()
            contra = [i for i in contra if i in top]
            affirm_full = [i for i in affirm_full if i in top]
            hedged = [i for i in hedged if i in top]
        if contra and len(contra) >= len(reading.affirm):
            p2 = _raise(p2, 1, RULE_CONTRA)
            p_rel = max(p_rel, RULE_RELATED)
            source, evidence = "rule:denial", tuple(contra[:2])
        elif rules == "all" and affirm_full and not reading.contra and p2[1] < threshold:
            p2 = _raise(p2, 0, RULE_AFFIRM)
            p_rel = max(p_rel, RULE_RELATED)
            source, evidence = "rule:affirm", tuple(affirm_full[:2])
        elif rules == "all" and hedged and not reading.affirm and not reading.contra:
            p_rel = max(p_rel, RULE_RELATED)
            if p2[1] < threshold:
                p2 = _raise(p2, 0, RULE_HEDGED_CONFIRM)
            source, evidence = "rule:hedged", tuple(hedged[:2])
        elif (
            reading.doubt_near >= DOUBT_RULE_MIN
            and not reading.claim_attributed
            and not reading.claim_refuting
            and p2[0] < p2[2]
        ):
            # the sentences most like the claim doubt it ("scientists doubt ...", "no
            # evidence", "unlikely"): a contradiction, unless the model reads confirmation
            p2 = _raise(p2, 1, RULE_DOUBT)
            source, evidence = "rule:doubt", tuple(best_sentences[:1])
        elif rules == "all" and reading.predicates and not reading.predicate_found:
            # the text names the claim's actors but never states its action
            downgrade = True
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    w = (1.0 - t) / t
    q = p2 * np.array([1.0, w, 1.0])
    q = q / q.sum()
    probs = {
        "confirms": float(p_rel * q[0]),
        "contradicts": float(p_rel * q[1]),
        "discusses": float(p_rel * q[2]),
        "unrelated": float(1.0 - p_rel),
    }
    if p_rel < 0.5:
        stance = "unrelated"
        evidence = ()
        if source != "model":
            source = "model"
    elif downgrade:
        # keep a quarter of the confirm/contradict mass; the rest moves to discusses
        moved = 0.75 * (probs["confirms"] + probs["contradicts"])
        probs["confirms"] *= 0.25
        probs["contradicts"] *= 0.25
        probs["discusses"] += moved
        stance = "discusses"
        source = "rule:no-predicate"
    elif p2[1] >= t:
        stance = "contradicts"
    else:
        stance = "confirms" if q[0] >= q[2] else "discusses"
        if stance == "confirms" and source == "rule:hedged":
            # hedged: confidence capped below a plain confirmation
            probs["confirms"] = min(probs["confirms"], 0.6)
    return Decision(stance, probs[stance], probs, evidence, source)


class StanceEngine:
    """Judges claims against texts with the packaged (or a freshly trained) model."""

    def __init__(
        self,
        vocab: Vocabulary,
        related: TreeEnsemble,
        stance: TreeEnsemble,
        *,
        contradicts_threshold: float = DEFAULT_CONTRADICTS_THRESHOLD,
        rules: str = "all",
        meta: dict[str, Any] | None = None,
        attributed_factor: float | None = None,
    ) -> None:
        if not 0.0 < contradicts_threshold < 1.0:
            raise ValueError(
                f"contradicts_threshold must be between 0 and 1 (exclusive), "
                f"got {contradicts_threshold!r}"
            )
        if rules not in ("all", "contra", "none"):
            raise ValueError(f"rules must be 'all', 'contra' or 'none', got {rules!r}")
        self.vocab = vocab
        self.related = related
        self.stance = stance
        self.contradicts_threshold = float(contradicts_threshold)
        self.rules = rules
        self.meta = dict(meta or {})
        if attributed_factor is None:
            attributed_factor = float(self.meta.get("attributed_threshold_factor", 1.0))
        if not attributed_factor > 0:
            raise ValueError(f"attributed_factor must be positive, got {attributed_factor!r}")
        self.attributed_factor = float(attributed_factor)

    def prepare(self, text: str) -> PreparedText:
        """Per-article work done once: sentences, tokens, stems, vectors, cue counts."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        return prepare_text(text, self.vocab)

    def _prepared(self, text: str | PreparedText) -> PreparedText:
        if isinstance(text, PreparedText):
            if text.vocab_id == id(self.vocab):
                return text
            return self.prepare(text.text)
        return self.prepare(text)

    def judge(self, claim: str, text: str | PreparedText) -> StanceVerdict:
        return self.judge_many([claim], text)[0]

    def judge_many(self, claims: Sequence[str], text: str | PreparedText) -> list[StanceVerdict]:
        if isinstance(claims, str):
            raise TypeError("claims must be a sequence of strings, not one string")
        for c in claims:
            if not isinstance(c, str):
                raise TypeError(f"each claim must be a string, got {type(c).__name__}")
        body = self._prepared(text)
        decisions = self.decide_many(list(claims), body)
        return [
            StanceVerdict(
                d.stance,
                round(d.score, 4),
                {k: round(v, 4) for k, v in d.probabilities.items()},
                tuple(body.sentence(i) for i in d.evidence),
            )
            for d in decisions
        ]

    def decide_many(self, claims: list[str], body: PreparedText) -> list[Decision]:
        if not claims:
            return []
        pcs = prepare_claims(claims, self.vocab)
        X, readings, sims = pair_features(pcs, body, self.vocab)
        p_rel, p2 = self.model_probabilities(X)
        out = []
        for i in range(len(claims)):
            best = list(np.argsort(-sims[i])[:2]) if sims.shape[1] else []
            best = [int(b) for b in best if sims[i, b] > 0]
            out.append(
                decide(
                    float(p_rel[i]),
                    p2[i],
                    readings[i],
                    best,
                    self.contradicts_threshold,
                    self.rules,
                    attributed_factor=self.attributed_factor,
                )
            )
        return out

    def model_probabilities(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.related.predict_proba(X), self.stance.predict_proba(X)


# ---------------------------------------------------------------------------------------
# Model files


def save_model(
    directory: Path,
    vocab: Vocabulary,
    related: TreeEnsemble,
    stance: TreeEnsemble,
    meta: dict[str, Any],
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    terms = sorted(vocab.index, key=vocab.index.__getitem__)
    (directory / "vocab.json").write_text(json.dumps(terms, ensure_ascii=False), "utf-8")
    np.savez_compressed(
        directory / "model.npz",
        idf=vocab.idf.astype(np.float32),
        components=vocab.components.astype(np.float16),
        vocab_meta=np.array([vocab.n_hash, vocab.unseen_idf]),
        **related.arrays("related_"),
        **stance.arrays("stance_"),
    )
    meta = dict(meta)
    meta["feature_names"] = list(FEATURE_NAMES)
    (directory / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def quantize(vocab: Vocabulary) -> Vocabulary:
    """The vocabulary as it will be after a save/load round trip."""
    return Vocabulary(
        vocab.index,
        vocab.idf.astype(np.float32).astype(np.float64),
        vocab.n_hash,
        float(vocab.unseen_idf),
        vocab.components.astype(np.float16).astype(np.float32),
    )


@functools.lru_cache(maxsize=4)
def _load_parts(directory: str) -> tuple[Vocabulary, TreeEnsemble, TreeEnsemble, dict[str, Any]]:
    d = Path(directory)
    try:
        terms = json.loads((d / "vocab.json").read_text("utf-8"))
        meta = json.loads((d / "meta.json").read_text("utf-8"))
        with np.load(d / "model.npz", allow_pickle=False) as data:
            n_hash, unseen_idf = data["vocab_meta"]
            vocab = Vocabulary(
                {t: i for i, t in enumerate(terms)},
                data["idf"].astype(np.float64),
                int(n_hash),
                float(unseen_idf),
                data["components"].astype(np.float32),
            )
            related = TreeEnsemble.from_arrays(data, "related_")
            stance = TreeEnsemble.from_arrays(data, "stance_")
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load the stance model from {d}: {exc}") from exc
    if meta.get("feature_names") != list(FEATURE_NAMES):
        raise ModelError(
            f"the stance model in {d} was trained on other features; retrain it with "
            "python -m training.stance --out"
        )
    return vocab, related, stance, meta


@functools.lru_cache(maxsize=8)
def _cached_engine(threshold: float | None, directory: str) -> StanceEngine:
    vocab, related, stance, meta = _load_parts(directory)
    if threshold is None:
        threshold = float(meta.get("contradicts_threshold", DEFAULT_CONTRADICTS_THRESHOLD))
    return StanceEngine(vocab, related, stance, contradicts_threshold=threshold, meta=meta)


def load_engine(
    contradicts_threshold: float | None = None, model_dir: Path | str | None = None
) -> StanceEngine:
    """The packaged stance engine (cached per threshold); loads offline from package files.

    ``contradicts_threshold``: minimum model probability of contradiction, among related
    readings, for a ``contradicts`` verdict; None takes the tuned default stored with the
    model. Higher means fewer, surer contradictions.
    """
    if contradicts_threshold is not None:
        if isinstance(contradicts_threshold, bool) or not isinstance(
            contradicts_threshold, int | float
        ):
            raise ValueError(
                f"contradicts_threshold must be a number, got {contradicts_threshold!r}"
            )
        if not 0.0 < contradicts_threshold < 1.0 or math.isnan(contradicts_threshold):
            raise ValueError(
                f"contradicts_threshold must be between 0 and 1 (exclusive), "
                f"got {contradicts_threshold!r}"
            )
        contradicts_threshold = float(contradicts_threshold)
    directory = str(Path(model_dir) if model_dir is not None else MODEL_DIR)
    return _cached_engine(contradicts_threshold, directory)


# ---------------------------------------------------------------------------------------
# The `monitor stance` command


def pair_verdict(claim: str, sentence: str) -> StanceVerdict:
    """A claim against one short text (a headline, a summary: ``pairs.is_short``) read
    whole by the pair model (``monitor.claims.pairs.judge_short``): its *neither* is
    ``discusses`` when the text shares content words with the claim, else ``unrelated``."""
    from monitor.claims.pairs import judge_short

    v = judge_short(claim, sentence)
    stance = v.relation
    if stance == "neither":
        stance = "discusses" if v.score is not None else "unrelated"
    probs = {k: 0.0 for k in STANCES}
    if v.score is not None:
        probs |= {"confirms": v.score.confirms, "contradicts": v.score.contradicts}
        probs["discusses"] = v.score.neither
    else:
        probs["unrelated"] = 1.0
    return StanceVerdict(
        stance,
        round(v.probability, 4),
        {k: round(x, 4) for k, x in probs.items()},
        (v.evidence,) if v.evidence else (),
    )


def run_jsonl(
    inp: TextIO, out: TextIO, engine: StanceEngine | None = None, *, pairs: bool = True
) -> int:
    """Judge JSON lines ``{"id", "claim", "text"}``; write ``{"id", "stance", "score", "evidence"}``.

    A short text (a headline, a summary: at most two sentences of 40 words) is read whole
    by the pair model
    (:func:`pair_verdict`; it scores 0.7+ on held-out claim/headline pairs where the
    engine scores about 0.5, see docs/claims-model.md) unless ``pairs`` is False; longer
    texts by the stance engine. A line that cannot be judged yields
    ``{"id": ..., "error": "..."}`` instead. Blank lines are skipped. Consecutive lines
    with the same text share one prepared text. Returns the number of lines written.
    """
    from monitor.claims.pairs import PairModelError, is_short

    eng = engine
    last_text: str | None = None
    last_prepared: PreparedText | None = None
    written = 0
    for lineno, line in enumerate(inp, 1):
        if not line.strip():
            continue
        rid: Any = None
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"line {lineno}: expected a JSON object")
            rid = obj.get("id")
            claim, text = obj.get("claim"), obj.get("text")
            if not isinstance(claim, str) or not claim.strip():
                raise ValueError(f"line {lineno}: 'claim' must be a non-empty string")
            if not isinstance(text, str):
                raise ValueError(f"line {lineno}: 'text' must be a string")
            if pairs and is_short(text):
                v = pair_verdict(claim, text.strip())
            else:
                if eng is None:
                    eng = load_engine()
                if text != last_text or last_prepared is None:
                    last_prepared = eng.prepare(text)
                    last_text = text
                v = eng.judge(claim, last_prepared)
            rec: dict[str, Any] = {
                "id": rid,
                "stance": v.stance,
                "score": v.score,
                "evidence": list(v.evidence),
            }
        except (ValueError, TypeError, ModelError, PairModelError) as exc:
            rec = {"id": rid, "error": str(exc)}
        except Exception as exc:  # never a traceback for one bad record
            rec = {"id": rid, "error": f"line {lineno}: {type(exc).__name__}: {exc}"}
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        written += 1
    return written
