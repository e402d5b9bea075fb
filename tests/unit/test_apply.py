"""The apply step: one article's decisions written in one transaction."""

from __future__ import annotations

import pytest

from monitor.apply import ArticleDecisions, WatchDecision, apply_article
from monitor.config import WatchConfig
from monitor.dedup import Deduplicator
from monitor.models import Match
from tests.unit.conftest import article

TEXT = (
    "The Kremlin said on Wednesday that President Vladimir Putin had no plans to congratulate"
    " Donald Trump on winning the election, even as an independent outlet reported otherwise."
)
WATCH = WatchConfig(name="w", rule="Putin", alerts=["log"])


def decisions(store, feed_id: int, n: int, **changes: object) -> ArticleDecisions:
    a = article(n, text=TEXT, **changes)
    d = Deduplicator(store).decide(a)
    match = WatchDecision(Match("w", ("Putin",)), WATCH)
    return ArticleDecisions(feed_id, f"g{n}", a, d, (match,), matched=1)


def test_writes_article_entry_index_match_and_alert_together(store):
    feed = store.sync_feed("f", "https://news.example/rss")
    first = apply_article(store, decisions(store, feed.id, 1), {})
    assert (first.matches, first.alerts) == (1, 1)
    assert store.get_article(first.article_id).story_id == first.story_id  # type: ignore[union-attr]
    assert store.unseen_guids(feed.id, ["g1"]) == set()
    assert store.watch_matched("w", first.article_id)
    assert store.dedup_sketches([first.article_id])  # indexed for the next decision
    (alert,) = store.alerts()
    assert alert.type == "article.matched" and alert.payload["story"]["id"] == first.story_id

    # the same text from another site: a copy in the same story, folded (no new outlet
    # alert on a log channel)
    copy = apply_article(
        store,
        decisions(store, feed.id, 2, url="https://other.example/2", site_name="Other"),
        {},
    )
    assert copy.story_id == first.story_id and copy.alerts == 0
    assert store.get_article(copy.article_id).duplicate_of == first.article_id  # type: ignore[union-attr]

    # the first URL again with the same text: "same", only the entry is linked
    again = decisions(store, feed.id, 1)
    assert again.dedup.kind == "same"
    again = ArticleDecisions(feed.id, "g1-bis", again.article, again.dedup)
    same = apply_article(store, again, {})
    assert (same.article_id, same.matches, same.alerts) == (first.article_id, 0, 0)
    assert store.article_count() == 2 and len(store.alerts()) == 1


def test_nothing_is_written_when_a_step_fails(store, monkeypatch):
    feed = store.sync_feed("f", "https://news.example/rss")
    d = decisions(store, feed.id, 1)

    def broken(event):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "enqueue_alert", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        apply_article(store, d, {})
    assert store.article_count() == 0 and store.stories() == []
    assert store.unseen_guids(feed.id, ["g1"]) == {"g1"}  # processed again next time
    assert store.articles_without_urls() == [] and store.dedup_known([1]) is None
