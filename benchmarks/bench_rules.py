"""Watch-rule matching at 100, 1,000 and 10,000 rules: indexed against naive, side by side.

Generates rules (names, phrases, prefixes, NEAR, ONEAR, SENT, NOT, -, title:, source:, and
rules on ordinary words) and ~1,000-word articles from a fixed seed. An article mixes
function words, a Zipf-distributed general vocabulary of made-up words (so it has ~370
distinct words), topic words, phrases and 5-20 names from a pool of 3,000.

For every article, in the same run:

* prepare  — ``RuleSet.prepare``: fold + split every field, stem each distinct word once;
* match: indexed — ``RuleSet.match`` (candidate rules from the required-term index, then
  ``Match`` objects with hits and snippets);
* match: naive   — ``RuleSet.match_naive``: every compiled rule evaluated against the
  prepared article, ``Match`` objects for the ones that match;
* decide: indexed / naive — ``RuleSet.matching_names`` with and without the index (names
  only, no hits or snippets).

Each method gets its own freshly prepared copy of the article (nothing computed lazily by
one method is reused by the other); indexed and naive alternate which goes first, and
the script stops unless both return equal results. Every article is timed ``--reps``
times; each time column shows its lowest mean over the articles among the repetitions (the
least disturbed by other jobs on the machine), the p95 column comes from the repetition with
the lowest indexed mean. Times are CPU time of this single-threaded process by default
(``--clock wall`` for elapsed time).

    python benchmarks/bench_rules.py [--rules 100,1000,10000] [--articles 200] [--reps 3]
                                     [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.rules import Document, RuleSet, compile_rule  # noqa: E402
from monitor.rules.match import _compile_cached  # noqa: E402
from monitor.text import words as split_words  # noqa: E402

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

NAME_SYLLABLES = [
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

# The general vocabulary is built from syllables that names do not use, so an ordinary word
# never collides with a name.
VOCAB_SYLLABLES = [
    "ab",
    "be",
    "cu",
    "de",
    "fi",
    "gu",
    "ho",
    "im",
    "jo",
    "lu",
    "mi",
    "ne",
    "op",
    "pu",
    "qua",
    "re",
    "si",
    "tu",
    "ur",
    "vi",
    "wo",
    "ex",
    "sta",
    "pro",
    "con",
    "ment",
    "tion",
    "ous",
    "ic",
    "ist",
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
VOCAB_SIZE = 20_000


def make_words(rng: random.Random, syllables: list[str], n: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    seen = set(taken)
    while len(out) < n:
        w = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def make_names(rng: random.Random, n: int) -> list[str]:
    return sorted(w.capitalize() for w in make_words(rng, NAME_SYLLABLES, n, set()))


def zipf(rng: random.Random, n: int) -> int:
    """A rank in 0..n-1 with probability roughly proportional to 1/(rank+1)."""
    return min(n - 1, int(math.exp(rng.random() * math.log(n + 1))) - 1)


def topic_prefix(rng: random.Random) -> str:
    w = rng.choice(TOPIC)
    return w[: max(4, len(w) - rng.randint(1, 3))] + "*"


def make_rule(rng: random.Random, names: list[str], vocab: list[str]) -> str:
    n = lambda: rng.choice(names)  # noqa: E731
    t = lambda: rng.choice(TOPIC)  # noqa: E731
    v = lambda: vocab[rng.randrange(200, len(vocab))]  # an ordinary, not very common word  # noqa: E731
    kind = rng.randrange(14)
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
    if kind == 11:
        return f'{n()} ONEAR/3 "{rng.choice(PHRASES)}"'
    if kind == 12:
        return f"{v()} AND ({t()} OR {topic_prefix(rng)})"
    return f"{v()} NEAR/10 {v()}"


def make_article(
    rng: random.Random, names: list[str], vocab: list[str], words: int = 1000
) -> Document:
    cast = rng.sample(names, rng.randint(5, 20))
    topics = rng.sample(TOPIC, 15)
    out: list[str] = []
    sentence: list[str] = []
    while len(out) < words:
        r = rng.random()
        if r < 0.05:
            w = rng.choice(cast)
        elif r < 0.12:
            w = rng.choice(topics)
        elif r < 0.14:
            w = rng.choice(PHRASES)
        elif r < 0.6:
            w = vocab[zipf(rng, len(vocab))]
        else:
            w = COMMON[min(int(rng.paretovariate(1.1)) - 1, len(COMMON) - 1)]
        sentence.append(w)
        out.extend(w.split())
        if len(sentence) > rng.randint(12, 28):
            out[-1] += rng.choice([".", ".", ".", "?", "!"]) if rng.random() < 0.9 else ","
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


CLOCK = time.process_time  # CPU time of this (single-threaded) process; --clock wall for wall


def _timed(fn, arg):  # type: ignore[no-untyped-def]
    t0 = CLOCK()
    got = fn(arg)
    return got, CLOCK() - t0


def run(
    n_rules: int,
    articles: list[Document],
    names: list[str],
    vocab: list[str],
    seed: int,
    reps: int,
) -> dict[str, float]:
    rng = random.Random(seed + n_rules)
    texts = [make_rule(rng, names, vocab) for _ in range(n_rules)]
    _compile_cached.cache_clear()  # rules compiled for a smaller run must not count
    t0 = CLOCK()
    rules = {f"w{i}": compile_rule(x) for i, x in enumerate(texts)}
    compile_s = CLOCK() - t0
    t0 = CLOCK()  # a config reload with the same rules: every one from the cache
    again = {f"w{i}": compile_rule(x) for i, x in enumerate(texts)}
    reload_s = CLOCK() - t0
    assert all(again[k] is rules[k] for k in rules)
    t0 = CLOCK()
    rs = RuleSet(rules)
    index_s = CLOCK() - t0

    def naive_names(d):  # type: ignore[no-untyped-def]
        return rs.matching_names(d, naive=True)

    best: dict[str, float] = {}
    p95: list[float] = []
    cands: list[int] = []
    per_rule: Counter[str] = Counter()
    for rep in range(reps):
        t: dict[str, list[float]] = {k: [] for k in ("prep", "idx", "naive", "didx", "dnaive")}
        total: list[float] = []
        for i, doc in enumerate(articles):
            d_idx, s1 = _timed(rs.prepare, doc)
            d_naive, s2 = _timed(rs.prepare, doc)
            d_didx, d_dnaive = rs.prepare(doc), rs.prepare(doc)
            t["prep"] += [s1, s2]
            if (i + rep) % 2 == 0:  # alternate which method runs first
                got, a = _timed(rs.match, d_idx)
                ref, b = _timed(rs.match_naive, d_naive)
                names_got, c = _timed(rs.matching_names, d_didx)
                names_ref, e = _timed(naive_names, d_dnaive)
            else:
                ref, b = _timed(rs.match_naive, d_naive)
                got, a = _timed(rs.match, d_idx)
                names_ref, e = _timed(naive_names, d_dnaive)
                names_got, c = _timed(rs.matching_names, d_didx)
            if got != ref or names_got != names_ref or [m.watch for m in got] != names_got:
                raise SystemExit(f"indexed and naive disagree on article {i} at {n_rules} rules")
            t["idx"].append(a)
            t["naive"].append(b)
            t["didx"].append(c)
            t["dnaive"].append(e)
            total.append(s1 + a)
            if rep == 0:
                cands.append(len(rs.candidates(d_idx)))
                per_rule.update(m.watch for m in got)
        means = {k: statistics.mean(v) * 1000 for k, v in t.items()}
        if not best or means["idx"] < best["idx"]:
            p95 = sorted(total)
        for k, v in means.items():
            best[k] = min(best.get(k, math.inf), v)
    n_art = len(articles)
    return {
        **best,
        "compile_us": compile_s / n_rules * 1e6,
        "reload_us": reload_s / n_rules * 1e6,
        "index_ms": index_s * 1000,
        "p95_total": p95[int(0.95 * len(p95))] * 1000,
        "candidates": statistics.mean(cands),
        "matches": sum(per_rule.values()) / n_art,
        "rule_rate": sum(per_rule.values())
        / n_art
        / n_rules,  # mean share of articles a rule matches
        "rule_max": max(per_rule.values(), default=0) / n_art,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default="100,1000,10000")
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: process CPU time, not inflated by other jobs waiting for the same core "
        "(default); wall: elapsed time",
    )
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    rng = random.Random(args.seed)
    names = make_names(rng, 3000)
    vocab = make_words(rng, VOCAB_SYLLABLES, VOCAB_SIZE, {n.lower() for n in names})
    articles = [make_article(rng, names, vocab) for _ in range(args.articles)]
    n_words = statistics.mean(len(split_words(a.text)) for a in articles)
    distinct = statistics.mean(len(set(split_words(a.text))) for a in articles)
    print(
        f"machine: {lscpu_model()}, {os.cpu_count()} CPUs (nproc), one core used; "
        f"Python {platform.python_version()}; load average before: "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    print(
        f"{len(articles)} articles of ~{n_words:.0f} words (~{distinct:.0f} distinct); "
        f"seed {args.seed}; best of {args.reps} repetitions; {args.clock} time\n"
    )
    print(
        "| rules | compile µs/rule | reload µs/rule | index build ms | candidates/article | matches/article "
        "| articles a rule matches (mean / max) | prepare ms | match: indexed ms "
        "| match: naive ms | speed-up | prepare + match p95 ms | decide: indexed ms "
        "| decide: naive ms | speed-up |"
    )
    print("|" + "---|" * 15)
    for n in (int(x) for x in args.rules.split(",")):
        r = run(n, articles, names, vocab, args.seed, args.reps)
        print(
            f"| {n:,} | {r['compile_us']:.0f} | {r['reload_us']:.1f} | {r['index_ms']:.0f} | {r['candidates']:.1f} | "
            f"{r['matches']:.1f} | {r['rule_rate']:.2%} / {r['rule_max']:.1%} | "
            f"{r['prep']:.3f} | {r['idx']:.3f} | {r['naive']:.3f} | "
            f"{r['naive'] / r['idx']:.0f}× | {r['p95_total']:.3f} | {r['didx']:.3f} | "
            f"{r['dnaive']:.3f} | {r['dnaive'] / r['didx']:.0f}× |",
            flush=True,
        )
    print("\nload average after: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
