"""Chat presets: Slack and Discord incoming webhooks, ntfy, and Apprise for the long tail.

Each formats the event for its service and escapes everything that came from an article,
so a title cannot ping a channel (``<!channel>``, ``@everyone``), forge a link, or break
the markup.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx

from monitor.alerts.base import Delivery, missing_env, post
from monitor.alerts.render import (
    View,
    clip,
    digest_plain_text,
    grouped,
    hits_plain,
    meta_line,
    one_line,
    plain_text,
    split_hits,
    summary_title,
    view,
)
from monitor.config import ChannelConfig
from monitor.models import AlertEvent

_JSON = {"Content-Type": "application/json"}


class _HttpChat:
    def __init__(self, name: str, config: ChannelConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self.config = config
        self.client = client

    def body(self, event: AlertEvent) -> tuple[bytes, dict[str, str]]:
        raise NotImplementedError

    async def send(self, event: AlertEvent) -> Delivery:
        problem = missing_env(self.config.url_env, "the URL") or missing_env(
            self.config.token_env, "the access token"
        )
        if problem:
            return problem
        url = self.config.target_url()
        assert url
        content, headers = self.body(event)
        return await post(
            self.client,
            url,
            content=content,
            headers={**self.config.headers, **headers},
            timeout=self.config.timeout,
        )


# -- Slack ---------------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    """Slack's three control characters; this also defuses <!channel> and <@U…> mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    label = slack_escape(label).replace("|", "∣")
    return f"<{slack_escape(url)}|{label}>" if url else label


def _slack_snippet(detail: str) -> str:
    return "".join(
        f"*{slack_escape(t)}*" if hit else slack_escape(t) for t, hit in split_hits(detail)
    )


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}}


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """Slack incoming-webhook JSON: a fallback ``text`` and Block Kit ``blocks``."""
    if payload.get("type") == "digest":
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": clip(summary_title(payload), 150)},
            }
        ]
        for watch, stories in grouped(payload.get("events") or []):
            lines = [f"*{slack_escape(one_line(watch, 100))}*"]
            for story_title, views in stories:
                lines.append(f"• {slack_escape(story_title)}")
                for v in views:
                    src = f" — {slack_escape(v.source)}" if v.source else ""
                    lines.append(f"    ◦ {_slack_link(v.url, v.headline)}{src}")
            if len(blocks) < 49:
                blocks.append(_slack_section("\n".join(lines)))
        return {
            "text": slack_escape(summary_title(payload)),
            "blocks": blocks,
            "unfurl_links": False,
        }
    v = view(payload)
    lines = [f"*{_slack_link(v.url, v.headline)}*"]
    if v.claim:
        lines.append(f"Report: {_slack_link(v.url, v.title)}")
    meta = meta_line(v)
    if meta:
        lines.append(slack_escape(meta))
    lines += [slack_escape(line) for line in v.context]
    if v.detail:
        lines.append("> " + _slack_snippet(v.detail))
    context = f"watch *{slack_escape(v.watch)}*"
    if v.terms:
        context += " · matched: " + slack_escape(", ".join(v.terms))
    return {
        "text": slack_escape(summary_title(payload)),
        "blocks": [
            _slack_section("\n".join(lines)),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(context, 3000)}]},
        ],
        "unfurl_links": False,
    }


class SlackChannel(_HttpChat):
    def body(self, event: AlertEvent) -> tuple[bytes, dict[str, str]]:
        return json.dumps(slack_message(event.payload), ensure_ascii=False).encode(), _JSON


# -- Discord -------------------------------------------------------------------------------
_DISCORD_SPECIAL = set("\\*_~`|>#-[]()<@:")
_COLOURS = {
    "article.matched": 0x3B82F6,
    "story.updated": 0x6B7280,
    "claim.confirmed": 0x16A34A,
    "claim.contradicted": 0xDC2626,
    "digest": 0x3B82F6,
}


def discord_escape(text: str) -> str:
    """Backslash-escape Discord markdown (mentions are also blocked by allowed_mentions)."""
    return "".join("\\" + c if c in _DISCORD_SPECIAL else c for c in text)


def _discord_link(url: str | None, label: str) -> str:
    return f"[{discord_escape(label)}]({url})" if url else discord_escape(label)


def _discord_embed(v: View) -> dict[str, Any]:
    desc = []
    if v.claim:
        desc.append(f"Report: {_discord_link(v.url, v.title)}")
    desc += [discord_escape(line) for line in v.context]
    if v.detail:
        desc.append(
            "> "
            + "".join(
                f"**{discord_escape(t)}**" if hit else discord_escape(t)
                for t, hit in split_hits(v.detail)
            )
        )
    embed: dict[str, Any] = {
        "title": clip(v.headline, 256),
        "description": clip("\n".join(desc), 4096),
        "color": _COLOURS.get(v.type, 0x3B82F6),
        "footer": {"text": clip(" · ".join(x for x in (v.watch, meta_line(v)) if x), 2048)},
    }
    if v.url:
        embed["url"] = v.url
    if v.terms:
        embed["fields"] = [
            {"name": "matched", "value": clip(discord_escape(", ".join(v.terms)), 1024)}
        ]
    return embed


def discord_message(payload: dict[str, Any]) -> dict[str, Any]:
    """Discord webhook JSON with embeds; ``allowed_mentions`` off, so nothing pings."""
    msg: dict[str, Any] = {"username": "news-monitor", "allowed_mentions": {"parse": []}}
    if payload.get("type") != "digest":
        msg["embeds"] = [_discord_embed(view(payload))]
        return msg
    embeds = []
    groups = grouped(payload.get("events") or [])
    for watch, stories in groups[:10]:
        lines = []
        for story_title, views in stories:
            lines.append(f"**{discord_escape(story_title)}**")
            for v in views:
                src = f" — {discord_escape(v.source)}" if v.source else ""
                lines.append(f"• {_discord_link(v.url, v.headline)}{src}")
        embeds.append(
            {
                "title": clip(one_line(watch, 200), 256),
                "description": clip("\n".join(lines), 4000),
                "color": _COLOURS["digest"],
            }
        )
    msg["content"] = clip(summary_title(payload), 2000)
    if len(groups) > 10:
        msg["content"] += f" (first 10 of {len(groups)} watches)"
    msg["embeds"] = embeds
    return msg


class DiscordChannel(_HttpChat):
    def body(self, event: AlertEvent) -> tuple[bytes, dict[str, str]]:
        return json.dumps(discord_message(event.payload), ensure_ascii=False).encode(), _JSON


# -- ntfy ----------------------------------------------------------------------------------
_NTFY_TAGS = {
    "article.matched": "newspaper",
    "story.updated": "newspaper,arrows_counterclockwise",
    "claim.confirmed": "white_check_mark",
    "claim.contradicted": "warning",
    "digest": "newspaper,card_index",
}
NTFY_MAX_BYTES = 4000  # ntfy turns longer messages into attachments


def header_value(text: str) -> str:
    """A one-line header value; non-ASCII as RFC 2047 encoded words, which ntfy decodes."""
    s = one_line(text, 250)
    if s.isascii():
        return s
    words, chunk = [], b""
    for ch in s:
        b = ch.encode("utf-8")
        if len(chunk) + len(b) > 45:
            words.append(chunk)
            chunk = b""
        chunk += b
    words.append(chunk)
    return " ".join(f"=?UTF-8?B?{base64.b64encode(w).decode()}?=" for w in words)


def ntfy_request(
    payload: dict[str, Any], priority: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """ntfy publish: the message as the body, Title/Tags/Click/Priority headers."""
    etype = str(payload.get("type", ""))
    if etype == "digest":
        title, text, click = summary_title(payload), digest_plain_text(payload), None
    else:
        v = view(payload)
        title = summary_title(payload)
        lines = [meta_line(v)] if meta_line(v) else []
        if v.claim:
            lines.insert(0, f"Report: {v.title}")
        lines += v.context
        if v.detail:
            lines.append(f"“{hits_plain(v.detail)}”")
        text, click = "\n".join(lines) or v.title, v.url
    body = text.encode("utf-8")
    if len(body) > NTFY_MAX_BYTES:
        body = body[: NTFY_MAX_BYTES - 3].decode("utf-8", "ignore").encode() + "…".encode()
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Title": header_value(title),
        "Tags": _NTFY_TAGS.get(etype, "newspaper"),
    }
    if click:
        headers["Click"] = click
    prio = priority or (4 if etype == "claim.contradicted" else None)
    if prio:
        headers["Priority"] = str(prio)
    return body, headers


class NtfyChannel(_HttpChat):
    def body(self, event: AlertEvent) -> tuple[bytes, dict[str, str]]:
        content, headers = ntfy_request(event.payload, self.config.priority)
        token = self.config.env(self.config.token_env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return content, headers


# -- Apprise (optional extra: pip install 'news-monitor[apprise]') ---------------------------
def apprise_missing() -> str | None:
    """An explanation when the apprise package is not installed, else None."""
    try:
        import apprise  # noqa: F401
    except ImportError:
        return (
            "type 'apprise' needs the apprise package, which is not installed:"
            " pip install 'news-monitor[apprise]'"
        )
    return None


class AppriseChannel:
    """Hands the message to Apprise (100+ services); the URL comes from ``url_env``."""

    def __init__(self, name: str, config: ChannelConfig) -> None:
        self.name = name
        self.config = config

    async def send(self, event: AlertEvent) -> Delivery:
        missing = apprise_missing()
        if missing:
            return Delivery(ok=False, retry=True, error=missing)
        problem = missing_env(self.config.url_env, "the Apprise URL")
        if problem:
            return problem
        if event.type == "digest":
            title, body = summary_title(event.payload), digest_plain_text(event.payload)
        else:
            title, body = summary_title(event.payload), plain_text(event.payload)
        url = self.config.target_url()
        assert url
        return await asyncio.to_thread(self._notify, url, title, body)

    def _notify(self, url: str, title: str, body: str) -> Delivery:
        import apprise

        ap = apprise.Apprise()
        if not ap.add(url):
            return Delivery(
                ok=False,
                retry=False,
                error=f"Apprise does not understand the URL in {self.config.url_env}",
            )
        ok = ap.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        # Apprise reports only success or failure: a failure is retried with backoff
        return Delivery(ok=True) if ok else Delivery(ok=False, retry=True, error="Apprise failed")
