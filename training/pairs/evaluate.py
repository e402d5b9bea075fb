"""Held-out evaluation of the shipped pair model on the TEST stories of ``splits.json``
(never used for training, early stopping or thresholds), against the existing
``monitor stance`` engine and a word-overlap baseline on the same pairs.

1. Emergent claim vs. headline (for → confirms, against → contradicts, observing →
   neither): accuracy, per-class precision/recall/F1, confusion table.
2. FNC-1 headline vs. body (agree → confirms, disagree → contradicts, discuss/unrelated
   → neither): the pair model through ``judge_sentences`` over the body's sentences;
   precision/recall per relation and the false-alert rate (a confirms or contradicts
   verdict) on discuss and on unrelated pairs. All related pairs; unrelated pairs sampled
   and weighted back to their count.

Word-overlap baseline: a text carrying a refuting word (deny, false, hoax, not, no
evidence, ...) and sharing at least half the claim's content words contradicts; sharing at
least half without one confirms; otherwise neither. For a body, it reads the body's
sentence most like the claim.

    python training/pairs/evaluate.py [--model monitor/claims/pair_model] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))
from calibrate import EMERGENT, FNC, emergent_pairs, fnc_body_pairs  # noqa: E402
from data import REFUTING  # noqa: E402

from monitor.claims.pairs import (  # noqa: E402
    MODEL_DIR,
    PairModel,
    content_words,
    judge_many,
    judge_sentences,
    most_similar,
)
from monitor.claims.stance import load_engine  # noqa: E402

RELS = ("confirms", "contradicts", "neither")
STANCE_MAP = {
    "confirms": "confirms",
    "contradicts": "contradicts",
    "discusses": "neither",
    "unrelated": "neither",
}


def overlap_baseline(claim: str, text: str) -> str:
    cw, tw = content_words(claim), content_words(text)
    if not cw or len(cw & tw) < 0.5 * len(cw):
        return "neither"
    return "contradicts" if REFUTING.search(text) else "confirms"


def table(gold: list[str], pred: list[str], w: np.ndarray | None = None) -> dict:
    w = np.ones(len(gold)) if w is None else w
    g, p = np.array(gold), np.array(pred)
    out: dict = {"n": len(gold), "accuracy": round(float(w[g == p].sum() / w.sum()), 4)}
    f1s = {}
    for r in RELS:
        tp = float(w[(p == r) & (g == r)].sum())
        n_pred, n_gold = float(w[p == r].sum()), float(w[g == r].sum())
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_gold if n_gold else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        f1s[r] = f1
        out[r] = {
            "precision": round(prec, 3),
            "recall": round(rec, 3),
            "f1": round(f1, 3),
            "predicted": round(n_pred),
            "gold": round(n_gold),
        }
    out["macro_f1"] = round(float(np.mean(list(f1s.values()))), 4)
    out["confusion"] = {
        gr: {pr: round(float(w[(g == gr) & (p == pr)].sum())) for pr in RELS} for gr in RELS
    }
    return out


def false_alerts(stances: list[str], pred: list[str], w: np.ndarray) -> dict:
    out = {}
    for s in ("discuss", "unrelated"):
        m = np.array([x == s for x in stances])
        alert = np.array([x != "neither" for x in pred])
        out[s] = round(float(w[m & alert].sum() / max(1e-9, w[m].sum())), 4)
    m = np.array([x in ("discuss", "unrelated") for x in stances])
    out["discuss+unrelated"] = round(float(w[m & alert].sum() / max(1e-9, w[m].sum())), 4)
    return out


def markdown(name: str, t: dict) -> str:
    lines = [
        f"**{name}** — accuracy {t['accuracy']:.3f}, macro-F1 {t['macro_f1']:.3f} (n={t['n']})",
        "",
        "| relation | precision | recall | F1 | predicted | gold |",
        "|---|---|---|---|---|---|",
    ]
    for r in RELS:
        x = t[r]
        lines.append(
            f"| {r} | {x['precision']:.3f} | {x['recall']:.3f} | {x['f1']:.3f} | "
            f"{x['predicted']} | {x['gold']} |"
        )
    lines += ["", "| gold \\ predicted | " + " | ".join(RELS) + " |", "|---|---|---|---|"]
    for g in RELS:
        lines.append(f"| {g} | " + " | ".join(str(t["confusion"][g][p]) for p in RELS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).parent
    ap.add_argument("--model", type=Path, default=MODEL_DIR)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--splits", type=Path, default=here / "splits.json")
    ap.add_argument("--split", default="test")
    ap.add_argument("--unrelated", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=0, help="at most this many FNC-1 pairs (a trial)")
    args = ap.parse_args()
    splits = json.loads(args.splits.read_text())
    model = PairModel(args.model, threads=args.threads)
    engine = load_engine()
    results: dict = {"split": args.split, "thresholds": model.thresholds}
    report: list[str] = []

    em = emergent_pairs(args.data, set(splits["emergent"][args.split]))
    gold = [EMERGENT[s] for _, _, s in em]
    t0 = time.perf_counter()
    pm = [judge_sentences(c, [h], model=model).relation for c, h, _ in em]
    t_pm = time.perf_counter() - t0
    st = [STANCE_MAP[engine.judge(c, h).stance] for c, h, _ in em]
    ov = [overlap_baseline(c, h) for c, h, _ in em]
    results["emergent"] = {
        "claims": len({c for c, _, _ in em}),
        "pair_model": table(gold, pm),
        "monitor_stance": table(gold, st),
        "word_overlap": table(gold, ov),
        "pair_model_seconds": round(t_pm, 2),
    }
    for name, key in (("pair model", "pair_model"), ("monitor stance (before)", "monitor_stance")):
        report.append(
            f"Emergent claim vs. headline, {name}\n\n" + markdown(name, results["emergent"][key])
        )
    report.append(
        "Emergent, word overlap\n\n" + markdown("word overlap", results["emergent"]["word_overlap"])
    )

    fnc, bodies, uw = fnc_body_pairs(args.data, splits["fnc1"][args.split], args.unrelated)
    if args.limit:
        fnc = random.Random(0).sample(fnc, min(args.limit, len(fnc)))
    stances = [s for _, _, s in fnc]
    gold = [FNC[s] for s in stances]
    w = np.array([uw if s == "unrelated" else 1.0 for s in stances])
    t0 = time.perf_counter()
    pm = []
    by_body: dict[int, list[int]] = {}
    for i, (_, b, _) in enumerate(fnc):
        by_body.setdefault(b, []).append(i)
    pm_v: dict[int, str] = {}
    for b, idx in by_body.items():
        for i, v in zip(
            idx, judge_many([fnc[i][0] for i in idx], bodies[b], model=model), strict=True
        ):
            pm_v[i] = v.relation
    pm = [pm_v[i] for i in range(len(fnc))]
    t_pm = time.perf_counter() - t0
    st_v: dict[int, str] = {}
    for b, idx in by_body.items():
        prepared = engine.prepare("\n".join(bodies[b]))
        for i, v in zip(idx, engine.judge_many([fnc[i][0] for i in idx], prepared), strict=True):
            st_v[i] = STANCE_MAP[v.stance]
    st = [st_v[i] for i in range(len(fnc))]
    ov = []
    for h, b, _ in fnc:
        top = most_similar(h, bodies[b], 1)
        ov.append(overlap_baseline(h, bodies[b][top[0]]) if top else "neither")
    results["fnc1"] = {
        "pairs": len(fnc),
        "unrelated_weight": round(uw, 3),
        "pair_model": table(gold, pm, w) | {"false_alerts": false_alerts(stances, pm, w)},
        "monitor_stance": table(gold, st, w) | {"false_alerts": false_alerts(stances, st, w)},
        "word_overlap": table(gold, ov, w) | {"false_alerts": false_alerts(stances, ov, w)},
        "pair_model_seconds": round(t_pm, 2),
    }
    for name, key in (
        ("pair model (judge_sentences)", "pair_model"),
        ("monitor stance (before)", "monitor_stance"),
        ("word overlap", "word_overlap"),
    ):
        t = results["fnc1"][key]
        report.append(
            f"FNC-1 headline vs. body, {name}; false alerts: {t['false_alerts']}\n\n"
            + markdown(name, t)
        )
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
