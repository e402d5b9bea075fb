"""The one module that composes the stages, for one feed and for one cycle.

    fetch → parse → (fetch page → extract) → dedup → match → claims → apply → alerts

The stages decide (dedup, matching, the claims tracker); :func:`monitor.apply.apply_article`
writes one article's decisions in one transaction. :func:`open_pipeline` is the one way
to open the store and build the pipeline (CLI, daemon, demo and tests use it).
Everything runs on the event loop but what would hold it up (so that no fetch in flight
times out because the loop was busy): feed parsing and the claims stage's CPU work (claim
extraction, the models) run in threads, page extraction in worker processes.

Every failure of a feed or a page becomes a value (the feed's last error, the text
source of an article); nothing here raises to the daemon for bad input.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from monitor.alerts import Outbox, make_channels
from monitor.alerts.outbox import DeliveryReport
from monitor.apply import ArticleDecisions, WatchDecision, apply_article, apply_declared_claims
from monitor.claims.extract import PreparedArticle, prepare_article
from monitor.claims.judge import JUDGE_META, JudgeVerdict, LLMJudge
from monitor.claims.track import ArticleClaims, ClaimDecision, ClaimTracker
from monitor.config import Config, FeedConfig, WatchConfig
from monitor.dedup import Deduplicator, DedupSettings, url_hash, url_key, window_start
from monitor.errors import FeedParseError
from monitor.feeds import schedule
from monitor.feeds.extract import ExtractedPage, Extractor, build_article
from monitor.feeds.fetch import (
    PAGE_ACCEPT,
    Fetcher,
    FetchResult,
    PinnedTransport,
    ssl_context,
)
from monitor.feeds.parse import parse_feed
from monitor.models import Article, Entry, FeedState, Match
from monitor.rules import RuleSet, document_from_article, prepare
from monitor.store import Backfill, Store

log = logging.getLogger("monitor.pipeline")

T = TypeVar("T")

PAGES_PER_WORKER = 4  # pages fetched or being extracted at once, per extraction worker
FEED_UPDATES_BATCH = 256  # a cycle records its feeds' polls in transactions of this many

# a feed's poll to record: (name, fields of its row)
FeedUpdate = tuple[str, dict[str, object]]


@dataclass
class FeedReport:
    name: str
    # "ok", "warning" (read, but malformed or listing nothing), "not-modified", "error",
    # "disabled", "skipped"
    status: str
    new_entries: int = 0
    articles: int = 0
    matches: int = 0
    alerts: int = 0
    error: str | None = None
    suppressed: dict[str, int] = field(default_factory=dict)  # reason → alerts not sent


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

    @property
    def warnings(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.status == "warning"]

    def suppressed(self) -> dict[str, int]:
        """Alerts not sent, by reason ("baseline", "too old"), over all feeds."""
        out: dict[str, int] = {}
        for f in self.feeds:
            for why, n in f.suppressed.items():
                out[why] = out.get(why, 0) + n
        return out


def in_scope(watch: WatchConfig, feed: FeedConfig) -> bool:
    if watch.feeds and feed.name not in watch.feeds:
        return False
    return not (watch.tags and not set(watch.tags) & set(feed.tags))


def dedup_settings(config: Config) -> DedupSettings:
    return DedupSettings(
        near_duplicate=config.dedup.near_duplicate,
        story=config.dedup.story_similarity,
        story_window=config.dedup.story_window,
    )


def open_store(config: Config) -> Store:
    """The writer's store, upgraded (with the dedup backfill of an old file) if needed."""
    return Store.open(
        config.database(),
        backfill=Backfill(dedup_settings(config), config.storage.fingerprint_window),
    )


@asynccontextmanager
async def open_pipeline(config: Config) -> AsyncIterator[Pipeline]:
    """Open the store, build the pipeline; close both on the way out."""
    store = open_store(config)
    try:
        pipeline = Pipeline(config, store)
        try:
            yield pipeline
        finally:
            await pipeline.aclose()
    finally:
        store.close()


@dataclass
class PageTally:
    """One feed's page outcomes in a poll (counted per feed in `monitor status`)."""

    errors: list[str] = field(default_factory=list)  # pages that could not be fetched
    fallbacks: int = 0  # entries whose page was asked for, stored with the feed's text


@dataclass(frozen=True)
class FetchedPage:
    """A page fetched and extracted once, shared by every entry that links it."""

    url: str  # the final URL
    page: ExtractedPage | None
    error: str | None = None


@dataclass
class ClaimsPrepass:
    """What asking the [claims.judge] worked out for an article, reused to store it."""

    matches: list[Match] | None = None
    prepared: dict[str, PreparedArticle] = field(default_factory=dict)  # by language
    judged: dict[int, JudgeVerdict] = field(default_factory=dict)  # claim id → verdict


class _Batch:
    """One transaction over the writes of several articles, opened on the first write and
    committed before the pipeline awaits anything (other coroutines write the store too:
    feed polls, leases, the outbox, and their writes must not land in it)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._tx: AbstractContextManager[object] | None = None  # the open transaction

    def open(self) -> None:
        if self._tx is None:
            tx = self._store.transaction()
            tx.__enter__()
            self._tx = tx

    def commit(self) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            tx.__exit__(None, None, None)

    def abort(self) -> None:
        """Roll back (called while an exception is being handled)."""
        tx, self._tx = self._tx, None
        if tx is not None:
            tx.__exit__(*sys.exc_info())


class Pipeline:
    """Holds the long-lived parts (store, HTTP clients, worker pool, compiled rules)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.store = store
        self.fetcher = Fetcher(config.fetch)
        self.extractor = Extractor(config.extract.workers, config.extract.timeout)
        # back-pressure: a page is fetched only when it can be extracted soon, so at most
        # this many page bodies (each at most [fetch] max_bytes) are held at once; four per
        # worker keep the workers busy while the event loop stores a feed's articles
        self._pages = asyncio.Semaphore(PAGES_PER_WORKER * self.extractor.slots)
        self._alert_client = httpx.AsyncClient(
            headers={"User-Agent": config.fetch.user_agent},
            follow_redirects=False,
            verify=ssl_context(),  # the CAs loaded once (SSL_CERT_FILE / SSL_CERT_DIR)
        )
        # for channels with allow_private_networks = false: refuses non-public addresses
        self._public_alert_client = httpx.AsyncClient(
            headers={"User-Agent": config.fetch.user_agent},
            follow_redirects=False,
            transport=PinnedTransport(
                allow_private=False, setting="allow_private_networks in the [alerts.NAME] table"
            ),
        )
        self._busy: set[str] = set()
        # one fetch and extraction per page: entries linking a page (by URL key) that is
        # being fetched share it; kept until the feed that fetched it has stored it (from
        # then on the dedup index knows the page)
        self._page_jobs: dict[str, asyncio.Task[FetchedPage]] = {}
        self._feeds_in_flight = asyncio.Semaphore(config.fetch.feeds_in_flight)
        # the claims stage's CPU work runs here, off the event loop: one thread, so the
        # models load once and articles are decided one at a time (onnxruntime and numpy
        # release the GIL while they compute, so the loop keeps fetching meanwhile)
        self._claims_worker = ThreadPoolExecutor(1, thread_name_prefix="monitor-claims")
        # one feed at a time decides and applies its articles (see _store_entries)
        self._storing = asyncio.Lock()
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        """Swap in a new validated config (rules compiled, channels rebuilt)."""
        old = getattr(self, "config", None)
        self.config = config
        if old is not None and old.fetch != config.fetch:
            self._old_fetcher = self.fetcher
            self.fetcher = Fetcher(config.fetch)
            if old.fetch.feeds_in_flight != config.fetch.feeds_in_flight:
                self._feeds_in_flight = asyncio.Semaphore(config.fetch.feeds_in_flight)
        self.rules = RuleSet(config.rules)
        self.watches = {w.name: w for w in config.watches}
        self.languages = tuple(sorted({w.language for w in config.watches} | {"en"}))
        self.channels = make_channels(config.alerts, self._alert_client, self._public_alert_client)
        self.outbox = Outbox(self.store, self.channels, dict(config.alerts))
        self.claims = ClaimTracker(config.claims.contradicts_threshold)
        judge_cfg = config.claims.judge
        if judge_cfg is None or not any(w.track_claims for w in config.watches):
            self.judge = None  # (no watch tracks claims: nothing to ask about)
        elif old is None or old.claims.judge != judge_cfg or getattr(self, "judge", None) is None:
            self.judge = LLMJudge.from_config(judge_cfg, client=self._alert_client)
        self.dedup = Deduplicator(self.store, dedup_settings(config))
        apply_declared_claims(self.store, self.claims.declared_claims(self.store, config.watches))
        self.store.sync_feeds((feed.name, feed.url) for feed in config.feeds)

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        old = getattr(self, "_old_fetcher", None)
        if old is not None:
            await old.aclose()
        await self._alert_client.aclose()
        await self._public_alert_client.aclose()
        self.extractor.close()
        # a decision still running finishes in its thread; its result is not wanted
        self._claims_worker.shutdown(wait=False, cancel_futures=True)

    # -- one feed -------------------------------------------------------------------------
    def is_due(self, feed: FeedConfig, now: datetime | None = None) -> bool:
        state = self.store.feed_state(feed.name)
        if state is None or state.next_poll is None:
            return True
        return state.next_poll <= (now or datetime.now(UTC))

    async def poll_feed(
        self,
        feed: FeedConfig,
        *,
        after: asyncio.Event | None = None,
        record: list[FeedUpdate] | None = None,
        state: FeedState | None = None,
    ) -> FeedReport:
        """Poll one feed. ``after``: its articles are stored only once this is set (a cycle
        stores feeds in config order, so the same input gives the same stories, matches
        and alerts however the fetches interleave). ``record``: the poll's outcome for the
        feed's row (ETag, next poll, failures) is appended here for the caller to write in
        a batch, instead of written at once (its articles are stored either way).
        ``state``: the feed's stored state, read by the caller for its current config URL
        (else read here)."""
        if feed.name in self._busy:
            return FeedReport(feed.name, "skipped", error="still polling from the last run")
        self._busy.add(feed.name)
        try:
            # back-pressure: a bounded number of feeds (with their entries and pages) is
            # worked on at once; the others wait here, before anything of theirs is read
            async with self._feeds_in_flight:
                return await self._poll_feed(feed, after, record, state)
        finally:
            self._busy.discard(feed.name)

    async def _poll_feed(
        self,
        feed: FeedConfig,
        after: asyncio.Event | None,
        record: list[FeedUpdate] | None,
        state: FeedState | None,
    ) -> FeedReport:
        cfg = self.config
        if state is None:
            state = self.store.sync_feed(feed.name, feed.url)
        if state.disabled_reason:
            return FeedReport(feed.name, "disabled", error=state.disabled_reason)
        result = await self.fetcher.fetch(
            state.url, etag=state.etag, last_modified=state.last_modified
        )
        now = datetime.now(UTC)
        updates: dict[str, object] = {"last_poll": now, "last_status": result.status}
        if result.permanent_url and result.permanent_url != state.url:
            log.info("feed %s moved permanently to %s", feed.name, result.permanent_url)
            updates["url"] = result.permanent_url
        report, ttl = await self._read_feed(feed, state, result, updates, after)
        failures = state.failures + 1 if report.status == "error" else 0
        updates["failures"] = failures
        updates["next_poll"] = schedule.next_poll(
            now,
            cfg.feed_interval(feed),
            result,
            failures,
            max_backoff=cfg.fetch.max_backoff,
            ttl=ttl,
            jitter=cfg.fetch.jitter,
        )
        if record is None:
            self.store.update_feed(feed.name, **updates)
        else:
            record.append((feed.name, updates))
        return report

    async def _read_feed(
        self,
        feed: FeedConfig,
        state: FeedState,
        result: FetchResult,
        updates: dict[str, object],
        after: asyncio.Event | None = None,
    ) -> tuple[FeedReport, float | None]:
        """Parse a fetched feed and store its new entries; the report and the feed's TTL.

        ``updates``: the feed's state to record, filled in here; ``after``: see
        :meth:`poll_feed`.
        """

        def fail(message: str, disable: str | None = None) -> tuple[FeedReport, None]:
            updates["last_error"] = message
            if disable:
                updates["disabled_reason"] = disable
            log.warning("feed %s: %s", feed.name, message)
            return FeedReport(feed.name, "error", error=message), None

        if not result.ok:
            if result.error_kind == "gone":
                msg = f"{result.error}: the feed was removed; polling stopped (fix or remove it)"
                return fail(msg, disable=msg)
            return fail(result.error or "fetch failed")
        if result.not_modified:
            updates["last_error"] = None
            return FeedReport(feed.name, "not-modified"), None
        # parsed in a thread, so a slow feed never stalls the event loop (the scheduler,
        # other feeds, delivery); parse_feed refuses pathological nesting up front
        limit = self.config.extract.timeout
        try:
            parsed = await asyncio.wait_for(
                asyncio.to_thread(parse_feed, result.content, result.url, result.content_type),
                limit,
            )
        except FeedParseError as e:
            return fail(str(e))
        except TimeoutError:
            return fail(f"not read: parsing took over {limit:g}s ([extract] timeout)")

        warning = parsed.warning
        if not parsed.entries:
            warning = (
                f"{warning}; no entries" if warning else "the feed lists no entries (truncated?)"
            )
        report = FeedReport(feed.name, "warning" if warning else "ok", error=warning)
        if warning:
            log.warning("feed %s: %s", feed.name, warning)
        assert state.id is not None
        guids = [e.guid for e in parsed.entries]
        unseen = self.store.unseen_guids(state.id, guids)
        new_entries = [e for e in parsed.entries if e.guid in unseen]
        # dict.fromkeys: one entry per guid even if the feed repeats itself
        new_entries = list({e.guid: e for e in new_entries}.values())
        report.new_entries = len(new_entries)
        # the first poll of a feed (nothing of it stored yet) is a silent baseline
        baseline = bool(new_entries) and (
            self.config.feed_baseline(feed) and not self.store.feed_has_entries(state.id)
        )
        tally = PageTally()
        owned: list[str] = []  # the page jobs this feed started
        try:
            articles = await asyncio.gather(
                *(self._article(feed, e, tally, owned) for e in new_entries)
            )
            if tally.errors or tally.fallbacks:
                self.store.record_page_errors(
                    feed.name,
                    len(tally.errors),
                    tally.errors[-1] if tally.errors else None,
                    fallbacks=tally.fallbacks,
                )
            if after is not None:
                await after.wait()  # the feeds before this one are stored first
            await self._store_entries(feed, state.id, new_entries, articles, report, baseline)
        finally:
            for key in owned:
                self._page_jobs.pop(key, None)
        if baseline:
            log.info(
                "feed %s: first poll, %d entries stored as the baseline; %d alerts suppressed"
                " (baseline)",
                feed.name,
                len(new_entries),
                report.suppressed.get("baseline", 0),
            )
        if report.suppressed.get("too old"):
            log.info(
                "feed %s: %d alerts suppressed (entries older than ignore_older_than)",
                feed.name,
                report.suppressed["too old"],
            )
        updates.update(
            etag=result.etag,
            last_modified=result.last_modified,
            last_error=warning,
            title=parsed.title,
        )
        return report, parsed.ttl_seconds

    async def _store_entries(
        self,
        feed: FeedConfig,
        feed_id: int,
        entries: list[Entry],
        articles: list[Article],
        report: FeedReport,
        baseline: bool,
    ) -> None:
        """Decide and apply each entry's article, in feed order: each article all or
        nothing.

        Ordering: an article is decided only once the one before it is applied, and no
        other article is applied between its decisions and their apply, so each decision
        reads everything stored before it (a second article of a story sees the first
        one's dedup entry and claims). Within a feed that is this loop's order; between
        feeds ``self._storing`` lets one feed at a time store its articles (and in a cycle
        the feeds take turns in config order, see :meth:`poll_feed`'s ``after``).

        The claims stage's CPU work and the [claims.judge] prepass are awaited
        (:meth:`_decide_claims`, :meth:`_judge_claims`), and meanwhile other coroutines
        run: fetches, and writes of their own (feed polls, leases, the outbox). So no
        transaction is held across an await: articles decided without one are written in
        one batch (one commit, each article a savepoint inside it), committed before the
        next await."""
        async with self._storing:
            batch = _Batch(self.store)
            try:
                for entry, article in zip(entries, articles, strict=True):
                    pre = None
                    if self.judge is not None:
                        batch.commit()
                        pre = await self._judge_claims(feed, article)
                    decisions = self._decide(feed, feed_id, entry, article, pre, baseline=baseline)
                    if any(w.watch.track_claims for w in decisions.watches):
                        batch.commit()
                        decisions = await self._decide_claims(decisions, pre)
                    batch.open()
                    applied = apply_article(self.store, decisions, self.config.alerts)
                    report.articles += 1
                    report.matches += applied.matches
                    report.alerts += applied.alerts
                    for why, n in applied.suppressed.items():
                        report.suppressed[why] = report.suppressed.get(why, 0) + n
            except BaseException:
                batch.abort()
                raise
            batch.commit()

    async def _article(
        self, feed: FeedConfig, entry: Entry, tally: PageTally, owned: list[str]
    ) -> Article:
        """Fetch and extract the entry's page; fall back to the feed's text. A page that
        cannot be fetched adds its reason to ``tally.errors``, and an entry stored with the
        feed's text although its page was asked for counts in ``tally.fallbacks`` (both
        shown per feed by `monitor status`). ``owned``: page jobs this feed started."""
        fetched = None
        if entry.link and self.config.fetch.fetch_pages:
            key = url_key(entry.link)
            # dedup: a page we have is not fetched again, unless this feed lists it under
            # a new guid (an update, likely): then it is fetched to look for a revision
            known = self.store.dedup_known([url_hash(key)])
            if known is None or self._listed_in(feed, known.article_id):
                job = self._page_jobs.get(key)
                if job is None:  # the first entry to ask for it: fetch it; others share it
                    job = asyncio.ensure_future(self._fetch_page(entry.link))
                    self._page_jobs[key] = job
                    owned.append(key)
                fetched = await asyncio.shield(job)
                if fetched.error:
                    tally.errors.append(f"{entry.link}: {fetched.error}")
        article = build_article(
            entry,
            feed_name=feed.name,
            feed_tags=tuple(feed.tags),
            page_url=fetched.url if fetched else entry.link,
            page=fetched.page if fetched else None,
        )
        if fetched is not None and article.text_source != "page":
            tally.fallbacks += 1
        return article

    async def _fetch_page(self, url: str) -> FetchedPage:
        """Fetch and extract one page. Its time limits count from when its request and its
        extraction start; waiting for a slot (the back-pressure) is not the page's time."""
        async with self._pages:
            r = await self.fetcher.fetch(url, accept=PAGE_ACCEPT)
            if r.ok and r.content:
                return FetchedPage(r.url, await self.extractor.extract(r.content, r.url))
            if not r.ok:
                log.info("page %s: %s (using the feed's text)", url, r.error)
                return FetchedPage(url, None, r.error or "fetch failed")
            return FetchedPage(r.url, None)

    def _listed_in(self, feed: FeedConfig, article_id: int) -> bool:
        state = self.store.feed_state(feed.name)
        return state is not None and self.store.article_in_feed(article_id, state.id)

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
        health = judge.health_change()
        if health is not None:  # where `monitor status` reads it
            self.store.set_meta(JUDGE_META, health)
        return pre

    def _decide(
        self,
        feed: FeedConfig,
        feed_id: int,
        entry: Entry,
        article: Article,
        pre: ClaimsPrepass | None = None,
        *,
        baseline: bool = False,
    ) -> ArticleDecisions:
        """Dedup and match: the decisions, but for the claims of claim-tracking watches
        (None here; :meth:`_decide_claims` decides them). Dedup comes first: the claims
        stage reads the claims of the article's story."""
        decision = self.dedup.decide(article, urls=(entry.link,))
        if decision.kind == "same":
            return ArticleDecisions(feed_id, entry.guid, article, decision)
        matches = pre.matches if pre and pre.matches is not None else self._match(feed, article)
        stored_id = decision.article_id if decision.kind == "revision" else None
        watches = []
        for m in matches:
            watch = self.watches[m.watch]
            if stored_id is not None and self.store.watch_matched(m.watch, stored_id):
                continue  # a revision the watch matched before: no new match, no alert
            watches.append(WatchDecision(m, watch, None, self._suppress(watch, article, baseline)))
        return ArticleDecisions(
            feed_id, entry.guid, article, decision, tuple(watches), matched=len(matches)
        )

    async def _decide_claims(
        self, d: ArticleDecisions, pre: ClaimsPrepass | None
    ) -> ArticleDecisions:
        """The claims stage for the claim-tracking watches among ``d``'s: ``d`` with their
        claim decisions. Its pure steps (the claim reader, then the models and the
        decisions over their readings: seconds of CPU for an article thousands of watches
        track) run in the claims worker, off the event loop; the store is read between
        them, on the loop, whose thread owns the connection. Nothing is written
        meanwhile (see :meth:`_store_entries`), so the decisions are those of deciding it
        all at once."""
        tracker = self.claims  # the tracker the article started with, if a reload swaps it
        article = d.article
        stored_id = d.dedup.article_id if d.dedup.kind == "revision" else None
        tracking = [w for w in d.watches if w.watch.track_claims]
        prepared = dict(pre.prepared) if pre else {}

        def extract() -> list[ArticleClaims]:
            out = []
            for w in tracking:
                lang = w.watch.language
                if lang not in prepared:  # the same for every watch of a language
                    prepared[lang] = prepare_article(article, lang)
                out.append(tracker.extract(article, w.match, w.watch, prepared[lang]))
            return out

        extracted = await self._off_loop(extract)
        inputs = [
            tracker.inputs(
                self.store,
                article,
                stored_id,
                r,
                story_id=d.dedup.story_id,
                judged=pre.judged if pre else None,
            )
            for r in extracted
        ]

        def decide() -> list[ClaimDecision]:
            return [tracker.decide_inputs(i) for i in inputs]

        decided = iter(await self._off_loop(decide))
        watches = tuple(
            replace(w, claims=next(decided)) if w.watch.track_claims else w for w in d.watches
        )
        return replace(d, watches=watches)

    async def _off_loop(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._claims_worker, work)

    def _suppress(self, watch: WatchConfig, article: Article, baseline: bool) -> str | None:
        """Why a watch's match of this article alerts nobody, or None."""
        if baseline:
            return "baseline"
        max_age = self.config.max_entry_age(watch)
        if max_age is not None and article.published is not None:
            published = article.published
            if published.tzinfo is None:
                published = published.replace(tzinfo=UTC)
            if (datetime.now(UTC) - published).total_seconds() > max_age:
                return "too old"
        return None

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

        # feeds are fetched and extracted concurrently but stored in config order: each
        # waits for the one before it (they enter [fetch] feeds_in_flight in that order too,
        # so a feed that waits never holds a slot an earlier one needs)
        stored = [asyncio.Event() for _ in feeds]
        # the feeds' rows are written in batches: an unchanged feed costs one 304 and a
        # share of a commit (a feed whose row is not written yet is polled again after a
        # crash, which the ETag makes cheap)
        polled: list[FeedUpdate] = []
        # the feeds' states in one query (a feed new to the store is added by poll_feed)
        states = self.store.synced_states((f.name, f.url) for f in feeds)

        def record_polls() -> None:
            batch = polled[:]
            polled.clear()
            try:
                self.store.update_feeds(batch)
            except Exception:  # the next cycle polls them again
                log.exception("could not record the polls of %d feeds", len(batch))

        async def one(i: int, feed: FeedConfig) -> FeedReport:
            try:
                rep = await self.poll_feed(
                    feed,
                    after=stored[i - 1] if i else None,
                    record=polled,
                    state=states.pop(feed.name, None),
                )
            except Exception as e:  # a bug must not stop the other feeds; it is logged loudly
                log.exception("feed %s: unexpected error", feed.name)
                self.store.update_feed(feed.name, last_error=f"internal error: {e}")
                rep = FeedReport(feed.name, "error", error=f"internal error: {e}")
            finally:
                if i:
                    await stored[i - 1].wait()  # "done" means this and every earlier feed
                stored[i].set()
            if len(polled) >= FEED_UPDATES_BATCH:
                record_polls()
            if on_feed_done:
                on_feed_done(rep)
            return rep

        # a feed's task is started only when it can enter [fetch] feeds_in_flight, in config
        # order: a task per feed waiting its turn held about 3 KB each (30 MB at 10,000)
        window = asyncio.Semaphore(self.config.fetch.feeds_in_flight)
        reports: list[FeedReport] = []
        running: set[asyncio.Task[None]] = set()

        async def turn(i: int, feed: FeedConfig) -> None:
            try:
                reports.append(await one(i, feed))  # (in config order: each waits for the last)
            finally:
                window.release()

        try:
            for i, feed in enumerate(feeds):
                await window.acquire()
                task = asyncio.ensure_future(turn(i, feed))
                running.add(task)
                task.add_done_callback(running.discard)
            if running:
                await asyncio.gather(*running)
        except BaseException:  # cancelled (shutdown): the feeds under way stop too
            for task in running:
                task.cancel()
            raise
        finally:
            record_polls()
        report = CycleReport(feeds=reports)
        if deliver:
            report.delivery = await self.deliver()
        return report

    async def deliver(self) -> DeliveryReport:
        return await self.outbox.deliver_due()
