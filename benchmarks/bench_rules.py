"""Watch-rule matching: indexed RuleSet.match against evaluating every rule.

Generates realistic-looking rules (names, phrases, prefixes, NEAR, SENT, NOT, fields) and
~1,000-word articles from a fixed seed, then times, on the same prepared articles in the
same run:

* prep      — PreparedDocument: fold + split words, distinct-word stems (shared by both)
* decide: indexed — which watches match, via the required-term index (RuleSet.matching_names)
* decide: naive   — which watches match, evaluating every compiled rule (naive=True)
* prepare + RuleSet.match — what the pipeline pays: Match objects with hits and snippets

Each measurement gets its own freshly prepared copy of each article, so lazily computed
positions are paid by whichever method needs them; both deciders must agree on every
article or the script stops. Prints a Markdown table.

    python benchmarks/bench_rules.py [--rules 100,1000,10000] [--articles 200] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.rules import Document, RuleSet, compile_rule  # noqa: E402

COMMON = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "i",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "who",
    "will",
    "more",
    "no",
    "if",
    "out",
    "so",
    "said",
    "what",
    "up",
    "its",
    "about",
    "into",
    "than",
    "them",
    "can",
    "only",
    "other",
    "new",
    "some",
    "could",
    "time",
    "these",
    "two",
    "may",
    "then",
    "do",
    "first",
    "any",
    "my",
    "now",
    "such",
    "like",
    "our",
    "over",
    "man",
    "me",
    "even",
    "most",
    "made",
    "after",
    "also",
    "did",
    "many",
    "before",
    "must",
    "through",
    "back",
    "years",
    "where",
    "much",
    "your",
    "way",
    "well",
    "down",
    "should",
    "because",
    "each",
    "just",
    "those",
    "people",
    "how",
    "too",
    "little",
    "state",
    "good",
    "very",
    "make",
    "world",
    "still",
    "own",
    "see",
    "men",
    "work",
    "long",
    "get",
    "here",
    "between",
    "both",
    "life",
    "being",
    "under",
    "never",
    "day",
    "same",
    "another",
    "know",
    "while",
    "last",
    "might",
    "us",
    "great",
    "old",
    "year",
    "off",
    "come",
    "since",
    "against",
    "go",
    "came",
    "right",
    "used",
    "take",
    "three",
]

TOPIC = [
    "sanction",
    "sanctions",
    "congratulate",
    "congratulated",
    "election",
    "elections",
    "ceasefire",
    "talks",
    "summit",
    "invasion",
    "invade",
    "invaded",
    "missile",
    "missiles",
    "drone",
    "drones",
    "strike",
    "strikes",
    "tariff",
    "tariffs",
    "inflation",
    "interest",
    "rates",
    "merger",
    "acquisition",
    "lawsuit",
    "verdict",
    "court",
    "appeal",
    "resign",
    "resigned",
    "resignation",
    "protest",
    "protests",
    "earthquake",
    "flood",
    "wildfire",
    "hurricane",
    "outbreak",
    "vaccine",
    "vaccines",
    "budget",
    "deficit",
    "minister",
    "president",
    "parliament",
    "senate",
    "congress",
    "embassy",
    "diplomat",
    "ambassador",
    "treaty",
    "agreement",
    "negotiations",
    "border",
    "refugee",
    "refugees",
    "pipeline",
    "gas",
    "oil",
    "prices",
    "market",
    "markets",
    "shares",
    "stock",
    "bank",
    "banks",
    "central",
    "currency",
    "default",
    "bond",
    "bonds",
    "layoffs",
    "strike",
    "union",
    "workers",
    "hospital",
    "patients",
    "trial",
    "investigation",
    "police",
    "arrest",
    "arrested",
    "charged",
    "spokesman",
    "statement",
    "announced",
    "denied",
    "confirmed",
    "reported",
    "according",
    "officials",
    "sources",
    "military",
    "troops",
    "army",
    "navy",
]

SITES = ["reuters.com", "apnews.com", "bbc.co.uk", "theguardian.com", "aljazeera.com", "dw.com"]
PHRASES = [
    "no plans to",
    "interest rates",
    "central bank",
    "peace talks",
    "state of emergency",
    "prime minister",
    "foreign minister",
    "human rights",
    "supply chain",
    "climate change",
    "trade war",
    "nuclear weapons",
]

_SYL = [
    "ka",
    "ri",
    "mo",
    "va",
    "len",
    "dro",
    "pes",
    "kov",
    "ze",
    "lin",
    "ski",
    "ma",
    "cron",
    "tru",
    "mer",
    "kel",
    "sho",
    "lz",
    "ra",
    "bin",
    "hu",
    "go",
    "ta",
    "na",
    "el",
]


def make_names(rng: random.Random, n: int) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        w = "".join(rng.choice(_SYL) for _ in range(rng.randint(2, 4)))
        names.add(w.capitalize())
    return sorted(names)


def topic_prefix(rng: random.Random) -> str:
    w = rng.choice(TOPIC)
    return w[: max(4, len(w) - rng.randint(1, 3))] + "*"


def make_rule(rng: random.Random, names: list[str]) -> str:
    n = lambda: rng.choice(names)  # noqa: E731
    t = lambda: rng.choice(TOPIC)  # noqa: E731
    kind = rng.randrange(12)
    if kind == 0:
        return n()
    if kind == 1:
        return f'"{n()} {n()}"'
    if kind == 2:
        return f"{n()} AND {topic_prefix(rng)}"
    if kind == 3:
        return f"({n()} OR {n()}) AND {t()}"
    if kind == 4:
        return f"{n()} NEAR/5 {topic_prefix(rng)}"
    if kind == 5:
        return f'"{rng.choice(PHRASES)}" {n()} NOT {n()}'
    if kind == 6:
        return f"title:{n()} OR title:{n()}"
    if kind == 7:
        return f"{n()} SENT {t()}"
    if kind == 8:
        return f"source:{rng.choice(SITES)} {n()}"
    if kind == 9:
        return f"{n()} -{t()} -{t()}"
    if kind == 10:
        return f"({n()} OR {n()} OR {n()}) ({t()} OR {topic_prefix(rng)})"
    return f'{n()} ONEAR/3 "{rng.choice(PHRASES)}"'


def make_article(rng: random.Random, names: list[str], words: int = 1000) -> Document:
    cast = rng.sample(names, rng.randint(5, 20))
    topics = rng.sample(TOPIC, 15)
    out: list[str] = []
    sentence: list[str] = []
    while len(out) < words:
        r = rng.random()
        if r < 0.06:
            w = rng.choice(cast)
        elif r < 0.16:
            w = rng.choice(topics)
        elif r < 0.18:
            w = rng.choice(PHRASES)
        else:
            w = COMMON[min(int(rng.paretovariate(1.1)) - 1, len(COMMON) - 1)]
        sentence.append(w)
        out.extend(w.split())
        if len(sentence) > rng.randint(12, 28):
            out[-1] += "."
            sentence = []
    body = " ".join(out)
    # capitalise sentence starts so the sentence splitter sees them
    parts = body.split(". ")
    body = ". ".join(p[:1].upper() + p[1:] for p in parts)
    title = " ".join([rng.choice(cast), rng.choice(topics), "as", rng.choice(cast), "says"])
    site = rng.choice(SITES)
    return Document(
        title=title,
        text=body,
        source=f"{site.split('.')[0].title()} www.{site}",
        url=f"https://www.{site}/world/{rng.randint(1000, 9999)}",
        feed="World news",
        tags=("world", "politics"),
    )


def lscpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def run(n_rules: int, articles: list[Document], names: list[str], seed: int) -> dict[str, float]:
    rng = random.Random(seed + n_rules)
    texts = [make_rule(rng, names) for _ in range(n_rules)]
    t0 = time.perf_counter()
    rules = {f"w{i}": compile_rule(x) for i, x in enumerate(texts)}
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rs = RuleSet(rules)
    index_s = time.perf_counter() - t0

    prep, idx, naive, full, cands, matches = [], [], [], [], [], 0
    for doc in articles:
        # decide only (which watches match): indexed, then naive, each on a fresh copy
        t0 = time.perf_counter()
        d1 = rs.prepare(doc)
        d1.all_stems("en")
        t1 = time.perf_counter()
        got = rs.matching_names(d1)
        t2 = time.perf_counter()
        d2 = rs.prepare(doc)
        d2.all_stems("en")
        t3 = time.perf_counter()
        ref = rs.matching_names(d2, naive=True)
        t4 = time.perf_counter()
        # what the pipeline calls: prepare + RuleSet.match (Match objects with hits, snippets)
        d3 = rs.prepare(doc)
        ms_ = rs.match(d3)
        t5 = time.perf_counter()
        if got != ref or [m.watch for m in ms_] != got:
            raise SystemExit(f"indexed and naive disagree on an article at {n_rules} rules")
        prep.append((t1 - t0 + t3 - t2) / 2)
        idx.append(t2 - t1)
        naive.append(t4 - t3)
        full.append(t5 - t4)
        cands.append(len(rs.candidates(d1)))
        matches += len(got)
    mean = lambda xs: statistics.mean(xs) * 1000  # noqa: E731
    return {
        "rules": n_rules,
        "compile_us": compile_s / n_rules * 1e6,
        "index_ms": index_s * 1000,
        "prep": mean(prep),
        "indexed": mean(idx),
        "naive": mean(naive),
        "full": mean(full),
        "p95_full": sorted(full)[int(0.95 * len(full))] * 1000,
        "candidates": statistics.mean(cands),
        "matches": matches / len(articles),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default="100,1000,10000")
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    names = make_names(rng, 3000)
    articles = [make_article(rng, names) for _ in range(args.articles)]
    mean_words = statistics.mean(len(a.text.split()) for a in articles)
    print(
        f"machine: {lscpu_model()}, {os.cpu_count()} CPUs (nproc), one core used; "
        f"Python {platform.python_version()}"
    )
    print(f"{len(articles)} articles of ~{mean_words:.0f} words; seed {args.seed}\n")
    print(
        "| rules | compile µs/rule | index build ms | candidates/article | matches/article "
        "| prep ms | decide: indexed ms | decide: naive ms | speed-up | "
        "prepare + RuleSet.match ms (mean) | same, p95 |"
    )
    print("|" + "---|" * 11)
    for n in (int(x) for x in args.rules.split(",")):
        r = run(n, articles, names, args.seed)
        print(
            f"| {n:,} | {r['compile_us']:.0f} | {r['index_ms']:.0f} | {r['candidates']:.1f} | "
            f"{r['matches']:.1f} | {r['prep']:.3f} | {r['indexed']:.3f} | {r['naive']:.3f} | "
            f"{r['naive'] / r['indexed']:.0f}× | {r['full']:.3f} | {r['p95_full']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
