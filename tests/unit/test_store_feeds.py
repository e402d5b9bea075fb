"""Store, feeds domain: polling state and the entries each feed listed."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.store.rows import FeedStatusRow
from tests.unit.conftest import article


def test_feed_state_round_trip_and_config_url_reset(store):
    assert store.feed_state("f") is None
    st = store.sync_feed("f", "https://a.example/rss")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.update_feed("f", etag='"x"', failures=3, next_poll=when, last_error="HTTP 500")
    got = store.feed_state("f")
    assert got is not None and got.id == st.id
    assert (got.etag, got.failures, got.next_poll, got.last_error) == ('"x"', 3, when, "HTTP 500")
    # the same config URL keeps the state; a new one resets it
    assert store.sync_feed("f", "https://a.example/rss").failures == 3
    reset = store.sync_feed("f", "https://b.example/rss")
    assert (reset.url, reset.etag, reset.failures, reset.next_poll) == (
        "https://b.example/rss",
        None,
        0,
        None,
    )


def test_feed_status_counts_distinct_articles(store):
    a = store.sync_feed("a", "https://a.example/rss")
    store.sync_feed("b", "https://b.example/rss")
    with store.transaction():
        aid = store.insert_article(article(1), "h1")
        store.link_entry(a.id, "g1", aid)
        store.link_entry(a.id, "g1-again", aid)  # the same article under a second guid
        store.link_entry(a.id, "g2", None)  # an entry that brought no article
    rows = store.feed_status()
    assert [type(r) for r in rows] == [FeedStatusRow, FeedStatusRow]
    assert [(r.name, r.articles) for r in rows] == [("a", 1), ("b", 0)]


def test_entries_seen_and_linked(store):
    st = store.sync_feed("f", "https://a.example/rss")
    other = store.sync_feed("g", "https://g.example/rss")
    assert store.unseen_guids(st.id, ["g1", "g2", "g1"]) == {"g1", "g2"}
    with store.transaction():
        aid = store.insert_article(article(1), "h1")
        store.link_entry(st.id, "g1", aid)
    assert store.unseen_guids(st.id, ["g1", "g2"]) == {"g2"}
    assert store.unseen_guids(other.id, ["g1"]) == {"g1"}  # per feed
    assert store.article_in_feed(aid, st.id) and not store.article_in_feed(aid, other.id)
    # many guids (more than one query's worth of parameters)
    many = [f"x{i}" for i in range(1200)]
    assert store.unseen_guids(st.id, many) == set(many)


def _writes(store) -> int | list[str]:
    """What a write to the feeds table changes: SQLite's count of changed rows; on
    PostgreSQL the feed rows' versions (``xmin``: the transaction that last wrote each)."""
    if store.db.dialect.name == "postgresql":
        return [r["v"] for r in store.db.query("SELECT xmin::text AS v FROM feeds ORDER BY name")]
    return store.db.conn.total_changes


def test_feed_updates_in_one_batch_and_unchanged_sync_writes_nothing(store):
    store.sync_feeds([("a", "https://a.example/rss"), ("b", "https://b.example/rss")])
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    before = _writes(store)
    store.update_feeds(
        [("a", {"etag": '"a1"', "next_poll": when, "failures": 0}), ("b", {"failures": 2})]
    )
    after = _writes(store)
    if isinstance(before, int):  # SQLite: two rows changed
        assert after == before + 2
    else:  # PostgreSQL: both rows rewritten, by one transaction
        assert after[0] != before[0] and after[1] != before[1] and after[0] == after[1]
    a, b = store.feed_state("a"), store.feed_state("b")
    assert a is not None and b is not None
    assert (a.etag, a.next_poll, b.failures, b.etag) == ('"a1"', when, 2, None)
    # a known feed with the same config URL: read, not written
    before = _writes(store)
    assert store.sync_feed("a", "https://a.example/rss").etag == '"a1"'
    store.sync_feeds([("a", "https://a.example/rss"), ("b", "https://b.example/rss")])
    assert _writes(store) == before
    # a cycle's states in one read: only feeds stored under the same config URL
    states = store.synced_states(
        [("a", "https://a.example/rss"), ("b", "https://moved.example/rss"), ("c", "x")]
    )
    assert list(states) == ["a"] and states["a"].etag == '"a1"'
