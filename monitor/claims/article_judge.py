"""Article-level judgement: does a whole article confirm or contradict a claim, or neither?

The pair model (:mod:`.pairs`) reads a claim against single sentences; the stance engine
(:mod:`.stance`) reads it against the whole body. Neither alone is precise enough on
whole articles (docs/claims-model.md). This judge stacks them: for each (claim, article)
it takes what both already computed (the pair model's readings of the sentences most like
the claim: their probabilities, positions and agreement; the engine's class
probabilities and which of its rules fired; refutation, denial, doubt and hedge cues in
the sentences read and in the whole body) and a small gradient-boosted tree ensemble,
trained on FNC-1 validation stories (``training/judge/``), gives calibrated
probabilities of confirms / contradicts / neither. Its thresholds were chosen on held-out
folds of those stories (``judge_model/thresholds.json``): the one place for the
article-level thresholds of the claims stage. A second tree ensemble, the *cross judge*
(``judge_model/xtrees.npz``, ``cross.json``), reads only what does not depend on the pair
model (the engine's reading and the cue counts) and was trained on many more stories (all
FNC-1 training and validation stories, the engine's readings out of fold): it gates the
contradictions of the rules above and adds its own (``training/judge/xfit.py``).

The trees run in numpy (:class:`~monitor.claims.stance_gbdt.TreeEnsemble`); no LightGBM at
run time. :func:`features` is the one definition of the features, for training and run
time alike.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.claims.pairs import (
    LABELS,
    LEVELS,
    PairModel,
    PairModelError,
    PairScore,
    Readings,
    Verdict,
    content_words,
    passage,
)
from monitor.claims.stance_gbdt import TreeEnsemble
from monitor.lexicon import (
    DEBUNK_WORDS,
    DENY_WORD_RE,
    DOUBT_RE,
    NEGATORS,
    STRONG_HEDGE_RE,
)
from monitor.text import words

__all__ = [
    "FEATURE_NAMES",
    "JUDGE_DIR",
    "ArticleJudge",
    "ArticleJudgeError",
    "EngineReading",
    "features",
    "load_passage_model",
    "passage_probabilities",
]

JUDGE_DIR = Path(__file__).with_name("judge_model")
PASSAGE_DIR = Path(__file__).with_name("passage_model")
# At most this many passage readings per article (~8 ms each on one core: the budget of one
# article against the 100 claims of its story, with the pair model's readings, < 1 s).
MAX_PASSAGES = 20
ENGINE_SOURCES = ("model", "rule:denial", "rule:affirm", "rule:hedged", "rule:doubt")
ENGINE_STANCES = ("confirms", "contradicts", "discusses", "unrelated")
_CUES = ("deny", "debunk", "doubt", "hedge", "negator")

FEATURE_NAMES: tuple[str, ...] = (
    "readings",
    "max_confirms",
    "max_contradicts",
    "mean_confirms",
    "mean_contradicts",
    "min_neither",
    "top_confirms",
    "top_contradicts",
    "top_window_confirms",
    "top_window_contradicts",
    "more_contradicting",
    "more_confirming",
    "top_overlap",
    "top_position",
    "contradicting_position",
    "log_sentences",
    "claim_words",
    *(f"engine_{s}" for s in ENGINE_STANCES),
    *(f"engine_source_{s}" for s in ENGINE_SOURCES),
    *(f"read_{c}" for c in _CUES),
    *(f"body_{c}_per_100" for c in _CUES),
)

# The cross judge's features (``judge_model/xtrees.npz``): those that do not depend on the
# pair model, so that it could be trained on all FNC-1 train+val stories with the stance
# engine's readings out of fold (training/judge/xfit.py).
XFIT_FEATURE_NAMES: tuple[str, ...] = (
    "readings",
    "top_overlap",
    "top_position",
    "log_sentences",
    "claim_words",
    *(f"engine_{s}" for s in ENGINE_STANCES),
    *(f"engine_source_{s}" for s in ENGINE_SOURCES),
    *(f"read_{c}" for c in _CUES),
    *(f"body_{c}_per_100" for c in _CUES),
)


class ArticleJudgeError(Exception):
    """The article judge's files are missing or unusable."""


@dataclass(frozen=True, slots=True)
class EngineReading:
    """What the stance engine read of one claim in the whole article."""

    stance: str  # ENGINE_STANCES
    probabilities: dict[str, float]  # ENGINE_STANCES
    source: str  # "model" or "rule:<kind>"
    evidence: tuple[str, ...] = ()


def _cue_counts(tokens: Sequence[str]) -> list[float]:
    deny = debunk = doubt = hedge = neg = 0
    for t in tokens:
        if DENY_WORD_RE.match(t):
            deny += 1
        if t in DEBUNK_WORDS:
            debunk += 1
        if DOUBT_RE.match(t):
            doubt += 1
        if STRONG_HEDGE_RE.match(t):
            hedge += 1
        if t in NEGATORS or t.endswith("n't"):
            neg += 1
    return [float(deny), float(debunk), float(doubt), float(hedge), float(neg)]


def body_cues(sents: Sequence[str]) -> list[float]:
    """Cue counts per 100 words of a whole article (once per article)."""
    toks = [w for s in sents for w in words(s)]
    n = max(len(toks), 1)
    return [100.0 * c / n for c in _cue_counts(toks)]


def features(
    claim: str,
    sents: Sequence[str],
    r: Readings,
    engine: EngineReading | None,
    body: Sequence[float],
) -> list[float]:
    """The judge's features of one claim against one article (:data:`FEATURE_NAMES`).

    ``sents``: the article's non-blank sentences (those ``r.spans`` index); ``r``: the pair
    model's readings of the claim (:func:`~monitor.claims.pairs.read_many`); ``engine``:
    the stance engine's reading (None: not available, features are missing values);
    ``body``: :func:`body_cues` of the article."""
    nan = math.nan
    n = len(sents)
    p = np.asarray(r.probs, dtype=np.float64).reshape(-1, 3)
    cw = content_words(claim)
    if len(p):
        alone = [i for i, (a, b) in enumerate(r.spans) if b - a == 1]
        window = [i for i, (a, b) in enumerate(r.spans) if b - a > 1]
        top = alone[0] if alone else 0
        a0 = r.spans[top][0]
        top_words = content_words(sents[a0]) if a0 < n else set()
        most = int(np.argmax(p[:, 1]))
        pair = [
            float(len(p)),
            float(p[:, 0].max()),
            float(p[:, 1].max()),
            float(p[:, 0].mean()),
            float(p[:, 1].mean()),
            float(p[:, 2].min()),
            float(p[top, 0]),
            float(p[top, 1]),
            float(p[window[0], 0]) if window else nan,
            float(p[window[0], 1]) if window else nan,
            float((p[:, 1] > p[:, 0]).sum()),
            float((p[:, 0] > p[:, 1]).sum()),
            len(cw & top_words) / max(len(cw), 1),
            a0 / max(n, 1),
            r.spans[most][0] / max(n, 1),
        ]
    else:
        pair = [0.0, *([nan] * 14)]
    pair += [math.log1p(n), float(len(cw))]
    if engine is not None:
        eng = [float(engine.probabilities.get(s, 0.0)) for s in ENGINE_STANCES]
        eng += [float(engine.source == s) for s in ENGINE_SOURCES]
    else:
        eng = [nan] * (len(ENGINE_STANCES) + len(ENGINE_SOURCES))
    read_tokens = [w for a, b in dict.fromkeys(r.spans) for s in sents[a:b] for w in words(s)]
    return [*pair, *eng, *_cue_counts(read_tokens), *body]


def passage_probabilities(
    model: PairModel,
    claims: Sequence[str],
    sents: Sequence[str],
    max_passages: int = MAX_PASSAGES,
) -> np.ndarray:
    """The passage model's reading of each claim against its passage of the article
    (:func:`~monitor.claims.pairs.passage`), one batched call: rows of confirms /
    contradicts / neither; NaN where no sentence is close enough to the claim, or beyond
    the ``max_passages`` claims closest to the article (the time budget)."""
    sents = [s for s in sents if s and s.strip()]
    sent_words = [content_words(s) for s in sents]
    texts = [passage(c, sents, sent_words=sent_words) for c in claims]
    out = np.full((len(claims), 3), np.nan)
    todo = [i for i, t in enumerate(texts) if t]
    if len(todo) > max_passages:
        # the claims whose closest sentence shares most of their words come first
        def closeness(i: int) -> float:
            cw = content_words(claims[i])
            return max(len(cw & sw) / max(len(cw), 1) for sw in sent_words)

        todo = sorted(sorted(todo, key=closeness, reverse=True)[:max_passages])
    if todo:
        out[todo] = model.probabilities([(claims[i], texts[i]) for i in todo])
    return out


def load_passage_model(model_dir: Path | str = PASSAGE_DIR) -> PairModel:
    """The passage model (the pair model's files and format; its thresholds are the
    judge's, so none are read)."""
    unused = dict.fromkeys(LEVELS, {"confirms": 1.0, "contradicts": 1.0})
    return PairModel(model_dir, thresholds=unused)


class ArticleJudge:
    """The packaged article judge (``judge_model/``): trees, thresholds, calibration."""

    def __init__(
        self, model_dir: Path | str = JUDGE_DIR, passage_dir: Path | str = PASSAGE_DIR
    ) -> None:
        d = Path(model_dir)
        trees, th_path, meta_path = d / "trees.npz", d / "thresholds.json", d / "meta.json"
        xtrees, cross_path = d / "xtrees.npz", d / "cross.json"
        for f in (trees, th_path, meta_path, xtrees, cross_path):
            if not f.is_file():
                raise ArticleJudgeError(f"article judge file missing: {f}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            th = json.loads(th_path.read_text(encoding="utf-8"))
            with np.load(trees, allow_pickle=False) as data:
                self.trees = TreeEnsemble.from_arrays(data, "judge_")
            self.thresholds = {
                k: float(th[k]["threshold"]) for k in ("confirms", "contradicts", "gate")
            }
            self.thresholds |= {
                f"passage_{k}": float(th["passage"][k]) for k in ("confirms", "contradicts")
            }
            self.labels: tuple[str, ...] = tuple(meta["labels"])
            cross = json.loads(cross_path.read_text(encoding="utf-8"))
            with np.load(xtrees, allow_pickle=False) as data:
                self.cross_trees = TreeEnsemble.from_arrays(data, "cross_")
            self.thresholds |= {
                "cross_contradicts": float(cross["contradicts"]["threshold"]),
                "cross_gate": float(cross["contradicts"]["gate"]),
            }
            cross_labels = tuple(cross["labels"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ArticleJudgeError(f"article judge files unreadable in {d}: {e}") from e
        if meta.get("feature_names") != list(FEATURE_NAMES):
            raise ArticleJudgeError(
                f"the article judge in {d} was trained on other features; retrain it "
                "(training/judge/README.md)"
            )
        if sorted(self.labels) != sorted(LABELS) or self.trees.num_class != len(LABELS):
            raise ArticleJudgeError(f"article judge labels {self.labels} are not {LABELS}: {d}")
        if cross.get("feature_names") != list(XFIT_FEATURE_NAMES):
            raise ArticleJudgeError(
                f"the cross judge in {cross_path} was trained on other features; retrain it "
                "(training/judge/README.md)"
            )
        if sorted(cross_labels) != sorted(LABELS) or self.cross_trees.num_class != len(LABELS):
            raise ArticleJudgeError(f"cross judge labels {cross_labels} are not {LABELS}: {d}")
        for k, t in self.thresholds.items():
            if not 0.0 <= t <= 1.0:
                raise ArticleJudgeError(f"article judge threshold {k}={t!r} not in (0, 1]")
        self.calibration: dict[str, Any] = th
        self.cross: dict[str, Any] = cross
        self.meta = meta
        try:
            self.passage_model = load_passage_model(passage_dir)
        except PairModelError as e:
            raise ArticleJudgeError(f"article judge: {e}") from e
        self._order = [self.labels.index(x) for x in LABELS]
        self._cross_order = [cross_labels.index(x) for x in LABELS]
        self._cross_cols = [FEATURE_NAMES.index(n) for n in XFIT_FEATURE_NAMES]

    @classmethod
    def load(cls) -> ArticleJudge:
        """The packaged judge, loaded once per process."""
        return _load_packaged()

    def precision(self, relation: str) -> float | None:
        """Held-out precision of this judge's verdicts of a relation (the alert's
        confidence note): that of all its verdicts, its own and those it lets through,
        the cross judge included (out of fold on the validation stories, natural class
        mix: ``cross.json``; without it, the passage route's figure)."""
        try:
            return float(self.cross["val_whole_rule"]["natural"][f"{relation}_precision"])
        except (KeyError, TypeError, ValueError):
            pass
        try:
            return float(self.calibration["passage"][f"val_{relation}_precision"])
        except (KeyError, TypeError, ValueError):
            return None

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Rows of confirms / contradicts / neither probabilities (``LABELS`` order)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
        if not len(X):
            return np.zeros((0, 3))
        return self.trees.predict_proba(X)[:, self._order]

    def cross_probabilities(self, X: np.ndarray) -> np.ndarray:
        """The cross judge's rows of confirms / contradicts / neither probabilities, from
        the judge's features (its own columns: :data:`XFIT_FEATURE_NAMES`)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
        if not len(X):
            return np.zeros((0, 3))
        return self.cross_trees.predict_proba(X[:, self._cross_cols])[:, self._cross_order]

    def cross_decide(self, relation: str, p: Sequence[float], e: EngineReading) -> str:
        """The cross judge over the verdict of the rules before it (``relation``): a
        contradiction stands only if the cross judge gives contradicts at least the
        ``gate`` or the stance engine reads the article as contradicting too; where no
        verdict is left, the cross judge's own contradiction stands if its probability
        reaches its threshold and beats confirms. Confirmations pass unchanged (the cross
        judge reads too few of them surely)."""
        conf, contra = float(p[0]), float(p[1])
        if (
            relation == "contradicts"
            and contra < self.thresholds["cross_gate"]
            and e.stance != "contradicts"
        ):
            relation = "neither"
        if (
            relation == "neither"
            and contra >= self.thresholds["cross_contradicts"]
            and contra >= conf
        ):
            return "contradicts"
        return relation

    def passage_decide(self, q: Sequence[float], e: EngineReading) -> str:
        """The passage route (where the judge and the pair model have no verdict): the
        passage model's reading of the claim's passage (:func:`passage_probabilities`)
        reaches its threshold and beats the other relation; a confirmation also needs the
        engine to read the whole body as confirming."""
        conf, contra = float(q[0]), float(q[1])
        if math.isnan(conf) or math.isnan(contra):
            return "neither"
        if contra >= self.thresholds["passage_contradicts"] and contra >= conf:
            return "contradicts"
        if conf >= self.thresholds["passage_confirms"] and conf > contra and e.stance == "confirms":
            return "confirms"
        return "neither"

    def decide(self, p: Sequence[float]) -> str:
        conf, contra = float(p[0]), float(p[1])
        if contra >= self.thresholds["contradicts"] and contra >= conf:
            return "contradicts"
        if conf >= self.thresholds["confirms"] and conf > contra:
            return "confirms"
        return "neither"

    def read(
        self,
        claims: Sequence[str],
        sents: Sequence[str],
        readings: Sequence[Readings],
        engine: Sequence[EngineReading],
        pair: Sequence[Verdict],
    ) -> tuple[list[Verdict], np.ndarray]:
        """Verdicts of claims against one article, and the judge's own probabilities of
        each claim (rows of confirms / contradicts / neither, before the routes below).

        ``pair``: the pair model's article-level verdicts of the same readings
        (:func:`~monitor.claims.pairs.verdict`). The judge's own calibrated verdict
        stands; where it has none, the pair model's verdict stands if the judge gives that
        relation at least the ``gate`` probability and, for a confirmation, the engine
        reads it too (``thresholds.json``; both rules measured together on held-out folds
        of the validation stories); then the passage route (:meth:`passage_decide`); then
        the cross judge (:meth:`cross_decide`): a contradiction stands only if it gives
        contradicts at least its gate, and its own contradiction stands where no verdict
        is left (``cross.json``).

        The evidence is the pair model's reading most that way (a sentence, or two), which
        must itself lean that way (a contradiction quotes a sentence whose meaning opposes
        the claim), or the engine's evidence when the pair model read no sentence; a
        verdict with no such evidence is neither."""
        sents = [s for s in sents if s and s.strip()]
        body = body_cues(sents)
        X = np.array(
            [
                features(c, sents, r, e, body)
                for c, r, e in zip(claims, readings, engine, strict=True)
            ]
        )
        pas = passage_probabilities(self.passage_model, claims, sents)
        gate = self.thresholds["gate"]
        out: list[Verdict] = []
        own = self.probabilities(X)
        rows = zip(
            own,
            readings,
            engine,
            pair,
            pas,
            self.cross_probabilities(X),
            strict=True,
        )
        for p, r, e, v, q, x in rows:
            relation = self.decide(p)
            if relation == "neither" and v.relation == "contradicts" and p[1] >= gate:
                relation = "contradicts"
            elif (
                relation == "neither"
                and v.relation == "confirms"
                and e.stance == "confirms"
                and p[0] >= gate
            ):
                relation = "confirms"
            if relation == "neither":
                relation = self.passage_decide(q, e)
            relation = self.cross_decide(relation, x, e)
            if relation == "neither":
                out.append(Verdict("neither", float(p[2]), "", None))
                continue
            col = 0 if relation == "confirms" else 1
            probs = np.asarray(r.probs).reshape(-1, 3)
            evidence = ""
            score = None
            if len(probs):
                i = int(np.argmax(probs[:, col]))
                q = probs[i]
                score = PairScore(float(q[0]), float(q[1]), float(q[2]), relation)
                evidence = r.texts[i] if q[col] > q[1 - col] else ""
            else:
                evidence = " ".join(e.evidence)
            if not evidence:
                out.append(Verdict("neither", float(p[2]), "", None))
            else:
                prob = max(float(p[col]), v.probability if v.relation == relation else 0.0)
                out.append(Verdict(relation, prob, evidence, score))
        return out, own


@functools.lru_cache(maxsize=1)
def _load_packaged() -> ArticleJudge:
    return ArticleJudge(JUDGE_DIR)


def engine_readings(engine: Any, claims: Sequence[str], text: str) -> list[EngineReading]:
    """The stance engine's readings of claims in one article (one prepared body)."""
    body = engine.prepare(text)
    decisions = engine.decide_many(list(claims), body)
    return [
        EngineReading(
            d.stance,
            {k: float(v) for k, v in d.probabilities.items()},
            d.source,
            tuple(body.sentence(i) for i in d.evidence),
        )
        for d in decisions
    ]
