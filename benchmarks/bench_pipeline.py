"""The whole pipeline against a generated loopback farm, side by side with pure extraction.

A farm process serves N feeds (5 items each) spread over many loopback addresses
(127.0.0.2 … 127.0.0.250), each item linking an article page of realistic size (navigation,
scripts, related links and 500–900 words of made-up text: never real news). Every fifth
item links a page shared by four feeds (a story listed in several sections). Feeds answer
``If-None-Match`` with 304. The farm makes a size's pages and feeds before its runs (they
are served from memory, about 60 KB a page: 2.5 GB at 10,000 feeds), so the runs share the
machine's cores with serving only, not with making pages.

For each size it measures, with the real ``monitor`` command in subprocesses:

* cold ``run --once`` on a fresh database: entries/s, unique pages/s, peak RSS (the main
  process, and with its extraction workers), CPU time, page requests (one per unique page
  is the target), page errors and fallbacks to feed text, stored articles and matches;
  ``--repeat`` cold runs compare stored pages and matches;
* warm ``run --once`` (every feed answers 304);
* the daemon at rest after that: CPU share and RSS over ``--rest`` seconds;
* ``monitor status`` (the table) wall time;
* pure trafilatura (:func:`monitor.feeds.extract.extract_page`) over the same unique pages
  with the same number of processes: pages/s, and the pipeline's ratio to it.

    nice -n 10 python -m benchmarks.bench_pipeline --sizes 100,1000 [--out results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ITEMS = 5
SHARED_EVERY = 4  # a shared page is listed by this many consecutive feeds
ADDRESSES = 249  # 127.0.0.2 … 127.0.0.250

_FUNCTION = (
    "the of and a to in that on for with was said is by at from as it after his her their "
    "which were will has had but not this more than two new last first also over into about"
).split()
_NEWS = (
    "council court minister harbour police school hospital election budget strike river "
    "museum festival airport market bridge union farmers storm vaccine"
).split()
_SYLLABLES = "ka ro ven tal mi sor bel dan fi gor hul lem nar pel quin ras sed tor ul vak".split()


def _topic_words(topic: int) -> list[str]:
    """Made-up content words of one story: its reports share them, other stories do not."""
    rnd = random.Random(topic * 7919 + 11)
    made = ["".join(rnd.choice(_SYLLABLES) for _ in range(rnd.randint(2, 4))) for _ in range(70)]
    return made + rnd.sample(_NEWS, 3)


def _words(rnd: random.Random, n: int, topic: list[str] | None = None) -> str:
    out = []
    for _ in range(n):
        if topic is not None and rnd.random() < 0.55:
            out.append(rnd.choice(topic))
        else:
            out.append(rnd.choice(_FUNCTION))
    return " ".join(out)


def _topic(pid: int) -> list[str]:
    # the reports of a story: three pages of a feed, or a shared page on its own
    return _topic_words(pid // 3 if pid < 10_000_000 else pid)


def page_id(feed: int, item: int) -> int:
    """The page an item links: its own, or (every fifth item) one shared by 4 feeds."""
    if item == ITEMS - 1:
        return 10_000_000 + feed // SHARED_EVERY
    return feed * ITEMS + item


def host_of(feed: int) -> str:
    return f"127.0.0.{2 + feed % ADDRESSES}"


def title_of(pid: int) -> str:
    rnd = random.Random(pid * 7 + 1)
    return f"Report {pid}: {_words(rnd, 8, _topic(pid))}"


def page_html(pid: int) -> bytes:
    """A made-up article page of realistic size (about 60–80 KB, mostly markup)."""
    rnd = random.Random(pid)
    title = title_of(pid)
    topic = _topic(pid)
    nav = "".join(f'<li><a href="/section/{i}">{_words(rnd, 2)}</a></li>' for i in range(60))
    related = "".join(
        f'<li><a href="/page/{rnd.randrange(10**6)}.html">{_words(rnd, 8)}</a></li>'
        for _ in range(25)
    )
    paras = "".join(
        f"<p>{_words(rnd, rnd.randint(40, 90), topic).capitalize()}.</p>"
        for _ in range(rnd.randint(9, 13))
    )
    script = "var cfg = {" + ",".join(f'"k{i}": "{rnd.random():.12f}"' for i in range(900)) + "};"
    style = "".join(f".c{i}{{margin:{i % 7}px;padding:{i % 5}px}}" for i in range(700))
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta property='og:title' content='{title}'><meta name='author' content='Staff'>"
        f"<style>{style}</style><script>{script}</script></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header><main><article>"
        f"<h1>{title}</h1><p class='byline'>By Staff Reporter</p>"
        f"<time datetime='2026-11-20T10:00:00Z'>20 November 2026</time>{paras}</article>"
        f"<aside><h2>Related</h2><ul>{related}</ul></aside></main>"
        f"<footer><p>{_words(rnd, 40)}</p><ul>{nav}</ul></footer></body></html>"
    )
    return html.encode()


def feed_xml(feed: int, port: int) -> bytes:
    items = []
    for k in range(ITEMS):
        pid = page_id(feed, k)
        # a page lives on its feed's site (a shared page on the site of its first feed)
        host = host_of(feed - feed % SHARED_EVERY if k == ITEMS - 1 else feed)
        rnd = random.Random(pid + 3)
        items.append(
            f"<item><guid>f{feed}-{k}</guid><title>{title_of(pid)}</title>"
            f"<link>http://{host}:{port}/page/{pid}.html</link>"
            f"<description>{_words(rnd, 30, _topic(pid))}.</description>"
            f"<pubDate>Fri, 20 Nov 2026 10:{k:02d}:00 GMT</pubDate></item>"
        )
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel>"
        f"<title>Feed {feed}</title><link>http://127.0.0.2:{port}/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


# -- the farm (a process of its own) -------------------------------------------------------
class Farm:
    def __init__(self, port: int) -> None:
        self.port = port
        self.counts = {"feed": 0, "feed_304": 0, "page": 0}
        self.pages: set[int] = set()
        # pages and feeds made before a run (``/prepare/N``), so that making them (about
        # 1.1 ms of CPU each) is not done during the run, on the cores the pipeline uses:
        # the farm stands in for servers elsewhere, and pure extraction is given its pages
        # ready-made too
        self.made_pages: dict[int, bytes] = {}
        self.made_feeds: dict[int, bytes] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                status, body, extra = self.route(path, headers)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                hdrs = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n" + extra
                writer.write(hdrs.encode() + b"\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def route(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, str]:
        if path.startswith("/feed/"):
            n = int(path[6:].split(".")[0])
            etag = f'"feed-{n}-v1"'
            if headers.get("if-none-match") == etag:
                self.counts["feed_304"] += 1
                return 304, b"", f"ETag: {etag}\r\n"
            self.counts["feed"] += 1
            ct = "Content-Type: application/rss+xml; charset=utf-8\r\n"
            body = self.made_feeds.get(n) or feed_xml(n, self.port)
            return 200, body, f"{ct}ETag: {etag}\r\n"
        if path.startswith("/page/"):
            pid = int(path[6:].split(".")[0])
            self.counts["page"] += 1
            self.pages.add(pid)
            body = self.made_pages.get(pid) or page_html(pid)
            return 200, body, "Content-Type: text/html; charset=utf-8\r\n"
        if path.startswith("/prepare/"):
            n = int(path[9:])
            for feed in range(n):
                if feed not in self.made_feeds:
                    self.made_feeds[feed] = feed_xml(feed, self.port)
            for pid in unique_pages(n):
                if pid not in self.made_pages:
                    self.made_pages[pid] = page_html(pid)
            return 200, b"ready", ""
        if path == "/stats":
            stats = {**self.counts, "unique_pages": len(self.pages)}
            return 200, json.dumps(stats).encode(), "Content-Type: application/json\r\n"
        return 404, b"not found", ""


async def _serve(port: int) -> None:
    farm = Farm(port)
    for i in range(ADDRESSES):
        await asyncio.start_server(farm.handle, f"127.0.0.{2 + i}", port, backlog=512)
    print("ready", flush=True)
    await asyncio.Event().wait()


def start_farm() -> tuple[subprocess.Popen[str], int]:
    for _ in range(20):
        port = random.randint(20000, 60000)
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_pipeline", "--serve", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        if proc.stdout.readline().strip() == "ready":
            return proc, port
        proc.kill()
    raise RuntimeError("could not start the farm")


def farm_stats(port: int) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.2:{port}/stats", timeout=10) as r:  # noqa: S310
        return json.loads(r.read())


def farm_prepare(port: int, feeds: int) -> None:
    """Have the farm make the pages and feeds of ``feeds`` feeds before a run."""
    import urllib.request

    url = f"http://127.0.0.2:{port}/prepare/{feeds}"
    with urllib.request.urlopen(url, timeout=600) as r:  # noqa: S310
        r.read()


# -- measuring a process tree --------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def run_measured(cmd: list[str], timeout: float = 3600) -> dict[str, Any]:
    """Run a command; its wall time, CPU time (children included) and peak RSS, of the
    main process and of the whole tree (sampled every 0.1 s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_main = peak_tree = cpu_main = 0.0
    while proc.poll() is None:
        main = _rss_mb(proc.pid)
        cpu_main = max(cpu_main, _cpu_s(proc.pid))  # the last reading before it exits
        tree = main + sum(_rss_mb(c) for c in _children(proc.pid))
        peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
        if time.monotonic() - start > timeout:
            proc.kill()
        time.sleep(0.1)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    err = proc.stderr.read() if proc.stderr else ""
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_main_s": round(cpu_main, 2),  # the main process alone (sampled: a lower bound)
        "peak_rss_main_mb": round(peak_main, 1),
        "peak_rss_tree_mb": round(peak_tree, 1),
        "returncode": proc.returncode,
        "summary": err.strip().splitlines()[-1:] if err else [],
    }


def write_config(
    folder: Path, n: int, port: int, workers: int | None, *, fetch_pages: bool = True
) -> Path:
    lines = [
        "[storage]",
        f'path = "{folder / "monitor.db"}"',
        "",
        "[fetch]",
        "allow_private_networks = true",
        'interval = "1h"',
        *([] if fetch_pages else ["fetch_pages = false"]),
        "",
        "[extract]",
    ]
    if workers is not None:
        lines.append(f"workers = {workers}")
    lines += ["", "[alerts.console]", 'type = "log"', ""]
    lines += ["[[watches]]", 'name = "harbour"', 'rule = "council OR court OR harbour"']
    lines += ['alerts = ["console"]', ""]
    for i in range(n):
        host = host_of(i)
        lines += ["[[feeds]]", f'name = "feed{i}"', f'url = "http://{host}:{port}/feed/{i}.xml"']
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def stored(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    try:
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        out = {
            "entries": q("SELECT COUNT(*) FROM feed_entries"),
            "articles": q("SELECT COUNT(*) FROM articles"),
            "page_text": q("SELECT COUNT(*) FROM articles WHERE text_source = 'page'"),
            "matches": q("SELECT COUNT(*) FROM matches"),
            "text_digest": q(
                "SELECT hex(sum(length(text))) || '-' || count(DISTINCT url) FROM articles"
            ),
            "feed_errors": q("SELECT COUNT(*) FROM feeds WHERE failures > 0"),
        }
        page_errors = fallbacks = 0
        for (value,) in con.execute("SELECT value FROM meta WHERE key LIKE 'page_errors:%'"):
            v = json.loads(value)
            page_errors += v.get("count", 0)
            fallbacks += v.get("fallbacks", 0)
        out["page_errors"], out["fallbacks"] = page_errors, fallbacks
    finally:
        con.close()
    return out


def monitor_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "--config", str(config), *args]


def daemon_at_rest(config: Path, settle: float, rest: float) -> dict[str, Any]:
    proc = subprocess.Popen(
        monitor_cmd(config, "run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(settle)
        tree = [proc.pid, *_children(proc.pid)]
        cpu0, t0 = sum(_cpu_s(p) for p in tree), time.monotonic()
        rss = []
        while time.monotonic() - t0 < rest:
            rss.append(sum(_rss_mb(p) for p in tree))
            time.sleep(0.5)
        cpu1, t1 = sum(_cpu_s(p) for p in tree), time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return {
        "cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
        "rss_mb": round(max(rss), 1),
    }


def _warm_worker() -> None:
    import trafilatura  # noqa: F401


def pure_extraction(pages: list[int], workers: int) -> dict[str, Any]:
    """Pages/s of extract_page alone over the same pages, ``workers`` processes."""
    import multiprocessing

    from monitor.feeds.extract import extract_page

    bodies = [page_html(p) for p in pages]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        list(pool.map(_warm_worker_n, range(workers)))
        start = time.monotonic()
        done = sum(
            1
            for r in pool.map(extract_page, bodies, [f"http://x/{p}" for p in pages], chunksize=4)
            if r
        )
        wall = time.monotonic() - start
    # CPU per page, in this process (steadier than wall time on a shared machine)
    extract_page(bodies[0], "http://x/warm")
    few = bodies[: min(len(bodies), 200)]
    cpu0 = time.process_time()
    for i, body in enumerate(few):
        extract_page(body, f"http://x/{i}")
    cpu_ms = 1000 * (time.process_time() - cpu0) / len(few)
    return {"pages": len(pages), "extracted": done, "wall_s": round(wall, 2),
            "pages_per_s": round(len(pages) / wall, 1), "cpu_ms_per_page": round(cpu_ms, 1)}  # fmt: skip


def _warm_worker_n(_: int) -> None:
    _warm_worker()


def unique_pages(n: int) -> list[int]:
    return sorted({page_id(f, k) for f in range(n) for k in range(ITEMS)})


def bench_size(n: int, args: argparse.Namespace, port: int) -> dict[str, Any]:
    workers = args.workers
    from monitor.config import ExtractConfig

    nproc = workers if workers is not None else ExtractConfig().workers
    res: dict[str, Any] = {"feeds": n, "entries": n * ITEMS, "workers": nproc}
    pages = unique_pages(n)
    res["unique_pages"] = len(pages)
    farm_prepare(port, n)
    colds = []
    for r in range(args.repeat):
        folder = Path(tempfile.mkdtemp(prefix=f"bench{n}-"))
        config = write_config(folder, n, port, workers)
        s0 = farm_stats(port)
        cold = run_measured(monitor_cmd(config, "run", "--once"))
        s1 = farm_stats(port)
        cold["page_requests"] = s1["page"] - s0["page"]
        cold["stored"] = stored(folder / "monitor.db")
        cold["entries_per_s"] = round(n * ITEMS / cold["wall_s"], 1)
        cold["pages_per_s"] = round(cold["page_requests"] / cold["wall_s"], 1)
        colds.append(cold)
        print(f"[{n}] cold run {r + 1}: {json.dumps(cold)}", flush=True)
    res["cold"] = colds
    res["same_every_run"] = len({json.dumps(c["stored"], sort_keys=True) for c in colds}) == 1
    s0 = farm_stats(port)
    warm = run_measured(monitor_cmd(config, "run", "--once"))
    s1 = farm_stats(port)
    warm["feed_304"] = s1["feed_304"] - s0["feed_304"]
    warm["page_requests"] = s1["page"] - s0["page"]
    res["warm"] = warm
    print(f"[{n}] warm: {json.dumps(warm)}", flush=True)
    t = time.monotonic()
    subprocess.run(monitor_cmd(config, "status"), capture_output=True, check=False)
    res["status_s"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    subprocess.run(monitor_cmd(config, "status", "--all"), capture_output=True, check=False)
    res["status_all_s"] = round(time.monotonic() - t, 2)
    res["daemon_rest"] = daemon_at_rest(config, args.settle, args.rest)
    print(f"[{n}] rest: {json.dumps(res['daemon_rest'])}", flush=True)
    sample = pages if len(pages) <= args.pure_sample else random.Random(0).sample(pages, args.pure_sample)  # fmt: skip
    res["pure"] = pure_extraction(sample, nproc)
    best = max(colds, key=lambda c: c["pages_per_s"])
    res["ratio"] = round(best["pages_per_s"] / res["pure"]["pages_per_s"], 2)
    # the same comparison in CPU time: pure extraction's CPU per page over the pipeline's
    # (the whole run --once, children included, per unique page)
    cpu_ms = 1000 * best["cpu_s"] / max(1, best["page_requests"])
    res["pipeline_cpu_ms_per_page"] = round(cpu_ms, 1)
    # where it is spent: the main process (event loop: HTTP, parsing, dedup, rules, SQLite)
    # and its extraction workers (the rest of the tree); both share the machine's cores
    main_ms = 1000 * best["cpu_main_s"] / max(1, best["page_requests"])
    res["main_cpu_ms_per_page"] = round(main_ms, 1)
    res["workers_cpu_ms_per_page"] = round(cpu_ms - main_ms, 1)
    res["cpu_ratio"] = round(res["pure"]["cpu_ms_per_page"] / cpu_ms, 2)
    print(f"[{n}] pure: {json.dumps(res['pure'])} ratio {res['ratio']}", flush=True)
    return res


def bench_warm(n: int, cycles: int, port: int) -> dict[str, Any]:
    """Warm cycles only: a first poll without pages (``fetch_pages = false``), then
    ``cycles`` warm ``run --once`` (every feed answers 304): wall, CPU, peak RSS."""
    folder = Path(tempfile.mkdtemp(prefix=f"warm{n}-"))
    config = write_config(folder, n, port, None, fetch_pages=False)
    first = run_measured(monitor_cmd(config, "run", "--once"))
    print(f"[{n}] first poll (no pages): {json.dumps(first)}", flush=True)
    warms = []
    for k in range(cycles):
        s0 = farm_stats(port)
        warm = run_measured(monitor_cmd(config, "run", "--once"))
        s1 = farm_stats(port)
        warm["feed_304"] = s1["feed_304"] - s0["feed_304"]
        warm["load"] = round(os.getloadavg()[0], 2)
        warms.append(warm)
        print(f"[{n}] warm {k + 1}: {json.dumps(warm)}", flush=True)
    return {"feeds": n, "first": first, "warm": warms}


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| feeds | entries | unique pages | cold wall | entries/s | pages/s | pure pages/s | ratio "
        "| CPU ms/page: pipeline (main + workers) / pure (ratio) "
        "| page requests | errors / fallbacks | peak RSS main / with workers | warm wall (304s) "
        "| warm peak RSS | daemon at rest | status / --all | same every run |",
        "|" + " --- |" * 17,
    ]
    for r in results:
        c = max(r["cold"], key=lambda x: x["pages_per_s"])
        s, w, d = c["stored"], r["warm"], r["daemon_rest"]
        peak = max(x["peak_rss_main_mb"] for x in r["cold"])
        peak_tree = max(x["peak_rss_tree_mb"] for x in r["cold"])
        rows.append(
            f"| {r['feeds']:,} | {r['entries']:,} | {r['unique_pages']:,} | {c['wall_s']} s "
            f"| {c['entries_per_s']} | {c['pages_per_s']} | {r['pure']['pages_per_s']} "
            f"| {r['ratio']:.0%} "
            f"| {r['pipeline_cpu_ms_per_page']} ({r['main_cpu_ms_per_page']} + "
            f"{r['workers_cpu_ms_per_page']}) / {r['pure']['cpu_ms_per_page']} ({r['cpu_ratio']:.0%}) "
            f"| {c['page_requests']:,} "
            f"| {s['feed_errors'] + s['page_errors']} / {s['fallbacks']} "
            f"| {peak:.0f} / {peak_tree:.0f} MB | {w['wall_s']} s ({w['feed_304']:,}) "
            f"| {w['peak_rss_main_mb']:.0f} MB | {d['cpu_percent']} % CPU, {d['rss_mb']:.0f} MB "
            f"| {r['status_s']} / {r['status_all_s']} s "
            f"| {'yes' if r['same_every_run'] else 'NO'} ({len(r['cold'])} runs) |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="100,1000", help="feed counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=2, help="cold runs per size")
    ap.add_argument("--workers", type=int, default=None, help="[extract] workers (default)")
    ap.add_argument("--settle", type=float, default=15.0, help="daemon start-up, seconds")
    ap.add_argument("--rest", type=float, default=20.0, help="daemon at rest, seconds")
    ap.add_argument("--pure-sample", type=int, default=1500, help="pages for pure extraction")
    ap.add_argument(
        "--warm-only",
        type=int,
        metavar="CYCLES",
        help="only warm cycles (first poll without pages)",
    )
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    farm, port = start_farm()
    results = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            if args.warm_only:
                results.append(bench_warm(n, args.warm_only, port))
            else:
                results.append(bench_size(n, args, port))
            if args.out:
                args.out.write_text(json.dumps(results, indent=2))
    finally:
        farm.kill()
    load = os.getloadavg()
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load[0]:.1f} at the end"
    )
    if not args.warm_only:
        print(table(results))


if __name__ == "__main__":
    main()
