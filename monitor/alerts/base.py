"""What every delivery channel shares: the outcome of an attempt, the channel protocol and
the HTTP and environment helpers.

Channel modules (:mod:`.webhook`, :mod:`.chat`, :mod:`.email`) import from here only;
:mod:`.channels` builds them from the config. A new channel is a class with
``name`` and ``async send(event) -> Delivery`` in its own module, added to
:func:`monitor.alerts.channels.make_channels`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Protocol

import httpx

from monitor.alerts.render import one_line
from monitor.feeds.fetch import BlockedAddress, parse_retry_after
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
    except BlockedAddress as e:  # the channel has allow_private_networks = false
        return Delivery(ok=False, retry=False, error=str(e))
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
