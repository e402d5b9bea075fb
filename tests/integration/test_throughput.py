"""Throughput without loss (issue 17): deadlines measure work, not queueing; one fetch per
page; a full queue slows intake instead of dropping page text. Real loopback servers."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import load_config
from monitor.demo.server import CorpusServer, Response
from tests.conftest import basic_config, run_cycle
from tests.integration.helpers import monitor as monitor_cmd

_WORDS = (
    "council harbour bridge budget vote river tunnel school market festival museum rail "
    "station tower garden library ferry airport stadium clinic archive orchestra factory "
    "reservoir lighthouse observatory vineyard quarry canal plaza theatre"
).split()


def page_html(seed: int, title: str) -> str:
    """A made-up article page whose text differs from every other seed's."""
    rnd = random.Random(seed)
    paras = [" ".join(rnd.choice(_WORDS) for _ in range(40)).capitalize() + "." for _ in range(6)]
    body = "".join(f"<p>{p}</p>" for p in paras)
    return f"<html><body><article><h1>{title}</h1><p>{title}.</p>{body}</article></body></html>"


def rss(items: list[tuple[str, str, str]]) -> str:
    """(guid, title, link) items; the description is a short feed summary."""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>{link}</link>"
        f"<description>{t} (summary).</description></item>"
        for g, t, link in items
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{body}</channel></rss>"
    )


def slow_page(srv: CorpusServer, path: str, html: str, delay: float) -> None:
    srv.add_route(
        path,
        lambda req: Response(body=html, content_type="text/html; charset=utf-8", delay=delay),
    )


def stored(db: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(url, text source, text) of every article and (watch, url) of every match, sorted."""
    con = sqlite3.connect(db)
    try:
        arts = sorted(con.execute("SELECT url, text_source, text FROM articles").fetchall())
        matches = sorted(
            con.execute(
                "SELECT m.watch, a.url FROM matches m JOIN articles a ON a.id = m.article_id"
            ).fetchall()
        )
    finally:
        con.close()
    return arts, matches


def test_a_tight_per_host_limit_loses_no_page_text_and_repeats_exactly(tmp_path, corpus):
    # 8 pages on one host, one request at a time, each taking 0.6 s: a page waits behind
    # another for its slot, longer than the 1 s request deadline allows. The deadline
    # measures the request, so every page is fetched; two runs store the same texts and
    # matches.
    n = 8
    items = [(f"g{i}", f"Putin congratulated team {i}", f"{corpus.base_url}/p/{i}.html") for i in range(n)]  # fmt: skip
    corpus.set_file("/f.xml", rss(items))
    for i, (_, title, _) in enumerate(items):
        slow_page(corpus, f"/p/{i}.html", page_html(i, title), 0.6)
    fetch = 'timeout = "1s"\nconcurrency = 1\nper_host = 1'
    results = []
    for run in ("a", "b"):
        d = tmp_path / run
        d.mkdir()
        path = basic_config(d, [corpus.base_url + "/f.xml"], fetch_extra=fetch)
        path.write_text(path.read_text().replace('timeout = "5s"\n', ""))
        cfg = load_config(path)
        report = run_cycle(cfg)
        assert not report.errors, [f.error for f in report.errors]
        results.append(stored(cfg.database_path()))
        status = monitor_cmd("--config", str(path), "status", "--json")

        (feed,) = json.loads(status.stdout)["feeds"]
        assert feed["page_errors"] == 0 and feed["fallbacks"] == 0, feed
    arts, matches = results[0]
    assert len(arts) == n and {src for _, src, _ in arts} == {"page"}
    assert all("(summary)" not in text and len(text) > 500 for _, _, text in arts)
    assert len(matches) == n
    assert results[0] == results[1]


def test_entries_sharing_a_page_cause_one_request(tmp_path, corpus):
    # one page linked by two entries of one feed and by an entry of another feed (with a
    # tracking parameter: the same page by its canonical URL); the page is slow, so all
    # three ask for it while it is in flight
    link = f"{corpus.base_url}/p/shared.html"
    title = "Putin congratulated the rowing crew"
    slow_page(corpus, "/p/shared.html", page_html(7, title), 0.5)
    corpus.set_file("/a.xml", rss([("a1", title, link), ("a2", title + " (update)", link)]))
    corpus.set_file("/b.xml", rss([("b1", title, link + "?utm_source=rss")]))
    path = basic_config(tmp_path, [corpus.base_url + "/a.xml", corpus.base_url + "/b.xml"])
    cfg = load_config(path)
    report = run_cycle(cfg)
    assert not report.errors
    assert corpus.hits("/p/shared.html") == 1
    assert sum(f.new_entries for f in report.feeds) == 3
    arts, _ = stored(cfg.database_path())
    assert len(arts) == 1 and arts[0][1] == "page"
    con = sqlite3.connect(cfg.database_path())
    linked = con.execute(
        "SELECT COUNT(*) FROM feed_entries WHERE article_id IS NOT NULL"
    ).fetchone()
    con.close()
    assert linked[0] == 3
    # a later cycle: a new feed listing the stored page does not fetch it again
    corpus.set_file("/c.xml", rss([("c1", title, link)]))
    path = basic_config(tmp_path, [corpus.base_url + f"/{x}.xml" for x in "abc"])
    run_cycle(load_config(path))
    assert corpus.hits("/p/shared.html") == 1


def test_a_full_queue_slows_intake_instead_of_losing_text(tmp_path, corpus):
    # one feed in flight at a time: the next feed is not even requested until the pages of
    # the one before are done, and no page falls back to the feed's text
    feeds = []
    for f in range(3):
        items = [
            (f"f{f}e{i}", f"Putin congratulated group {f}-{i}", f"{corpus.base_url}/p/{f}-{i}.html")
            for i in range(3)
        ]
        corpus.set_file(f"/f{f}.xml", rss(items))
        for i, (_, title, _) in enumerate(items):
            slow_page(corpus, f"/p/{f}-{i}.html", page_html(10 * f + i, title), 0.2)
        feeds.append(corpus.base_url + f"/f{f}.xml")
    fetch = 'timeout = "1s"\nfeeds_in_flight = 1'
    path = basic_config(tmp_path, feeds, fetch_extra=fetch)
    path.write_text(path.read_text().replace('timeout = "5s"\n', ""))
    cfg = load_config(path)
    report = run_cycle(cfg)
    assert not report.errors
    current = None
    for r in corpus.requests:
        if r.path.endswith(".xml"):
            current = r.path[2]  # "/f1.xml" → "1"
        else:
            assert r.path.startswith(f"/p/{current}-"), (r.path, current)
    arts, matches = stored(cfg.database_path())
    assert len(arts) == 9 and {src for _, src, _ in arts} == {"page"} and len(matches) == 9


def test_fallbacks_to_feed_text_are_counted_per_feed(tmp_path, corpus):
    link = f"{corpus.base_url}/p/gone.html"
    corpus.set_file("/f.xml", rss([("x1", "Putin congratulated the choir", link)]))
    corpus.add_route("/p/gone.html", lambda req: Response(status=404))
    # a page with too little text for an article: the feed's text wins, counted too
    corpus.set_file("/p/thin.html", "<html><body><p>Hi.</p></body></html>", "text/html")
    corpus.set_file(
        "/g.xml",
        rss(
            [
                ("y1", "Putin congratulated the band", f"{corpus.base_url}/p/thin.html"),
                ("y2", "Putin congratulated the pilots", f"{corpus.base_url}/p/ok.html"),
            ]
        ),
    )
    corpus.set_file("/p/ok.html", page_html(3, "Putin congratulated the pilots"), "text/html")
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml", corpus.base_url + "/g.xml"])
    out = monitor_cmd("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr

    status = json.loads(monitor_cmd("--config", str(path), "status", "--json").stdout)
    by_name = {f["name"]: f for f in status["feeds"]}
    assert by_name["feed0"]["fallbacks"] == 1 and by_name["feed0"]["page_errors"] == 1
    assert by_name["feed1"]["fallbacks"] == 1 and by_name["feed1"]["page_errors"] == 0
    table = monitor_cmd("--config", str(path), "status").stdout
    assert "feed text" in table


def test_status_lists_failing_feeds_first_and_sums_up_the_rest(tmp_path):
    from rich.console import Console

    from monitor.cli.status import read_status, render_status
    from monitor.store import Store

    db = tmp_path / "m.db"
    store = Store.open(db)
    store.sync_feeds((f"feed{i:03d}", f"http://127.0.0.1/{i}.xml") for i in range(120))
    for i in range(120):
        store.update_feed(f"feed{i:03d}", last_poll=datetime.now(UTC), last_status=200)
    store.update_feed("feed117", failures=2, last_error="HTTP 500 Internal Server Error")
    store.close()
    console = Console(record=True, width=200)
    render_status(read_status(db, None), console, limit=10)
    out = console.export_text()
    rows = [line for line in out.splitlines() if "feed0" in line or "feed1" in line]
    assert len(rows) == 10 and "feed117" in rows[0] and "HTTP 500" in rows[0]
    assert "120 feeds (1 error, 119 ok); the first 10 are shown" in out


def test_a_reload_touches_only_the_feed_jobs_that_changed(tmp_path):
    import asyncio

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from monitor.daemon import Daemon
    from monitor.pipeline import open_pipeline

    path = basic_config(tmp_path, [f"http://127.0.0.1:9/{i}.xml" for i in range(4)])
    cfg = load_config(path)
    text = path.read_text()
    assert text.count('name = "feed1"\n') == 1 and text.count('name = "feed3"') == 1
    changed = text.replace('name = "feed1"\n', 'name = "feed1"\ninterval = "2h"\n')
    changed = changed.replace('name = "feed3"', 'name = "feed3"\nenabled = false')
    changed += '\n[[feeds]]\nname = "extra"\nurl = "http://127.0.0.1:9/extra.xml"\n'
    path2 = tmp_path / "changed.toml"
    path2.write_text(changed)
    cfg2 = load_config(path2)

    async def go() -> tuple[dict, dict]:
        async with open_pipeline(cfg) as pipeline:
            daemon = Daemon(cfg)
            daemon.pipeline = pipeline
            daemon.scheduler = AsyncIOScheduler(timezone=UTC)
            daemon.scheduler.start(paused=True)
            daemon._schedule_feeds(daemon._feed_jobs(cfg))
            before = {j.id: j.next_run_time for j in daemon.scheduler.get_jobs()}
            await asyncio.sleep(0.05)
            pipeline.reconfigure(cfg2)
            daemon._schedule_feeds(daemon._feed_jobs(cfg2))
            after = {j.id: j.next_run_time for j in daemon.scheduler.get_jobs()}
            daemon.scheduler.shutdown(wait=False)
            return before, after

    before, after = asyncio.run(go())
    assert set(before) == {"feed:feed0", "feed:feed1", "feed:feed2", "feed:feed3"}
    assert set(after) == {"feed:feed0", "feed:feed1", "feed:feed2", "feed:extra"}
    # unchanged feeds keep their jobs (and next runs); a changed interval makes a new job
    assert after["feed:feed0"] == before["feed:feed0"]
    assert after["feed:feed2"] == before["feed:feed2"]
    assert after["feed:feed1"] != before["feed:feed1"]


def test_feeds_are_stored_in_config_order_however_fetches_interleave(tmp_path, corpus):
    # the first feed's page is slow, the second's fast: the first is still stored first,
    # so the same copy of a story is "the original" on every run
    title = "Putin congratulated the chess olympiad team"
    html = page_html(42, title)
    slow_page(corpus, "/p/slow.html", html, 0.8)
    corpus.set_file("/p/fast.html", html.replace("<h1>", "<h1>Copy: "), "text/html")
    corpus.set_file("/a.xml", rss([("s1", title, f"{corpus.base_url}/p/slow.html")]))
    corpus.set_file("/b.xml", rss([("f1", title, f"{corpus.base_url}/p/fast.html")]))
    path = basic_config(tmp_path, [corpus.base_url + "/a.xml", corpus.base_url + "/b.xml"])
    cfg = load_config(path)
    report = run_cycle(cfg)
    assert [f.name for f in report.feeds] == ["feed0", "feed1"]
    con = sqlite3.connect(cfg.database_path())
    rows = con.execute("SELECT url, duplicate_of FROM articles ORDER BY id").fetchall()
    con.close()
    assert [url.rsplit("/", 1)[1] for url, _ in rows] == ["slow.html", "fast.html"]
    assert rows[0][1] is None and rows[1][1] is not None  # the fast copy folds into the slow


def test_an_unchanged_feed_reuses_its_connection(corpus):
    import asyncio

    from monitor.config import FetchConfig
    from monitor.feeds.fetch import Fetcher

    corpus.set_file("/f.xml", rss([("g", "t", f"{corpus.base_url}/p/g.html")]))
    opened = []
    add = corpus._connections_add
    corpus._connections_add = lambda conn: (opened.append(conn), add(conn))  # type: ignore[method-assign]

    async def go() -> list[int | None]:
        async with Fetcher(FetchConfig(allow_private_networks=True)) as f:
            first = await f.fetch(corpus.base_url + "/f.xml")
            return [
                (await f.fetch(corpus.base_url + "/f.xml", etag=first.etag)).status
                for _ in range(3)
            ]

    assert asyncio.run(go()) == [304, 304, 304]
    assert len(opened) == 1  # the 304s leave the connection open for the next request


def test_a_cycle_starts_a_feed_only_when_it_can_be_worked_on(tmp_path, corpus):
    """At most [fetch] feeds_in_flight feeds of a cycle exist as tasks at once (10,000
    waiting tasks held about 30 MB), and the reports still come in config order."""
    import asyncio

    from monitor.pipeline import open_pipeline

    urls = []
    for k in range(40):
        corpus.set_file(f"/w{k}.xml", rss([(f"w{k}", f"Harbour council vote {k}", "")]))
        urls.append(f"{corpus.base_url}/w{k}.xml")
    path = basic_config(tmp_path, urls, fetch_extra="feeds_in_flight = 3\nfetch_pages = false")
    cfg = load_config(path)
    most = 0

    def feed_tasks() -> int:
        return sum("run_cycle" in t.get_coro().__qualname__ for t in asyncio.all_tasks())

    async def go():
        nonlocal most
        async with open_pipeline(cfg) as pipeline:
            cycle = asyncio.ensure_future(pipeline.run_cycle())
            while not cycle.done():
                most = max(most, feed_tasks())
                await asyncio.sleep(0)
            return cycle.result()

    report = asyncio.run(go())
    assert [f.name for f in report.feeds] == [f"feed{k}" for k in range(40)]
    assert all(f.status == "ok" and f.new_entries == 1 for f in report.feeds)
    assert 1 <= most <= 3 + 1  # (+1: a task that released its turn is ending)
