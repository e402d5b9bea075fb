"""Delivery channels: one class per ``type`` of ``[alerts.NAME]``."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
from standardwebhooks import Webhook

from monitor.config import ChannelConfig
from monitor.fetch import parse_retry_after
from monitor.models import AlertEvent

log = logging.getLogger("monitor.alert")


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt."""

    ok: bool
    retry: bool = False  # worth trying again later
    retry_after: float | None = None  # seconds the receiver asked us to wait
    error: str | None = None


class Channel(Protocol):
    name: str

    async def send(self, event: AlertEvent) -> Delivery: ...


def format_line(event: AlertEvent) -> str:
    """A readable one-line summary of an event, for logs and the terminal."""
    p = event.payload
    art = p.get("article") or {}
    if event.type == "article.matched":
        when = f" ({art['published'][:10]})" if art.get("published") else ""
        terms = ", ".join(p.get("matched_terms", []))
        line = f"[{event.watch}] {art.get('title')} — {art.get('source')}{when} <{art.get('url')}>"
        if terms:
            line += f" | matched: {terms}"
        if p.get("snippet"):
            line += f' | "{p["snippet"]}"'
        return line
    summary = p.get("summary") or art.get("title") or ""
    return f"[{event.watch}] {event.type}: {summary}"


class LogChannel:
    """Writes a readable line to the log (stderr of the daemon)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, event: AlertEvent) -> Delivery:
        log.info("ALERT %s", format_line(event))
        return Delivery(ok=True)


def webhook_signer(secret: str) -> Webhook:
    """Standard Webhooks signer; a secret without the ``whsec_`` prefix is used as raw bytes."""
    return Webhook(secret if secret.startswith("whsec_") else secret.encode("utf-8"))


class WebhookChannel:
    """POSTs the event's JSON, signed per Standard Webhooks when a secret is configured."""

    def __init__(self, name: str, config: ChannelConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self.config = config
        self.client = client

    def request_headers(self, event: AlertEvent, body: str) -> dict[str, str]:
        now = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
            **self.config.headers,
        }
        secret = self.config.secret()
        if secret:
            headers["webhook-signature"] = webhook_signer(secret).sign(event.id, now, body)
        return headers

    async def send(self, event: AlertEvent) -> Delivery:
        assert self.config.url
        body = json.dumps(event.payload, ensure_ascii=False, sort_keys=True)
        try:
            r = await self.client.post(
                self.config.url,
                content=body.encode("utf-8"),
                headers=self.request_headers(event, body),
                timeout=self.config.timeout,
            )
        except httpx.TimeoutException:
            return Delivery(ok=False, retry=True, error="timed out")
        except httpx.HTTPError as e:
            return Delivery(ok=False, retry=True, error=f"{type(e).__name__}: {e}")
        if 200 <= r.status_code < 300:
            return Delivery(ok=True)
        error = f"HTTP {r.status_code} {r.reason_phrase}".strip()
        retryable = r.status_code in (408, 429) or r.status_code >= 500
        return Delivery(
            ok=False,
            retry=retryable,
            retry_after=parse_retry_after(r.headers.get("retry-after")),
            error=error,
        )


def make_channels(
    configs: dict[str, ChannelConfig], client: httpx.AsyncClient
) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for name, cfg in configs.items():
        if cfg.type == "log":
            channels[name] = LogChannel(name)
        elif cfg.type == "webhook":
            channels[name] = WebhookChannel(name, cfg, client)
    return channels
