"""Web view latency with a large store: 100,000 stored articles (synthetic text, no real
news), in stories of three, 20 feeds, 10,000 alerts, 500 claims with evidence.

The store is filled through its own writes (so the full-text index is built by the same
triggers as in production), then the real server (uvicorn on loopback, a thread of this
process) is asked for each page several times over keep-alive HTTP; the table gives the
median, 95th percentile and maximum wall time per request as the client saw it.

    python benchmarks/bench_web.py [--articles 100000] [--rounds 30] [--db PATH]

``--db`` keeps (and reuses) the filled database; the fill takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from monitor.models import AlertEvent, Article, Hit, Match
from monitor.store import Store
from monitor.store.rows import NewClaim, NewEvidence
from monitor.web import WebSettings
from monitor.web.app import WebServer

WORDS = (
    "harbour council minister budget election river storm bank rate inflation school "
    "hospital strike court ruling police bridge train airport energy wind solar farm "
    "market export tariff union contract mayor city village coast festival museum "
    "football cup final league coach player transfer season record heat drought flood"
).split()
PROPOSITION = {
    "subject": "Minister",
    "predicate": "approve",
    "object": "budget",
    "subject_key": "minist",
    "predicate_key": "approv",
    "object_key": "budget",
    "subject_named": False,
    "object_named": False,
}


def fill(path: Path, n: int) -> None:
    rnd = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store = Store.open(path)
    try:
        feeds = [
            store.sync_feed(f"feed-{i:02d}", f"https://feed{i}.example/rss").id for i in range(20)
        ]
        batch = 5000
        aid = 0
        t0 = time.perf_counter()
        for lo in range(0, n, batch):
            with store.transaction():
                story = 0
                for i in range(lo, min(n, lo + batch)):
                    when = start + timedelta(minutes=i)
                    words = " ".join(rnd.choice(WORDS) for _ in range(300))
                    art = Article(
                        url=f"https://news{i % 20}.example/a/{i}",
                        title=f"{rnd.choice(WORDS).title()} {rnd.choice(WORDS)} report {i}",
                        text=words,
                        text_source="page",
                        feed_name="",
                        guid="",
                        site_name=f"Outlet {i % 20}",
                        published=when,
                        fetched_at=when,
                    )
                    aid = store.insert_article(art, f"hash-{i}")
                    if i % 3 == 0:
                        story = store.create_story(art.title, aid, when)
                    else:
                        store.join_story(story, aid, when, aid - 1 if i % 3 == 2 else None)
                    store.link_entry(feeds[i % 20], f"g{i}", aid)
                    if i % 20 == 0:
                        match = Match(
                            watch=f"watch-{i % 7}",
                            terms=("harbour",),
                            hits=(Hit("harbour", "harbour", "text", 0, 7),),
                            snippets=("the [[harbour]]",),
                        )
                        store.insert_match(aid, match)
                    if i % 10 == 0:
                        payload = {
                            "type": "article.matched",
                            "watch": f"watch-{i % 7}",
                            "article": {
                                "url": art.url,
                                "title": art.title,
                                "source": art.site_name,
                            },
                        }
                        eid = f"evt_{i:032x}"
                        store.enqueue_alert(
                            AlertEvent(
                                eid, "article.matched", "hook", f"watch-{i % 7}", payload, when
                            )
                        )
                    if i % 200 == 0:
                        cid = store.insert_claim(
                            NewClaim(
                                watch=f"watch-{i % 7}",
                                origin="article",
                                statement=f"The minister approved budget {i}",
                                proposition=json.dumps(PROPOSITION),
                                predicate_key="approv",
                                polarity="asserted",
                                modality="asserted",
                                first_article_id=aid,
                                first_outlet=art.site_name,
                                first_url=art.url,
                            )
                        )
                        for k in range(5):
                            store.add_claim_evidence(
                                NewEvidence(
                                    cid,
                                    max(1, aid - k),
                                    "confirms",
                                    f"quote {k} of {i}",
                                    None,
                                    None,
                                    "the ministry",
                                    (),
                                    f"Outlet {k}",
                                    art.url,
                                    art.title,
                                    when,
                                    "asserted",
                                    "asserted",
                                    0.9,
                                )
                            )
            print(
                f"  {min(n, lo + batch):,} articles ({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
            )
        store.record_delivery(f"evt_{0:032x}", delivered=False, failed=True, error="HTTP 500")
    finally:
        store.close()


def measure(path: Path, rounds: int) -> list[tuple[str, list[float]]]:
    server = WebServer(WebSettings(path, "127.0.0.1", 0))
    server.bind()
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    store = Store.open(path, readonly=True)
    story_ids = [s.id for s in store.stories(limit=rounds)]
    claim_ids = [c.id for c in store.claims()][:rounds]
    store.close()
    pages = {
        "overview `/`": lambda i: "/",
        "story `/stories/{id}`": lambda i: f"/stories/{story_ids[i % len(story_ids)]}",
        "stories `/stories`": lambda i: "/stories",
        "claim `/claims/{id}`": lambda i: f"/claims/{claim_ids[i % len(claim_ids)]}",
        "feeds `/feeds`": lambda i: "/feeds",
        "alerts `/alerts`": lambda i: "/alerts",
        "search `/search?q=`": lambda i: (
            f"/search?q={WORDS[i % len(WORDS)]}+{WORDS[(i * 7) % len(WORDS)]}"
        ),
        "API `/api/overview`": lambda i: "/api/overview",
        "Atom `/feeds/alerts.atom`": lambda i: "/feeds/alerts.atom?watch=watch-1",
    }
    out = []
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for label, url in pages.items():
                c.get(url(0)).raise_for_status()  # warm
                times = []
                for i in range(rounds):
                    t = time.perf_counter()
                    r = c.get(url(i))
                    times.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                out.append((label, times))
    finally:
        server.stop()
        thread.join(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--db", type=Path, default=None)
    args = ap.parse_args()
    path = args.db or Path(tempfile.mkdtemp()) / "bench_web.db"
    if not path.exists():
        t = time.perf_counter()
        fill(path, args.articles)
        print(f"filled in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    size = path.stat().st_size / 1e6
    results = measure(path, args.rounds)
    print(
        f"\n{args.articles:,} stored articles, database {size:.0f} MB, {args.rounds} requests each"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}\n"
    )
    print("| page | median ms | p95 ms | max ms |")
    print("| --- | --- | --- | --- |")
    for label, times in results:
        p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
        print(f"| {label} | {statistics.median(times):.1f} | {p95:.1f} | {max(times):.1f} |")


if __name__ == "__main__":
    main()
