"""Email over SMTP (STARTTLS, implicit TLS or plain), multipart text + HTML.

Headers are built with :class:`email.message.EmailMessage` (default policy) from one-line,
control-character-free text, and the HTML part escapes everything, so an article title
cannot add headers or markup. Each message's ``Message-ID`` derives from the event id
(stable across retries); ``In-Reply-To``/``References`` name a per-story root id, so mail
clients thread the alerts about one story together.
"""

from __future__ import annotations

import asyncio
import html
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from typing import Any

from monitor.alerts.base import Delivery, missing_env
from monitor.alerts.render import (
    View,
    clip,
    digest_plain_text,
    grouped,
    meta_line,
    plain_text,
    split_hits,
    summary_title,
    thread_key,
    view,
)
from monitor.config import ChannelConfig
from monitor.models import AlertEvent

SUBJECT_MAX = 200


def mail_domain(address: str | None) -> str:
    domain = parseaddr(address or "")[1].rpartition("@")[2]
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain)
    return domain or "news-monitor.localhost"


def message_id(local: str, domain: str) -> str:
    return f"<{re.sub(r'[^A-Za-z0-9._-]', '', local)}@{domain}>"


def _html_snippet(detail: str) -> str:
    return "".join(
        f"<strong>{html.escape(t)}</strong>" if hit else html.escape(t)
        for t, hit in split_hits(detail)
    )


def _html_link(url: str | None, label: str) -> str:
    if not url:
        return html.escape(label)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def _html_event(v: View) -> str:
    parts = [f'<h2 style="font-size:1.1em;margin:0 0 .3em">{_html_link(v.url, v.headline)}</h2>']
    if v.claim:
        parts.append(f'<p style="margin:0">Report: {_html_link(v.url, v.title)}</p>')
    meta = meta_line(v)
    if meta:
        parts.append(f'<p style="color:#555;margin:0">{html.escape(meta)}</p>')
    parts += [f'<p style="margin:.2em 0">{html.escape(line)}</p>' for line in v.context]
    if v.detail:
        parts.append(
            '<blockquote style="border-left:3px solid #ccc;margin:.6em 0;padding-left:.8em">'
            f"{_html_snippet(v.detail)}</blockquote>"
        )
    tail = f"Watch: {html.escape(v.watch)}"
    if v.terms:
        tail += f" · matched: {html.escape(', '.join(v.terms))}"
    parts.append(f'<p style="color:#777;font-size:.9em">{tail}</p>')
    return "\n".join(parts)


def html_body(payload: dict[str, Any]) -> str:
    if payload.get("type") == "digest":
        parts = [f'<h1 style="font-size:1.2em">{html.escape(summary_title(payload))}</h1>']
        for watch, stories in grouped(payload.get("events") or []):
            parts.append(f'<h2 style="font-size:1.1em">{html.escape(watch)}</h2><ul>')
            for story_title, views in stories:
                items = "".join(
                    f"<li>{_html_link(v.url, v.headline)}"
                    + (f" — {html.escape(v.source)}" if v.source else "")
                    + "</li>"
                    for v in views
                )
                parts.append(f"<li>{html.escape(story_title)}<ul>{items}</ul></li>")
            parts.append("</ul>")
        inner = "\n".join(parts)
    else:
        inner = _html_event(view(payload))
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family:sans-serif">\n{inner}\n</body></html>\n'
    )


class _MailPolicy(EmailPolicy):
    """The default policy, but a Subject folded so every reader unfolds it to the text it
    was: the stock folder sometimes drops or adds a space where it splits encoded words
    (one subject in seven with non-ASCII text, measured), or opens with an empty line."""

    def _subject(self, name: str, value: str) -> str:
        if value.isascii():  # fold at spaces: unfolding (dropping the CRLF) restores them
            lines = [f"{name}:"]
            for word in value.split(" "):
                if len(lines[-1]) + 1 + len(word) > 76 and lines[-1] != f"{name}:":
                    lines.append("")
                lines[-1] += " " + word
            return self.linesep.join(lines) + self.linesep
        # one run of encoded words that carry the spaces inside them (email.header.Header)
        encoded = Header(value, "utf-8", header_name=name, maxlinelen=76)
        return f"{name}: {encoded.encode(linesep=self.linesep)}{self.linesep}"

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject":
            return self._subject(name, str(value))
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject":
            return self._subject(name, str(value)).encode("ascii")
        return super().fold_binary(name, value)


MAIL_POLICY = _MailPolicy()


def build_message(
    event: AlertEvent, config: ChannelConfig, now: datetime | None = None
) -> EmailMessage:
    """The complete message for one event or digest (nothing here raises for odd input)."""
    now = now or datetime.now(UTC)
    p = event.payload
    domain = mail_domain(config.from_)
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = clip(summary_title(p, SUBJECT_MAX + 50), SUBJECT_MAX)
    msg["From"] = config.from_ or ""
    msg["To"] = ", ".join(config.to)
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = message_id(event.id, domain)
    if event.type != "digest":
        root = message_id(thread_key(p), domain)
        msg["In-Reply-To"] = root
        msg["References"] = root
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-News-Monitor-Event"] = re.sub(r"[^a-z.]", "", event.type)
    text = digest_plain_text(p) if event.type == "digest" else plain_text(p)
    msg.set_content(text + "\n\n-- \nnews-monitor\n")
    msg.add_alternative(html_body(p), subtype="html")
    return msg


def _smtp_outcome(code: int, message: Any, what: str) -> Delivery:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    error = f"SMTP {code} {text.strip()}".strip() + (f" ({what})" if what else "")
    # 4xx: temporary (greylisting, mailbox busy); 5xx: permanent
    return Delivery(ok=False, retry=400 <= code < 500, error=clip(error, 300))


class EmailChannel:
    def __init__(self, name: str, config: ChannelConfig) -> None:
        self.name = name
        self.config = config

    async def send(self, event: AlertEvent) -> Delivery:
        problem = missing_env(self.config.password_env, "the SMTP password")
        if problem:
            return problem
        msg = build_message(event, self.config)
        return await asyncio.to_thread(self.send_message, msg)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        host, port, timeout = cfg.host or "localhost", cfg.smtp_port(), cfg.timeout
        context = ssl.create_default_context(cafile=cfg.ca_file)
        if cfg.tls == "implicit":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if cfg.tls == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send_message(self, msg: EmailMessage) -> Delivery:
        """Blocking: connect, (STARTTLS), log in, send; classify every failure."""
        cfg = self.config
        try:
            smtp = self._connect()
            try:
                if cfg.username:
                    smtp.login(cfg.username, cfg.env(cfg.password_env) or "")
                refused = smtp.send_message(
                    msg,
                    from_addr=parseaddr(cfg.from_ or "")[1],
                    to_addrs=[parseaddr(a)[1] for a in cfg.to],
                )
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()))
            return _smtp_outcome(code, text, "every recipient was refused")
        except smtplib.SMTPAuthenticationError as e:
            return _smtp_outcome(e.smtp_code, e.smtp_error, "login failed")
        except smtplib.SMTPResponseException as e:
            return _smtp_outcome(e.smtp_code, e.smtp_error, "")
        except smtplib.SMTPNotSupportedError as e:
            return Delivery(ok=False, retry=True, error=f"SMTP server: {e}")
        except ssl.SSLError as e:
            return Delivery(ok=False, retry=True, error=f"TLS: {e}")
        except TimeoutError:
            return Delivery(ok=False, retry=True, error="SMTP timed out")
        except (smtplib.SMTPException, OSError) as e:
            return Delivery(ok=False, retry=True, error=f"SMTP: {type(e).__name__}: {e}")
        if refused:
            # some recipients took it: count as delivered (re-sending would duplicate)
            bad = ", ".join(sorted(refused))
            return Delivery(ok=True, error=f"refused by the server for: {bad}")
        return Delivery(ok=True)
