"""When is a feed due again? Pure functions of the last fetch and the clock.

- success: the feed's interval (never sooner than the server's ``max-age`` asks,
  capped at 4× the interval, and never sooner than an RSS ``<ttl>`` when given,
  capped the same way);
- 429/503 with Retry-After: at least what the server asked for;
- any other failure: exponential backoff per feed, ``interval × 2^(failures-1)``,
  capped at ``max_backoff``;
- jitter spreads feeds that share an interval so they do not fire together.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from monitor.models import FetchResult


def backoff_delay(interval: float, failures: int, max_backoff: float) -> float:
    if failures <= 0:
        return interval
    return min(interval * (2 ** (failures - 1)), max(max_backoff, interval))


def next_poll(
    now: datetime,
    interval: float,
    result: FetchResult | None,
    failures: int,
    *,
    max_backoff: float,
    ttl: float | None = None,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> datetime:
    """The time of the next poll after a fetch that left the feed with ``failures``."""
    delay = interval
    if result is not None and result.ok:
        hints = [h for h in (result.cache_max_age, ttl) if h]
        if hints:
            delay = max(interval, min(max(hints), 4 * interval))
    elif failures > 0:
        delay = backoff_delay(interval, failures, max_backoff)
        if result is not None and result.retry_after is not None:
            delay = max(delay, min(result.retry_after, 7 * 86400))
    if jitter:
        r = rng or random
        delay *= 1 + r.uniform(-jitter, jitter)
    return now + timedelta(seconds=delay)
