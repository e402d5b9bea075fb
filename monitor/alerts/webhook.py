"""Generic webhook: the event's JSON, signed per Standard Webhooks.

Headers: ``webhook-id`` (the event id, stable across retries: receivers de-duplicate by
it), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``). Payload shapes are described
by the JSON Schema files in ``monitor/alerts/schemas/``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from monitor.alerts.base import Delivery, log, missing_env, post
from monitor.config import ChannelConfig
from monitor.models import AlertEvent


def webhook_signer(secret: str) -> Webhook:
    """Standard Webhooks signer; a secret without the ``whsec_`` prefix is used as raw bytes."""
    return Webhook(secret if secret.startswith("whsec_") else secret.encode("utf-8"))


def body_of(event: AlertEvent) -> str:
    return json.dumps(event.payload, ensure_ascii=False, sort_keys=True)


class WebhookChannel:
    """POSTs the event's JSON, signed when ``secret_env`` is configured."""

    def __init__(self, name: str, config: ChannelConfig, client: httpx.AsyncClient) -> None:
        self.name = name
        self.config = config
        self.client = client
        self._warned = False

    def request_headers(
        self, event: AlertEvent, body: str, now: datetime | None = None
    ) -> dict[str, str]:
        now = now or datetime.now(UTC)
        headers = {
            **self.config.headers,
            "Content-Type": "application/json",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
        }
        secret = self.config.secret()
        if secret:
            headers["webhook-signature"] = webhook_signer(secret).sign(event.id, now, body)
        return headers

    async def send(self, event: AlertEvent) -> Delivery:
        problem = missing_env(self.config.url_env, "the URL")
        if problem:
            return problem
        if self.config.secret_env and not self.config.secret() and not self._warned:
            # sent unsigned: a receiver that verifies answers 4xx and the alert becomes a
            # visible dead letter (`monitor alerts retry --all-failed` once the secret is set)
            self._warned = True
            log.warning(
                "channel %s: environment variable %s is not set; sending unsigned",
                self.name,
                self.config.secret_env,
            )
        url = self.config.target_url()
        assert url
        body = body_of(event)
        return await post(
            self.client,
            url,
            content=body.encode("utf-8"),
            headers=self.request_headers(event, body),
            timeout=self.config.timeout,
        )
