"""Delivery channels: one class per ``type`` of ``[alerts.NAME]``, built by :func:`make_channels`.

Every channel has ``async send(event) -> Delivery``: it never raises for a delivery
problem, it returns what happened (delivered, worth retrying, or failed for good).
The classes live in :mod:`.webhook`, :mod:`.chat` and :mod:`.email`; what they share
(:class:`Delivery`, :class:`Channel`, :func:`post`, :func:`missing_env`) is in :mod:`.base`,
so the channel modules import only that, never each other or this module.
"""

from __future__ import annotations

import os

import httpx

from monitor.alerts.base import Channel, Delivery, log
from monitor.alerts.render import claim_lines, hits_plain, one_line
from monitor.config import ChannelConfig
from monitor.models import AlertEvent

__all__ = ["Channel", "Delivery", "LogChannel", "channel_problems", "format_line", "make_channels"]


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


def make_channels(
    configs: dict[str, ChannelConfig],
    client: httpx.AsyncClient,
    public_client: httpx.AsyncClient | None = None,
) -> dict[str, Channel]:
    """The channels, HTTP ones on ``client``; those with ``allow_private_networks = false``
    on ``public_client`` (which refuses non-public addresses) when one is given."""
    from monitor.alerts.chat import AppriseChannel, DiscordChannel, NtfyChannel, SlackChannel
    from monitor.alerts.email import EmailChannel
    from monitor.alerts.webhook import WebhookChannel

    channels: dict[str, Channel] = {}
    for name, cfg in configs.items():
        http = public_client if public_client and not cfg.allow_private_networks else client
        if cfg.type == "log":
            channels[name] = LogChannel(name)
        elif cfg.type == "webhook":
            channels[name] = WebhookChannel(name, cfg, http)
        elif cfg.type == "slack":
            channels[name] = SlackChannel(name, cfg, http)
        elif cfg.type == "discord":
            channels[name] = DiscordChannel(name, cfg, http)
        elif cfg.type == "ntfy":
            channels[name] = NtfyChannel(name, cfg, http)
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
