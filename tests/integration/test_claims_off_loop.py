"""The claims stage keeps the event loop free: while it judges an article, the fetches in
flight for other feeds go on, and none times out because the loop was busy.

The claims stage is made slow by a known amount: the tracker's real pair model is wrapped
so that each call sleeps before it reads. On the event loop's thread a sleep blocks the
loop exactly as the models' inference does (onnxruntime holds the thread, not the loop's
callbacks); in a worker thread it leaves the loop free, as inference there does (it
releases the GIL). A sleep, unlike real inference over thousands of watches, takes the
same time on a loaded or an idle machine, so the test is neither slow nor flaky, and the
answers are still the real model's.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from click.testing import CliRunner

from monitor.claims.pairs import PairModel
from monitor.claims.track import ClaimTracker
from monitor.cli import cli
from monitor.config import Config, load_config
from monitor.demo.server import CorpusServer, Response
from monitor.pipeline import CycleReport, Pipeline, open_pipeline
from monitor.store import Store
from tests.conftest import basic_config
from tests.integration.helpers import small_rss

LEDGER = "/ledger/world.xml"  # its Kremlin article makes the claims stage judge
LEDGER_PAGE = "/ledger/world/kremlin-says-putin-has-no-plans-to-congratulate-trump"
SLOW_FEEDS = 3
PAGE_DELAY = 1.0  # each slow feed's page answers after this long (read limit: 2 s)
MODEL_DELAY = 4.0  # each call of the pair model sleeps this long (total limit: 3 s)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title></head><body><main><article><h1>{title}</h1>
<p>The harbour board of Lakeside said on Monday that the {n} pier would close for repairs
until the end of May, after an inspection found cracks in three of its concrete piles.</p>
<p>Ferries that use the pier will call at the west landing instead, the board said, and the
timetable will not change. Fishing boats may still moor at the north wall.</p>
<p>The repairs are expected to cost about two million, paid from the harbour's reserve.
Work starts next week and will be done from barges, so the promenade stays open.</p>
</article></main></body></html>"""


class SlowPairModel:
    """The real pair model, sleeping ``delay`` seconds before each reading."""

    def __init__(self, model: PairModel, delay: float) -> None:
        self._model = model
        self.delay = delay
        self.calls = 0
        self.threads: set[str] = set()

    def probabilities(self, pairs: Any, batch_size: int = 8) -> Any:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return self._model.probabilities(pairs, batch_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def serve(corpus: CorpusServer) -> list[str]:
    """The Ledger's world feed, its Kremlin page answering after a short delay (so the
    other feeds' page requests are out before the claims stage starts), and
    :data:`SLOW_FEEDS` feeds of one article each, whose page answers after
    :data:`PAGE_DELAY`. The feed URLs, the Ledger first."""

    def late(delay: float, answer: Any) -> Any:
        return lambda info: replace(answer(info), delay=delay)

    corpus.add_route(LEDGER_PAGE, late(0.5, corpus.serve_file))
    urls = [corpus.base_url + LEDGER]
    for i in range(SLOW_FEEDS):
        guid = f"pier{i}"
        title = f"Harbour board shuts pier {i} for repairs"
        html = PAGE.format(title=title, n=f"number {i}")
        answer = Response(body=html, content_type="text/html; charset=utf-8")
        corpus.add_route(f"/p/{guid}.html", late(PAGE_DELAY, lambda info, a=answer: a))
        feed = f"/slow/{i}.xml"
        corpus.set_file(
            feed,
            small_rss(corpus.base_url, [(guid, title, "Pier news.")]),
            "application/rss+xml",
        )
        urls.append(corpus.base_url + feed)
    return urls


def claims_config(tmp_path: Path, urls: list[str], receiver) -> Config:
    """The test config over ``urls``: a request may take 3 s in all, 2 s waiting for a
    read; the watch tracks claims and alerts the webhook."""
    tmp_path.mkdir()
    path = basic_config(tmp_path, urls, webhook_url=receiver.url)
    text = path.read_text()
    assert 'timeout = "5s"\nread_timeout = "2s"\n' in text
    text = text.replace('timeout = "5s"\n', 'timeout = "3s"\n', 1)
    hook = 'alerts = ["console", "hook"]\n'
    path.write_text(text.replace(hook, hook + "track_claims = true\n", 1))
    return load_config(path)


def slow_claims(pipeline: Pipeline, delay: float) -> SlowPairModel:
    """Give the pipeline a claims tracker whose pair model sleeps ``delay`` per call."""
    model = SlowPairModel(PairModel.load(), delay)
    threshold = pipeline.config.claims.contradicts_threshold
    pipeline.claims = ClaimTracker(threshold, model=cast(PairModel, model))
    return model


def claim_alerts(payloads: list[dict[str, Any]]) -> list[tuple[str, str, str, float]]:
    return [
        (p["type"], p["claim"]["text"], p["evidence"]["quote"], round(p["confidence"], 6))
        for p in payloads
        if p["type"].startswith("claim.")
    ]


def run(tmp_path: Path, urls: list[str], receiver, delay: float) -> dict[str, Any]:
    """One `run --once`-like cycle with the pair model slowed by ``delay``: the cycle's
    report, the pages as `monitor status --json` counts them, the stored text sources,
    the claim alerts the webhook got and the slow model."""
    cfg = claims_config(tmp_path, urls, receiver)

    async def cycle() -> tuple[CycleReport, SlowPairModel]:
        async with open_pipeline(cfg) as pipeline:
            model = slow_claims(pipeline, delay)
            return await pipeline.run_cycle(), model

    before = len(receiver.payloads())
    report, model = asyncio.run(cycle())
    config_file = tmp_path / "config.toml"
    status = CliRunner().invoke(cli, ["--config", str(config_file), "status", "--json"])
    assert status.exit_code == 0, status.output
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        sources = sorted((a.url, a.text_source) for a in store.latest_articles())
    finally:
        store.close()
    return {
        "report": report,
        "feeds": json.loads(status.output)["feeds"],
        "sources": sources,
        "alerts": claim_alerts(receiver.payloads()[before:]),
        "model": model,
    }


def test_fetches_in_flight_complete_while_the_claims_stage_judges(
    tmp_path, corpus, receiver, monkeypatch
):
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "s3cret")
    urls = serve(corpus)
    slow = run(tmp_path / "slow", urls, receiver, MODEL_DELAY)

    # the claims stage was busy for longer than a fetch may take ([fetch] timeout 3 s) ...
    model = slow["model"]
    assert model.calls * MODEL_DELAY > 3.0, model.calls
    # ... and every feed was read, every article from its page: no time-outs
    report = slow["report"]
    assert not report.errors, [(f.name, f.error) for f in report.errors]
    assert [f["state"] for f in slow["feeds"]] == ["ok"] * (SLOW_FEEDS + 1), slow["feeds"]
    assert [(f["page_errors"], f["fallbacks"]) for f in slow["feeds"]] == [(0, 0)] * (
        SLOW_FEEDS + 1
    ), slow["feeds"]
    assert slow["sources"] and {s for _, s in slow["sources"]} == {"page"}, slow["sources"]
    piers = [u for u, _ in slow["sources"] if "/p/pier" in u]
    assert len(piers) == SLOW_FEEDS
    # (the claims stage ran in its worker thread, not the event loop's)
    assert model.threads == {"monitor-claims_0"}, model.threads
    # the Kremlin article quotes both sides: the contradiction is alerted
    assert [a[0] for a in slow["alerts"]] == ["claim.contradicted"], slow["alerts"]

    # the same decisions and alerts as a run whose claims stage takes no extra time
    quick = run(tmp_path / "quick", urls, receiver, 0.0)
    assert quick["model"].calls == model.calls
    assert quick["sources"] == slow["sources"]
    assert quick["alerts"] == slow["alerts"]


def test_feeds_polled_at_once_store_a_story_one_article_after_the_other(
    tmp_path, corpus, receiver, monkeypatch
):
    """The daemon polls feeds concurrently, without a cycle's config order. While the
    Ledger's Kremlin article is being judged (off the loop, slowly), the Courier's
    syndicated copy of it is fetched; it is decided only once the Ledger's claims are
    stored, so it is read as a copy (no alert), exactly as in a cycle in config order."""
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "s3cret")
    courier_page = (
        "/courier/stories/kremlin-putin-no-plans-to-congratulate-trump-on-election-win.html"
    )
    # the copy arrives while the original is being judged
    corpus.add_route(courier_page, lambda info: replace(corpus.serve_file(info), delay=0.5))
    urls = [corpus.base_url + p for p in (LEDGER, "/courier/rss.xml")]

    def stored(cfg: Config) -> list[tuple[str, str, int]]:
        """(statement, polarity, reports) of each stored claim."""
        store = Store.open(cfg.database_path(), readonly=True)
        try:
            rows = store.claims_of_watch("putin-congratulates")
            evidence = store.claim_evidence([r.id for r in rows])
        finally:
            store.close()
        return sorted(
            (r.statement, r.polarity, sum(1 for e in evidence if e.claim_id == r.id)) for r in rows
        )

    concurrent = claims_config(tmp_path / "concurrent", urls, receiver)

    async def at_once() -> SlowPairModel:
        async with open_pipeline(concurrent) as pipeline:
            model = slow_claims(pipeline, 1.0)
            reports = await asyncio.gather(*(pipeline.poll_feed(f) for f in concurrent.feeds))
            assert [r.status for r in reports] == ["ok", "ok"], reports
            await pipeline.deliver()
        return model

    before = len(receiver.payloads())
    model = asyncio.run(at_once())
    got = claim_alerts(receiver.payloads()[before:])
    assert model.calls >= 1

    in_order = claims_config(tmp_path / "in-order", urls, receiver)

    async def cycle() -> None:
        async with open_pipeline(in_order) as pipeline:
            slow_claims(pipeline, 0.0)
            report = await pipeline.run_cycle()
            assert not report.errors, report.errors

    before = len(receiver.payloads())
    asyncio.run(cycle())
    expected = claim_alerts(receiver.payloads()[before:])
    # one contradiction, from the Ledger; the Courier's copy alerts nothing
    assert [a[0] for a in expected] == ["claim.contradicted"], expected
    assert got == expected
    assert stored(concurrent) == stored(in_order)
