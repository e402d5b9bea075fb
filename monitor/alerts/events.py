"""Event payloads. Their JSON shape is versioned by ``schema_version``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from monitor.models import AlertEvent, Article, Match

SCHEMA_VERSION = 1


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def article_summary(article: Article) -> dict[str, Any]:
    return {
        "url": article.url,
        "title": article.title,
        "source": article.site_name or article.feed_name,
        "feed": article.feed_name,
        "author": article.author,
        "published": _iso(article.published),
    }


def article_matched(
    article: Article, match: Match, channels: list[str], *, now: datetime | None = None
) -> list[AlertEvent]:
    """One ``article.matched`` event per channel of the watch (same id body, one row each)."""
    created = now or datetime.now(UTC)
    events = []
    for channel in channels:
        eid = new_event_id()
        payload = {
            "type": "article.matched",
            "id": eid,
            "schema_version": SCHEMA_VERSION,
            "created_at": _iso(created),
            "watch": match.watch,
            "article": article_summary(article),
            "matched_terms": list(match.terms),
            "snippets": list(match.snippets),
            "snippet": match.snippets[0] if match.snippets else "",
        }
        events.append(
            AlertEvent(
                id=eid,
                type="article.matched",
                channel=channel,
                watch=match.watch,
                payload=payload,
                created_at=created,
            )
        )
    return events
