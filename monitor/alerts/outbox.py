"""Delivering the outbox: at-least-once, with backoff, a dead letter, and quiet logs.

Alert rows are written by the pipeline in the same transaction as their cause; this
module only reads due rows, attempts them and records the outcome. A crash between an
attempt and its record means the alert is sent again: receivers de-duplicate by id.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.alerts.channels import Channel, Delivery
from monitor.config import ChannelConfig
from monitor.store import Store, StoredAlert

log = logging.getLogger("monitor.outbox")

BASE_DELAY = 15.0  # seconds before the first retry
MAX_DELAY = 3600.0


def retry_delay(
    attempts: int, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter; Retry-After is a floor."""
    r = rng or random
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + r.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass
class DeliveryReport:
    delivered: list[StoredAlert] = field(default_factory=list)
    retrying: int = 0
    failed: int = 0


class Outbox:
    def __init__(
        self,
        store: Store,
        channels: dict[str, Channel],
        configs: dict[str, ChannelConfig],
    ) -> None:
        self.store = store
        self.channels = channels
        self.configs = configs
        self._healthy: dict[str, bool] = {}
        self.channel_errors: dict[str, str] = {}

    def _set_health(self, channel: str, ok: bool, error: str | None = None) -> None:
        before = self._healthy.get(channel, True)
        self._healthy[channel] = ok
        if ok:
            self.channel_errors.pop(channel, None)
        elif error:
            self.channel_errors[channel] = error
        if before and not ok:
            log.warning("channel %s is failing: %s (alerts are kept and retried)", channel, error)
        elif not before and ok:
            log.warning("channel %s recovered", channel)

    async def deliver_due(self, now: datetime | None = None, limit: int = 200) -> DeliveryReport:
        report = DeliveryReport()
        due = self.store.due_alerts(now, limit=limit)
        by_channel: dict[str, list[StoredAlert]] = defaultdict(list)
        for a in due:
            by_channel[a.channel].append(a)
        await asyncio.gather(
            *(self._channel(ch, items, report) for ch, items in by_channel.items())
        )
        return report

    async def _channel(self, name: str, items: list[StoredAlert], report: DeliveryReport) -> None:
        channel = self.channels.get(name)
        for alert in items:
            if channel is None:
                self.store.record_delivery(
                    alert.id,
                    delivered=False,
                    failed=True,
                    error=f"channel '{name}' is no longer configured",
                )
                report.failed += 1
                continue
            result = await channel.send(alert.event())
            self._record(alert, result, report)
            if not result.ok and result.retry:
                # the receiver is in trouble: leave the rest of this channel's queue for later
                for rest in items[items.index(alert) + 1 :]:
                    self._postpone(rest, result)
                    report.retrying += 1
                break

    def _postpone(self, alert: StoredAlert, result: Delivery) -> None:
        delay = retry_delay(1, result.retry_after)
        self.store.defer_alert(alert.id, datetime.now(UTC) + timedelta(seconds=delay))

    def _record(self, alert: StoredAlert, result: Delivery, report: DeliveryReport) -> None:
        if result.ok:
            self.store.record_delivery(alert.id, delivered=True)
            self._set_health(alert.channel, True)
            report.delivered.append(alert)
            return
        cfg = self.configs.get(alert.channel)
        attempts = alert.attempts + 1
        age = (datetime.now(UTC) - alert.created_at).total_seconds()
        too_many = cfg is not None and attempts >= cfg.max_attempts
        too_old = cfg is not None and age >= cfg.max_age
        if not result.retry or too_many or too_old:
            why = result.error or "failed"
            if result.retry:
                why += f" (gave up after {attempts} attempts)"
            self.store.record_delivery(alert.id, delivered=False, failed=True, error=why)
            report.failed += 1
            self._set_health(alert.channel, False, why)
            return
        delay = retry_delay(attempts, result.retry_after)
        self.store.record_delivery(
            alert.id,
            delivered=False,
            error=result.error,
            next_attempt=datetime.now(UTC) + timedelta(seconds=delay),
        )
        report.retrying += 1
        self._set_health(alert.channel, False, result.error)
