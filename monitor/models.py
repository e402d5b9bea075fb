"""The dataclasses that travel between pipeline stages.

Data flows one way::

    config → daemon → fetch → parse → extract → dedup → match → claims → store → alerts

Every stage takes some of these in and hands some of these out; no stage hands a
library object (a feedparser dict, an httpx response, a sqlite row) to the next one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

TextSource = Literal["page", "feed-content", "feed-summary", "title"]

# The longest text a field of a feed, an entry or an article keeps (in characters): a feed
# can put a megabyte in a title; what is stored, matched and sent is cut here.
FIELD_LIMITS: dict[str, int] = {
    "title": 1000,
    "author": 300,
    "site_name": 300,
    "summary": 100_000,
    "content": 1_000_000,
    "text": 1_000_000,
}
MAX_TAGS, MAX_TAG = 50, 100


def _cap_fields(obj: Any) -> None:
    """Cut the text fields of a frozen dataclass to :data:`FIELD_LIMITS` (in place)."""
    for name, limit in FIELD_LIMITS.items():
        value = getattr(obj, name, None)
        if isinstance(value, str) and len(value) > limit:
            object.__setattr__(obj, name, value[: limit - 1] + "…")
    tags = getattr(obj, "tags", None) or getattr(obj, "feed_tags", None)
    if tags and (len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags)):
        attr = "tags" if hasattr(obj, "tags") else "feed_tags"
        object.__setattr__(obj, attr, tuple(t[:MAX_TAG] for t in tags[:MAX_TAGS]))


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about one feed between polls."""

    url: str
    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_poll: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    failures: int = 0
    next_poll: datetime | None = None
    disabled_reason: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one HTTP fetch: either content, 'not modified', or an error value."""

    requested_url: str
    url: str  # final URL after redirects
    status: int | None = None
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    # Set when the first hop was a permanent redirect (301/308): the new address to store.
    permanent_url: str | None = None
    retry_after: float | None = None  # seconds, from a Retry-After header
    cache_max_age: float | None = None  # seconds, from Cache-Control: max-age
    error: str | None = None  # human-readable; None means success
    error_kind: str | None = (
        None  # "timeout", "too-large", "http", "network", "blocked", "redirects", "gone"
    )
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Entry:
    """One item of a parsed feed."""

    guid: str
    link: str | None
    title: str
    author: str | None = None
    published: datetime | None = None
    summary: str | None = None  # plain text
    content: str | None = None  # plain text of the richest content element
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _cap_fields(self)


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: list[Entry]
    ttl_seconds: float | None = None  # <ttl> of RSS, when given
    warning: str | None = None  # the parser's complaint about a malformed feed that still parsed

    def __post_init__(self) -> None:
        _cap_fields(self)


@dataclass(frozen=True)
class Article:
    """An extracted article, ready for dedup, matching and claims."""

    url: str
    title: str
    text: str
    text_source: TextSource
    feed_name: str
    guid: str
    author: str | None = None
    published: datetime | None = None
    site_name: str | None = None
    canonical_url: str | None = None  # from <link rel=canonical> / og:url, if the page had one
    fetched_at: datetime | None = None
    feed_tags: tuple[str, ...] = ()
    id: int | None = None

    def __post_init__(self) -> None:
        _cap_fields(self)

    def replace(self, **changes: Any) -> Article:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Hit:
    """One place where one term of a rule matched."""

    term: str  # the term as written in the rule
    word: str  # the word of the article it matched
    field: str  # "title", "text", ...
    start: int  # character offsets in that field
    end: int


@dataclass(frozen=True)
class Match:
    """A watch rule matched an article."""

    watch: str
    terms: tuple[str, ...]  # distinct rule terms that matched
    hits: tuple[Hit, ...] = ()
    snippets: tuple[str, ...] = ()  # best one or two sentences, hit words marked with [[...]]


@dataclass(frozen=True)
class AlertEvent:
    """An event to deliver on one channel; stored in the outbox before any delivery."""

    id: str  # stable; sent as the idempotency key on every attempt
    type: str  # "article.matched", "story.updated", "claim.confirmed", "claim.contradicted"
    channel: str
    watch: str
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
