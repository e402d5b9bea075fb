"""Article level on the TEST stories of ``splits.json``: the stance engine, the pair model,
and rules that combine them (FNC-1 headline vs. body; agree → confirms, disagree →
contradicts, discuss/unrelated → neither; unrelated pairs sampled and weighted back, as in
``evaluate.py``, whose tables and false-alert rate this reuses).

Rules (an alert = a confirms or contradicts verdict):

* ``pair model``: ``judge_many`` over the body's sentences, article thresholds;
* ``engine``: ``StanceEngine.judge_many`` on the whole body; ``engine, score >= s``: its
  confirms/contradicts verdict only when its score reaches ``s``;
* ``AND``: the engine's verdict only when the pair model's verdict is the same relation;
* ``engine + evidence``: the engine's verdict only when the pair model's evidence reading
  (its most confirming or contradicting sentence) reads the same relation at the
  *sentence* thresholds;
* ``engine, no opposite sentence``: the engine's verdict unless that reading is the
  opposite relation (a veto, not a second vote).

    python training/pairs/article_level.py --engine monitor/claims/stance_model \
        [--engine-before DIR] [--cache pm.json] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))
from calibrate import EMERGENT, FNC, emergent_pairs, fnc_body_pairs  # noqa: E402
from evaluate import STANCE_MAP, false_alerts, table  # noqa: E402

from monitor.claims.pairs import MODEL_DIR, PairModel, judge_many, judge_sentences  # noqa: E402
from monitor.claims.stance import load_engine  # noqa: E402

SCORE_GRID = (0.5, 0.6, 0.7, 0.8, 0.9)


def pair_model_readings(
    model: PairModel, fnc: list[tuple[str, int, str]], bodies: dict[int, list[str]]
) -> list[dict]:
    """Per pair: the pair model's article verdict and its evidence reading at the
    sentence thresholds."""
    by_body: dict[int, list[int]] = {}
    for i, (_, b, _) in enumerate(fnc):
        by_body.setdefault(b, []).append(i)
    out: list[dict] = [{} for _ in fnc]
    for b, idx in by_body.items():
        verdicts = judge_many([fnc[i][0] for i in idx], bodies[b], model=model)
        for i, v in zip(idx, verdicts, strict=True):
            s = v.score
            sent = (
                model.decide([s.confirms, s.contradicts, s.neither], "sentence")
                if s is not None
                else "neither"
            )
            out[i] = {"article": v.relation, "sentence": sent}
    return out


def engine_readings(
    model_dir: Path, fnc: list[tuple[str, int, str]], bodies: dict[int, list[str]]
) -> list[dict]:
    engine = load_engine(model_dir=model_dir)
    by_body: dict[int, list[int]] = {}
    for i, (_, b, _) in enumerate(fnc):
        by_body.setdefault(b, []).append(i)
    out: list[dict] = [{} for _ in fnc]
    for b, idx in by_body.items():
        prepared = engine.prepare("\n".join(bodies[b]))
        for i, v in zip(idx, engine.judge_many([fnc[i][0] for i in idx], prepared), strict=True):
            out[i] = {"relation": STANCE_MAP[v.stance], "score": v.score}
    return out


def rules(pm: list[dict], en: list[dict]) -> dict[str, list[str]]:
    def gated(keep: list[bool]) -> list[str]:
        return [e["relation"] if k else "neither" for e, k in zip(en, keep, strict=True)]

    out = {
        "pair model": [p["article"] for p in pm],
        "engine": [e["relation"] for e in en],
        "AND (engine = pair model)": gated(
            [e["relation"] == p["article"] for e, p in zip(en, pm, strict=True)]
        ),
        "engine + evidence sentence": gated(
            [e["relation"] == p["sentence"] for e, p in zip(en, pm, strict=True)]
        ),
    }
    opposite = {"confirms": "contradicts", "contradicts": "confirms", "neither": ""}
    not_opposed = [p["sentence"] != opposite[e["relation"]] for e, p in zip(en, pm, strict=True)]
    out["engine, no opposite sentence"] = gated(not_opposed)
    for s in SCORE_GRID:
        out[f"engine, score >= {s}"] = gated([e["score"] >= s for e in en])
        out[f"engine, no opposite sentence, score >= {s}"] = gated(
            [k and e["score"] >= s for e, k in zip(en, not_opposed, strict=True)]
        )
        out[f"engine + evidence sentence, score >= {s}"] = gated(
            [
                e["relation"] == p["sentence"] and e["score"] >= s
                for e, p in zip(en, pm, strict=True)
            ]
        )
    return out


def row(name: str, gold: list[str], pred: list[str], stances: list[str], w: np.ndarray) -> dict:
    t = table(gold, pred, w)
    fa = false_alerts(stances, pred, w)
    return {
        "rule": name,
        "confirms": [t["confirms"]["precision"], t["confirms"]["recall"]],
        "contradicts": [t["contradicts"]["precision"], t["contradicts"]["recall"]],
        "false_alerts": fa,
    }


def fmt(r: dict) -> str:
    fa = r["false_alerts"]
    return (
        f"| {r['rule']} | {r['confirms'][0]:.2f} / {r['confirms'][1]:.2f} | "
        f"{r['contradicts'][0]:.2f} / {r['contradicts'][1]:.2f} | "
        f"{100 * fa['discuss']:.1f} % | {100 * fa['unrelated']:.1f} % | "
        f"{100 * fa['discuss+unrelated']:.1f} % |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).parent
    ap.add_argument("--engine", type=Path, required=True, help="stance model folder")
    ap.add_argument("--engine-before", type=Path, default=None, help="another one to compare")
    ap.add_argument("--model", type=Path, default=MODEL_DIR, help="pair model folder")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--splits", type=Path, default=here / "splits.json")
    ap.add_argument("--split", default="test")
    ap.add_argument("--unrelated", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=None, help="pair model readings (reused)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    splits = json.loads(args.splits.read_text())
    fnc, bodies, uw = fnc_body_pairs(args.data, splits["fnc1"][args.split], args.unrelated)
    stances = [s for _, _, s in fnc]
    gold = [FNC[s] for s in stances]
    w = np.array([uw if s == "unrelated" else 1.0 for s in stances])
    model = PairModel(args.model, threads=args.threads)
    if args.cache and args.cache.is_file():
        pm = json.loads(args.cache.read_text())
    else:
        t0 = time.perf_counter()
        pm = pair_model_readings(model, fnc, bodies)
        print(f"pair model: {time.perf_counter() - t0:.0f} s", flush=True)
        if args.cache:
            args.cache.write_text(json.dumps(pm))
    results: dict = {"split": args.split, "pairs": len(fnc), "unrelated_weight": uw}
    lines = []
    em = emergent_pairs(args.data, set(splits["emergent"][args.split]))
    em_gold = [EMERGENT[s] for _, _, s in em]
    engines = [("after", args.engine)]
    if args.engine_before:
        engines.insert(0, ("before", args.engine_before))
    for label, d in engines:
        en = engine_readings(d, fnc, bodies)
        rs = [row(n, gold, p, stances, w) for n, p in rules(pm, en).items()]
        results[label] = rs
        lines.append(f"\n### engine {label} ({d})\n")
        lines.append(
            "| rule | confirms P / R | contradicts P / R | false alerts discuss | "
            "unrelated | discuss+unrelated |"
        )
        lines.append("|---|---|---|---|---|---|")
        lines += [fmt(r) for r in rs]
        engine = load_engine(model_dir=d)
        st = [STANCE_MAP[engine.judge(c, h).stance] for c, h, _ in em]
        t = table(em_gold, st)
        results[f"emergent_{label}"] = t
        lines.append(
            f"\nEmergent claim vs. headline, engine {label}: accuracy {t['accuracy']:.3f}, "
            f"confirms P/R {t['confirms']['precision']:.2f}/{t['confirms']['recall']:.2f}, "
            f"contradicts P/R {t['contradicts']['precision']:.2f}/"
            f"{t['contradicts']['recall']:.2f}"
        )
    pm_em = [judge_sentences(c, [h], model=model).relation for c, h, _ in em]
    t = table(em_gold, pm_em)
    results["emergent_pair_model"] = t
    lines.append(f"\nEmergent claim vs. headline, pair model: accuracy {t['accuracy']:.3f}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
