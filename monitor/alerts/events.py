"""Event payloads. Their JSON shape is versioned by ``schema_version``."""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

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


def per_channel(
    etype: str, watch: str, channels: list[str], body: dict[str, Any], now: datetime | None
) -> list[AlertEvent]:
    """One event per channel: each its own id, the common envelope, then ``body``.

    Each channel gets a row (and an id) of its own, so each is delivered, retried and
    acknowledged on its own.
    """
    created = now or datetime.now(UTC)
    events = []
    for channel in channels:
        eid = new_event_id()
        payload = {
            "type": etype,
            "id": eid,
            "schema_version": SCHEMA_VERSION,
            "created_at": _iso(created),
            "watch": watch,
            **copy.deepcopy(body),
        }
        events.append(AlertEvent(eid, etype, channel, watch, payload=payload, created_at=created))
    return events


def article_matched(
    article: Article,
    match: Match,
    channels: list[str],
    *,
    now: datetime | None = None,
    story: dict[str, Any] | None = None,
) -> list[AlertEvent]:
    """One ``article.matched`` event per channel of the watch.

    ``story``: the dedup stage's story reference (``{"id", "title", ...}``), if any.
    """
    body: dict[str, Any] = {
        "article": article_summary(article),
        "matched_terms": list(match.terms),
        "snippets": list(match.snippets),
        "snippet": match.snippets[0] if match.snippets else "",
    }
    if story is not None:
        body["story"] = story
    return per_channel("article.matched", match.watch, channels, body, now)


def story_updated(
    article: Article,
    match: Match,
    story: dict[str, Any],
    channels: list[str],
    *,
    relation: Literal["copy", "report"] = "report",
    now: datetime | None = None,
) -> list[AlertEvent]:
    """``story.updated``: a story the watch already alerted on has a new report.

    ``story``: ``{"id", "title", "articles", "outlets", "first_seen"}`` from the dedup
    stage; ``relation``: "copy" when the article is another outlet's copy of one already in
    the story, "report" when it is a report of its own. Built for the channels the pipeline
    picks (webhook-type ones; see docs/dedup.md).
    """
    body = {
        "story": story,
        "article": article_summary(article),
        "relation": relation,
        "matched_terms": list(match.terms),
        "snippet": match.snippets[0] if match.snippets else "",
    }
    return per_channel("story.updated", match.watch, channels, body, now)


# -- claims (built by the claims stage, shape fixed by schemas/claim.*.json) ----------------
ClaimRelation = Literal["confirms", "contradicts"]
Polarity = Literal["positive", "negative"]


@dataclass(frozen=True)
class ClaimRef:
    """The stored claim a new report relates to, and where it was first seen."""

    id: int | str
    text: str
    polarity: Polarity = "positive"
    first_outlet: str | None = None
    first_url: str | None = None
    first_title: str | None = None
    first_published: datetime | None = None
    first_source: str | None = None  # who made the claim in its first report ("Kremlin")
    origin: str | None = None  # "article" or "declared" (from the config)
    proposition: str | None = None  # "Putin / congratulate / Trump"


@dataclass(frozen=True)
class Evidence:
    """The passage of the new report that confirms or contradicts the claim."""

    quote: str
    attribution: str | None = None  # who the report says said it ("a Kremlin spokesman")
    polarity: Polarity | None = None
    modality: str | None = None  # "stated", "reported", "planned", ...
    claim_id: int | str | None = None  # the claim this passage was stored as


def claim_related(
    relation: ClaimRelation,
    article: Article,
    claim: ClaimRef,
    evidence: Evidence,
    confidence: float,
    watch: str,
    channels: list[str],
    *,
    story: dict[str, Any] | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> list[AlertEvent]:
    """One ``claim.confirmed`` / ``claim.contradicted`` event per channel.

    ``note``: what the confidence means, in plain words (``confidence_note``);
    ``story``: the dedup story of the article (the email thread of the story)."""
    etype = "claim.confirmed" if relation == "confirms" else "claim.contradicted"
    art = article_summary(article)
    first_seen = {
        "outlet": claim.first_outlet,
        "url": claim.first_url,
        "title": claim.first_title,
        "published": _iso(claim.first_published),
    }
    claim_part: dict[str, Any] = {
        "id": claim.id,
        "text": claim.text,
        "polarity": claim.polarity,
        "first_seen": first_seen,
    }
    evidence_part: dict[str, Any] = {
        "quote": evidence.quote,
        "attribution": evidence.attribution,
        "polarity": evidence.polarity,
        "outlet": art["source"],
        "url": art["url"],
    }
    # optional fields are left out rather than sent as null
    for part, key, value in (
        (first_seen, "source", claim.first_source),
        (claim_part, "origin", claim.origin),
        (claim_part, "proposition", claim.proposition),
        (evidence_part, "modality", evidence.modality),
        (evidence_part, "claim_id", evidence.claim_id),
    ):
        if value is not None:
            part[key] = value
    body: dict[str, Any] = {
        "relation": relation,
        "confidence": round(float(confidence), 4),
        **({"confidence_note": note} if note else {}),
        "claim": claim_part,
        "evidence": evidence_part,
        "article": art,
    }
    if story is not None:
        body["story"] = story
    return per_channel(etype, watch, channels, body, now)


def claim_confirmed(
    article: Article,
    claim: ClaimRef,
    evidence: Evidence,
    confidence: float,
    watch: str,
    channels: list[str],
    **kw: Any,
) -> list[AlertEvent]:
    return claim_related("confirms", article, claim, evidence, confidence, watch, channels, **kw)


def claim_contradicted(
    article: Article,
    claim: ClaimRef,
    evidence: Evidence,
    confidence: float,
    watch: str,
    channels: list[str],
    **kw: Any,
) -> list[AlertEvent]:
    return claim_related("contradicts", article, claim, evidence, confidence, watch, channels, **kw)


# -- digests (built by the outbox from pending alerts of one channel) ------------------------
def digest_id(alert_ids: list[str]) -> str:
    """Stable for the same set of alerts, so a re-sent digest keeps its idempotency key."""
    h = hashlib.sha256("\n".join(sorted(alert_ids)).encode()).hexdigest()
    return f"dig_{h[:32]}"


def digest(events: list[AlertEvent], channel: str, *, now: datetime | None = None) -> AlertEvent:
    """One ``digest`` event carrying the payloads of several alerts of one channel."""
    created = now or datetime.now(UTC)
    did = digest_id([e.id for e in events])
    watches = sorted({e.watch for e in events})
    payload = {
        "type": "digest",
        "id": did,
        "schema_version": SCHEMA_VERSION,
        "created_at": _iso(created),
        "channel": channel,
        "watches": watches,
        "count": len(events),
        "events": [e.payload for e in events],
    }
    return AlertEvent(
        did, "digest", channel, ",".join(watches), payload=payload, created_at=created
    )
