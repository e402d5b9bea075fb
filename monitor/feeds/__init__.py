"""Getting articles in: HTTP fetching, feed parsing, polling policy, page extraction, OPML.

- `fetch`: HTTP with caps, conditional GET, redirect and address checks (URL → `FetchResult`)
- `parse`: feedparser and JSON Feed (bytes → `ParsedFeed` / `Entry`)
- `schedule`: pure "when is this feed due" (`FetchResult` → `datetime`)
- `extract`: trafilatura in worker processes, fallback to the feed's text (HTML → `Article`)
- `opml`: OPML import into the config file
"""
