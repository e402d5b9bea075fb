"""Dedup stage: quality on labelled pairs, and per-article cost as the store grows.

Two measurements, each printing Markdown tables (docs/dedup.md quotes them):

``quality``
    * the labelled pairs of tests/data/dedup_pairs.json: article A is stored, B is decided
      against it; precision and recall of "same article", "duplicate" (same article or a
      copy) and "same story";
    * if the FNC-1 training bodies are found (``--fnc``, default ../shared/data/fnc1):
      every body streamed through the real Deduplicator + store into one story window,
      stories compared with FNC's claim groups (pairwise precision/recall), for several
      story thresholds; and the MinHash Jaccard of synthetic syndicated copies of those
      bodies against that of different reports of one story, for the copy threshold.

``perf``
    The store is filled directly in SQLite with N synthetic fingerprints (articles,
    URL identities, sketches, LSH bands, key terms; event times spread over the
    fingerprint window), then ``decide`` + ``apply`` is timed on new synthetic articles
    (a third copies of stored ones, a third new, a third sharing vocabulary) against it.
    Memory: the process's peak RSS; the store's file size.

    python benchmarks/bench_dedup.py quality [--fnc DIR]
    python benchmarks/bench_dedup.py perf [--sizes 10000,100000,1000000] [--probes 300]
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from monitor.apply import apply_dedup  # noqa: E402
from monitor.dedup import (  # noqa: E402
    _STOPWORDS,
    BANDS,
    KEY_TERMS,
    NUM_PERM,
    Deduplicator,
    DedupSettings,
    _h32,
    jaccard,
    pack_terms,
    url_hash,
)
from monitor.models import Article  # noqa: E402
from monitor.store import Store  # noqa: E402

PAIRS = ROOT / "tests" / "data" / "dedup_pairs.json"
T0 = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


def article(d: dict, *, guid: str = "g", fetched: datetime | None = None) -> Article:
    published = datetime.fromisoformat(d["published"]) if d.get("published") else None
    return Article(
        url=d["url"],
        title=d["title"],
        text=d["text"],
        text_source="page",
        feed_name=d.get("site", "feed"),
        guid=guid,
        published=published,
        site_name=d.get("site"),
        fetched_at=fetched or ((published or T0) + timedelta(hours=1)),
    )


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


# -- quality: labelled pairs ------------------------------------------------------------------
def pairs_quality(settings: DedupSettings) -> None:
    pairs = json.loads(PAIRS.read_text(encoding="utf-8"))
    counts = {k: collections.Counter() for k in ("same_article", "duplicate", "same_story")}
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    misses = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, p in enumerate(pairs):
            store = Store.open(Path(tmp) / f"p{i}.db")
            try:
                dd = Deduplicator(store, settings)
                a = article(p["a"], guid="a")
                with store.transaction():
                    apply_dedup(store, a, dd.decide(a))
                b = article(p["b"], guid="b")
                d = dd.decide(b)
            finally:
                store.close()
            pred = {
                "same_article": d.kind in ("same", "revision"),
                "duplicate": d.kind in ("same", "revision", "near-duplicate"),
                "same_story": d.kind != "new",
            }
            for k, c in counts.items():
                truth = bool(p[k])
                c["tp" if pred[k] and truth else "fp" if pred[k] else "fn" if truth else "tn"] += 1
            by_kind[p["kind"]][d.kind] += 1
            if any(pred[k] != bool(p[k]) for k in counts):
                misses.append((p["id"], d.kind, round(d.similarity, 3)))
    print(f"\n### Labelled pairs ({len(pairs)}, tests/data/dedup_pairs.json)\n")
    print("| label | positives | precision | recall |")
    print("|---|---:|---:|---:|")
    for k, c in counts.items():
        pr, rc = _prf(c["tp"], c["fp"], c["fn"])
        print(f"| {k} | {c['tp'] + c['fn']} | {pr:.3f} | {rc:.3f} |")
    print("\n| pair kind | decisions |")
    print("|---|---|")
    for kind, c in by_kind.items():
        print(f"| {kind} | {', '.join(f'{k}: {n}' for k, n in c.most_common())} |")
    if misses:
        print("\nmisclassified:", misses)


# -- quality: FNC-1 stream --------------------------------------------------------------------
def load_fnc(folder: Path) -> tuple[dict[int, str], dict[int, str], dict[int, int]] | None:
    bodies_csv, stances_csv = folder / "train_bodies.csv", folder / "train_stances.csv"
    if not bodies_csv.exists() or not stances_csv.exists():
        return None
    csv.field_size_limit(10**8)
    with bodies_csv.open(encoding="utf-8") as f:
        bodies = {int(r["Body ID"]): r["articleBody"] for r in csv.DictReader(f)}
    related: dict[str, set[int]] = collections.defaultdict(set)
    title: dict[int, str] = {}
    with stances_csv.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["Stance"] != "unrelated":
                b = int(r["Body ID"])
                related[r["Headline"]].add(b)
                title.setdefault(b, r["Headline"])
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for bs in related.values():
        first, *rest = sorted(bs)
        for b in rest:
            parent[find(b)] = find(first)
    group = {b: find(b) for b in title}
    return bodies, title, group


def fnc_stream(fnc, thresholds: list[float], seed: int) -> None:
    bodies, title, group = fnc
    ids = sorted(group)
    # identical bodies in FNC are one article: keep the first of each text
    seen_text: dict[str, int] = {}
    ids = [b for b in ids if seen_text.setdefault(" ".join(bodies[b].split()), b) == b]
    rnd = random.Random(seed)
    rnd.shuffle(ids)
    times = {b: T0 + timedelta(seconds=rnd.uniform(0, 2 * 86400)) for b in ids}
    print(
        f"\n### FNC-1 stream: {len(ids)} distinct bodies, {len(set(group[b] for b in ids))} claims"
    )
    print("\nEvery body decided and stored in random order within one story window; pairs of")
    print("bodies in one story vs pairs in one FNC claim group.\n")
    print("| story threshold | stories | pair precision | pair recall | ms/article |")
    print("|---:|---:|---:|---:|---:|")
    for th in thresholds:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "fnc.db")
            dd = Deduplicator(store, DedupSettings(story=th))
            story_of: dict[int, int] = {}
            t = time.perf_counter()
            for b in ids:
                a = Article(
                    url=f"https://outlet{b % 13}.example/a/{b}",
                    title=title[b],
                    text=bodies[b],
                    text_source="page",
                    feed_name="fnc",
                    guid=str(b),
                    published=times[b],
                    site_name=f"Outlet {b % 13}",
                    fetched_at=times[b],
                )
                d = dd.decide(a)
                with store.transaction():
                    _, sid = apply_dedup(store, a, d)
                story_of[b] = sid
            ms = (time.perf_counter() - t) / len(ids) * 1000
            store.close()
        tp = fp = fn = 0
        by_story = collections.Counter(story_of.values())
        by_group = collections.Counter(group[b] for b in ids)
        joint = collections.Counter((story_of[b], group[b]) for b in ids)
        tp = sum(n * (n - 1) // 2 for n in joint.values())
        fp = sum(n * (n - 1) // 2 for n in by_story.values()) - tp
        fn = sum(n * (n - 1) // 2 for n in by_group.values()) - tp
        pr, rc = _prf(tp, fp, fn)
        print(f"| {th:.2f} | {len(by_story)} | {pr:.3f} | {rc:.3f} | {ms:.2f} |")


def fnc_copies(fnc, seed: int, n: int = 400) -> None:
    """Jaccard of synthetic syndicated copies vs different reports of one story."""
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    from dedup_pairs import syndicate  # the labelled set's copy maker

    from monitor.dedup import sketch

    bodies, title, group = fnc
    rnd = random.Random(seed)
    ids = [b for b in sorted(group) if len(bodies[b].split()) >= 80]
    sample = rnd.sample(ids, min(n, len(ids)))
    ways = ["boiler", "boiler+retitle", "boiler+drop", "boiler+reword", "boiler+drop+reword"]

    def art(d: dict) -> Article:
        return Article(
            url=d["url"], title=d["title"], text=d["text"], text_source="page",
            feed_name="f", guid="g", site_name=d["site"], fetched_at=T0,
        )  # fmt: skip

    copies = []
    for i, b in enumerate(sample):
        d = {"url": f"https://o.example/{b}", "title": title[b], "text": bodies[b],
             "site": "Origin", "published": T0.isoformat()}  # fmt: skip
        c = syndicate(d, rnd, "Wire", ways[i % len(ways)])
        copies.append(jaccard(sketch(art(d)).minhash, sketch(art(c)).minhash))
    by_group = collections.defaultdict(list)
    for b in ids:
        by_group[group[b]].append(b)
    story_pairs = []
    groups = [g for g, v in by_group.items() if len(v) >= 2]
    while len(story_pairs) < n:
        a, b = rnd.sample(by_group[rnd.choice(groups)], 2)
        if " ".join(bodies[a].split()) == " ".join(bodies[b].split()):
            continue
        da = {"url": "https://a.example/x", "title": title[a], "text": bodies[a], "site": "A"}
        db = {"url": "https://b.example/x", "title": title[b], "text": bodies[b], "site": "B"}
        story_pairs.append(jaccard(sketch(art(da)).minhash, sketch(art(db)).minhash))
    cp, sp = np.array(copies), np.array(story_pairs)
    print(f"\n### MinHash Jaccard ({NUM_PERM} permutations, word 4-shingles), FNC-1 bodies\n")
    print("| pairs | n | min | 5th pct | median | 95th pct | max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, v in (("syndicated copies (synthetic edits)", cp), ("same story, other report", sp)):
        print(
            f"| {name} | {len(v)} | {v.min():.3f} | {np.percentile(v, 5):.3f} | "
            f"{np.median(v):.3f} | {np.percentile(v, 95):.3f} | {v.max():.3f} |"
        )
    print("\n| copy threshold | copies caught | other reports taken for copies |")
    print("|---:|---:|---:|")
    for th in (0.3, 0.4, 0.5, 0.6, 0.7):
        print(f"| {th:.1f} | {(cp >= th).mean():.3f} | {(sp >= th).mean():.4f} |")


# -- perf ---------------------------------------------------------------------------------------
VOCAB = 100_000  # content words "c<n>"
STORY_WORDS = 30  # the words that make a story's reports alike
FUNCTION_WORDS = sorted(_STOPWORDS)


class Synthetic:
    """Synthetic news: function words, a story's own words, and other content words.

    Story s has STORY_WORDS content words drawn once (Zipf over the vocabulary, so some
    topic words are common); an article of story s mixes function words (50 %), its story's
    words (35 %) and random content words (15 %). Stored fingerprints are made straight from
    the story's words, without writing any text.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rnd = np.random.default_rng(seed)

    def text(self, story: int, n_words: int = 400) -> str:
        rnd = self.rnd
        kind = rnd.random(n_words)
        fw = rnd.integers(0, len(FUNCTION_WORDS), n_words)
        sw = rnd.integers(0, STORY_WORDS, n_words)
        cw = (rnd.zipf(1.2, n_words) - 1) % VOCAB
        words = self.words(story)
        ws = [
            FUNCTION_WORDS[fw[i]]
            if kind[i] < 0.5
            else f"c{words[sw[i]]}"
            if kind[i] < 0.85
            else f"c{cw[i]}"
            for i in range(n_words)
        ]
        return " ".join(" ".join(ws[i : i + 20]).capitalize() + "." for i in range(0, n_words, 20))

    def words(self, story: int) -> list[int]:
        """The story's own words (the same in every process for one seed)."""
        rnd = np.random.default_rng([self.seed, story])
        return ((rnd.zipf(1.1, STORY_WORDS) - 1) % VOCAB).tolist()

    def terms(self, story: int) -> list[tuple[int, float]]:
        words = list(dict.fromkeys(self.words(story)))
        extra = ((self.rnd.zipf(1.2, 40) - 1) % VOCAB).tolist()
        words = list(dict.fromkeys(words + extra))[:40]
        w = np.sort(self.rnd.random(len(words)))[::-1] + 0.5
        w = w / np.sqrt((w * w).sum())
        return [(_h32(f"c{x}"), float(v)) for x, v in zip(words, w, strict=True)]


def fill(store: Store, syn: Synthetic, n: int, window_days: float) -> None:
    """N synthetic fingerprints straight into SQLite (about 3 articles per story).

    What the lookups read is realistic in shape, not computed from text: random MinHash
    signatures and band keys (distinct articles share no band), the story's term vector,
    URL identity hashes of URLs already in canonical form.
    """
    rnd = syn.rnd
    conn = store.db.conn
    start = T0 - timedelta(days=window_days)
    span = window_days * 86400
    n_stories = max(1, n // 3)
    chunk = 50_000
    story_terms: dict[int, tuple[bytes, list[int]]] = {}
    for base in range(0, n, chunk):
        m = min(chunk, n - base)
        ts = (start.timestamp() + rnd.uniform(0, span, m)).astype(np.int64)
        sigs = rnd.integers(0, 2**32, size=(m, NUM_PERM), dtype=np.uint64).astype("<u4")
        band_rows = rnd.integers(-(2**63), 2**63 - 1, size=(m, BANDS), dtype=np.int64)
        arts, urls, sketches, bands, terms, stories = [], [], [], [], [], []
        for j in range(m):
            aid = base + j + 1
            story = aid % n_stories
            t = int(ts[j])
            when = datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
            url = f"site{aid % 500}.example/news/{aid}"
            chash = hashlib.sha256(str(aid).encode()).hexdigest()
            arts.append((aid, "https://" + url, f"title {aid}", when, when, "x", "page", chash,
                         story + 1))  # fmt: skip
            if aid <= n_stories:
                stories.append((story + 1, f"title {aid}", aid, when, when, when, when))
            urls.append((url_hash(url), aid))
            if story not in story_terms:
                tv = syn.terms(story)
                story_terms[story] = (pack_terms(tv), [k for k, _ in tv[:KEY_TERMS]])
            packed, keys = story_terms[story]
            bk = band_rows[j].tolist()
            sketches.append(
                (aid, t, t, story + 1, None, f"site{aid % 500}", chash, sigs[j].tobytes(),
                 packed, band_rows[j].astype("<i8").tobytes(), np.array(keys, "<i8").tobytes())
            )  # fmt: skip
            bands += [(b, aid) for b in bk]
            terms += [(k, t, aid) for k in keys]
        with store.transaction():
            conn.executemany(
                "INSERT INTO articles (id, url, title, published, fetched_at, text, text_source,"
                " content_hash, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arts,
            )
            conn.executemany(
                "INSERT INTO stories (id, title, first_article_id, articles, first_seen, last_seen,"
                " created_at, updated_at) VALUES (?, ?, ?, 3, ?, ?, ?, ?)",
                stories,
            )
            conn.executemany("INSERT OR IGNORE INTO article_urls VALUES (?, ?)", urls)
            conn.executemany(
                "INSERT INTO dedup_sketches (article_id, seen, t, story_id, duplicate_of, site,"
                " content_hash, minhash, terms, bands, keys) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                sketches,
            )
            conn.executemany("INSERT OR IGNORE INTO dedup_bands VALUES (?, ?)", bands)
            conn.executemany("INSERT OR IGNORE INTO dedup_terms VALUES (?, ?, ?)", terms)


def perf(sizes: list[int], probes: int, window_days: float, seed: int) -> None:
    print(f"\n### Per-article cost of the dedup stage ({platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} cpu)\n")  # fmt: skip
    print("decide = sketch + lookups (no writes); apply = the writes of the decision, in one")
    print("transaction; stored fingerprints' event times spread over the window.\n")
    print("| stored | fill s | db MB | sketch ms | decide ms (median / p95) | decide CPU ms | "
          "apply ms (median) | decisions | peak RSS MB |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    from monitor.dedup import sketch

    for n in sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            path = Path(tmp) / "bench.db"
            n_stories = max(1, n // 3)
            syn = Synthetic(seed)
            t = time.perf_counter()
            # filled by a child process, so that this one's peak RSS is the dedup stage's
            subprocess.run(
                [sys.executable, __file__, "fill", str(path), str(n), str(window_days), str(seed)],
                check=True,
            )
            fill_s = time.perf_counter() - t
            store = Store.open(path)  # as after a restart: nothing is rebuilt in memory
            dd = Deduplicator(store, DedupSettings())
            texts, arts = [], []
            for i in range(probes):
                if i % 3 == 0 and i >= 3:  # another outlet's copy of an earlier probe
                    text = "Advertisement. " + texts[i - 3] + " Copyright Wire."
                elif i % 3 == 1:  # a new story
                    text = syn.text(n_stories + i)
                else:  # a report of a stored story
                    text = syn.text(int(syn.rnd.integers(0, n_stories)))
                texts.append(text)
                arts.append(
                    Article(
                        url=f"https://probe{i % 7}.example/p/{i}", title=f"Probe {i}",
                        text=text, text_source="page", feed_name="bench", guid=str(i),
                        published=T0 - timedelta(hours=i % 48), site_name=f"Probe {i % 7}",
                        fetched_at=T0,
                    )
                )  # fmt: skip
            sk, dec, app, cpu = [], [], [], []
            kinds: collections.Counter[str] = collections.Counter()
            for a in arts:
                c0 = time.process_time()
                t0 = time.perf_counter()
                fp = sketch(a)
                t1 = time.perf_counter()
                d = dd.decide(a, fingerprint=fp)
                t2 = time.perf_counter()
                cpu.append((time.process_time() - c0) * 1000)
                with store.transaction():
                    apply_dedup(store, a, d)
                t3 = time.perf_counter()
                sk.append((t1 - t0) * 1000)
                dec.append((t2 - t0) * 1000)
                app.append((t3 - t2) * 1000)
                kinds[d.kind] += 1
            store.close()
            size = path.stat().st_size / 2**20
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            p95 = float(np.percentile(dec, 95))
            print(
                f"| {n:,} | {fill_s:.0f} | {size:.0f} | {statistics.median(sk):.2f} | "
                f"{statistics.median(dec):.2f} / {p95:.2f} | {statistics.median(cpu):.2f} | "
                f"{statistics.median(app):.2f} | "
                f"{', '.join(f'{k} {v}' for k, v in kinds.most_common())} | {rss:.0f} |",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--fnc", type=Path, default=ROOT.parent / "shared" / "data" / "fnc1")
    q.add_argument("--thresholds", default="0.2,0.25,0.3,0.35,0.4")
    q.add_argument("--seed", type=int, default=7)
    p = sub.add_parser("perf")
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--probes", type=int, default=300)
    p.add_argument("--window-days", type=float, default=30)
    p.add_argument("--seed", type=int, default=7)
    f = sub.add_parser("fill", help="(used by perf) fill a database in a child process")
    f.add_argument("path", type=Path)
    f.add_argument("n", type=int)
    f.add_argument("window_days", type=float)
    f.add_argument("seed", type=int)
    args = ap.parse_args()
    if args.cmd == "fill":
        store = Store.open(args.path)
        store.db.execute("PRAGMA cache_size = -1000000")  # the fill only: 1 GB of page cache
        fill(store, Synthetic(args.seed), args.n, args.window_days)
        store.close()
        return
    if args.cmd == "quality":
        pairs_quality(DedupSettings())
        fnc = load_fnc(args.fnc)
        if fnc is None:
            print(f"\n(FNC-1 data not found in {args.fnc}: stream measurement skipped)")
            return
        fnc_copies(fnc, args.seed)
        fnc_stream(fnc, [float(x) for x in args.thresholds.split(",")], args.seed)
    else:
        perf([int(x) for x in args.sizes.split(",")], args.probes, args.window_days, args.seed)


if __name__ == "__main__":
    main()
