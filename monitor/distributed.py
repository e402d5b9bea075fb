"""The distributed roles (issue 16): the pipeline spread over processes and machines that
share one PostgreSQL store, with Dramatiq on Redis as the task queue.

- :class:`Scheduler` (`monitor scheduler`, one per database): every ``[distributed] tick``
  it asks the store which feeds are due (``next_poll`` passed, no live lease) and enqueues
  one ``poll_feed`` message per feed; it enqueues a feed again only once the feed was
  polled (its ``next_poll`` moved) or its lease time passed without that (a lost message,
  a killed worker), so the queue holds each due feed about once.
- :class:`FeedWorker` (`monitor worker`, any number, anywhere): Dramatiq worker threads take
  messages; each runs one feed through the ordinary :class:`~monitor.pipeline.Pipeline`
  (fetch, extract, dedup, match, claims, apply) in this process's event loop, under the
  feed's lease (taken atomically in the store, renewed while it polls, released after).
  A message is acknowledged when its feed is done: a worker killed mid-feed loses
  nothing (its articles are each committed with their outbox rows or not at all; its
  lease expires and the feed is polled again, the stored entries skipped).
- :class:`Deliverer` (`monitor deliver`, one per database): drains the outbox, as the
  daemon does, so each channel's alerts keep their order; a duplicate delivery after a
  crash carries the same idempotency key.

Every role beats its heartbeat into the store's ``workers`` table (`monitor status`) and
re-reads its config file when it changes (a new config reaches every process that reads
that file). The roles hold the database's writer lock *shared*: they run beside each other,
but not beside the all-in-one daemon (`monitor run`), which holds it exclusively.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.config import Config, DistributedConfig, check_reload, config_stamp, load_config
from monitor.errors import ConfigError, MonitorError
from monitor.lock import role_locks

if TYPE_CHECKING:
    from monitor.config import PostgresURL
    from monitor.pipeline import Pipeline
    from monitor.store import Store

log = logging.getLogger("monitor.distributed")

ACTOR = "poll_feed"  # the one message type: {"args": [feed name]}


def process_name() -> str:
    """How a process is known in the ``workers`` table and in leases: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def redis_client(cfg: DistributedConfig) -> Any:
    """A Redis client for ``[distributed] redis_url`` (password from ``password_env``)."""
    import redis

    return redis.Redis.from_url(
        cfg.redis_url, password=cfg.redis_password(), socket_connect_timeout=5
    )


def make_broker(cfg: DistributedConfig) -> Any:
    """Dramatiq's Redis broker on ``[distributed] redis_url``; a Redis that does not
    answer is an error naming the URL."""
    import redis
    from dramatiq.brokers.redis import RedisBroker

    client = redis_client(cfg)
    try:
        client.ping()
    except redis.RedisError as e:
        raise MonitorError(f"{cfg.redis_url}: cannot reach Redis: {e}") from None
    return RedisBroker(client=client)


def queue_depth(cfg: DistributedConfig) -> tuple[int, int]:
    """(messages waiting, messages taken by a worker and not yet acknowledged) on the
    feed queue: the keys of Dramatiq's Redis broker (``dramatiq:<queue>`` is the list
    of waiting message ids, ``dramatiq:<queue>.msgs`` every message not acknowledged)."""
    client = redis_client(cfg)
    try:
        waiting = int(client.llen(f"dramatiq:{cfg.queue}"))
        total = int(client.hlen(f"dramatiq:{cfg.queue}.msgs"))
    finally:
        client.close()
    return waiting, max(total - waiting, 0)


def require_postgres(cfg: Config, role: str) -> PostgresURL:
    from monitor.config import PostgresURL

    database = cfg.database()
    if not isinstance(database, PostgresURL):
        raise MonitorError(
            f"monitor {role} needs a PostgreSQL store shared by every process "
            "([storage] url, docs/storage.md); with a SQLite file use `monitor run`"
        )
    return database


class Role:
    """What the three roles share: the locks, the stop signal, the heartbeat and the
    config file watch."""

    role = ""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.name = process_name()
        self.tasks = 0
        self._stop = asyncio.Event()
        self._stamp = config_stamp(config.path)

    @property
    def tick(self) -> float:
        return self.config.distributed.tick

    def stop(self) -> None:
        self._stop.set()

    @contextlib.contextmanager
    def _locks(self) -> Iterator[None]:
        database = require_postgres(self.config, self.role)
        with contextlib.ExitStack() as stack:
            holder = f"the {self.role} on {socket.gethostname()}"  # (the lock adds the pid)
            for lock in role_locks(database, self.role, holder):
                stack.enter_context(lock)
            yield

    async def run(self) -> int:
        with self._locks():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
            try:
                return await self._serve()
            finally:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def _serve(self) -> int:
        raise NotImplementedError

    def _store(self) -> Store:
        raise NotImplementedError

    def current(self) -> str | None:
        return None

    def beat(self) -> None:
        self._store().beat(self.name, self.role, tasks=self.tasks, current=self.current())

    async def _ticks(self) -> None:
        """Run :meth:`step` every tick until stopped; a failing step is logged and the
        next tick tries again."""
        while not self._stop.is_set():
            try:
                self._check_config()
                await self.step()
                self.beat()
            except Exception as e:
                import redis

                if isinstance(e, redis.RedisError):  # Redis away: say so, try again
                    log.error("%s: %s: %s", self.role, self.config.distributed.redis_url, e)
                else:
                    log.exception("%s: tick failed", self.role)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.tick)
        self._store().worker_stopped(self.name)

    async def step(self) -> None:
        raise NotImplementedError

    def _check_config(self) -> None:
        """Swap in an edited config file when it validates; an invalid one is logged
        (and kept for `monitor status`) and the running config stays."""
        path = self.config.path
        stamp = config_stamp(path)
        if path is None or stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            new = load_config(path)
            check_reload(self.config, new)
            if new.distributed != self.config.distributed:
                raise ConfigError(
                    str(path), ["[distributed] cannot change while running (restart)"]
                )
            self.reconfigure(new)
        except (ConfigError, MonitorError) as e:
            log.error("config change rejected, still running the previous config: %s", e)
            self._store().note_reload_error(f"{self.role}: {e}")
            return
        self.config = new
        self._store().clear_reload_error()  # as the daemon: status shows no stale rejection
        log.info("%s %s: config reloaded", self.role, self.name)

    def reconfigure(self, new: Config) -> None:
        raise NotImplementedError


class Scheduler(Role):
    """Enqueues the due feeds (one scheduler per database)."""

    role = "scheduler"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.store: Store | None = None
        self.broker: Any = None
        # feed → (its next_poll when enqueued, when enqueued): enqueue again only after a
        # poll moved next_poll, or after a lease time without that
        self._sent: dict[str, tuple[datetime | None, datetime]] = {}

    def _store(self) -> Store:
        assert self.store is not None
        return self.store

    async def _serve(self) -> int:
        from dramatiq import Message

        from monitor.pipeline import open_store

        self._message = Message
        self.store = open_store(self.config)
        try:
            self.broker = make_broker(self.config.distributed)
            self.reconfigure(self.config)
            log.info(
                "scheduler %s: %d feeds, queue %r on %s",
                self.name,
                len(self._enabled),
                self.config.distributed.queue,
                self.config.distributed.redis_url,
            )
            await self._ticks()
            return 0
        finally:
            self.store.close()

    def reconfigure(self, new: Config) -> None:
        self._enabled = {f.name for f in new.feeds if f.enabled}
        self._store().sync_feeds((f.name, f.url) for f in new.feeds)

    async def step(self) -> None:
        self.enqueue_due(datetime.now(UTC))

    def enqueue_due(self, now: datetime) -> int:
        """Enqueue every due feed not enqueued already; how many were."""
        lease = timedelta(seconds=self.config.distributed.lease)
        due = self._store().due_feeds(now)
        sent = 0
        for name, planned in sorted(due.items(), key=lambda x: (x[1] is not None, x[1] or now)):
            if name not in self._enabled:
                continue
            before = self._sent.get(name)
            if before is not None and before[0] == planned and now - before[1] < lease:
                continue  # enqueued, not polled yet, and not overdue for a redelivery
            message = self._message(
                queue_name=self.config.distributed.queue,
                actor_name=ACTOR,
                args=(name,),
                kwargs={},
                options={},
            )
            self.broker.enqueue(message)
            self._sent[name] = (planned, now)
            sent += 1
        for name in set(self._sent) - set(due):
            del self._sent[name]  # polled (or leased): forget it
        self.tasks += sent
        return sent


class _PipelineRole(Role):
    """A role that holds a :class:`Pipeline` (its store, channels, rules)."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.pipeline: Pipeline | None = None

    def _store(self) -> Store:
        assert self.pipeline is not None
        return self.pipeline.store

    def reconfigure(self, new: Config) -> None:
        assert self.pipeline is not None
        self.pipeline.reconfigure(new)


class FeedWorker(_PipelineRole):
    """Polls the feeds the scheduler enqueued, one message a feed, under its lease."""

    role = "worker"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._current: set[str] = set()

    def current(self) -> str | None:
        return ", ".join(sorted(self._current)) or None

    async def _serve(self) -> int:
        import dramatiq

        from monitor.pipeline import open_pipeline

        cfg = self.config.distributed
        loop = asyncio.get_running_loop()
        async with open_pipeline(self.config) as pipeline:
            self.pipeline = pipeline
            broker = make_broker(cfg)

            def poll_feed(name: str) -> None:  # in a Dramatiq worker thread
                asyncio.run_coroutine_threadsafe(self.poll(name), loop).result()

            dramatiq.actor(
                poll_feed,
                actor_name=ACTOR,
                queue_name=cfg.queue,
                broker=broker,
                max_retries=0,  # the scheduler enqueues a feed again while it is due
                time_limit=int(max(cfg.lease * 4, 600) * 1000),
            )
            broker.emit_after("process_boot")
            worker = dramatiq.Worker(broker, worker_threads=cfg.tasks, worker_timeout=500)
            worker.start()
            log.info(
                "worker %s: %d tasks at once, queue %r on %s",
                self.name,
                cfg.tasks,
                cfg.queue,
                cfg.redis_url,
            )
            try:
                await self._ticks()
            finally:
                # let the feeds being polled finish (their threads wait on this loop)
                await asyncio.to_thread(worker.stop)
                broker.close()
        return 0

    async def step(self) -> None:
        pass  # the Dramatiq threads do the work; the tick beats and watches the config

    async def poll(self, name: str) -> None:
        """Poll one feed if it is still configured, due, and its lease is ours."""
        assert self.pipeline is not None
        pipeline = self.pipeline
        feed = pipeline.config.feed(name)
        if feed is None or not feed.enabled:
            return
        lease = self.config.distributed.lease
        store = pipeline.store
        if not store.take_lease(name, self.name, lease):
            log.debug("feed %s: leased by another worker", name)
            return
        self._current.add(name)
        renew = asyncio.create_task(self._renew(name, lease))
        try:
            if not pipeline.is_due(feed):
                return  # polled meanwhile (a duplicate message)
            try:
                rep = await pipeline.poll_feed(feed)
            except Exception as e:  # a bug must not stop the worker; logged loudly
                log.exception("feed %s: unexpected error", name)
                store.update_feed(name, last_error=f"internal error: {e}")
                return
            self.tasks += 1
            if rep.status == "ok":
                log.info("feed %s: %d new entries, %d matches", name, rep.new_entries, rep.matches)
        finally:
            renew.cancel()
            self._current.discard(name)
            store.release_lease(name, self.name)

    async def _renew(self, name: str, lease: float) -> None:
        assert self.pipeline is not None
        while True:
            await asyncio.sleep(lease / 3)
            if not self.pipeline.store.renew_lease(name, self.name, lease):
                log.warning("feed %s: lost its lease (expired while polling)", name)
                return


class Deliverer(_PipelineRole):
    """Drains the alert outbox (one delivery worker per database: each channel's alerts
    go out in order)."""

    role = "deliver"

    async def _serve(self) -> int:
        from monitor.alerts import channel_problems
        from monitor.pipeline import open_pipeline

        async with open_pipeline(self.config) as pipeline:
            self.pipeline = pipeline
            for problem in channel_problems(self.config.alerts):
                log.warning("%s", problem)
            log.info("delivery worker %s: %d channels", self.name, len(pipeline.channels))
            await self._ticks()
        return 0

    async def step(self) -> None:
        assert self.pipeline is not None
        report = await self.pipeline.deliver()
        self.tasks += len(report.delivered)
        self.pipeline.store.note_delivery_heartbeat()  # `monitor health` reads it


ROLES: dict[str, type[Role]] = {"scheduler": Scheduler, "worker": FeedWorker, "deliver": Deliverer}
