"""Cross-fitted contradiction/confirmation judge over the FNC-1 training + validation stories.

The article judge (``train.py``) is fitted on the 29 validation stories only: too few to
learn which signal transfers. Here the stance engine is retrained K times, each time
without the test side and one fold of whole train+val stories, and every train+val pair is
read by the engine that never saw its story (out of fold). The features used are those
that do not depend on the pair model (which was trained on the training bodies' sentences
and reads them too surely): the engine's reading, cues of ``monitor.lexicon`` in the
sentences the claims stage reads and in the whole body, the article's length
(:data:`monitor.claims.article_judge.XFIT_FEATURE_NAMES`). A LightGBM model on those
features is the *cross judge* (``judge_model/xtrees.npz``): its thresholds are chosen on its
out-of-fold predictions over all train+val stories, its combination with the shipped rule
on the validation stories (where the shipped rule's readings are as on unseen news).

    python -m training.judge.xfit folds --k 4 --out /work/runs/xfit
    for k in 0 1 2 3; do python -m training.stance --data ../shared/data/fnc1 --split none \\
        --exclude-splits /work/runs/xfit/fold$k.json --exclude-side test --exclude-side val \\
        --out /work/runs/xfit/engine$k; done
    python -m training.judge.xfit features --runs /work/runs/xfit --out /work/runs/xfit/xf.npz
    python -m training.judge.xfit features --side test --out /work/runs/xfit/xtest.npz
    python -m training.judge.xfit fit --train /work/runs/xfit/xf.npz \\
        --val /work/runs/judge/val.npz --model monitor/claims/judge_model
    python -m training.judge.xfit compare --test /work/runs/xfit/xtest.npz \\
        --judge-test /work/runs/judge/test.npz --model monitor/claims/judge_model
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from monitor.claims.article_judge import (
    FEATURE_NAMES,
    XFIT_FEATURE_NAMES,
    body_cues,
    engine_readings,
    features,
)
from monitor.claims.pairs import LABELS, read_many, split_text
from monitor.claims.stance import load_engine
from monitor.claims.stance_gbdt import TreeEnsemble
from monitor.claims.track import claim_content
from training.judge.train import (
    DATA,
    GOLD,
    PARAMS,
    PRECISION,
    ROOT,
    SPLITS,
    balanced,
    decide,
    load,
    oof,
    pr,
    print_confusion,
    shipped_rule,
    side_pairs,
    story_groups,
)
from training.pairs.make_splits import headline_key
from training.stance.train import Pair, story_components


def train_val_pairs(
    pairs: list[tuple[str, int, str]], unrelated: float, seed: int
) -> tuple[list[tuple[str, int, str]], np.ndarray, float]:
    """The train-side then the val-side pairs (each as ``side_pairs`` samples them, so the
    val rows are those of ``training.judge features --side val``) and which side (0/1)."""
    tr, weight = side_pairs(pairs, "train", unrelated, seed)
    va, _ = side_pairs(pairs, "val", unrelated, seed)
    return tr + va, np.array([0] * len(tr) + [1] * len(va)), weight


def cmd_folds(args: argparse.Namespace) -> int:
    """K folds of whole train+val stories; fold k's splits file has the real test side and
    fold k as its "val" side (for ``training.stance --exclude-side test --exclude-side val``)."""
    _, pairs = load(args.data)
    everything, _, _ = train_val_pairs(pairs, 1.0, 0)
    comp = story_components([Pair(h, b, lab) for h, b, lab in everything])
    size: dict[int, int] = dict.fromkeys(comp.values(), 0)
    for _, b, lab in everything:
        size[comp[f"b:{b}"]] += lab != "unrelated"
    comps = sorted(size)
    random.Random(args.seed).shuffle(comps)
    # greedy: largest stories first, each into the fold with fewest related pairs so far
    comps.sort(key=lambda c: -size[c])
    load_ = [0] * args.k
    fold_of: dict[int, int] = {}
    for c in comps:
        f = min(range(args.k), key=lambda i: load_[i])
        fold_of[c] = f
        load_[f] += size[c]
    splits = json.loads(SPLITS.read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    for k in range(args.k):
        bodies = sorted({int(x[2:]) for x, c in comp.items() if x[0] == "b" and fold_of[c] == k})
        heads = sorted(
            {headline_key(x[2:]) for x, c in comp.items() if x[0] == "h" and fold_of[c] == k}
        )
        out = {
            "fnc1": {
                "test": splits["fnc1"]["test"],
                "val": {"body_ids": bodies, "headline_sha1": heads},
            }
        }
        (args.out / f"fold{k}.json").write_text(json.dumps(out))
        print(f"fold {k}: {len(bodies)} bodies, {len(heads)} headlines, {load_[k]} related pairs")
    return 0


class _NoModel:
    """Stands in for the pair model where only its retrieval (the spans read) is wanted."""

    def probabilities(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        return np.zeros((len(pairs), 3), dtype=np.float32)


def cmd_features(args: argparse.Namespace) -> int:
    """The judge's features (:data:`FEATURE_NAMES`, the pair model's readings left at 0:
    only the cross judge's columns are used) of every train+val pair, read by the engine
    of the fold that left its story out; or of the test side by the shipped engine."""
    bodies, pairs = load(args.data)
    if args.side == "test":
        chosen, weight = side_pairs(pairs, "test", args.unrelated, args.seed)
        side = np.full(len(chosen), 2)
        fold_of_body = {b: 0 for _, b, _ in chosen}
        engines = {0: load_engine()}
    else:
        chosen, side, weight = train_val_pairs(pairs, args.unrelated, args.seed)
        spec = json.loads((args.runs / f"fold{args.fold}.json").read_text(encoding="utf-8"))
        fold_of_body = dict.fromkeys(spec["fnc1"]["val"]["body_ids"], args.fold)
        engines = {args.fold: load_engine(model_dir=args.runs / f"engine{args.fold}")}
    groups = np.array(story_groups(chosen))
    n_train = int((side == 0).sum())
    keep = [i for i, (_, b, _) in enumerate(chosen) if b in fold_of_body]
    chosen, side, groups = [chosen[i] for i in keep], side[keep], groups[keep]
    by_body: dict[int, list[int]] = collections.defaultdict(list)
    for i, (_, b, _) in enumerate(chosen):
        by_body[b].append(i)
    X = np.zeros((len(chosen), len(FEATURE_NAMES)))
    fold = np.zeros(len(chosen), dtype=int)
    nomodel = _NoModel()
    t0 = time.monotonic()
    for n, (b, idx) in enumerate(sorted(by_body.items())):
        text = f"Report {b}\n{bodies[b]}"
        sents = [s for s in split_text(text) if s.strip()]
        heads = [chosen[i][0] for i in idx]
        contents = [claim_content(h) for h in heads]
        readings = read_many(contents, sents, model=nomodel)  # type: ignore[arg-type]
        eng = engine_readings(engines[fold_of_body[b]], heads, f"Report {b}\n\n{bodies[b]}")
        cues = body_cues(sents)
        for i, c, r, e in zip(idx, contents, readings, eng, strict=True):
            X[i] = features(c, sents, r, e, cues)
            fold[i] = fold_of_body[b]
        if n % 100 == 0:
            print(f"{n}/{len(by_body)} bodies, {time.monotonic() - t0:.0f} s", flush=True)
    np.savez(
        args.out,
        X=X,
        y=np.array([GOLD[p[2]] for p in chosen]),
        w=np.array([weight if p[2] == "unrelated" else 1.0 for p in chosen]),
        groups=groups,
        row=np.array(keep) - n_train * (side == 1),  # the row in its side's own list
        fold=fold,
        side=side,
        fnc=np.array([p[2] for p in chosen]),
    )
    print(f"{len(chosen)} pairs, {len(by_body)} bodies -> {args.out}")
    return 0


XPARAMS = PARAMS | {"num_leaves": 15, "min_data_in_leaf": 40}
MIN_RAW_VERDICTS = 30  # out of fold, unweighted: a threshold's precision rests on >= 30


def _load_parts(runs: Path) -> dict[str, np.ndarray]:
    parts = [np.load(f, allow_pickle=False) for f in sorted(runs.glob("xf[0-9].npz"))]
    if not parts:
        raise SystemExit(f"no xf<k>.npz in {runs} (python -m training.judge.xfit features)")
    keys = ("X", "y", "w", "groups", "fold", "side", "row", "fnc")
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _train(X: np.ndarray, y: np.ndarray, ww: np.ndarray, rounds: int) -> Any:
    import lightgbm as lgb

    return lgb.train(XPARAMS, lgb.Dataset(X, y, weight=ww), num_boost_round=rounds)


def _weights(d: dict[str, np.ndarray], scheme: str) -> np.ndarray:
    """Training weights: "natural" (unrelated weighted back) times class weights
    "c1,c2,c3", or "balanced" (every FNC-1 label the same total, as the benchmark)."""
    if scheme == "balanced":
        wb = balanced(d["w"], d["fnc"])
        return wb * len(wb) / wb.sum()
    cw = np.array([float(x) for x in scheme.split(",")])
    return d["w"] * cw[d["y"]]


def _oof(d: dict[str, np.ndarray], Xs: np.ndarray, ww: np.ndarray, rounds: int) -> np.ndarray:
    """Out-of-fold probabilities: fold k predicted by trees fitted on the other folds (the
    engine folds: whole stories)."""
    P = np.zeros((len(Xs), 3))
    for k in np.unique(d["fold"]):
        m = d["fold"] == k
        P[m] = _train(Xs[~m], d["y"][~m], ww[~m], rounds).predict(Xs[m])
    return P


def choose_cross(P: np.ndarray, y: np.ndarray, wb: np.ndarray) -> dict[str, Any]:
    """Per relation, the lowest threshold whose out-of-fold precision (each FNC-1 label
    weighted the same) is >= PRECISION with >= MIN_RAW_VERDICTS verdicts: the highest
    recall at that precision; None if no threshold reaches it."""
    out: dict[str, Any] = {}
    for k, name in ((0, "confirms"), (1, "contradicts")):
        best = None
        for t in [round(x, 2) for x in np.arange(0.30, 0.99, 0.01)]:
            pred = decide(P, t if k == 0 else 2.0, t if k == 1 else 2.0)
            p, r, _ = pr(pred, y, wb, k)
            n = int((pred == k).sum())
            if p >= PRECISION and n >= MIN_RAW_VERDICTS:
                best = (t, p, r, n)
                break
        out[name] = (
            None
            if best is None
            else {
                "threshold": best[0],
                "oof_balanced_precision": round(best[1], 3),
                "oof_balanced_recall": round(best[2], 3),
                "oof_verdicts": best[3],
            }
        )
    return out


def cross_rule(
    base: np.ndarray,
    Px: np.ndarray,
    X: np.ndarray,
    th: dict[str, Any],
    gate: float,
    engine: np.ndarray,
) -> np.ndarray:
    """``ArticleJudge.read`` with the cross judge: a contradiction of the shipped rule
    stands only if the cross judge gives contradicts at least ``gate`` or the engine reads
    contradicts itself (``engine``: its stances); where no verdict
    is left, the cross judge's own contradiction stands if the article has evidence that
    way (approximated from the features: a pair-model reading leaning that way, or no
    reading at all and the engine's)."""
    tx = th["contradicts"]["threshold"] if th.get("contradicts") else 2.0
    own = decide(Px, 2.0, tx)
    f = {n: X[:, FEATURE_NAMES.index(n)] for n in ("readings", "more_contradicting")}
    ev_x = (f["more_contradicting"] > 0) | (f["readings"] == 0)
    out = base.copy()
    out[(out == 1) & (Px[:, 1] < gate) & (engine != "contradicts")] = 2
    out[(out == 2) & (own == 1) & ev_x] = 1
    return out


def choose_gate(
    shipped: np.ndarray, Pv: np.ndarray, val: Any, th: dict[str, Any]
) -> tuple[float, list[str]]:
    """The lowest gate whose contradictions (shipped rule gated, plus the cross route) have
    out-of-fold precision >= PRECISION on the validation stories, each FNC-1 label weighted
    the same: the highest recall there; 0 (no gate) if none reaches it."""
    wb = balanced(val["w"], val["fnc"])
    lines = []
    chosen = None
    for g in [round(x, 2) for x in np.arange(0.0, 0.55, 0.05)]:
        pred = cross_rule(shipped, Pv, val["X"], th, g, val["main_engine"])
        p, r, _ = pr(pred, val["y"], wb, 1)
        n = int((pred == 1).sum())
        lines.append(f"gate {g:.2f}: contradicts P/R {p:.2f}/{r:.2f} ({n} verdicts)")
        if chosen is None and p >= PRECISION and n >= MIN_RAW_VERDICTS:
            chosen = g
    return (chosen if chosen is not None else 0.0), lines


def _report(name: str, pred: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, float]:
    (cp, cr, _), (xp, xr, _) = pr(pred, y, w, 0), pr(pred, y, w, 1)
    neg = y == 2
    fa = float(w[neg & (pred != 2)].sum() / w[neg].sum())
    print(
        f"  {name:44s} confirms P/R {cp:.2f}/{cr:.2f}  contradicts P/R {xp:.2f}/{xr:.2f}  "
        f"false alerts {100 * fa:.1f} %"
    )
    return {
        "confirms_precision": round(cp, 3),
        "confirms_recall": round(cr, 3),
        "contradicts_precision": round(xp, 3),
        "contradicts_recall": round(xr, 3),
        "false_alerts": round(fa, 3),
    }


def _shipped_oof(val: Any, model: Path) -> np.ndarray:
    """The shipped rule (judge, gated pair-model verdict, passage route) out of fold on the
    validation stories, as ``training.judge passage`` measures it."""
    meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
    th = json.loads((model / "thresholds.json").read_text(encoding="utf-8"))
    P = oof(val["X"], val["y"], val["w"], val["groups"], meta["rounds"], meta["class_weights"])
    return shipped_rule(P, val, th)


def cmd_fit(args: argparse.Namespace) -> int:
    d = _load_parts(args.runs)
    idx = [FEATURE_NAMES.index(n) for n in XFIT_FEATURE_NAMES]
    Xs = d["X"][:, idx]
    y = d["y"]
    wb = balanced(d["w"], d["fnc"])
    print(
        f"{len(y)} pairs, {len(np.unique(d['groups']))} stories, "
        f"{int((d['fnc'] == 'disagree').sum())} disagree, folds {np.unique(d['fold'])}"
    )
    best = None
    for scheme in args.weights.split(";"):
        for rounds in [int(r) for r in args.rounds.split(",")]:
            P = _oof(d, Xs, _weights(d, scheme), rounds)
            th = choose_cross(P, y, wb)
            # contradictions only: the cross judge's confirmations are too few (below)
            x = th["contradicts"]
            score = x["oof_balanced_recall"] if x else 0.0
            print(f"weights {scheme} rounds {rounds}: {json.dumps(th)}", flush=True)
            if best is None or score > best[0]:
                best = (score, scheme, rounds, th, P)
    assert best is not None
    _, scheme, rounds, th, P = best
    print(f"chosen: weights {scheme}, rounds {rounds}")
    for name, ww in (("balanced", wb), ("natural", d["w"])):
        _report(
            f"cross judge alone, train+val OOF, {name}",
            decide(
                P,
                th["confirms"]["threshold"] if th["confirms"] else 2.0,
                th["contradicts"]["threshold"] if th["contradicts"] else 2.0,
            ),
            y,
            ww,
        )
    # the combination, on the validation stories (the shipped rule's readings there are
    # as on unseen news; on the training stories the pair model is over-sure)
    val = np.load(args.val, allow_pickle=False)
    vm = d["side"] == 1
    Pv = np.zeros((len(val["y"]), 3))
    Pv[d["row"][vm]] = P[vm]
    if not (val["y"][d["row"][vm]] == y[vm]).all() or vm.sum() != len(val["y"]):
        raise SystemExit(f"{args.val} rows do not match the validation pairs here")
    shipped = _shipped_oof(val, args.model)
    # its confirmations are too few at the target precision to add any (recall ~0.05): kept
    # for the record, not used
    th["confirms_unused"], th["confirms"] = th["confirms"], None
    gate, lines = choose_gate(shipped, Pv, val, th)
    print("\n".join(lines))
    if args.gate is not None:
        print(f"gate set to {args.gate:.2f} (the rule chose {gate:.2f})")
        th["gate_set_by_hand"] = {"chosen_by_rule": gate, "set": args.gate}
        gate = args.gate
    th["contradicts"]["gate"] = gate
    new = cross_rule(shipped, Pv, val["X"], th, gate, val["main_engine"])
    stats: dict[str, Any] = {}
    wvb = balanced(val["w"], val["fnc"])
    for name, ww in (("balanced", wvb), ("natural", val["w"])):
        stats[f"before_{name}"] = _report(f"shipped rule, val OOF, {name}", shipped, val["y"], ww)
        stats[name] = _report(f"+ cross route, val OOF, {name}", new, val["y"], ww)
    booster = _train(Xs, y, _weights(d, scheme), rounds)
    ens = TreeEnsemble.from_lightgbm_dump(booster.dump_model())
    if not np.allclose(booster.predict(Xs[:500]), ens.predict_proba(Xs[:500]), atol=1e-6):
        raise SystemExit("flattened trees disagree with LightGBM")
    np.savez_compressed(args.model / "xtrees.npz", **ens.arrays("cross_"))
    out = {
        "feature_names": list(XFIT_FEATURE_NAMES),
        "labels": list(LABELS),
        "rounds": rounds,
        "weights": scheme,
        "params": XPARAMS,
        **th,
        "val_whole_rule": stats,
        "rule": (
            f"lowest threshold with out-of-fold precision >= {PRECISION} over the FNC-1 "
            f"train+val stories ({len(np.unique(d['fold']))} story folds, every FNC-1 label "
            f"weighted the same, >= {MIN_RAW_VERDICTS} verdicts); contradicts.gate: the "
            f"lowest gate on the shipped rule's contradictions (those the engine reads as "
            f"contradicting pass) with precision >= {PRECISION} "
            "out of fold on the validation stories, balanced; val_whole_rule: the shipped "
            "rule gated, with the cross route, out of fold on the validation stories"
        ),
        "trained_on": f"FNC-1 train+val stories of training/pairs/splits.json ({len(y)} pairs, "
        "unrelated sampled and weighted back), engine readings out of fold",
        "licence": "MIT (this project); derived from FNC-1 data (see docs/claims-model.md)",
    }
    (args.model / "cross.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(th))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """On the test stories (``training.judge features --side test``, shipped engine): the
    shipped rule and the rule with the cross route, natural and balanced mix."""
    from monitor.claims.article_judge import ArticleJudge

    d = np.load(args.test, allow_pickle=False)
    X, y, w, fnc = d["X"], d["y"], d["w"], d["fnc"]
    judge = ArticleJudge(args.model)
    th = json.loads((args.model / "thresholds.json").read_text(encoding="utf-8"))
    shipped = shipped_rule(judge.probabilities(X), d, th)
    Px = judge.cross_probabilities(X)
    new = cross_rule(shipped, Px, X, judge.cross, judge.thresholds["cross_gate"], d["main_engine"])
    alone = decide(Px, 2.0, judge.thresholds["cross_contradicts"])
    for mix, ww in (("natural", w), ("balanced", balanced(w, fnc))):
        print(f"test stories, {mix} mix ({len(y)} pairs)")
        for name, pred in (
            ("shipped rule", shipped),
            ("cross judge alone", alone),
            ("shipped rule + cross route", new),
        ):
            _report(name, pred, y, ww)
            if mix == "natural":
                print_confusion(y, pred, w, indent="      ")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.judge.xfit")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("folds")
    f.add_argument("--data", type=Path, default=DATA)
    f.add_argument("--k", type=int, default=4)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("features")
    f.add_argument("--data", type=Path, default=DATA)
    f.add_argument("--side", choices=("trainval", "test"), default="trainval")
    f.add_argument("--runs", type=Path, default=Path("/work/runs/xfit"), help="folds, engines")
    f.add_argument("--fold", type=int, default=0, help="trainval: the fold to read")
    f.add_argument("--unrelated", type=float, default=0.3)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("fit")
    t.add_argument("--runs", type=Path, default=Path("/work/runs/xfit"))
    t.add_argument("--val", type=Path, default=Path("/work/runs/judge2/val36.npz"))
    t.add_argument("--model", type=Path, default=ROOT / "monitor" / "claims" / "judge_model")
    t.add_argument("--rounds", default="50,100,200")
    t.add_argument("--weights", default="1,1,1;1,2,1;1,3,1;balanced")
    t.add_argument(
        "--gate",
        type=float,
        default=None,
        help="set the gate instead of choosing it (the choice is still printed)",
    )
    c = sub.add_parser("compare")
    c.add_argument("--test", type=Path, default=Path("/work/runs/judge2/test36.npz"))
    c.add_argument("--model", type=Path, default=ROOT / "monitor" / "claims" / "judge_model")
    args = ap.parse_args(argv)
    cmds = {"folds": cmd_folds, "features": cmd_features, "fit": cmd_fit, "compare": cmd_compare}
    return cmds[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
