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
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin
from xml.parsers import expat

import feedparser

from monitor.errors import FeedParseError
from monitor.models import Entry, ParsedFeed
from monitor.text import html_to_text

MAX_ENTRIES = 500  # per fetch; a feed with more is truncated (newest first as served)
# Elements inside one another: a feed needs under 10, HTML in CDATA does not count. A feed
# nested thousands deep (still under the size cap) costs feedparser seconds per megabyte.
MAX_DEPTH = 100
# For XML that does not parse strictly, tags are counted roughly (unclosed <br>, <p> in
# escaped HTML...), so the bound there is looser.
MAX_ROUGH_DEPTH = 1000
_TAG_RE = re.compile(rb"<(/?)([A-Za-z_][\w.:-]*)[^<>]*?(/?)>")
_VOID = frozenset(b"area base br col embed hr img input link meta param source track wbr".split())


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from ``url``."""
    head = content[:200].lstrip()
    if head.startswith(b"{") or (content_type and "json" in content_type.lower()):
        return _parse_json_feed(content, url)
    check_depth(content)
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


class _Stop(Exception):
    pass


def check_depth(content: bytes) -> None:
    """Refuse a document whose elements nest deeper than :data:`MAX_DEPTH`, in one cheap
    pass of expat (C speed, stops at the first level too many); a document expat cannot
    read, or one declaring entities, is checked by a rough tag count instead."""
    depth = 0

    def start(name: str, attrs: Any) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise _Stop("deep")

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    def no_entities(*args: Any) -> None:
        raise _Stop("entities")

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = no_entities
    try:
        parser.Parse(content, True)
        return
    except _Stop as e:
        if str(e) == "deep":
            raise FeedParseError(_too_deep(MAX_DEPTH)) from None
    except expat.ExpatError:
        pass
    _check_rough_depth(content)


def _check_rough_depth(content: bytes) -> None:
    depth = 0
    for m in _TAG_RE.finditer(content):
        closing, name, selfclosing = m.groups()
        if closing:
            depth = max(0, depth - 1)
        elif not selfclosing and name.lower() not in _VOID:
            depth += 1
            if depth > MAX_ROUGH_DEPTH:
                raise FeedParseError(_too_deep(MAX_ROUGH_DEPTH))


def _too_deep(limit: int) -> str:
    return f"not read: elements nested more than {limit} deep (a feed needs under 10)"


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
    except RecursionError:
        raise FeedParseError("not read: a JSON feed nested too deeply") from None
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
