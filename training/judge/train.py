"""Train the article-level judge (monitor/claims/article_judge.py) on FNC-1 stories.

    python -m training.judge features --side val --engine /work/runs/judge/engine_trainonly \
        --out /work/runs/judge/val.npz
    python -m training.judge features --side test --out /work/runs/judge/test.npz
    python -m training.judge fit --train /work/runs/judge/val.npz --out monitor/claims/judge_model
    python -m training.judge compare --test /work/runs/judge/test.npz --model monitor/claims/judge_model

``features``: every FNC-1 pair whose headline and body are on one side of
training/pairs/splits.json (unrelated pairs sampled, ``--unrelated``, weighted back), read
the way the claims stage reads a declared claim against a served article: the pair model's
readings (``pairs.read_many``, k=3 with windows) and the stance engine's reading of the
whole body. The judge is trained on the *validation* stories, with an engine that never saw
them (``python -m training.stance --exclude-side test --exclude-side val``), so the
engine's readings there are as on unseen news; thresholds come from story-grouped folds
of the same stories. The test stories are only read by ``compare``.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from monitor.claims.article_judge import (
    FEATURE_NAMES,
    PASSAGE_DIR,
    body_cues,
    engine_readings,
    features,
    load_passage_model,
    passage_probabilities,
)
from monitor.claims.pairs import LABELS, PairModel, read_many, split_text, verdict
from monitor.claims.stance import load_engine
from monitor.claims.stance_gbdt import TreeEnsemble
from monitor.claims.track import claim_content
from training.pairs.make_splits import headline_key
from training.stance.train import Pair, story_components

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "fnc1"
SPLITS = ROOT / "training" / "pairs" / "splits.json"
GOLD = {"agree": 0, "disagree": 1, "discuss": 2, "unrelated": 2}
PRECISION = 0.80  # the target; the threshold rule below
MIN_VERDICTS = 10


def load(data: Path) -> tuple[dict[int, str], list[tuple[str, int, str]]]:
    with open(data / "train_bodies.csv", encoding="utf-8", newline="") as f:
        bodies = {int(r["Body ID"]): r["articleBody"] for r in csv.DictReader(f)}
    with open(data / "train_stances.csv", encoding="utf-8", newline="") as f:
        pairs = [(r["Headline"], int(r["Body ID"]), r["Stance"]) for r in csv.DictReader(f)]
    return bodies, pairs


def side_pairs(
    pairs: list[tuple[str, int, str]], side: str, unrelated: float, seed: int
) -> tuple[list[tuple[str, int, str]], float]:
    fnc = json.loads(SPLITS.read_text(encoding="utf-8"))["fnc1"][side]
    bodies, heads = set(fnc["body_ids"]), set(fnc["headline_sha1"])
    mine = [p for p in pairs if p[1] in bodies and headline_key(p[0]) in heads]
    rng = random.Random(seed)
    kept = [p for p in mine if p[2] != "unrelated" or rng.random() < unrelated]
    return kept, 1.0 / unrelated


def story_groups(pairs: list[tuple[str, int, str]]) -> list[int]:
    """A story id per pair: connected components of headlines and bodies linked by related
    pairs (``training.stance``'s definition)."""
    comp = story_components([Pair(h, b, label) for h, b, label in pairs])
    return [comp[f"b:{b}"] for _, b, _ in pairs]


def cmd_features(args: argparse.Namespace) -> int:
    bodies, pairs = load(args.data)
    chosen, weight = side_pairs(pairs, args.side, args.unrelated, args.seed)
    if args.limit:
        chosen = random.Random(args.seed).sample(chosen, min(args.limit, len(chosen)))
    groups = story_groups(chosen)
    model = PairModel(threads=1)
    passage_model = load_passage_model(args.passage)
    engine = load_engine(model_dir=args.engine) if args.engine else load_engine()
    by_body: dict[int, list[int]] = collections.defaultdict(list)
    for i, (_, b, _) in enumerate(chosen):
        by_body[b].append(i)
    X = np.zeros((len(chosen), len(FEATURE_NAMES)))
    # what main's claims stage decides from the same readings (for `compare`)
    main_pair = np.zeros((len(chosen), 3))
    main_engine = np.empty(len(chosen), dtype=object)
    passage_p = np.full((len(chosen), 3), np.nan)
    t0 = time.monotonic()
    for n, (b, idx) in enumerate(sorted(by_body.items())):
        text = f"Report {b}\n{bodies[b]}"
        sents = [s for s in split_text(text) if s.strip()]
        heads = [chosen[i][0] for i in idx]
        readings = read_many([claim_content(h) for h in heads], sents, model=model)
        eng = engine_readings(engine, heads, f"Report {b}\n\n{bodies[b]}")
        cues = body_cues(sents)
        contents = [claim_content(h) for h in heads]
        pas = passage_probabilities(passage_model, contents, sents)
        for i, h, r, e, q in zip(idx, heads, readings, eng, pas, strict=True):
            X[i] = features(claim_content(h), sents, r, e, cues)
            passage_p[i] = q
            v = verdict(model, r.probs, r.texts, "article") if r.texts else None
            main_pair[i] = [
                v is not None and v.relation == "confirms",
                v is not None and v.relation == "contradicts",
                v.probability if v else 0.0,
            ]
            main_engine[i] = max(e.probabilities, key=e.probabilities.__getitem__)
        if n % 50 == 0:
            print(f"{n}/{len(by_body)} bodies, {time.monotonic() - t0:.0f} s", flush=True)
    y = np.array([GOLD[p[2]] for p in chosen])
    fnc_label = np.array([p[2] for p in chosen])
    w = np.array([weight if p[2] == "unrelated" else 1.0 for p in chosen])
    np.savez(
        args.out,
        X=X,
        y=y,
        w=w,
        groups=np.array(groups),
        fnc=fnc_label,
        main_pair=main_pair,
        main_engine=main_engine.astype(str),
        passage=passage_p,
    )
    print(f"{len(chosen)} pairs, {len(by_body)} bodies -> {args.out}")
    return 0


PARAMS = {
    "objective": "multiclass",
    "num_class": 3,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,
    "seed": 0,
}


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, rounds: int, class_w: list[float]) -> Any:
    import lightgbm as lgb

    ww = w * np.array(class_w)[y]
    return lgb.train(PARAMS, lgb.Dataset(X, y, weight=ww), num_boost_round=rounds)


def pr(pred: np.ndarray, y: np.ndarray, w: np.ndarray, k: int) -> tuple[float, float, float]:
    tp = float(w[(pred == k) & (y == k)].sum())
    npred = float(w[pred == k].sum())
    ngold = float(w[y == k].sum())
    return (tp / npred if npred else 0.0, tp / ngold if ngold else 0.0, npred)


def decide(P: np.ndarray, tc: float, tx: float) -> np.ndarray:
    out = np.full(len(P), 2)
    conf = (P[:, 0] >= tc) & (P[:, 0] > P[:, 1])
    contra = (P[:, 1] >= tx) & (P[:, 1] >= P[:, 0])
    out[conf] = 0
    out[contra] = 1
    return out


def choose(P: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """Per relation, the lowest threshold whose out-of-fold precision is >= PRECISION (at
    least MIN_VERDICTS verdicts); if none, the one with the highest precision."""
    grid = [round(x, 3) for x in np.arange(0.30, 0.99, 0.01)]
    out: dict[str, Any] = {}
    for k, name in ((0, "confirms"), (1, "contradicts")):
        rows = []
        for t in grid:
            pred = decide(P, t if k == 0 else 2.0, t if k == 1 else 2.0)
            p, r, n = pr(pred, y, w, k)
            rows.append((t, p, r, n))
        ok = [x for x in rows if x[1] >= PRECISION and x[3] >= MIN_VERDICTS]
        t, p, r, n = (
            min(ok, key=lambda x: x[0])
            if ok
            else max((x for x in rows if x[3] >= MIN_VERDICTS), key=lambda x: (x[1], x[2]))
        )
        out[name] = {
            "threshold": float(t),
            "val_precision": round(p, 3),
            "val_recall": round(r, 3),
            "verdicts": round(n, 1),
        }
    return out


def f05(p: float, r: float) -> float:
    return 1.25 * p * r / (0.25 * p + r) if p + r else 0.0


def combined(P: np.ndarray, d: Any, th: dict[str, Any], gate: float) -> np.ndarray:
    """What the claims stage decides (ArticleJudge.read): the judge's own verdict, else
    main's rule (the pair model's article verdict; a confirmation also read by the
    engine) where the judge gives that relation at least ``gate``."""
    mp, me = d["main_pair"], d["main_engine"]
    pair = np.where(mp[:, 1] > 0, 1, np.where(mp[:, 0] > 0, 0, 2))
    main = np.where(pair == 0, np.where(me == "confirms", 0, 2), pair)
    main = np.where((main == 1) & (P[:, 1] < gate), 2, main)
    main = np.where((main == 0) & (P[:, 0] < gate), 2, main)
    own = decide(P, th["confirms"]["threshold"], th["contradicts"]["threshold"])
    return np.where(own != 2, own, main)


def choose_gate(P: np.ndarray, d: Any, th: dict[str, Any]) -> dict[str, Any]:
    """The gate with the best summed F0.5 (precision counted twice) of both relations,
    out of fold on the validation stories."""
    y, w = d["y"], d["w"]
    rows = []
    for g in [round(x, 2) for x in np.arange(0.0, 0.75, 0.05)]:
        pred = combined(P, d, th, g)
        (cp, cr, _), (xp, xr, _) = pr(pred, y, w, 0), pr(pred, y, w, 1)
        rows.append((f05(cp, cr) + f05(xp, xr), g, cp, cr, xp, xr))
        print(f"gate {g}: confirms P/R {cp:.2f}/{cr:.2f} contradicts P/R {xp:.2f}/{xr:.2f}")
    _, g, cp, cr, xp, xr = max(rows)
    return {
        "threshold": float(g),
        "val_confirms_precision": round(cp, 3),
        "val_confirms_recall": round(cr, 3),
        "val_contradicts_precision": round(xp, 3),
        "val_contradicts_recall": round(xr, 3),
    }


def oof(X, y, w, groups, rounds, class_w, folds=5):
    P = np.zeros((len(y), 3))
    ug = np.unique(groups)
    rng = np.random.default_rng(0)
    fold_of = dict(zip(ug, rng.permutation(len(ug)) % folds, strict=True))
    f = np.array([fold_of[g] for g in groups])
    for k in range(folds):
        b = _fit(X[f != k], y[f != k], w[f != k], rounds, class_w)
        P[f == k] = b.predict(X[f == k])
    return P


def cmd_fit(args: argparse.Namespace) -> int:
    d = np.load(args.train, allow_pickle=False)
    X, y, w, groups = d["X"], d["y"], d["w"], d["groups"]
    best = None
    for cw in args.class_weights.split(";"):
        class_w = [float(x) for x in cw.split(",")]
        for rounds in [int(r) for r in args.rounds.split(",")]:
            P = oof(X, y, w, groups, rounds, class_w)
            th = choose(P, y, w)
            # out-of-fold: precision up to the target, then recall where it is reached
            score = sum(
                min(th[k]["val_precision"], PRECISION)
                + th[k]["val_recall"] * (th[k]["val_precision"] >= PRECISION)
                for k in th
            )
            print(f"class weights {class_w} rounds {rounds}: {json.dumps(th)}", flush=True)
            if best is None or score > best[0]:
                best = (score, rounds, th, class_w)
    assert best is not None
    _, rounds, th, class_w = best
    th["gate"] = choose_gate(oof(X, y, w, groups, rounds, class_w), d, th)
    booster = _fit(X, y, w, rounds, class_w)
    ens = TreeEnsemble.from_lightgbm_dump(booster.dump_model())
    ref = booster.predict(X[:500])
    got = ens.predict_proba(X[:500])
    if not np.allclose(ref, got, atol=1e-6):
        raise SystemExit("flattened trees disagree with LightGBM")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "trees.npz", **ens.arrays("judge_"))
    th_out = dict(th)
    th_out["rule"] = (
        f"lowest threshold with out-of-fold precision >= {PRECISION} on the validation "
        f"stories (>= {MIN_VERDICTS} verdicts), else the most precise"
    )
    (out / "thresholds.json").write_text(json.dumps(th_out, indent=2) + "\n")
    meta = {
        "labels": list(LABELS),
        "feature_names": list(FEATURE_NAMES),
        "rounds": rounds,
        "params": PARAMS,
        "class_weights": class_w,
        "trained_on": "FNC-1 validation stories of training/pairs/splits.json "
        f"({len(y)} pairs, unrelated sampled and weighted back)",
        "licence": "MIT (this project); derived from FNC-1 data (see docs/claims-model.md)",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"rounds {rounds}, thresholds {th} -> {out}")
    return 0


def balanced(w: np.ndarray, fnc: np.ndarray) -> np.ndarray:
    """Weights giving each FNC-1 label the same total: the class mix of the declared-claims
    benchmark (``benchmarks/eval_claims.py declared``: 150 pairs per label)."""
    out = w.astype(np.float64).copy()
    for lab in np.unique(fnc):
        m = fnc == lab
        out[m] = w[m] / w[m].sum()
    return out


def with_passage(
    base: np.ndarray, q: np.ndarray, engine: np.ndarray, tc: float, tx: float
) -> np.ndarray:
    """``ArticleJudge.read`` with the passage route: where the rule before it has no
    verdict, the passage model's reading decides (a confirmation also read by the engine)."""
    out = base.copy()
    ok = ~np.isnan(q[:, 0])
    pc, px = np.nan_to_num(q[:, 0]), np.nan_to_num(q[:, 1])
    out[(out == 2) & ok & (px >= tx) & (px >= pc)] = 1
    out[(out == 2) & ok & (pc >= tc) & (pc > px) & (engine == "confirms")] = 0
    return out


def shipped_rule(P: np.ndarray, d: Any, th: dict[str, Any]) -> np.ndarray:
    """``ArticleJudge.read`` before the cross judge: the judge's own verdict, the gated
    pair-model verdict, the passage route (``th``: ``thresholds.json``)."""
    base = combined(P, d, th, th["gate"]["threshold"])
    t = th["passage"]
    return with_passage(base, d["passage"], d["main_engine"], t["confirms"], t["contradicts"])


PASSAGE_PRECISION = 0.75


def cmd_passage(args: argparse.Namespace) -> int:
    """Thresholds of the passage route, out of fold on the validation stories: the highest
    summed recall of both relations with each relation's precision >= PASSAGE_PRECISION in
    the benchmark's class mix (:func:`balanced`); written into ``thresholds.json``."""
    d = np.load(args.train, allow_pickle=False)
    X, y, w, groups, fnc = d["X"], d["y"], d["w"], d["groups"], d["fnc"]
    meta = json.loads((args.model / "meta.json").read_text(encoding="utf-8"))
    th_path = args.model / "thresholds.json"
    th = json.loads(th_path.read_text(encoding="utf-8"))
    P = oof(X, y, w, groups, meta["rounds"], meta["class_weights"])
    base = combined(P, d, th, th["gate"]["threshold"])
    wb = balanced(w, fnc)
    grid = [round(x, 2) for x in np.arange(0.30, 1.0, 0.05)]
    best = None
    for tc in grid:
        for tx in grid:
            pred = with_passage(base, d["passage"], d["main_engine"], tc, tx)
            (cp, cr, _), (xp, xr, _) = pr(pred, y, wb, 0), pr(pred, y, wb, 1)
            ok = cp >= PASSAGE_PRECISION and xp >= PASSAGE_PRECISION
            if ok and (best is None or cr + xr > best[0]):
                best = (cr + xr, tc, tx)
    if best is None:
        raise SystemExit("no passage thresholds keep the precision")
    _, tc, tx = best
    out: dict[str, Any] = {"confirms": tc, "contradicts": tx}
    for name, ww in (("", w), ("balanced_", wb)):
        for pred, tag in (
            (base, "before_"),
            (with_passage(base, d["passage"], d["main_engine"], tc, tx), ""),
        ):
            for k, rel in ((0, "confirms"), (1, "contradicts")):
                p_, r_, _ = pr(pred, y, ww, k)
                out[f"{tag}{name}val_{rel}_precision"] = round(p_, 3)
                out[f"{tag}{name}val_{rel}_recall"] = round(r_, 3)
            neg = y == 2
            out[f"{tag}{name}val_false_alerts"] = round(
                float(ww[neg & (pred != 2)].sum() / ww[neg].sum()), 3
            )
    out["rule"] = (
        f"highest summed recall with each relation's out-of-fold precision >= "
        f"{PASSAGE_PRECISION} on the validation stories, each FNC-1 label weighted equally "
        "(balanced_*; val_*: the natural class mix)"
    )
    th["passage"] = out
    th_path.write_text(json.dumps(th, indent=2) + "\n")
    print(json.dumps(out, indent=1))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from monitor.claims.article_judge import ArticleJudge

    d = np.load(args.test, allow_pickle=False)
    X, y, w, fnc = d["X"], d["y"], d["w"], d["fnc"]
    judge = ArticleJudge(args.model)
    P = judge.probabilities(X)
    th = json.loads((args.model / "thresholds.json").read_text(encoding="utf-8"))
    new = combined(P, d, th, th["gate"]["threshold"])
    mp, me = d["main_pair"], d["main_engine"]
    pair_only = np.where(mp[:, 1] > 0, 1, np.where(mp[:, 0] > 0, 0, 2))
    main = np.where(pair_only == 0, np.where(me == "confirms", 0, 2), pair_only)
    rows = [
        ("main (pair + engine 2nd reading)", main),
        ("pair only", pair_only),
        ("judge", new),
    ]
    if "passage" in d and "passage" in th:
        t = th["passage"]
        rows.append(
            (
                "judge + passage route",
                with_passage(new, d["passage"], me, t["confirms"], t["contradicts"]),
            )
        )
    for name, pred in rows:
        cp, cr, _ = pr(pred, y, w, 0)
        xp, xr, _ = pr(pred, y, w, 1)
        fa = {}
        for lab in ("discuss", "unrelated"):
            m = fnc == lab
            fa[lab] = float(w[m & (pred != 2)].sum() / max(w[m].sum(), 1e-9))
        both = (fnc == "discuss") | (fnc == "unrelated")
        fa_both = float(w[both & (pred != 2)].sum() / w[both].sum())
        print(
            f"{name:36s} confirms P/R {cp:.2f}/{cr:.2f}  contradicts P/R {xp:.2f}/{xr:.2f}  "
            f"false alerts discuss {100 * fa['discuss']:.1f} % unrelated "
            f"{100 * fa['unrelated']:.1f} % both {100 * fa_both:.1f} %"
        )
        print_confusion(y, pred, w)
    return 0


def print_confusion(y: np.ndarray, pred: np.ndarray, w: np.ndarray, indent: str = "    ") -> None:
    """Gold rows (LABELS) against the predicted relation, weighted counts."""
    table: collections.Counter[tuple[int, int]] = collections.Counter()
    for g, p_, ww in zip(y, pred, w, strict=True):
        table[(int(g), int(p_))] += ww
    for g in range(3):
        print(indent + LABELS[g], [round(table[(g, k)]) for k in range(3)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.judge")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("features")
    f.add_argument("--side", choices=("train", "val", "test"), required=True)
    f.add_argument("--data", type=Path, default=DATA)
    f.add_argument("--engine", type=Path, default=None, help="stance model dir (default: shipped)")
    f.add_argument("--passage", type=Path, default=PASSAGE_DIR, help="passage model dir")
    f.add_argument("--unrelated", type=float, default=0.3, help="share of unrelated pairs kept")
    f.add_argument("--limit", type=int, default=0)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("fit")
    t.add_argument("--train", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--rounds", default="100,200,400")
    t.add_argument(
        "--class-weights", default="1,1,1;1,2,1;1,3,1", help="confirms,contradicts,neither;..."
    )
    c = sub.add_parser("compare")
    c.add_argument("--test", type=Path, required=True)
    c.add_argument("--model", type=Path, required=True)
    q = sub.add_parser("passage")
    q.add_argument("--train", type=Path, required=True)
    q.add_argument("--model", type=Path, required=True)
    args = ap.parse_args(argv)
    cmds = {"features": cmd_features, "fit": cmd_fit, "compare": cmd_compare}
    return (cmds | {"passage": cmd_passage})[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
