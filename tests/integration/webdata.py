"""A database for the web view's tests, filled through the real pipeline: the demo corpus
(three outlets, one story, a claim and the claim that contradicts it) polled from its
loopback server, plus a hostile article and alerts written through the store's own
writes (a dead letter whose error names a secret channel URL, a pending alert)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import Config, load_config
from monitor.demo import demo_config_toml
from monitor.demo.server import CorpusServer
from monitor.models import AlertEvent, Article
from monitor.pipeline import open_pipeline
from monitor.store import Store

HOSTILE = '<script>alert("owned")</script> Zanzibar & "quotes"'
HOSTILE_URL = "http://127.0.0.1:9/zanzibar"
SECRET = "T000/B000/SECRETSECRET"
WATCH = "putin-congratulates"
BROKEN = "Broken <feed>"
EMPTY = "Empty feed"  # read, but lists nothing: a warning, which counts as failing too


@dataclass(frozen=True)
class WebData:
    config: Config
    database: Path
    story_id: int  # the demo story (three outlets, a copy)
    claim_id: int  # a claim with reports on both sides
    hostile_story: int
    dead_letter: str  # a failed alert's id
    pending: str  # a pending alert's id


def populate(folder: Path) -> WebData:
    with CorpusServer() as corpus:
        path = folder / "config.toml"
        path.write_text(demo_config_toml(corpus.base_url, str(folder / "monitor.db")))
        cfg = load_config(path)

        async def cycle() -> None:
            async with open_pipeline(cfg) as pipeline:
                report = await pipeline.run_cycle()
                assert not report.errors, [f.error for f in report.errors]

        asyncio.run(cycle())
    store = Store.open(cfg.database_path())
    try:
        (story,) = [s for s in store.stories(matched=True) if s.articles >= 3]
        opposed = [r for r in store.claim_relations() if r.relation == "contradicts"]
        claim_id = opposed[0].claim_a
        now = datetime.now(UTC).replace(microsecond=0)
        with store.transaction():
            aid = store.insert_article(
                Article(
                    url=HOSTILE_URL,
                    title=HOSTILE,
                    text=f"Zanzibar report. {HOSTILE} The harbour of Zanzibar reopened.",
                    text_source="feed",
                    feed_name="",
                    guid="",
                    site_name="<b>Evil</b> Outlet",
                    fetched_at=now,
                ),
                "hostile-hash",
            )
            hostile_story = store.create_story(HOSTILE, aid, now)
            for eid in ("evt_" + "d" * 32, "evt_" + "e" * 32):
                payload = {
                    "type": "article.matched",
                    "id": eid,
                    "watch": WATCH,
                    "article": {"url": HOSTILE_URL, "title": HOSTILE, "source": "Evil Outlet"},
                    "story": {"id": hostile_story, "title": HOSTILE},
                    "snippet": "the [[Zanzibar]] harbour",
                }
                store.enqueue_alert(
                    AlertEvent(eid, "article.matched", "hook", WATCH, payload, created_at=now)
                )
        dead, pending = "evt_" + "d" * 32, "evt_" + "e" * 32
        store.record_delivery(
            dead,
            delivered=False,
            failed=True,
            error=f"HTTP 404 from https://hooks.slack.com/services/{SECRET}",
        )
        # a feed that never worked: failing, backing off
        store.sync_feed(BROKEN, "http://127.0.0.1:9/broken.xml")
        store.update_feed(
            BROKEN,
            last_poll=now,
            last_status=500,
            last_error="HTTP 500 <Server Error>",
            failures=3,
            next_poll=now + timedelta(hours=1),
        )
        store.sync_feed(EMPTY, "http://127.0.0.1:9/empty.xml")
        store.update_feed(
            EMPTY, last_poll=now, last_status=200, last_error="the feed lists no entries"
        )
        # pages of a working feed that timed out: stored with the feed's text instead
        store.record_page_errors("Lakeshore Courier", 2, "page timed out", fallbacks=2)
        store.set_channel_state(
            "hook", False, f"HTTP 404 from https://hooks.slack.com/services/{SECRET}"
        )
    finally:
        store.close()
    return WebData(cfg, cfg.database_path(), story.id, claim_id, hostile_story, dead, pending)
