"""How long does judging one article against many claims take? Prints a table.

    python benchmarks/bench_stance.py [--claims 100] [--repeat 5] [--data ../shared/data/fnc1]

Compares, in the same run:
  * engine: prepare the article once, then judge_many(claims) in one call;
  * per-claim judge: prepare once, then judge(claim, prepared) claim by claim;
  * naive per-pair baseline: judge(claim, raw_text) claim by claim, so the article is
    split, stemmed and vectorised again for every claim.
Uses a real FNC-1 body and headlines when the data folder is present, else a built-in text.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.claims.stance import MODEL_DIR, load_engine  # noqa: E402

FALLBACK_TEXT = " ".join(
    [
        "Kremlin spokesman Dmitry Peskov said on Wednesday that Putin has no plans to "
        "congratulate Trump on his victory.",
        "He told reporters that relations between the two countries remain difficult.",
        "Officials in Washington declined to comment on the report.",
        "Analysts said sanctions would stay in place for at least another year, and that "
        "energy exports were the main topic of the talks.",
    ]
    * 10
)


def _fnc_sample(path: Path, n_claims: int, seed: int) -> tuple[str, list[str]] | None:
    bodies_f, stances_f = path / "train_bodies.csv", path / "train_stances.csv"
    if not (bodies_f.is_file() and stances_f.is_file()):
        return None
    csv.field_size_limit(sys.maxsize)
    with bodies_f.open(encoding="utf-8", newline="") as fh:
        bodies = {int(r["Body ID"]): r["articleBody"] for r in csv.DictReader(fh)}
    with stances_f.open(encoding="utf-8", newline="") as fh:
        heads = sorted({r["Headline"] for r in csv.DictReader(fh)})
    rng = random.Random(seed)
    # a body of typical length (close to the median number of characters)
    ids = sorted(bodies, key=lambda b: len(bodies[b]))
    body = bodies[ids[len(ids) // 2]]
    return body, rng.sample(heads, n_claims)


def _time(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/fnc1"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    engine = load_engine()
    load_s = time.perf_counter() - t0
    sample = _fnc_sample(args.data, args.claims, args.seed)
    if sample is None:
        text = FALLBACK_TEXT
        claims = [f"Putin congratulated Trump on deal number {i}" for i in range(args.claims)]
        source = "built-in text"
    else:
        text, claims = sample
        source = f"FNC-1 body of median length, {args.claims} random headlines"
    engine.judge(claims[0], text)  # warm caches (stemmer, regexes)

    prepare_s = _time(lambda: engine.prepare(text), args.repeat)
    prepared = engine.prepare(text)
    many_s = _time(lambda: engine.judge_many(claims, prepared), args.repeat)
    loop_s = _time(lambda: [engine.judge(c, prepared) for c in claims], args.repeat)
    naive_s = _time(lambda: [engine.judge(c, text) for c in claims], max(1, args.repeat // 2))
    n = len(claims)

    size = sum(f.stat().st_size for f in MODEL_DIR.iterdir())
    print(f"stance engine on {source}: {len(text):,} characters, {len(prepared.spans)} sentences")
    print(f"one core; median of {args.repeat} runs; pid {os.getpid()}")
    print()
    print(f"| {'what':<44} | {'total ms':>9} | {'ms / claim':>10} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 12}|")
    rows = [
        ("load packaged model (first call, cold)", load_s * 1000, None),
        ("prepare the article once", prepare_s * 1000, None),
        (f"judge_many({n} claims) on prepared text", many_s * 1000, many_s * 1000 / n),
        (
            f"prepare + judge_many({n} claims)",
            (prepare_s + many_s) * 1000,
            (prepare_s + many_s) * 1000 / n,
        ),
        (f"{n} x judge(claim, prepared)", loop_s * 1000, loop_s * 1000 / n),
        (f"naive: {n} x judge(claim, raw text)", naive_s * 1000, naive_s * 1000 / n),
    ]
    for name, total, per in rows:
        per_s = f"{per:10.2f}" if per is not None else " " * 10
        print(f"| {name:<44} | {total:9.1f} | {per_s} |")
    print()
    print(f"model files: {size / 1e6:.1f} MB in {MODEL_DIR}")
    print(
        f"speed-up of prepare-once + judge_many over naive: {naive_s / (prepare_s + many_s):.1f}x"
    )
    budget = "PASS" if prepare_s + many_s < 1.0 else "FAIL"
    print(f"one article x {n} claims under 1 s: {budget}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
