"""Claim reading on held-out real news: propositions in any letter case, and sources.

Reads ``../shared/data`` (never copied into the repository) and the TEST side of
``training/pairs/splits.json`` only:

``propositions``
    Every held-out Emergent claim and FNC-1 headline, read as a declared claim (:func:`read_statement`) in four
    letter cases (as written, sentence case, Title Case, ALL CAPS): the share whose
    proposition has a predicate and at least one of subject or object.
``sources``
    Sentences with a reporting structure ("said", "told", "according to", "citing",
    "reported", "spokesman") from a seeded sample of held-out FNC-1 bodies, split the way
    the pipeline splits article text, read with :func:`read_sentence` (the first lower-case
    content word standing for the watch's hit word): the sentence and
    the source found, for checking by hand (``--show``), and how many sources are a date,
    weekday, month or a word that is not a name.

    python benchmarks/eval_claim_reading.py [--sources 30] [--seed 0] [--show]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_claims import (  # noqa: E402
    CASES,
    DATA,
    SPLITS,
    case_variant,
    headline_key,
    load_emergent,
    load_fnc,
)

from monitor.claims.extract import proper_nouns, read_sentence, read_statement  # noqa: E402
from monitor.lexicon import FUNCTION_WORDS, SPEECH_VERBS  # noqa: E402
from monitor.text import split_sentences, tokenize  # noqa: E402

REPORTING = re.compile(
    r"\b(said|says|told|according to|citing|reported that|spokes(?:man|woman|person))\b"
)
CALENDAR = re.compile(
    r"^(?:mon|tues|wednes|thurs|fri|satur|sun)day$|^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct"
    r"|nov|dec)[a-z]*$|^\d",
    re.I,
)


def propositions(claims: list[str]) -> dict[str, object]:
    out: dict[str, object] = {"claims": len(claims)}
    for case in CASES:
        ok = 0
        for c in claims:
            rec = read_statement(case_variant(c, case, c))
            p = rec.proposition if rec else None
            ok += bool(p and p.predicate_key and (p.subject_key or p.object_key))
        out[case] = round(ok / len(claims), 3) if claims else 0.0
    return out


def _focus(sentence: str) -> list[tuple[int, int]]:
    """Where a watch's hit word would be: the first lower-case content word that is not a
    verb of saying (a watch names the event, not the reporting)."""
    for t in tokenize(sentence):
        w = sentence[t.start : t.end]
        if w.islower() and len(w) > 3 and w not in FUNCTION_WORDS and w not in SPEECH_VERBS:
            return [(t.start, t.end)]
    return []


def sources(bodies: list[str], n: int, seed: int, show: bool) -> dict[str, object]:
    rng = random.Random(seed)
    cands: list[tuple[str, frozenset[str]]] = []
    for body in bodies:
        proper = proper_nouns(body)
        for a, b in split_sentences(body):
            s = body[a:b].strip()
            if REPORTING.search(s) and 40 <= len(s) <= 400:
                cands.append((s, proper))
    rng.shuffle(cands)
    rows = []
    for s, proper in cands[:n]:
        rec = read_sentence(s, _focus(s), proper=proper)
        attr = rec.attribution if rec else None
        rows.append((s, attr.source if attr else "", attr.verb if attr else ""))
    calendar = sum(1 for _, src, _ in rows if src and CALENDAR.match(src.split()[-1]))
    found = sum(1 for _, src, _ in rows if src)
    if show:
        for i, (s, src, verb) in enumerate(rows, 1):
            print(f"{i:2d}. source={src!r} verb={verb!r}\n    {s[:300]!r}")
    return {"sentences": len(rows), "with_source": found, "calendar_sources": calendar}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--sources", type=int, default=30, help="reporting sentences to read")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", action="store_true", help="print each sentence and its source")
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    split = json.loads(SPLITS.read_text(encoding="utf-8"))
    emergent = load_emergent(args.data)
    fnc = load_fnc(args.data)
    test_bodies = [fnc.bodies[b] for b in split["fnc1"]["test"]["body_ids"]]
    test_heads = set(split["fnc1"]["test"]["headline_sha1"])
    res = {
        "propositions": propositions(
            sorted(
                {r["claim"] for r in emergent if r["claim_id"] in set(split["emergent"]["test"])}
            )
        ),
        "fnc1_headline_propositions": propositions(
            sorted({p.headline for p in fnc.pairs if headline_key(p.headline) in test_heads})
        ),
        "sources": sources(test_bodies, args.sources, args.seed, args.show),
    }
    res["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(res, indent=1))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
