"""`monitor alerts test CHANNEL`: send one sample alert straight to a channel."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from monitor.alerts.base import Delivery
from monitor.alerts.channels import make_channels
from monitor.alerts.events import article_matched
from monitor.config import Config
from monitor.models import AlertEvent, Article, Match


def sample_article() -> Article:
    now = datetime.now(UTC)
    return Article(
        url="https://example.org/news-monitor-test",
        title="news-monitor test alert: this channel works",
        text="A sample alert sent by 'monitor alerts test'.",
        text_source="title",
        feed_name="news-monitor",
        guid="news-monitor-test",
        site_name="news-monitor",
        published=now,
    )


async def send_sample(config: Config, channel: str) -> tuple[AlertEvent, Delivery]:
    """Send a sample ``article.matched`` event to one configured channel (no outbox row);
    the event sent and the outcome."""
    match = Match(
        watch="test",
        terms=("test",),
        snippets=("A sample alert sent by 'monitor alerts [[test]]'.",),
    )
    (event,) = article_matched(sample_article(), match, [channel])
    async with httpx.AsyncClient(
        headers={"User-Agent": config.fetch.user_agent}, follow_redirects=False
    ) as client:
        channels = make_channels({channel: config.alerts[channel]}, client)
        return event, await channels[channel].send(event)
