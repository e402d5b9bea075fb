"""Paired re-scoring of the declared-claims part of ``eval_claims.py`` over several runs.

On the loaded shared machine, ``monitor run --once`` times out fetching some of the 247
loopback feeds, and others fall back to the feed's 200-character summary, differently in
each run: two runs compared as they are measure that more than the change (one run lost
118 of 247 feeds to time-outs, the run beside it, at the same time, 8). This
script reads the databases that ``eval_claims.py declared --keep DIR`` keeps and scores
every run on the same bodies only: those read from their page in *every* run given.

    python benchmarks/eval_claims.py declared --keep /tmp/a   # e.g. main's code
    python benchmarks/eval_claims.py declared --keep /tmp/b   # this branch, same time
    python benchmarks/eval_claims_paired.py main=/tmp/a branch=/tmp/b

``--limit`` / ``--seed`` / ``--labels`` must be those the runs used (the defaults match).
"""

from __future__ import annotations

import argparse
import collections
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import eval_claims as E

PAGE_BODIES = (
    "select f.name from feed_entries e join feeds f on f.id = e.feed_id "
    "join articles a on a.id = e.article_id where a.text_source = 'page'"
)


def watches(data: Path, limit: int, seed: int, labels: str) -> dict[str, tuple[Any, str]]:
    """Watch name -> (FNC-1 pair, declared claim text), as ``eval_declared`` names them."""
    fnc, emergent = E.load_fnc(data), E.load_emergent(data)
    held = E.held_out_pairs(fnc, E.load_split(fnc, emergent, seed))
    by_body: dict[int, list[Any]] = collections.defaultdict(list)
    for p in E.sample_pairs(held, limit, seed, labels.split(",")):
        by_body[p.body_id].append(p)
    out = {}
    for bid, ps in sorted(by_body.items()):
        for j, p in enumerate(ps):
            for case in E.CASES:
                out[f"b{bid}-{j}-{case}"] = (p, E.case_variant(p.headline, case, fnc.bodies[bid]))
    return out


def read_run(keep: Path, meta: dict[str, tuple[Any, str]]) -> tuple[set[str], dict[str, set]]:
    found = sorted(keep.glob("*/declared/declared.db"))
    if not found:
        raise SystemExit(f"no */declared/declared.db under {keep} (run with --keep {keep})")
    con = sqlite3.connect(found[0])
    bodies = {r[0] for r in con.execute(PAGE_BODIES)}
    got: dict[str, set] = collections.defaultdict(set)
    rows = con.execute("select type, watch, payload from alerts where type like 'claim.%'")
    for typ, w, payload in rows:
        if w in meta and json.loads(payload)["claim"]["text"] == meta[w][1]:
            got[w].add(E.ALERT_RELATION[typ])
    con.close()
    return bodies, got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="NAME=DIR", help="kept run folders")
    ap.add_argument("--data", type=Path, default=E.DATA)
    ap.add_argument("--limit", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--labels", default="agree,disagree,discuss,unrelated")
    args = ap.parse_args(argv)
    meta = watches(args.data, args.limit, args.seed, args.labels)
    runs = {}
    for spec in args.runs:
        name, sep, folder = spec.partition("=")
        if not sep:
            ap.error(f"{spec!r}: expected NAME=DIR")
        runs[name] = read_run(Path(folder), meta)
    common = set.intersection(*(b for b, _ in runs.values()))
    sizes = ", ".join(f"{n} {len(b)}" for n, (b, _) in runs.items())
    print(f"bodies read from their page: {sizes}; in every run: {len(common)}")
    gold = list(E.RELATIONS)
    for name, (_, got) in runs.items():
        counts: collections.Counter = collections.Counter()
        for w, (p, _) in meta.items():
            if f"b{p.body_id}" in common:
                rels = got.get(w, set())
                pred = "both" if len(rels) == 2 else next(iter(rels), "no alert")
                counts[(E.FNC_RELATION[p.label], pred)] += 1
        flat: collections.Counter = collections.Counter()
        for (g, pr), v in counts.items():
            for r in ("confirms", "contradicts") if pr == "both" else (pr,):
                flat[(g, r)] += v
        neutral = [(pr, v) for (g, pr), v in counts.items() if g in ("discusses", "unrelated")]
        n = sum(v for _, v in neutral)
        false = sum(v for pr, v in neutral if pr != "no alert")
        cp, cr, _ = E.prf(flat, gold, "confirms")
        xp, xr, _ = E.prf(flat, gold, "contradicts")
        print(
            f"\n{name}: confirmed P / R {cp:.2f} / {cr:.2f}, contradicted P / R {xp:.2f} / "
            f"{xr:.2f}, false alerts on discuss+unrelated {false} of {n}"
        )
        print(E.confusion_table(gold, ["confirms", "contradicts", "both", "no alert"], counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
