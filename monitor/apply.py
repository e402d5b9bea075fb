"""The apply step: write all of one article's decisions in one transaction.

The stages decide without writing: dedup returns a ``DedupDecision``, matching a list of
matches, the claims stage a ``ClaimDecision`` per claim-tracking watch. The pipeline
gathers them in an :class:`ArticleDecisions` and :func:`apply_article` writes the
article (or its revision), the feed entry, the dedup index, the matches, the claims and
the outbox rows together: all of them commit, or none.

The alert events are made here, from what was written: the story as it stands with the
article in it (:func:`monitor.alerts.folding.match_alerts` decides whether a match
folds into an earlier alert), and the claim events with their stored ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.alerts.events import ClaimRef, Evidence, claim_related
from monitor.alerts.folding import match_alerts, story_ref
from monitor.claims.track import ClaimDecision, ClaimEvent, polarity_word
from monitor.config import WatchConfig
from monitor.dedup import DedupDecision, fingerprint_row, url_hash
from monitor.models import AlertEvent, Article, Match
from monitor.store import Store
from monitor.store.rows import NewClaim


@dataclass(frozen=True)
class WatchDecision:
    """A new match of one watch, and (when the watch tracks claims) the claims decision."""

    match: Match
    watch: WatchConfig
    claims: ClaimDecision | None = None
    # why the match alerts nobody ("baseline": a feed's first poll; "too old": published
    # before the watch's ignore_older_than): it is stored, its alerts are counted, not sent
    suppress: str | None = None


@dataclass(frozen=True)
class ArticleDecisions:
    """Everything decided about one feed entry's article, ready to write."""

    feed_id: int
    guid: str
    article: Article
    dedup: DedupDecision
    watches: tuple[WatchDecision, ...] = ()  # the matches the watches had not made before
    matched: int = 0  # every match found (a revision may repeat earlier ones)


@dataclass(frozen=True)
class Applied:
    article_id: int
    story_id: int
    matches: int
    alerts: int
    claims: tuple[ClaimDecision, ...] = ()  # with their stored ids
    suppressed: dict[str, int] = field(default_factory=dict)  # reason → alerts not sent


def apply_article(store: Store, d: ArticleDecisions, channels: Mapping[str, Any]) -> Applied:
    """Write one article's decisions in one transaction; ``channels``: the [alerts] config."""
    with store.transaction():
        article_id, story_id = apply_dedup(store, d.article, d.dedup)
        store.link_entry(d.feed_id, d.guid, article_id)
        if d.dedup.kind == "same":
            return Applied(article_id, story_id, 0, 0)
        story = story_ref(story_id, store.story(story_id)) if d.matched else {}
        n_alerts = 0
        suppressed: dict[str, int] = {}
        claims: list[ClaimDecision] = []
        for w in d.watches:
            # a revision that the watch matched before was left out by the pipeline
            if not store.insert_match(article_id, w.match):
                continue
            events = match_alerts(
                store, d.article, article_id, w.match, w.watch, d.dedup, story, channels
            )
            # Claim events go out whatever the story folding decided.
            if w.claims is not None:
                resolved = apply_claims(store, w.claims, article_id)
                claims.append(resolved)
                events += [
                    e
                    for ev in resolved.events
                    for e in claim_alerts(d.article, ev, w.watch.alerts, story)
                ]
            if w.suppress:
                suppressed[w.suppress] = suppressed.get(w.suppress, 0) + len(events)
                continue
            for event in events:
                n_alerts += store.enqueue_alert(event)
        return Applied(article_id, story_id, d.matched, n_alerts, tuple(claims), suppressed)


def apply_dedup(store: Store, article: Article, decision: DedupDecision) -> tuple[int, int]:
    """Write what dedup decided about a new or revised article (inside a transaction).

    Returns (article id, story id). A "same" decision writes nothing but the URLs.
    """
    fp = decision.fingerprint
    url_hashes = [url_hash(k) for k in fp.url_keys]
    if decision.kind == "same":
        assert decision.article_id is not None
        store.dedup_add_urls(decision.article_id, url_hashes)
        return decision.article_id, decision.story_id or 0
    story_id = decision.story_id
    if decision.kind == "revision":
        assert decision.article_id is not None
        article_id = decision.article_id
        store.revise_article(article_id, article, fp.content_hash)
    else:
        article_id = store.insert_article(article, fp.content_hash)
    if story_id is None:
        story_id = store.create_story(article.title, article_id, fp.when)
    elif decision.kind != "revision":
        store.join_story(story_id, article_id, fp.when, decision.duplicate_of)
    seen = article.fetched_at or datetime.now(UTC)
    store.dedup_record(
        fingerprint_row(article_id, fp, story_id, seen, decision.duplicate_of),
        url_hashes,
        fp.bands,
        fp.key_terms,
    )
    return article_id, story_id


def apply_claims(store: Store, decision: ClaimDecision, article_id: int) -> ClaimDecision:
    """Write a claims decision for a stored article (inside its transaction); the decision
    with the stored claim ids."""
    ids: dict[int, int] = {}
    for provisional, claim in decision.new_claims.items():
        first = claim.first_article_id or article_id
        ids[provisional] = store.insert_claim(dataclasses.replace(claim, first_article_id=first))
    resolved = decision.resolved(ids, article_id)
    for e in resolved.evidence:
        store.add_claim_evidence(e)
    for r in resolved.relations:
        store.add_claim_relation(r.older, r.newer, r.relation, r.confidence, None)
    return resolved


def apply_declared_claims(store: Store, claims: Iterable[NewClaim]) -> list[int]:
    """Store the declared claims the claims stage found missing; their ids."""
    with store.transaction():
        return [store.insert_declared_claim(c) for c in claims]


def claim_alerts(
    article: Article,
    ev: ClaimEvent,
    channels: list[str],
    story: dict[str, Any] | None = None,
) -> list[AlertEvent]:
    """A claims event as alert events (one per channel); ``story``: the article's story
    reference, so that the claim's email joins the story's thread."""
    c, rec = ev.claim, ev.record
    attr = rec.attribution
    return claim_related(
        ev.relation,
        article,
        ClaimRef(
            id=c.id,
            text=c.statement,
            polarity=polarity_word(c.polarity),
            first_outlet=c.first_outlet,
            first_url=c.first_url,
            first_title=c.first_title,
            first_published=datetime.fromisoformat(c.first_published)
            if c.first_published
            else None,
            first_source=c.first_source,
            origin=c.origin,
            proposition=c.proposition.text(),
        ),
        Evidence(
            quote=rec.quote,
            attribution=attr.text if attr else None,
            polarity=polarity_word(rec.polarity),
            modality=rec.modality,
            claim_id=ev.evidence_claim_id,
        ),
        ev.confidence,
        ev.watch,
        channels,
        story=story or None,
        note=ev.note,
    )
