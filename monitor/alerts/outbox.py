"""Delivering the outbox: at-least-once, with backoff, digests, rate limits and quiet logs.

Alert rows are written by the pipeline in the same transaction as their cause; this
module only reads due rows, attempts them and records each outcome right after the
attempt. A crash between an attempt and its record means that alert is sent again
(receivers de-duplicate by its id); a crash at any other moment loses nothing and sends
nothing twice.

Per channel, in order of creation:

- ``mode = "immediate"``: one message per alert. With ``max_per_hour = N``, once N
  messages went out in the last hour the rest wait, and when a slot frees everything
  waiting goes out as one digest message.
- ``mode = "digest"``: alerts wait for the schedule (``every`` or daily ``at``) and go out
  as one message, grouped by watch and story. Every alert stays an outbox row until the
  message that carried it is acknowledged.

Failures: 2xx acknowledges; retryable failures wait (exponential backoff with jitter,
Retry-After as a floor) and the channel's remaining queue waits with them. The channel's
health decides, not one message: a failed attempt counts against every alert it held back
too, so the whole queue ages together and, after ``max_attempts`` failed rounds or
``max_age`` since its first attempt, each alert becomes a dead letter (``failed``), in
about the same time whatever the queue's length (not one alert after another). When the
channel recovers, the head goes through and everything behind it flows, in order. Channel health (ok / failing) is kept in the store, logged once per
change, and shown by ``monitor status``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.alerts.base import Channel, Delivery
from monitor.alerts.events import digest
from monitor.config import ChannelConfig
from monitor.store import Store, StoredAlert

log = logging.getLogger("monitor.outbox")

BASE_DELAY = 15.0  # seconds before the first retry
MAX_DELAY = 3600.0
BATCH = 200  # alerts of one channel looked at per round
DIGEST_MAX = 500  # alerts in one digest message (more go out in the next one)
RATE_WINDOW = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def retry_delay(
    attempts: int,
    retry_after: float | None,
    rng: random.Random | None = None,
    *,
    base: float = BASE_DELAY,
    cap: float = MAX_DELAY,
) -> float:
    """Exponential backoff with jitter (between half and all of base·2^(n-1), capped);
    the receiver's Retry-After is a floor."""
    r = rng or random
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + r.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def _ceil_second(dt: datetime) -> datetime:
    """The store keeps whole seconds: round a due time up so it is never early."""
    return dt if dt.microsecond == 0 else dt.replace(microsecond=0) + timedelta(seconds=1)


def last_boundary(config: ChannelConfig, now: datetime) -> datetime:
    """The most recent digest time at or before ``now`` (``every`` or daily ``at``)."""
    tz = ZoneInfo(config.timezone)
    local = now.astimezone(tz)
    if config.at:
        hh, mm = (int(x) for x in config.at.split(":"))
        today = datetime.combine(local.date(), time(hh, mm), tzinfo=tz)
        b = today if today <= local else today - timedelta(days=1)
        return b.astimezone(UTC)
    every = config.every or 3600.0
    offset = local.utcoffset() or timedelta(0)
    # aligned to local midnight when `every` divides a day (30m: :00 and :30)
    t = now.timestamp() + offset.total_seconds()
    start = math.floor(t / every) * every - offset.total_seconds()
    return datetime.fromtimestamp(start, UTC)


def next_boundary(config: ChannelConfig, now: datetime) -> datetime:
    """The next digest time after ``now``."""
    step = timedelta(days=1) if config.at else timedelta(seconds=config.every or 3600.0)
    return last_boundary(config, now + step)


@dataclass
class DeliveryReport:
    delivered: list[StoredAlert] = field(default_factory=list)
    retrying: int = 0
    failed: int = 0
    waiting: int = 0  # held for a digest or by the rate limit
    messages: int = 0  # messages acknowledged (a digest counts once)


@dataclass(frozen=True)
class Waiting:
    """Alerts of one channel still pending after a drain, and why."""

    channel: str
    count: int
    reason: str


def _hhmm(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Outbox:
    """Delivers what the store's outbox holds. One instance per writer process.

    ``clock``, ``base_delay``, ``max_delay`` and ``rng`` are injectable so tests run in
    seconds (or in simulated time).
    """

    def __init__(
        self,
        store: Store,
        channels: dict[str, Channel],
        configs: dict[str, ChannelConfig],
        *,
        clock: Callable[[], datetime] = utcnow,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.configs = configs
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self.channel_errors: dict[str, str] = {}

    # -- health ----------------------------------------------------------------------------
    def _set_health(self, channel: str, ok: bool, error: str | None = None) -> None:
        """Record the channel's state in the store; log only when it changes."""
        before = self.store.set_channel_state(channel, ok, error, self.clock())
        if ok:
            self.channel_errors.pop(channel, None)
        elif error:
            self.channel_errors[channel] = error
        if before != "failing" and not ok:
            log.warning("channel %s is failing: %s (alerts are kept and retried)", channel, error)
        elif before == "failing" and ok:
            log.warning("channel %s recovered", channel)

    # -- a round ---------------------------------------------------------------------------
    async def deliver_due(self, now: datetime | None = None, limit: int = BATCH) -> DeliveryReport:
        """One round: every channel with due alerts, concurrently; each channel in order."""
        async with self._lock:  # the daemon's timer and a poll may both ask: one round at a time
            report = DeliveryReport()
            now = now or self.clock()
            names = self.store.due_channels(now)
            await asyncio.gather(*(self._channel(n, now, limit, report) for n in names))
            return report

    async def drain(self, max_rounds: int = 1000) -> DeliveryReport:
        """Rounds until nothing due is left that can go now (``run --once``): more than a
        round's batch goes out; what must wait (digest, rate limit, backoff) waits, and
        :meth:`still_waiting` says why."""
        total = DeliveryReport()
        for _ in range(max_rounds):
            r = await self.deliver_due()
            total.delivered += r.delivered
            total.failed += r.failed
            total.messages += r.messages
            if not (r.delivered or r.failed):
                break
        total.waiting = sum(w.count for w in self.still_waiting())
        return total

    def still_waiting(self, now: datetime | None = None) -> list[Waiting]:
        """Pending alerts per channel, each with the reason it has not gone out."""
        now = now or self.clock()
        out = []
        for name, (count, next_at) in self.store.pending_by_channel().items():
            out.append(Waiting(name, count, self._why_waiting(name, now, next_at)))
        return out

    def _why_waiting(self, name: str, now: datetime, next_at: datetime | None) -> str:
        cfg = self.configs.get(name)
        if cfg is None:
            return "the channel is not configured"
        backoff = self.store.channel_backoff(name, now)
        if backoff is not None:
            error = self.channel_errors.get(name) or "delivery failed"
            return f"backoff: the channel is failing ({error}); next try at {_hhmm(backoff)}"
        if cfg.mode == "digest":
            return f"digest: the next one goes out at {_hhmm(next_boundary(cfg, now))}"
        if self._allowance(name, cfg, now) == 0:
            at = f" at {_hhmm(next_at)}" if next_at else ""
            return f"rate limit: max_per_hour = {cfg.max_per_hour} reached; next slot{at}"
        if next_at is not None and next_at > now:
            return f"waiting until {_hhmm(next_at)}"
        return "due (more than one run delivers; run again)"

    async def _channel(self, name: str, now: datetime, limit: int, report: DeliveryReport) -> None:
        channel, cfg = self.channels.get(name), self.configs.get(name)
        if channel is None or cfg is None:
            items = self.store.due_alerts(now, limit=limit, channel=name)
            self.store.record_attempt(
                [a.id for a in items],
                delivered=False,
                failed_ids=[a.id for a in items],
                error=f"channel '{name}' is no longer configured",
                now=now,
            )
            report.failed += len(items)
            return
        blocked = self.store.channel_backoff(name, now)
        if blocked is not None:
            # the channel is in backoff after a failure: newer alerts queue behind it
            items = self.store.due_alerts(now, limit=limit, channel=name)
            self.store.defer_alerts([a.id for a in items], blocked)
            report.waiting += len(items)
            return
        if cfg.mode == "digest":
            items = self.store.due_alerts(now, limit=DIGEST_MAX, channel=name)
            boundary = last_boundary(cfg, now)
            if not any(a.created_at < boundary for a in items):
                report.waiting += len(items)
                return
            if self._allowance(name, cfg, now) == 0:
                report.waiting += len(items)
                return
            await self._send_digest(channel, cfg, items, now, report)
            return
        items = self.store.due_alerts(now, limit=limit, channel=name)
        allowed = self._allowance(name, cfg, now)
        if allowed is None or len(items) <= allowed:
            singles, rolled = items, []
        elif allowed >= 1:
            singles, rolled = items[: allowed - 1], items[allowed - 1 :]
        else:
            # no slot left this hour: everything waits for the next one, then goes as a digest
            sent = self.store.sent_since(name, now - RATE_WINDOW)
            free_at = (sent[0] if sent else now) + RATE_WINDOW
            self.store.defer_alerts([a.id for a in items], _ceil_second(free_at))
            report.waiting += len(items)
            return
        for i, alert in enumerate(singles):
            result = await channel.send(alert.event())
            next_at = self._record(cfg, [alert], result, report, None)
            if next_at is not None:
                # the receiver is in trouble: the rest of this channel's queue waits as well,
                # and the failure counts for it too (the channel failed, not just this one)
                self._hold(cfg, singles[i + 1 :] + rolled, result, next_at, report)
                return
        if len(rolled) == 1:
            result = await channel.send(rolled[0].event())
            self._record(cfg, rolled, result, report, None)
        elif rolled:
            await self._send_digest(channel, cfg, rolled, now, report)

    def _allowance(self, name: str, cfg: ChannelConfig, now: datetime) -> int | None:
        if cfg.max_per_hour is None:
            return None
        return max(0, cfg.max_per_hour - len(self.store.sent_since(name, now - RATE_WINDOW)))

    async def _send_digest(
        self,
        channel: Channel,
        cfg: ChannelConfig,
        items: list[StoredAlert],
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        event = digest([a.event() for a in items], channel.name, now=now)
        result = await channel.send(event)
        self._record(cfg, items, result, report, event.id)

    def _record(
        self,
        cfg: ChannelConfig,
        items: list[StoredAlert],
        result: Delivery,
        report: DeliveryReport,
        digest_id: str | None,
    ) -> datetime | None:
        """Store the outcome of one message; returns when to try again if it will be retried."""
        now = self.clock()
        name = items[0].channel
        ids = [a.id for a in items]
        if result.ok:
            self.store.record_attempt(ids, delivered=True, digest_id=digest_id, now=now)
            report.delivered.extend(items)
            report.messages += 1
            if result.error:
                log.warning("channel %s: %s", name, result.error)
            self._set_health(name, True)
            return None
        attempts = max(a.attempts for a in items) + 1
        gave_up = [a.id for a in items if not result.retry or _spent(cfg, a, now)]
        why = result.error or "failed"
        if result.retry and gave_up:
            why += f" (gave up after {attempts} attempts)"
        delay = retry_delay(
            attempts, result.retry_after, self.rng, base=self.base_delay, cap=self.max_delay
        )
        next_at = _ceil_second(now + timedelta(seconds=delay))
        self.store.record_attempt(
            ids, delivered=False, error=why, next_attempt=next_at, failed_ids=gave_up, now=now
        )
        report.failed += len(gave_up)
        report.retrying += len(ids) - len(gave_up)
        self._set_health(name, False, why)
        if gave_up:
            log.info("channel %s: %d alert(s) failed for good: %s", name, len(gave_up), why)
        return next_at if result.retry else None

    def _hold(
        self,
        cfg: ChannelConfig,
        items: list[StoredAlert],
        result: Delivery,
        next_at: datetime,
        report: DeliveryReport,
    ) -> None:
        """Alerts queued behind a message that failed and will be retried: they wait until
        ``next_at`` with it, and the failed round counts as an attempt for each."""
        if not items:
            return
        now = self.clock()
        gave_up = [a.id for a in items if _spent(cfg, a, now)]
        why = f"not sent: held behind a failed attempt ({result.error or 'failed'})"
        if gave_up:
            why += f" (gave up after {max(a.attempts for a in items) + 1} attempts)"
            log.info(
                "channel %s: %d alert(s) failed for good: %s", items[0].channel, len(gave_up), why
            )
        self.store.record_attempt(
            [a.id for a in items],
            delivered=False,
            error=why,
            next_attempt=next_at,
            failed_ids=gave_up,
            now=now,
        )
        report.failed += len(gave_up)
        report.retrying += len(items) - len(gave_up)


def _spent(cfg: ChannelConfig, alert: StoredAlert, now: datetime) -> bool:
    """Whether a failed attempt now leaves ``alert`` a dead letter (attempts or age used up)."""
    first = alert.first_attempt or now
    too_many = alert.attempts + 1 >= cfg.max_attempts
    too_old = (now - first).total_seconds() >= cfg.max_age
    return too_many or too_old
