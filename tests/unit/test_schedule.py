import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.feeds.fetch import parse_max_age, parse_retry_after
from monitor.feeds.schedule import backoff_delay, next_poll
from monitor.models import FetchResult

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
OK = FetchResult(requested_url="u", url="u", status=200)


def err(**kw):
    return FetchResult(requested_url="u", url="u", error="boom", error_kind="http", **kw)


def test_success_uses_interval():
    assert next_poll(NOW, 900, OK, 0, max_backoff=3600) == NOW + timedelta(seconds=900)


def test_max_age_stretches_but_is_capped_at_four_intervals():
    r = FetchResult(requested_url="u", url="u", status=200, cache_max_age=1800)
    assert next_poll(NOW, 900, r, 0, max_backoff=3600) == NOW + timedelta(seconds=1800)
    r = FetchResult(requested_url="u", url="u", status=200, cache_max_age=10**6)
    assert next_poll(NOW, 900, r, 0, max_backoff=3600) == NOW + timedelta(seconds=3600)


def test_rss_ttl_is_respected():
    assert next_poll(NOW, 600, OK, 0, max_backoff=3600, ttl=1200) == NOW + timedelta(seconds=1200)


@pytest.mark.parametrize("failures,expected", [(1, 60), (2, 120), (3, 240), (10, 1000)])
def test_backoff_doubles_and_caps(failures, expected):
    assert backoff_delay(60, failures, 1000) == expected
    assert next_poll(NOW, 60, err(), failures, max_backoff=1000) == NOW + timedelta(
        seconds=expected
    )


def test_retry_after_is_a_floor():
    r = err(status=429, retry_after=5000)
    assert next_poll(NOW, 60, r, 1, max_backoff=1000) == NOW + timedelta(seconds=5000)


def test_jitter_stays_in_range():
    rng = random.Random(1)
    times = {next_poll(NOW, 1000, OK, 0, max_backoff=1, jitter=0.1, rng=rng) for _ in range(50)}
    assert len(times) > 40
    for t in times:
        assert NOW + timedelta(seconds=900) <= t <= NOW + timedelta(seconds=1100)


def test_header_parsing():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None
    assert parse_max_age("public, max-age=300") == 300
    assert parse_max_age("no-cache") is None
