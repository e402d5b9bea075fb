from datetime import UTC, datetime

import pytest

from monitor.errors import FeedParseError
from monitor.feeds.parse import parse_feed

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Test Wire</title><link>https://wire.test/</link><ttl>30</ttl>
<item><title>First &amp; foremost</title><link>/news/1</link><guid>id-1</guid>
<pubDate>Thu, 07 Nov 2024 10:00:00 GMT</pubDate><description>&lt;p&gt;Short &lt;b&gt;summary&lt;/b&gt;&lt;/p&gt;</description>
<content:encoded><![CDATA[<p>Full text one.</p><p>Paragraph two.</p>]]></content:encoded></item>
<item><title>No guid here</title><link>https://wire.test/news/2</link></item>
<item><title>Nothing but a title</title></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Site</title>
<entry><id>tag:atom.test,2024:1</id><title>Atom entry</title>
<link rel="alternate" href="articles/a1.html"/><updated>2024-11-08T09:30:00Z</updated>
<author><name>Ann Writer</name></author><summary>The summary.</summary></entry>
</feed>"""


def test_rss_entries_links_guids_and_text():
    feed = parse_feed(RSS, "https://wire.test/feeds/rss.xml")
    assert feed.title == "Test Wire"
    assert feed.ttl_seconds == 1800
    first, second, third = feed.entries
    assert first.guid == "id-1"
    assert first.link == "https://wire.test/news/1"  # relative link resolved
    assert first.title == "First & foremost"
    assert first.summary == "Short summary"
    assert first.content == "Full text one.\nParagraph two."
    assert first.published == datetime(2024, 11, 7, 10, 0, tzinfo=UTC)
    assert second.guid == "https://wire.test/news/2"  # no guid: the link is the identity
    assert third.guid.startswith("urn:sha256:")
    # a stable identity: parsing again gives the same guid
    assert parse_feed(RSS, "https://wire.test/feeds/rss.xml").entries[2].guid == third.guid


def test_atom():
    feed = parse_feed(ATOM, "https://atom.test/feed/atom.xml")
    (e,) = feed.entries
    assert e.guid == "tag:atom.test,2024:1"
    assert e.link == "https://atom.test/feed/articles/a1.html"
    assert e.author == "Ann Writer"
    assert e.published == datetime(2024, 11, 8, 9, 30, tzinfo=UTC)


def test_json_feed():
    body = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J",
      "items": [{"id": "j1", "url": "/p/1", "title": "Hello", "content_html": "<p>Body <i>text</i></p>",
                 "date_published": "2024-11-07T10:00:00Z", "authors": [{"name": "Jo"}]}]}"""
    feed = parse_feed(body, "https://j.test/feed.json", "application/feed+json")
    (e,) = feed.entries
    assert (e.guid, e.link, e.content, e.author) == ("j1", "https://j.test/p/1", "Body text", "Jo")


def test_malformed_feed_still_yields_entries():
    broken = RSS.replace(b"</channel></rss>", b"<item><title>Unclosed")
    feed = parse_feed(broken, "https://wire.test/rss")
    assert [e.guid for e in feed.entries][:2] == ["id-1", "https://wire.test/news/2"]
    assert feed.warning and "malformed" in feed.warning


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><p>Just a web page</p></body></html>",
        b"\x00\x01garbage\xff",
        b"",
        b'{"not": "a feed"}',
    ],
)
def test_not_a_feed(body):
    with pytest.raises(FeedParseError) as e:
        parse_feed(body, "https://x.test/")
    assert "feed" in str(e.value).lower()
