"""Fetched bytes → :class:`~monitor.models.ParsedFeed`.

feedparser reads RSS 0.9x/1.0/2.0 and Atom; it is only ever given bytes (it never
fetches anything itself). JSON Feed 1.x is read here with the json module. Nothing of
feedparser's result objects leaves this module.

A malformed feed that still yields entries is accepted with a warning; bytes that hold
no feed at all raise :class:`~monitor.errors.FeedParseError`.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.errors import FeedParseError
from monitor.models import Entry, ParsedFeed
from monitor.text import html_to_text

MAX_ENTRIES = 500  # per fetch; a feed with more is truncated (newest first as served)


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from ``url``."""
    head = content[:200].lstrip()
    if head.startswith(b"{") or (content_type and "json" in content_type.lower()):
        return _parse_json_feed(content, url)
    # No content-location: feedparser would resolve RSS guids against it, and an
    # identity that changes when the feed moves would re-alert every entry.
    # Links are resolved against the feed's URL in _entry instead.
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    d = feedparser.parse(content, response_headers=headers, sanitize_html=True)
    entries_raw = d.get("entries", [])
    feed = d.get("feed", {})
    if d.get("bozo") and not entries_raw and not feed.get("title"):
        exc = d.get("bozo_exception")
        detail = f": {_short(exc)}" if exc else ""
        raise FeedParseError(f"not a readable RSS/Atom/JSON feed{detail}")
    if not d.get("version") and not entries_raw:
        raise FeedParseError("not an RSS/Atom/JSON feed (no feed elements found)")
    entries = [_entry(e, url) for e in entries_raw[:MAX_ENTRIES]]
    warning = None
    if d.get("bozo"):
        warning = f"malformed feed, read what could be read: {_short(d.get('bozo_exception'))}"
    ttl = None
    if str(feed.get("ttl", "")).isdigit():
        ttl = float(feed["ttl"]) * 60
    return ParsedFeed(
        title=feed.get("title"),
        link=feed.get("link"),
        entries=entries,
        ttl_seconds=ttl,
        warning=warning,
    )


def _short(exc: Any) -> str:
    text = str(exc) if exc is not None else "unknown problem"
    return text if len(text) <= 200 else text[:197] + "..."


def _time(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _stable_guid(*parts: str | None) -> str:
    h = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:32]
    return f"urn:sha256:{h}"


def _entry(e: Any, base: str) -> Entry:
    link = e.get("link")
    if link:
        link = urljoin(base, link.strip())
    title = html_to_text(e.get("title") or "").strip()
    summary = html_to_text(e["summary"]) if e.get("summary") else None
    content = None
    if e.get("content"):
        # the richest (longest) content element
        best = max(e["content"], key=lambda c: len(c.get("value") or ""))
        content = html_to_text(best.get("value") or "") or None
    published = _time(e.get("published_parsed")) or _time(e.get("updated_parsed"))
    guid = (e.get("id") or "").strip() or link or _stable_guid(title, summary, str(published))
    author = e.get("author") or None
    tags = tuple(t.get("term", "") for t in e.get("tags", []) if t.get("term"))
    if content and summary and content == summary:
        summary = None if len(content) > 400 else summary
    return Entry(
        guid=guid,
        link=link,
        title=title or (summary or content or link or "")[:120],
        author=author,
        published=published,
        summary=summary,
        content=content,
        tags=tags,
    )


def _parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FeedParseError(f"not a readable JSON feed: {e}") from None
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        raise FeedParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed has no 'items' list")
    entries = []
    for item in items[:MAX_ENTRIES]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        link = urljoin(url, str(link)) if link else None
        html = item.get("content_html")
        content = html_to_text(html) if isinstance(html, str) else item.get("content_text")
        summary = item.get("summary")
        published = None
        for key in ("date_published", "date_modified"):
            if isinstance(item.get(key), str):
                try:
                    published = datetime.fromisoformat(item[key].replace("Z", "+00:00"))
                    break
                except ValueError:
                    pass
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next((a.get("name") for a in authors if isinstance(a, dict)), None)
        title = str(item.get("title") or "")
        guid = str(item.get("id") or "") or link or _stable_guid(title, content)
        entries.append(
            Entry(
                guid=guid,
                link=link,
                title=title or (summary or content or "")[:120],
                author=author,
                published=published,
                summary=summary if isinstance(summary, str) else None,
                content=content if isinstance(content, str) else None,
                tags=tuple(str(t) for t in item.get("tags", []) if isinstance(t, str)),
            )
        )
    return ParsedFeed(title=data.get("title"), link=data.get("home_page_url"), entries=entries)
