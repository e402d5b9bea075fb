"""Pair model cost: one new article (40 sentences) judged against the 100 stored claims of its
story with ``monitor.claims.pairs.judge_many``, on ONE core (onnxruntime
``intra_op_num_threads=1``), model loaded beforehand (its load time is printed apart); then
the whole article-level decision of the claims stage (``ClaimTracker.read``: the same
readings, the stance engine's reading of the body and the article judge).

CPU time of the process is the figure to quote on a shared machine (one inference thread,
so CPU time is the time on one free core); wall time is printed too.

The article and claims are generated from one small vocabulary (our own sentences), so that
every claim shares words with many sentences: the worst case for the retrieval prefilter,
as in a story whose claims all speak of the same people and things.

    python benchmarks/bench_pairs.py [--k 3] [--no-windows] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from pathlib import Path

from bench_rules import lscpu_model

from monitor.claims.pairs import (
    MAX_READINGS,
    MODEL_DIR,
    PairModel,
    candidates,
    content_words,
    judge_many,
)
from monitor.claims.track import ClaimTracker
from monitor.models import Article

SUBJECTS = (
    "The mayor",
    "The city council",
    "The harbour authority",
    "A spokesman for the port",
    "The transport minister",
    "Local police",
    "The ferry company",
    "Residents of the old town",
)
VERBS = (
    "will close",
    "has denied plans to close",
    "wants to repair",
    "said it would sell",
    "has no plans to rebuild",
    "confirmed it will reopen",
    "is expected to inspect",
    "refused to comment on",
)
OBJECTS = (
    "the harbour bridge",
    "the north ferry terminal",
    "the old lighthouse",
    "the coastal railway",
    "the fish market",
    "the tunnel under the bay",
)
TAILS = (
    "next spring",
    "after the storm damage",
    "for at least six months",
    "because of safety concerns",
    "before the summer season",
    "",
)


def sentence(rng: random.Random) -> str:
    tail = rng.choice(TAILS)
    s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    return f"{s} {tail}.".replace(" .", ".") if tail else s + "."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--no-windows", action="store_true")
    ap.add_argument("--sentences", type=int, default=40)
    ap.add_argument("--claims", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", type=Path, default=MODEL_DIR)
    args = ap.parse_args()
    rng = random.Random(0)
    sents = [sentence(rng) for _ in range(args.sentences)]
    claims = [sentence(rng).rstrip(".") for _ in range(args.claims)]
    t0 = time.perf_counter()
    model = PairModel(args.model, threads=1)
    load = time.perf_counter() - t0
    windows = not args.no_windows
    sw = [content_words(s) for s in sents]
    wanted = len(
        {
            (c, t)
            for c in claims
            for t in candidates(c, sents, args.k, windows=windows, sent_words=sw)
        }
    )
    readings = min(wanted, MAX_READINGS)
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        judge_many(claims, sents, args.k, windows=windows, model=model)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    tracker = ClaimTracker(model=model)
    article = Article(
        url="http://127.0.0.1/bench",
        title=sents[0],
        text="\n".join(sents[1:]),
        text_source="page",
        feed_name="bench",
        guid="bench",
    )
    tracker.read(model, claims, sents, article)  # loads the engine and the judge
    stage = []
    for _ in range(args.repeat):
        c0 = time.process_time()
        tracker.read(model, claims, sents, article)
        stage.append(time.process_time() - c0)
    size = (args.model / "model.onnx").stat().st_size
    print(
        f"Machine: {lscpu_model()}, {os.cpu_count()} cpu, Python {platform.python_version()}, "
        f"onnxruntime 1 thread; load average before: {os.getloadavg()[0]:.2f}\n"
        f"model.onnx {size / 1e6:.1f} MB, loaded (with sha256 check) in {load:.2f} s\n"
        f"{args.claims} claims x {args.sentences} sentences, k={args.k}, "
        f"windows={'on' if windows else 'off'}: {wanted} candidate readings, "
        f"{readings} read (budget MAX_READINGS={MAX_READINGS})\n"
        f"judge_many CPU time (one thread): median {statistics.median(cpu):.3f} s, "
        f"min {min(cpu):.3f} s, max {max(cpu):.3f} s over {args.repeat} runs "
        f"({statistics.median(cpu) / max(1, readings) * 1000:.2f} ms per reading)\n"
        f"judge_many wall time: median {statistics.median(times):.3f} s, min {min(times):.3f} s "
        f"(the machine is shared: wall time includes waiting for a core)\n"
        f"claims stage, article level (readings + stance engine + article judge) CPU time: "
        f"median {statistics.median(stage):.3f} s, min {min(stage):.3f} s, "
        f"max {max(stage):.3f} s"
    )


if __name__ == "__main__":
    main()
