"""Thresholds for the pair model's confirms and contradicts verdicts, chosen on the inner
validation stories of ``splits.json`` only (never on held-out test stories), with the
shipped int8 ONNX model and the runtime's own decision (``monitor.claims.pairs``):

* level "sentence" (a claim against one sentence or headline): Emergent validation pairs,
  claim vs. headline, as ``judge_sentences(claim, [headline])`` reads them;
* level "article" (a claim against an article's sentences): FNC-1 validation pairs,
  headline vs. body through ``candidates``/``verdict`` (the body's sentences most like the
  headline, alone and with the next sentence). Every related pair is used; unrelated pairs
  are sampled and weighted back to their count.

Rule, per level: on a grid of (confirms, contradicts) thresholds, the pair with the highest
summed recall of the two relations among those where each relation's precision on that
level's validation pairs is at least 0.85 with at least 10 verdicts; where no pair reaches
that for both, the highest sum of the two precisions, each counted up to 0.85, then recall.
The precision and recall reached are stored with the thresholds, so that an alert can say
what its confidence means.

    python training/pairs/calibrate.py --model monitor/claims/pair_model
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))
from make_splits import headline_key, read_csv  # noqa: E402

from monitor.claims.pairs import LEVELS, PairModel, candidates, content_words, split_text, verdict  # noqa: E402

TARGET_PRECISION = 0.85
MIN_VERDICTS = 10
GRID = [round(x, 2) for x in np.arange(0.40, 0.991, 0.01)]
EMERGENT = {"for": "confirms", "against": "contradicts", "observing": "neither"}
FNC = {"agree": "confirms", "disagree": "contradicts", "discuss": "neither", "unrelated": "neither"}


def emergent_pairs(data: Path, ids: set[str]) -> list[tuple[str, str, str]]:
    rows = read_csv(data / "emergent" / "train.csv")
    return [(r["claim"], r["headline"], r["stance"]) for r in rows if r["claim_id"] in ids]


def fnc_body_pairs(
    data: Path, split: dict, unrelated: int, seed: int = 0
) -> tuple[list[tuple[str, int, str]], dict[int, list[str]], float]:
    """(headline, body id, stance) of a split (headline and body both in it): every related
    pair and ``unrelated`` sampled unrelated ones; returns the unrelated pairs' weight."""
    hs, bs = set(split["headline_sha1"]), set(split["body_ids"])
    rows = [
        (r["Headline"], int(r["Body ID"]), r["Stance"])
        for r in read_csv(data / "fnc1" / "train_stances.csv")
        if headline_key(r["Headline"]) in hs and int(r["Body ID"]) in bs
    ]
    rows = sorted(set(rows))
    rel = [r for r in rows if r[2] != "unrelated"]
    unrel = [r for r in rows if r[2] == "unrelated"]
    sample = random.Random(seed).sample(unrel, min(unrelated, len(unrel)))
    weight = len(unrel) / max(1, len(sample))
    bodies = {
        int(r["Body ID"]): split_text(r["articleBody"])
        for r in read_csv(data / "fnc1" / "train_bodies.csv")
    }
    return rel + sample, bodies, weight


class Readings:
    """Model probabilities of every reading of a set of (claim, sentences) items, computed
    once, so that verdicts under other thresholds cost no model calls."""

    def __init__(self, model: PairModel, items: list[tuple[str, list[str]]], **kw) -> None:
        self.model = model
        self.texts: list[list[str]] = []
        pairs: list[tuple[str, str]] = []
        words_cache: dict[int, list[set[str]]] = {}
        for claim, sents in items:
            sw = words_cache.setdefault(id(sents), [content_words(s) for s in sents])
            texts = candidates(claim, sents, sent_words=sw, **kw)
            self.texts.append(texts)
            pairs.extend((claim, t) for t in texts)
        probs = model.probabilities(pairs) if pairs else np.zeros((0, 3), np.float32)
        self.probs: list[np.ndarray] = []
        at = 0
        for texts in self.texts:
            self.probs.append(probs[at : at + len(texts)])
            at += len(texts)
        self.n_pairs = len(pairs)

    def verdicts(self, level: str) -> list[str]:
        return [
            verdict(self.model, p, t, level).relation
            for p, t in zip(self.probs, self.texts, strict=True)
        ]

    def summary(self) -> np.ndarray:
        """Per item: the highest contradicts probability among readings where it is at least
        confirms, the highest confirms probability among readings where it beats
        contradicts, and whether any reading is more contradicting than confirming. The
        verdict under thresholds (tf, tc) follows from these alone (``predict``)."""
        out = np.full((len(self.probs), 3), -1.0)
        for i, p in enumerate(self.probs):
            if len(p):
                c = p[:, 1] >= p[:, 0]
                f = p[:, 0] > p[:, 1]
                out[i, 0] = p[c, 1].max() if c.any() else -1.0
                out[i, 1] = p[f, 0].max() if f.any() else -1.0
                out[i, 2] = float((p[:, 1] > p[:, 0]).any())
        return out


def predict(summary: np.ndarray, tf: float, tc: float) -> np.ndarray:
    """Verdicts as in ``monitor.claims.pairs.verdict``: 0 confirms, 1 contradicts, 2 neither."""
    contra = summary[:, 0] >= tc
    conf = ~contra & (summary[:, 1] >= tf) & (summary[:, 2] == 0)
    return np.where(contra, 1, np.where(conf, 0, 2))


CODE = {"confirms": 0, "contradicts": 1, "neither": 2}


def pr(pred: np.ndarray, gold: np.ndarray, w: np.ndarray, rel: int) -> tuple[float, float, float]:
    p, g = pred == rel, gold == rel
    tp = float(w[p & g].sum())
    n = float(w[p].sum())
    return tp / n if n else 0.0, tp / max(1e-9, float(w[g].sum())), n


def choose(summary: np.ndarray, gold: np.ndarray, w: np.ndarray) -> tuple[tuple, str]:
    table = []
    for tf in GRID:
        for tc in GRID:
            pred = predict(summary, tf, tc)
            table.append((tf, tc, *pr(pred, gold, w, 0), *pr(pred, gold, w, 1)))

    def key(r: tuple) -> tuple[float, float]:
        # precision up to the target first (a relation below MIN_VERDICTS counts as 0),
        # then summed recall
        pf = min(r[2], TARGET_PRECISION) if r[4] >= MIN_VERDICTS else 0.0
        pc = min(r[5], TARGET_PRECISION) if r[7] >= MIN_VERDICTS else 0.0
        return round(pf + pc, 6), r[3] + r[6]

    best = max(table, key=key)
    if best[2] >= TARGET_PRECISION and best[5] >= TARGET_PRECISION:
        return (
            best,
            f"highest summed recall with precision >= {TARGET_PRECISION} for both relations",
        )
    return best, (
        f"precision {TARGET_PRECISION} not reached for both relations: highest summed "
        f"precision (each counted up to {TARGET_PRECISION}), then summed recall"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).parent
    ap.add_argument("--model", type=Path, default=here.parents[1] / "monitor/claims/pair_model")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--splits", type=Path, default=here / "splits.json")
    ap.add_argument("--unrelated", type=int, default=600, help="unrelated FNC-1 pairs sampled")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="at most this many FNC-1 pairs (a trial)")
    args = ap.parse_args()
    splits = json.loads(args.splits.read_text())
    uncalibrated = {"confirms": 0.5, "contradicts": 0.5}
    model = PairModel(
        args.model, threads=args.threads, thresholds=dict.fromkeys(LEVELS, uncalibrated)
    )
    em = emergent_pairs(args.data, set(splits["emergent"]["val"]))
    em_read = Readings(model, [(c, [h]) for c, h, _ in em])
    fnc, bodies, uw = fnc_body_pairs(args.data, splits["fnc1"]["val"], args.unrelated)
    if args.limit:
        fnc = random.Random(0).sample(fnc, min(args.limit, len(fnc)))
    fnc_read = Readings(model, [(h, bodies[b]) for h, b, _ in fnc])
    sets = {
        "sentence": (
            em_read,
            np.array([CODE[EMERGENT[s]] for _, _, s in em]),
            np.ones(len(em)),
            f"{len(em)} Emergent validation pairs (claim vs. headline)",
        ),
        "article": (
            fnc_read,
            np.array([CODE[FNC[s]] for _, _, s in fnc]),
            np.array([uw if s == "unrelated" else 1.0 for _, _, s in fnc]),
            f"{len(fnc)} FNC-1 validation pairs (headline vs. body; every related pair, "
            f"unrelated ones sampled and weighted x{uw:.2f})",
        ),
    }
    out: dict = {"target_precision": TARGET_PRECISION}
    for level, (r, gold, w, what) in sets.items():
        summary = r.summary()
        best, rule = choose(summary, gold, w)
        tf, tc, pf, rf, nf, pc, rc, nc = best
        model.thresholds[level] = {"confirms": tf, "contradicts": tc}
        pred = np.array([CODE[v] for v in r.verdicts(level)])
        assert (pred == predict(summary, tf, tc)).all(), "predict() differs from verdict()"
        out[level] = {
            "confirms": {
                "threshold": tf,
                "val_precision": round(pf, 3),
                "val_recall": round(rf, 3),
                "val_verdicts": round(nf),
            },
            "contradicts": {
                "threshold": tc,
                "val_precision": round(pc, 3),
                "val_recall": round(rc, 3),
                "val_verdicts": round(nc),
            },
            "rule": rule,
            "validation": what,
            "model_readings": r.n_pairs,
        }
    (args.model / "thresholds.json").write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
