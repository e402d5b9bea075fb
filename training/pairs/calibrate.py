"""Thresholds for the pair model's confirms and contradicts verdicts, chosen on the inner
validation stories of ``splits.json`` only (never on held-out test stories), with the
shipped int8 ONNX model and the runtime's own decision (``monitor.claims.pairs``):

* Emergent validation pairs: claim vs. headline (one reading);
* FNC-1 validation pairs: headline vs. body through ``candidates``/``verdict`` (the
  body's sentences most like the headline, alone and with the next sentence). Every
  related pair is used; unrelated pairs are sampled and weighted back to their count.

Rule: on a grid of (confirms, contradicts) thresholds, the pair with the highest summed
recall of the two relations among those where each relation's precision on the
validation pairs (Emergent and FNC-1 together) is at least 0.85 with at least 10 verdicts.
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

from monitor.claims.pairs import PairModel, candidates, content_words, split_text, verdict  # noqa: E402

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

    def verdicts(self) -> list[str]:
        return [
            verdict(self.model, p, t).relation for p, t in zip(self.probs, self.texts, strict=True)
        ]


def pr(pred: list[str], gold: list[str], w: np.ndarray, rel: str) -> tuple[float, float, float]:
    p = np.array([x == rel for x in pred])
    g = np.array([x == rel for x in gold])
    tp = float(w[p & g].sum())
    n = float(w[p].sum())
    return tp / n if n else 0.0, tp / max(1e-9, float(w[g].sum())), n


def choose(
    model: PairModel, sets: list[tuple[Readings, list[str], np.ndarray]]
) -> tuple[dict, list]:
    gold = [g for _, gs, _ in sets for g in gs]
    w = np.concatenate([ws for _, _, ws in sets])
    table = []
    for tf in GRID:
        for tc in GRID:
            model.thresholds = {"confirms": tf, "contradicts": tc}
            pred = [v for r, _, _ in sets for v in r.verdicts()]
            pf, rf, nf = pr(pred, gold, w, "confirms")
            pc, rc, nc = pr(pred, gold, w, "contradicts")
            table.append((tf, tc, pf, rf, nf, pc, rc, nc))
    ok = [
        row
        for row in table
        if row[2] >= TARGET_PRECISION
        and row[5] >= TARGET_PRECISION
        and row[4] >= MIN_VERDICTS
        and row[7] >= MIN_VERDICTS
    ]
    if ok:
        best = max(ok, key=lambda r: (r[3] + r[6], -r[0] - r[1]))
        rule = f"highest summed recall with precision >= {TARGET_PRECISION} for both relations"
    else:
        best = max(table, key=lambda r: (min(r[2], r[5]), r[3] + r[6]))
        rule = f"precision {TARGET_PRECISION} not reachable: highest lower precision of the two"
    return {"best": best, "rule": rule}, table


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).parent
    ap.add_argument("--model", type=Path, default=here.parents[1] / "monitor/claims/pair_model")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--splits", type=Path, default=here / "splits.json")
    ap.add_argument("--unrelated", type=int, default=600, help="unrelated FNC-1 pairs sampled")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    splits = json.loads(args.splits.read_text())
    model = PairModel(
        args.model, threads=args.threads, thresholds={"confirms": 0.5, "contradicts": 0.5}
    )
    em = emergent_pairs(args.data, set(splits["emergent"]["val"]))
    em_read = Readings(model, [(c, [h]) for c, h, _ in em], min_overlap=0.0, windows=False)
    em_gold = [EMERGENT[s] for _, _, s in em]
    fnc, bodies, uw = fnc_body_pairs(args.data, splits["fnc1"]["val"], args.unrelated)
    fnc_read = Readings(model, [(h, bodies[b]) for h, b, _ in fnc])
    fnc_gold = [FNC[s] for _, _, s in fnc]
    fnc_w = np.array([uw if s == "unrelated" else 1.0 for _, _, s in fnc])
    sets = [
        (em_read, em_gold, np.ones(len(em))),
        (fnc_read, fnc_gold, fnc_w),
    ]
    res, _ = choose(model, sets)
    tf, tc, pf, rf, nf, pc, rc, nc = res["best"]
    model.thresholds = {"confirms": tf, "contradicts": tc}
    per_source = {}
    for name, (r, g, w) in zip(("emergent_val", "fnc1_val"), sets, strict=True):
        pred = r.verdicts()
        per_source[name] = {
            rel: dict(
                zip(
                    ("precision", "recall", "verdicts"),
                    map(lambda x: round(x, 3), pr(pred, g, w, rel)),
                    strict=True,
                )
            )
            for rel in ("confirms", "contradicts")
        }
    out = {
        "confirms": {"threshold": tf, "val_precision": round(pf, 3), "val_recall": round(rf, 3)},
        "contradicts": {"threshold": tc, "val_precision": round(pc, 3), "val_recall": round(rc, 3)},
        "rule": res["rule"],
        "validation": {
            "emergent_pairs": len(em),
            "fnc1_pairs": len(fnc),
            "fnc1_unrelated_weight": round(uw, 3),
            "model_readings": em_read.n_pairs + fnc_read.n_pairs,
            "per_source": per_source,
        },
    }
    (args.model / "thresholds.json").write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
