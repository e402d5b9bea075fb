"""The one module that composes the stages, for one feed and for one cycle.

    fetch → parse → (fetch page → extract) → dedup → match → claims → store → alerts

Every failure of a feed or a page becomes a value (the feed's last error, the text
source of an article); nothing here raises to the daemon for bad input.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from monitor.alerts import Outbox, article_matched, make_channels
from monitor.alerts.events import ClaimRef, Evidence, claim_related, story_updated
from monitor.alerts.outbox import DeliveryReport
from monitor.claims.extract import PreparedArticle, prepare_article
from monitor.claims.judge import JudgeVerdict, LLMJudge
from monitor.claims.track import ClaimEvent, ClaimTracker, polarity_word
from monitor.config import Config, FeedConfig, WatchConfig
from monitor.dedup import (
    DedupDecision,
    Deduplicator,
    DedupSettings,
    fingerprint_row,
    url_hash,
    url_key,
    window_start,
)
from monitor.errors import FeedParseError
from monitor.feeds import schedule
from monitor.feeds.extract import Extractor, build_article
from monitor.feeds.fetch import PAGE_ACCEPT, Fetcher
from monitor.feeds.parse import parse_feed
from monitor.models import AlertEvent, Article, Entry, Match
from monitor.rules import RuleSet, document_from_article, prepare
from monitor.store import Store, from_iso

log = logging.getLogger("monitor.pipeline")


@dataclass
class FeedReport:
    name: str
    status: str  # "ok", "not-modified", "error", "disabled", "skipped"
    new_entries: int = 0
    articles: int = 0
    matches: int = 0
    alerts: int = 0
    error: str | None = None


@dataclass
class CycleReport:
    feeds: list[FeedReport] = field(default_factory=list)
    delivery: DeliveryReport | None = None

    @property
    def matches(self) -> int:
        return sum(f.matches for f in self.feeds)

    @property
    def errors(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.status == "error"]


def content_hash(article: Article) -> str:
    body = " ".join(article.text.split())
    return hashlib.sha256(f"{article.title}\n{body}".encode()).hexdigest()


def in_scope(watch: WatchConfig, feed: FeedConfig) -> bool:
    if watch.feeds and feed.name not in watch.feeds:
        return False
    return not (watch.tags and not set(watch.tags) & set(feed.tags))


def claim_alerts(article: Article, ev: ClaimEvent, channels: list[str]) -> list[AlertEvent]:
    """The claims stage's decision as alert events (one per channel)."""
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
    )


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


@dataclass
class ClaimsPrepass:
    """What asking the [claims.judge] worked out for an article, reused to store it."""

    matches: list[Match] | None = None
    prepared: dict[str, PreparedArticle] = field(default_factory=dict)  # by language
    judged: dict[int, JudgeVerdict] = field(default_factory=dict)  # claim id → verdict


class Pipeline:
    """Holds the long-lived parts (store, HTTP clients, worker pool, compiled rules)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.store = store
        self.fetcher = Fetcher(config.fetch)
        self.extractor = Extractor(config.extract.workers, config.extract.timeout)
        self._alert_client = httpx.AsyncClient(
            headers={"User-Agent": config.fetch.user_agent}, follow_redirects=False
        )
        self._busy: set[str] = set()
        self.reconfigure(config)
        self._backfill_dedup()

    def reconfigure(self, config: Config) -> None:
        """Swap in a new validated config (rules compiled, channels rebuilt)."""
        old = getattr(self, "config", None)
        self.config = config
        if old is not None and old.fetch != config.fetch:
            self._old_fetcher = self.fetcher
            self.fetcher = Fetcher(config.fetch)
        self.rules = RuleSet(config.rules)
        self.watches = {w.name: w for w in config.watches}
        self.languages = tuple(sorted({w.language for w in config.watches} | {"en"}))
        self.channels = make_channels(config.alerts, self._alert_client)
        self.outbox = Outbox(self.store, self.channels, dict(config.alerts))
        self.claims = ClaimTracker(config.claims.contradicts_threshold)
        judge_cfg = config.claims.judge
        if judge_cfg is None or not any(w.track_claims for w in config.watches):
            self.judge = None  # (no watch tracks claims: nothing to ask about)
        elif old is None or old.claims.judge != judge_cfg or getattr(self, "judge", None) is None:
            self.judge = LLMJudge.from_config(judge_cfg, client=self._alert_client)
        self.dedup = Deduplicator(
            self.store,
            DedupSettings(
                near_duplicate=config.dedup.near_duplicate,
                story=config.dedup.story_similarity,
                story_window=config.dedup.story_window,
            ),
        )
        with self.store.transaction():
            self.claims.sync_declared(self.store, config.watches)
        for feed in config.feeds:
            self.store.sync_feed(feed.name, feed.url)

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        old = getattr(self, "_old_fetcher", None)
        if old is not None:
            await old.aclose()
        await self._alert_client.aclose()
        self.extractor.close()

    # -- one feed -------------------------------------------------------------------------
    def is_due(self, feed: FeedConfig, now: datetime | None = None) -> bool:
        state = self.store.feed_state(feed.name)
        if state is None or state.next_poll is None:
            return True
        return state.next_poll <= (now or datetime.now(UTC))

    async def poll_feed(self, feed: FeedConfig) -> FeedReport:
        if feed.name in self._busy:
            return FeedReport(feed.name, "skipped", error="still polling from the last run")
        self._busy.add(feed.name)
        try:
            return await self._poll_feed(feed)
        finally:
            self._busy.discard(feed.name)

    async def _poll_feed(self, feed: FeedConfig) -> FeedReport:
        cfg = self.config
        state = self.store.sync_feed(feed.name, feed.url)
        if state.disabled_reason:
            return FeedReport(feed.name, "disabled", error=state.disabled_reason)
        interval = cfg.feed_interval(feed)
        result = await self.fetcher.fetch(
            state.url, etag=state.etag, last_modified=state.last_modified
        )
        now = datetime.now(UTC)
        updates: dict[str, object] = {"last_poll": now, "last_status": result.status}
        if result.permanent_url and result.permanent_url != state.url:
            log.info("feed %s moved permanently to %s", feed.name, result.permanent_url)
            updates["url"] = result.permanent_url

        def fail(message: str, disable: str | None = None) -> FeedReport:
            failures = state.failures + 1
            updates.update(
                last_error=message,
                failures=failures,
                next_poll=schedule.next_poll(
                    now,
                    interval,
                    result,
                    failures,
                    max_backoff=cfg.fetch.max_backoff,
                    jitter=cfg.fetch.jitter,
                ),
            )
            if disable:
                updates["disabled_reason"] = disable
            self.store.update_feed(feed.name, **updates)
            log.warning("feed %s: %s", feed.name, message)
            return FeedReport(feed.name, "error", error=message)

        if not result.ok:
            if result.error_kind == "gone":
                msg = f"{result.error}: the feed was removed; polling stopped (fix or remove it)"
                return fail(msg, disable=msg)
            return fail(result.error or "fetch failed")
        if result.not_modified:
            updates.update(
                failures=0,
                last_error=None,
                next_poll=schedule.next_poll(
                    now,
                    interval,
                    result,
                    0,
                    max_backoff=cfg.fetch.max_backoff,
                    jitter=cfg.fetch.jitter,
                ),
            )
            self.store.update_feed(feed.name, **updates)
            return FeedReport(feed.name, "not-modified")
        try:
            parsed = parse_feed(result.content, result.url, result.content_type)
        except FeedParseError as e:
            return fail(str(e))

        report = FeedReport(feed.name, "ok")
        assert state.id is not None
        guids = [e.guid for e in parsed.entries]
        unseen = self.store.unseen_guids(state.id, guids)
        new_entries = [e for e in parsed.entries if e.guid in unseen]
        # dict.fromkeys: one entry per guid even if the feed repeats itself
        new_entries = list({e.guid: e for e in new_entries}.values())
        report.new_entries = len(new_entries)
        articles = await asyncio.gather(*(self._article(feed, e) for e in new_entries))
        for entry, article in zip(new_entries, articles, strict=True):
            pre = await self._judge_claims(feed, article) if self.judge is not None else None
            matches, alerts = self._store_article(feed, state.id, entry, article, pre)
            report.articles += 1
            report.matches += matches
            report.alerts += alerts
        updates.update(
            etag=result.etag,
            last_modified=result.last_modified,
            failures=0,
            last_error=parsed.warning,
            title=parsed.title,
            next_poll=schedule.next_poll(
                now,
                interval,
                result,
                0,
                max_backoff=cfg.fetch.max_backoff,
                ttl=parsed.ttl_seconds,
                jitter=cfg.fetch.jitter,
            ),
        )
        self.store.update_feed(feed.name, **updates)
        return report

    async def _article(self, feed: FeedConfig, entry: Entry) -> Article:
        """Fetch and extract the entry's page; fall back to the feed's text."""
        page = None
        page_url = entry.link
        if entry.link and self.config.fetch.fetch_pages:
            # dedup: a page we have is not fetched again, unless this feed lists it under
            # a new guid (an update, likely): then it is fetched to look for a revision
            known = self.store.dedup_known([url_hash(url_key(entry.link))])
            if known is None or self._listed_in(feed, known["article_id"]):
                r = await self.fetcher.fetch(entry.link, accept=PAGE_ACCEPT)
                if r.ok and r.content:
                    page_url = r.url
                    page = await self.extractor.extract(r.content, r.url)
                elif not r.ok:
                    log.info("page %s: %s (using the feed's text)", entry.link, r.error)
        return build_article(
            entry, feed_name=feed.name, feed_tags=tuple(feed.tags), page_url=page_url, page=page
        )

    def _match(self, feed: FeedConfig, article: Article) -> list[Match]:
        doc = prepare(document_from_article(article), self.languages)
        matches = self.rules.match(doc)
        return [
            m for m in matches if m.watch in self.watches and in_scope(self.watches[m.watch], feed)
        ]

    async def _judge_claims(self, feed: FeedConfig, article: Article) -> ClaimsPrepass | None:
        """The [claims.judge] model's reading of the stored claims this article could
        confirm or contradict; asked before the article's transaction, so the database is
        never held while the model thinks. None when the judge is resting. The matches and
        prepared claim texts it needed are kept for storing the article."""
        judge = self.judge
        assert judge is not None
        if not judge.available():
            return None
        cfg = self.config.claims.judge
        assert cfg is not None
        pre = ClaimsPrepass(matches=self._match(feed, article))
        for m in pre.matches or ():
            watch = self.watches[m.watch]
            if not watch.track_claims:
                continue
            prep = pre.prepared.get(watch.language)
            if prep is None:
                prep = pre.prepared[watch.language] = prepare_article(article, watch.language)
            claims = self.claims.judge_candidates(
                self.store, article, m, watch, cfg.max_claims, prepared=prep
            )
            claims = {k: v for k, v in claims.items() if k not in pre.judged}
            if claims:
                got = await judge.judge_many(claims, article.title or "", article.text or "")
                pre.judged.update(got)
        self._record_judge_state(judge)
        return pre

    def _record_judge_state(self, judge: LLMJudge) -> None:
        """Keep the judge's health where `monitor status` reads it (on a change only)."""
        state = "failing" if judge.failing else "ok"
        if state == getattr(self, "_judge_state", None):
            return
        self._judge_state = state
        self.store.set_meta(
            "claims_judge",
            json.dumps(
                {
                    "model": judge.model,
                    "state": state,
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                    "error": judge.failing,
                }
            ),
        )

    def _store_article(
        self,
        feed: FeedConfig,
        feed_id: int,
        entry: Entry,
        article: Article,
        pre: ClaimsPrepass | None = None,
    ) -> tuple[int, int]:
        """Dedup, match and store one article with its alerts, in one transaction."""
        decision = self.dedup.decide(article, urls=(entry.link,))
        if decision.kind == "same":
            assert decision.article_id is not None
            with self.store.transaction():
                apply_dedup(self.store, article, decision)
                self.store.link_entry(feed_id, entry.guid, decision.article_id)
            return 0, 0
        matches = pre.matches if pre and pre.matches is not None else self._match(feed, article)
        n_alerts = 0
        with self.store.transaction():
            article_id, story_id = apply_dedup(self.store, article, decision)
            self.store.link_entry(feed_id, entry.guid, article_id)
            story = self._story_ref(story_id) if matches else {}
            for m in matches:
                # a revision that the watch matched before: insert_match is False, no alert
                if not self.store.insert_match(article_id, m):
                    continue
                watch = self.watches[m.watch]
                for event in self._match_alerts(article, article_id, m, watch, decision, story):
                    n_alerts += self.store.enqueue_alert(event)
                # Claim events go out whatever the story folding decided. Hook for the
                # claims stage: decision.is_revision / decision.previous_article_id (the old
                # text: store.article_revision(id, decision.revision - 1)), decision.kind
                # == "near-duplicate" / decision.duplicate_of for copies.
                for event in self._track_claims(article, article_id, m, watch, pre):
                    n_alerts += self.store.enqueue_alert(event)
        return len(matches), n_alerts

    def _backfill_dedup(self) -> None:
        """Index the articles stored before the dedup stage existed (once, at start).

        All get their URL identities; those fetched within the fingerprint window are also
        sketched and grouped into stories.
        """
        ids = self.store.dedup_backfill_pending()
        cutoff = window_start(datetime.now(UTC), self.config.storage.fingerprint_window)
        for aid in ids:
            r = self.store.get_article(aid)
            if r is None:
                continue
            article = Article(
                url=r["url"],
                title=r["title"],
                text=r["text"],
                text_source=r["text_source"],
                feed_name="",
                guid="",
                published=from_iso(r["published"]),
                site_name=r["site_name"],
                canonical_url=r["canonical_url"],
                fetched_at=from_iso(r["fetched_at"]),
            )
            seen = article.fetched_at or datetime.now(UTC)
            decision = self.dedup.decide(article)
            fp = decision.fingerprint
            with self.store.transaction():
                if seen < cutoff:
                    self.store.dedup_add_urls(aid, [url_hash(k) for k in fp.url_keys])
                    continue
                if decision.kind in ("near-duplicate", "story") and decision.story_id:
                    story_id = decision.story_id
                    self.store.join_story(story_id, aid, fp.when, decision.duplicate_of)
                else:
                    story_id = self.store.create_story(article.title, aid, fp.when)
                self.store.dedup_record(
                    fingerprint_row(aid, fp, story_id, seen, decision.duplicate_of),
                    [url_hash(k) for k in fp.url_keys],
                    fp.bands,
                    fp.key_terms,
                )
        if ids or self.store.get_meta("dedup_backfill") == "pending":
            self.store.set_meta("dedup_backfill", "done")

    def _listed_in(self, feed: FeedConfig, article_id: int) -> bool:
        state = self.store.feed_state(feed.name)
        return state is not None and self.store.article_in_feed(article_id, state.id)

    def _story_ref(self, story_id: int) -> dict[str, object]:
        """The story as alert payloads carry it."""
        s = self.store.story(story_id)
        if s is None:
            return {"id": story_id}
        return {
            "id": story_id,
            "title": s["title"],
            "articles": s["articles"],
            "outlets": s["outlets"],
            "first_seen": s["first_seen"],
        }

    def _match_alerts(
        self,
        article: Article,
        article_id: int,
        match: Match,
        watch: WatchConfig,
        decision: DedupDecision,
        story: dict[str, object],
    ) -> list[AlertEvent]:
        """article.matched, or story.updated when the watch's dedup folds this article.

        dedup = "story": one article.matched per story; "article": one per distinct
        article (copies of one fold); "off": every stored article. A folded article sends
        story.updated to the watch's webhook channels only, and only when it brings a new
        outlet to the story.
        """
        if watch.dedup == "off":
            fold = False
        elif watch.dedup == "article":
            fold = decision.duplicate_of is not None and self.store.watch_matched_copy(
                watch.name, decision.duplicate_of, article_id
            )
        else:
            sid = story.get("id")
            fold = isinstance(sid, int) and self.store.watch_matched_story(
                watch.name, sid, article_id
            )
        if not fold:
            return article_matched(article, match, watch.alerts, story=story)
        if not decision.new_outlet:
            return []
        alerts = self.config.alerts
        hooks = [c for c in watch.alerts if c in alerts and alerts[c].type == "webhook"]
        relation = "copy" if decision.kind == "near-duplicate" else "report"
        return story_updated(article, match, story, hooks, relation=relation)

    def _track_claims(
        self,
        article: Article,
        article_id: int,
        match: Match,
        watch: WatchConfig,
        pre: ClaimsPrepass | None = None,
    ) -> list[AlertEvent]:
        """The claims stage for one match (inside the article's transaction): its alerts."""
        if not watch.track_claims:
            return []
        outcome = self.claims.process(
            self.store,
            article,
            article_id,
            match,
            watch,
            judged=pre.judged if pre else None,
            prepared=pre.prepared.get(watch.language) if pre else None,
        )
        return [e for ev in outcome.events for e in claim_alerts(article, ev, watch.alerts)]

    # -- a whole cycle --------------------------------------------------------------------
    async def run_cycle(
        self,
        feeds: list[FeedConfig] | None = None,
        *,
        on_feed_done: Callable[[FeedReport], None] | None = None,
        deliver: bool = True,
    ) -> CycleReport:
        feeds = [f for f in (feeds if feeds is not None else self.config.feeds) if f.enabled]
        window = self.config.storage.fingerprint_window
        self.store.prune_fingerprints(window_start(datetime.now(UTC), window))

        async def one(feed: FeedConfig) -> FeedReport:
            try:
                rep = await self.poll_feed(feed)
            except Exception as e:  # a bug must not stop the other feeds; it is logged loudly
                log.exception("feed %s: unexpected error", feed.name)
                self.store.update_feed(feed.name, last_error=f"internal error: {e}")
                rep = FeedReport(feed.name, "error", error=f"internal error: {e}")
            if on_feed_done:
                on_feed_done(rep)
            return rep

        report = CycleReport(feeds=list(await asyncio.gather(*(one(f) for f in feeds))))
        if deliver:
            report.delivery = await self.deliver()
        return report

    async def deliver(self) -> DeliveryReport:
        return await self.outbox.deliver_due()
