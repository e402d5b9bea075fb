"""The typed rows the store hands out (and the few records it takes in).

Frozen dataclasses, one per query shape; nothing outside :mod:`monitor.store` indexes a
row by column name. Times stay as the stored ISO strings where the callers print or
serialise them as such (``monitor status --json``); :class:`StoredAlert` parses them.
This module imports nothing heavy, so the store stays cheap to import.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from monitor.models import AlertEvent


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    dt = datetime.fromisoformat(s)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _pick(cls: type, r: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in r.items() if k in names}


class _FromRow:
    """Rows made from a query's dict by their field names (other columns are ignored)."""

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Self:
        return cls(**_pick(cls, r))


def as_dict(row: Any) -> dict[str, Any]:
    """A row as a JSON-ready dict (for ``--json`` output)."""
    return dataclasses.asdict(row)


# -- feeds ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedStatusRow:
    """Per-feed health for ``monitor status``."""

    name: str
    url: str
    config_url: str
    title: str | None
    last_poll: str | None
    last_status: int | None
    last_error: str | None
    failures: int
    next_poll: str | None
    disabled_reason: str | None
    articles: int  # distinct articles its entries brought

    @property
    def health(self) -> str:
        """ "disabled", "error" (the last poll failed), "warning" (it was read, with a
        complaint: malformed, no entries), "ok", or "new" (never polled)."""
        if self.disabled_reason:
            return "disabled"
        if self.failures:
            return "error"
        if self.last_error:
            return "warning"
        return "ok" if self.last_poll else "new"

    @property
    def failing(self) -> bool:
        """Whether the feed needs a look: in error, with a warning, or disabled. The one
        definition behind ``monitor status --failing``, the web view's "failing" filter
        and the overview's failing feeds."""
        return self.health in FAILING_HEALTH


# the health states that count as failing (FeedStatusRow.failing)
FAILING_HEALTH = frozenset({"error", "warning", "disabled"})


@dataclass(frozen=True)
class FeedEntryRow(_FromRow):
    """One entry a feed brought, with its stored article (if it was stored)."""

    guid: str
    first_seen: str
    article_id: int | None
    title: str | None
    url: str | None
    published: str | None
    story_id: int | None


@dataclass(frozen=True)
class PageErrorsRow:
    """How many of a feed's article pages could not be fetched, and the last reason; how
    many entries were stored with the feed's text although their page was asked for."""

    feed: str
    count: int
    last_error: str | None
    last_at: str
    fallbacks: int = 0


# -- articles ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArticleRow(_FromRow):
    id: int
    url: str
    canonical_url: str | None
    title: str
    author: str | None
    published: str | None
    site_name: str | None
    fetched_at: str
    text: str
    text_source: str
    content_hash: str
    story_id: int | None
    revision: int
    updated_at: str | None
    duplicate_of: int | None


@dataclass(frozen=True)
class SearchHitRow(_FromRow):
    """A stored article found by full-text search, with a highlighted extract.

    ``snippet`` marks the found words with U+E000 (start) and U+E001 (end), characters
    that never occur in article text, so a page can escape the text and then highlight."""

    id: int
    title: str
    url: str
    site_name: str | None
    published: str | None
    fetched_at: str
    story_id: int | None
    snippet: str


@dataclass(frozen=True)
class ArticleRevisionRow:
    """An earlier text of a revised article."""

    article_id: int
    revision: int
    title: str
    text: str
    content_hash: str
    fetched_at: str | None


# -- dedup index ---------------------------------------------------------------------------
@dataclass(frozen=True)
class KnownArticle:
    """A stored article found by URL identity or content hash."""

    article_id: int
    content_hash: str
    text_source: str
    revision: int
    story_id: int | None
    site: str


@dataclass(frozen=True)
class SketchRow:
    """A stored similarity sketch (``terms`` packed, see ``monitor.dedup.unpack_terms``)."""

    article_id: int
    story_id: int | None
    duplicate_of: int | None
    site: str
    t: int  # event time, unix seconds
    minhash: bytes
    terms: bytes


@dataclass(frozen=True)
class SketchRecord:
    """An article's sketch as it is written (``monitor.dedup.fingerprint_row`` makes it)."""

    article_id: int
    seen: int  # fetch time, unix seconds
    t: int  # event time, unix seconds
    story_id: int | None
    duplicate_of: int | None
    site: str
    content_hash: str
    minhash: bytes
    terms: bytes


# -- stories -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoryArticleRow:
    """One report of a story."""

    id: int
    title: str
    url: str
    site_name: str | None
    published: str | None
    fetched_at: str | None
    duplicate_of: int | None
    revision: int | None
    feeds: tuple[str, ...]
    outlet: str  # the page's site name, else the feed's name, else the host


@dataclass(frozen=True)
class StoryRow:
    """A story with its reports, outlets and the watches that matched it."""

    id: int
    title: str
    first_article_id: int
    articles: int
    first_seen: str
    last_seen: str
    created_at: str
    updated_at: str
    article_list: tuple[StoryArticleRow, ...] = ()
    outlets: tuple[str, ...] = ()
    watches: tuple[str, ...] = ()


# -- alert outbox --------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredAlert:
    id: str
    type: str
    channel: str
    watch: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    digest_id: str | None = None  # the digest message that carried it, if any
    first_attempt: datetime | None = None
    acknowledged_at: datetime | None = None  # a person marked it seen (web view)

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> StoredAlert:
        created = from_iso(r["created_at"])
        assert created is not None
        return cls(
            id=r["id"],
            type=r["type"],
            channel=r["channel"],
            watch=r["watch"],
            payload=json.loads(r["payload"]),
            status=r["status"],
            attempts=r["attempts"],
            next_attempt=from_iso(r["next_attempt"]),
            last_error=r["last_error"],
            created_at=created,
            delivered_at=from_iso(r["delivered_at"]),
            digest_id=r.get("digest_id"),
            first_attempt=from_iso(r.get("first_attempt")),
            acknowledged_at=from_iso(r.get("acknowledged_at")),
        )

    def event(self) -> AlertEvent:
        return AlertEvent(
            id=self.id,
            type=self.type,
            channel=self.channel,
            watch=self.watch,
            payload=self.payload,
            created_at=self.created_at,
        )


@dataclass(frozen=True)
class ChannelHealthRow:
    """A channel's state (ok | failing | unknown, since when) and its undelivered alerts."""

    channel: str
    state: str
    since: str | None
    failures: int
    pending: int
    failed: int
    last_error: str | None
    last_success: str | None


@dataclass(frozen=True)
class ChannelCountsRow:
    """How many of a channel's alerts were delivered, wait, or gave up."""

    channel: str
    delivered: int
    pending: int
    failed: int


# -- claims --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimRow(_FromRow):
    id: int
    watch: str
    origin: str  # article | config
    statement: str
    proposition: str  # JSON: subject/predicate/object and their keys
    predicate_key: str
    polarity: str  # asserted | denied
    modality: str
    config_text: str | None
    first_article_id: int | None
    first_source: str | None
    first_outlet: str | None
    first_url: str | None
    first_title: str | None
    first_published: str | None
    created_at: str


@dataclass(frozen=True)
class ClaimEvidenceRow:
    """One report on a claim (``source_keys`` decoded)."""

    id: int
    claim_id: int
    article_id: int | None
    role: str  # origin | confirms | discusses
    quote: str
    statement: str | None
    field: str | None
    attribution: str | None
    source_keys: tuple[str, ...]
    outlet: str | None
    url: str | None
    title: str | None
    published: str | None
    polarity: str | None
    modality: str | None
    confidence: float | None
    copy: int
    alerted: int
    created_at: str

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> ClaimEvidenceRow:
        d = _pick(cls, r)
        d["source_keys"] = tuple(json.loads(r["source_keys"] or "[]"))
        return cls(**d)


@dataclass(frozen=True)
class ClaimRelationRow:
    claim_a: int  # the older claim
    claim_b: int
    relation: str  # contradicts
    confidence: float | None
    evidence_id: int | None
    created_at: str


@dataclass(frozen=True)
class NewClaim:
    """A claim to store (declared in the config, or first reported by an article)."""

    watch: str
    origin: str
    statement: str
    proposition: str  # JSON
    predicate_key: str
    polarity: str
    modality: str
    config_text: str | None = None
    first_article_id: int | None = None
    first_source: str | None = None
    first_outlet: str | None = None
    first_url: str | None = None
    first_title: str | None = None
    first_published: datetime | None = None


@dataclass(frozen=True)
class NewEvidence:
    """A report on a claim, to store."""

    claim_id: int
    article_id: int | None
    role: str
    quote: str
    statement: str | None
    field: str | None
    attribution: str | None
    source_keys: tuple[str, ...]
    outlet: str | None
    url: str | None
    title: str | None
    published: datetime | None
    polarity: str | None
    modality: str | None
    confidence: float | None
    copy: int = 0
    alerted: int = 0


# -- distributed roles ------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerRow(_FromRow):
    """A scheduler, worker or delivery process and its last heartbeat (`monitor status`)."""

    name: str  # host:pid
    role: str  # scheduler | worker | deliver
    started_at: str
    heartbeat: str
    tasks: int
    current: str | None
    stopped_at: str | None


@dataclass(frozen=True)
class LeaseRow(_FromRow):
    """A feed's lease: who polls it, until when at most."""

    feed: str
    holder: str
    taken_at: str
    expires_at: str
