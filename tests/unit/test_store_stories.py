"""Store, stories domain: creating and joining stories, reading them back typed."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.models import Match
from monitor.store.rows import StoryArticleRow, StoryRow
from tests.unit.conftest import article


def test_stories_with_reports_outlets_and_watches(store):
    feed = store.sync_feed("Courier feed", "https://courier.example/rss")
    t1 = datetime(2024, 11, 6, 9, tzinfo=UTC)
    t2 = datetime(2024, 11, 7, 9, tzinfo=UTC)
    with store.transaction():
        a = store.insert_article(article(1), "h1")
        b = store.insert_article(
            article(2, site_name=None, url="https://www.courier.example/2"), "h2"
        )
        c = store.insert_article(
            article(3, site_name=None, url="https://www.other.example/3"), "h3"
        )
        store.link_entry(feed.id, "g2", b)
        sid = store.create_story("Title 1", a, t2)
        store.join_story(sid, b, t1, duplicate_of=a)
        store.join_story(sid, c, t2)
        store.insert_match(b, Match("w2", ("x",)))
        store.insert_match(a, Match("w1", ("x",)))
        lone = store.create_story("Title 4", store.insert_article(article(4), "h4"), t1)
    story = store.story(sid)
    assert isinstance(story, StoryRow)
    assert (story.title, story.articles, story.first_article_id) == ("Title 1", 3, a)
    assert (story.first_seen, story.last_seen) == (t1.isoformat(), t2.isoformat())
    assert story.watches == ("w1", "w2")
    # the outlet: the page's site name, else the feed's name, else the host
    assert story.outlets == ("News", "Courier feed", "other.example")
    first, second, _ = story.article_list
    assert isinstance(second, StoryArticleRow)
    assert (second.duplicate_of, second.feeds, second.revision) == (a, ("Courier feed",), 1)
    assert first.feeds == () and store.get_article(c).story_id == sid  # type: ignore[union-attr]
    assert store.story(999) is None
    assert [s.id for s in store.stories()] == [lone, sid]  # latest activity first
    assert [s.id for s in store.stories(watch="w2")] == [sid]
    assert [s.id for s in store.stories(limit=1)] == [lone]
