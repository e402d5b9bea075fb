"""Delivery channels: one class per ``type`` of ``[alerts.NAME]``, built by :func:`make_channels`.

Every channel has ``async send(event) -> Delivery``: it never raises for a delivery
problem, it returns what happened (delivered, worth retrying, or failed for good).
The classes live in :mod:`.webhook`, :mod:`.chat` and :mod:`.email`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Protocol

import httpx

from monitor.alerts.render import claim_lines, hits_plain, one_line
from monitor.config import ChannelConfig
from monitor.feeds.fetch import parse_retry_after
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
        return one_line(line, 2000)
    if event.type in ("claim.confirmed", "claim.contradicted"):
        claim = p.get("claim") or {}
        ev = p.get("evidence") or {}
        verb = "confirms" if event.type == "claim.confirmed" else "CONTRADICTS"
        conf = p.get("confidence")
        line = (
            f"[{event.watch}] {art.get('source')} {verb} “{claim.get('text')}”:"
            f' "{hits_plain(str(ev.get("quote") or ""))}"'
        )
        if ev.get("attribution"):
            line += f" ({ev['attribution']})"
        if isinstance(conf, int | float):
            line += f" confidence {conf:.2f}"
        context = claim_lines(p)
        if context:
            line += " | " + " | ".join(context)
        return one_line(f"{line} <{art.get('url')}>", 2000)
    if event.type == "story.updated":
        story = p.get("story") or {}
        title = story.get("title") or art.get("title")
        return one_line(f"[{event.watch}] story updated: {title} <{art.get('url')}>", 2000)
    if event.type == "digest":
        n = len(p.get("events") or [])
        return f"[digest {p.get('channel')}] {n} alerts: {', '.join(p.get('watches') or [])}"
    summary = p.get("summary") or art.get("title") or ""
    return one_line(f"[{event.watch}] {event.type}: {summary}", 2000)


class LogChannel:
    """Writes a readable line to the log (stderr of the daemon)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, event: AlertEvent) -> Delivery:
        if event.type == "digest":
            log.info("ALERT %s", format_line(event))
            for p in event.payload.get("events") or []:
                log.info(
                    "ALERT   %s", format_line(AlertEvent(p["id"], p["type"], "", p["watch"], p))
                )
        else:
            log.info("ALERT %s", format_line(event))
        return Delivery(ok=True)


# -- HTTP helpers shared by the webhook and chat channels --------------------------------------
def http_outcome(response: httpx.Response) -> Delivery:
    """Any 2xx acknowledges; 408, 429 and 5xx are retried (Retry-After honoured); anything
    else (other 4xx, redirects) fails at once."""
    status = response.status_code
    if 200 <= status < 300:
        return Delivery(ok=True)
    error = f"HTTP {status} {response.reason_phrase}".strip()
    if 300 <= status < 400:
        where = response.headers.get("location")
        error += f" (redirects to {where}: update the channel's url)" if where else ""
    body = response.text[:200].strip() if response.content else ""
    if body and status >= 400:
        error += f": {one_line(body, 200)}"
    retryable = status in (408, 429) or status >= 500
    return Delivery(
        ok=False,
        retry=retryable,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        error=error,
    )


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
) -> Delivery:
    """POST and classify the outcome; network trouble is retryable, never raised."""
    try:
        r = await client.post(url, content=content, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return Delivery(ok=False, retry=True, error="timed out")
    except httpx.HTTPError as e:
        return Delivery(ok=False, retry=True, error=f"{type(e).__name__}: {e}")
    except (ValueError, UnicodeError) as e:  # e.g. a header value that cannot be sent
        return Delivery(ok=False, retry=False, error=f"cannot build the request: {e}")
    return http_outcome(r)


def missing_env(variable: str | None, what: str) -> Delivery | None:
    """A retryable failure when a configured environment variable is not set."""
    if variable and not os.environ.get(variable):
        return Delivery(
            ok=False, retry=True, error=f"environment variable {variable} ({what}) is not set"
        )
    return None


def make_channels(
    configs: dict[str, ChannelConfig], client: httpx.AsyncClient
) -> dict[str, Channel]:
    from monitor.alerts.chat import AppriseChannel, DiscordChannel, NtfyChannel, SlackChannel
    from monitor.alerts.email import EmailChannel
    from monitor.alerts.webhook import WebhookChannel

    channels: dict[str, Channel] = {}
    for name, cfg in configs.items():
        if cfg.type == "log":
            channels[name] = LogChannel(name)
        elif cfg.type == "webhook":
            channels[name] = WebhookChannel(name, cfg, client)
        elif cfg.type == "slack":
            channels[name] = SlackChannel(name, cfg, client)
        elif cfg.type == "discord":
            channels[name] = DiscordChannel(name, cfg, client)
        elif cfg.type == "ntfy":
            channels[name] = NtfyChannel(name, cfg, client)
        elif cfg.type == "apprise":
            channels[name] = AppriseChannel(name, cfg)
        elif cfg.type == "email":
            channels[name] = EmailChannel(name, cfg)
    return channels


def channel_problems(configs: dict[str, ChannelConfig]) -> list[str]:
    """Problems a valid config can still have at run time (for check-config and startup):
    environment variables that are not set, an optional package that is missing."""
    out: list[str] = []
    for name, cfg in configs.items():
        for key in ("secret_env", "url_env", "token_env", "password_env"):
            var = getattr(cfg, key)
            if var and not os.environ.get(var):
                out.append(f"alerts.{name}.{key}: environment variable {var} is not set")
        if cfg.type == "apprise":
            from monitor.alerts.chat import apprise_missing

            if apprise_missing():
                out.append(f"alerts.{name}: {apprise_missing()}")
    return out
