"""The daemon: APScheduler 3.x (AsyncIOScheduler) driving the pipeline.

- one job per enabled feed at its interval, with jitter; a feed in backoff is skipped
  until the time the pipeline stored for it (:func:`Pipeline.is_due`);
- one job that delivers the alert outbox every few seconds;
- one job that notices an edited config file and swaps it in when it validates
  (an invalid edit is logged and the running config stays);
- SIGTERM / SIGINT stop the scheduler, let in-flight polls finish, and exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config, check_reload, config_stamp, load_config
from monitor.errors import ConfigError
from monitor.lock import writer_lock
from monitor.pipeline import Pipeline, open_pipeline
from monitor.store.db import STOPPED_META

if TYPE_CHECKING:
    from monitor.web.app import WebServer

log = logging.getLogger("monitor.daemon")

DELIVERY_EVERY = 5.0  # seconds
CONFIG_CHECK_EVERY = 2.0
STARTED_META = "daemon_started"  # when the running daemon started (`monitor health` reads it)
SHUTDOWN_GRACE = 30.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Daemon:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path or config.path
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task[object]] = set()
        self._config_stamp = config_stamp(self.config_path)
        self.pipeline: Pipeline | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.web: WebServer | None = None  # the web view, when [web] enabled

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        if self.config.web.enabled:  # a bad [web] setting refuses the start, saying why
            from monitor.web import web_settings
            from monitor.web.app import WebServer

            self.web = WebServer(web_settings(self.config))
        # one daemon per database: a second one refuses, naming the first one's pid
        with writer_lock(self.config.database(), "the daemon"):
            async with open_pipeline(self.config) as pipeline:
                self.pipeline = pipeline
                return await self._serve(pipeline)

    async def _serve(self, pipeline: Pipeline) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._schedule_feeds(self._feed_jobs(self.config))
        pipeline.store.set_meta(STARTED_META, datetime.now(UTC).isoformat(timespec="seconds"))
        # delivery runs at once on start (a restart sends the backlog first), then every few
        # seconds; the outbox decides per channel what is due (retries, digests, rate limits)
        self.scheduler.add_job(
            self._tracked(self._deliver),
            IntervalTrigger(seconds=DELIVERY_EVERY),
            id="deliver",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        from monitor.alerts import channel_problems

        for problem in channel_problems(self.config.alerts):
            log.warning("%s", problem)
        if self.config_path:
            self.scheduler.add_job(
                self._check_config,
                IntervalTrigger(seconds=CONFIG_CHECK_EVERY),
                id="config",
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.start()
        web_task = self._start_web()
        enabled = [f for f in self.config.feeds if f.enabled]
        log.info(
            "news-monitor running: %d feeds, %d watches, database %s",
            len(enabled),
            len(self.config.watches),
            pipeline.store.location,
        )
        try:
            await self._stop.wait()
        finally:
            log.info("stopping: letting %d running job(s) finish", len(self._inflight))
            # paused, not shut down yet: apscheduler's asyncio executor cancels the jobs
            # still running when it shuts down (wait=True cannot be honoured there), which
            # cut polls short with a CancelledError traceback
            self.scheduler.pause()
            if web_task is not None and self.web is not None:
                self.web.stop()
                await asyncio.wait([web_task], timeout=SHUTDOWN_GRACE)
            if self._inflight:
                await asyncio.wait(list(self._inflight), timeout=SHUTDOWN_GRACE)
            self.scheduler.shutdown(wait=False)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            pipeline.store.set_meta(STOPPED_META, _now())  # `monitor health` fails from now
        log.info("stopped")
        return 0

    def _start_web(self) -> asyncio.Task[None] | None:
        """Serve the web view in this event loop (``[web] enabled``); the address is bound
        here, so a port in use stops the start with a clear error."""
        if self.web is None:
            return None
        self.web.bind()
        log.info("web view on %s", self.web.url)
        return asyncio.create_task(self.web.serve(), name="web")

    def _tracked(self, fn):  # type: ignore[no-untyped-def]
        async def job(*args: object) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
            try:
                if not self._stop.is_set():
                    await fn(*args)
            except Exception:
                log.exception("job %s failed", getattr(fn, "__name__", fn))
            finally:
                if task is not None:
                    self._inflight.discard(task)

        return job

    def _feed_jobs(self, config: Config) -> list[tuple[str, IntervalTrigger, datetime]]:
        """(feed name, trigger, first run) for every enabled feed of ``config``.

        Built completely before anything is scheduled: a feed whose trigger cannot be made
        raises here, while the running schedule is still untouched."""
        assert self.pipeline is not None
        now = datetime.now(UTC)
        planned = self.pipeline.store.next_polls()
        jobs = []
        for feed in config.feeds:
            if not feed.enabled:
                continue
            interval = config.feed_interval(feed)
            first = now
            when = planned.get(feed.name)
            if when and when > now:
                first = when
            trigger = IntervalTrigger(seconds=interval, jitter=interval * config.fetch.jitter)
            trigger.get_next_fire_time(first, first)  # date arithmetic fails here, not later
            jobs.append((feed.name, trigger, first))
        return jobs

    def _schedule_feeds(self, jobs: list[tuple[str, IntervalTrigger, datetime]]) -> None:
        """Make the feed jobs ``jobs``: only what changed is touched (a feed gone, new, or
        with another interval or jitter), so a reload of thousands of feeds is quick; if
        adding one fails, the old ones come back."""
        assert self.scheduler is not None
        current = {j.id: j for j in self.scheduler.get_jobs() if j.id.startswith("feed:")}
        wanted = {f"feed:{name}": (name, trigger, first) for name, trigger, first in jobs}
        old = [
            j
            for jid, j in current.items()
            if jid not in wanted or not _same_trigger(j.trigger, wanted[jid][1])
        ]
        for job in old:
            job.remove()
        added: list[str] = []
        try:
            for jid, (name, trigger, first) in wanted.items():
                if jid in current and current[jid] not in old:
                    continue  # unchanged: it keeps its next run
                self._add_feed_job(name, trigger, first)
                added.append(jid)
        except Exception:
            for jid in added:
                self.scheduler.remove_job(jid)
            for job in old:
                self._add_feed_job(job.args[0], job.trigger, job.next_run_time)
            raise

    def _add_feed_job(self, name: str, trigger: IntervalTrigger, first: datetime | None) -> None:
        assert self.scheduler is not None
        self.scheduler.add_job(
            self._tracked(self._poll),
            trigger,
            args=[name],
            id=f"feed:{name}",
            next_run_time=first,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    async def _poll(self, name: str) -> None:
        assert self.pipeline is not None
        feed = self.config.feed(name)
        if feed is None or not feed.enabled or not self.pipeline.is_due(feed):
            return
        rep = await self.pipeline.poll_feed(feed)
        if rep.status == "ok":
            log.info("feed %s: %d new entries, %d matches", name, rep.new_entries, rep.matches)
        if rep.alerts:
            await self._deliver()

    async def _deliver(self) -> None:
        assert self.pipeline is not None
        await self.pipeline.deliver()
        self.pipeline.store.note_delivery_heartbeat()

    async def _check_config(self) -> None:
        stamp = config_stamp(self.config_path)
        if stamp == self._config_stamp:
            return
        self._config_stamp = stamp
        assert self.config_path is not None
        try:
            new = load_config(self.config_path)
            check_reload(self.config, new)
        except ConfigError as e:
            self._reject(f"\n{e}")
            return
        assert self.pipeline is not None
        old = self.config
        try:
            # all or nothing: the new schedule is built before anything is swapped
            jobs = self._feed_jobs(new)
            self.pipeline.reconfigure(new)
            self._schedule_feeds(jobs)
        except Exception as e:
            self.pipeline.reconfigure(old)
            self._reject(f"{type(e).__name__}: {e}")
            return
        self.config = new
        self.pipeline.store.clear_reload_error()
        log.info(
            "config reloaded: %d feeds, %d watches",
            len([f for f in new.feeds if f.enabled]),
            len(new.watches),
        )

    def _reject(self, problem: str) -> None:
        """Log a rejected config change and keep it for `monitor status`."""
        log.error("config change rejected, still running the previous config: %s", problem)
        if self.pipeline is not None:
            self.pipeline.store.note_reload_error(problem.strip())


def _same_trigger(a: object, b: IntervalTrigger) -> bool:
    """Whether a scheduled job's trigger is the same interval with the same jitter."""
    return isinstance(a, IntervalTrigger) and a.interval == b.interval and a.jitter == b.jitter
