"""HTTP fetching with the rules an untrusted-input fetcher needs.

- conditional GET (If-None-Match / If-Modified-Since): an unchanged feed costs one 304;
- connect / read / total timeouts, and a size cap enforced while the body streams in;
- redirects followed by hand, each hop checked, with a limit and loop detection;
  a first hop answered 301/308 reports the new permanent address;
- addresses that resolve to private, loopback, link-local or otherwise non-global
  ranges are refused unless ``allow_private_networks`` is set (checked on every hop);
- a global and a per-host concurrency limit.

Every outcome is a :class:`~monitor.models.FetchResult`; nothing raises to the caller.
Known gap: the address check resolves the name before httpx connects, so a DNS
answer that changes between the two (rebinding) is not caught.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import re
import socket
import time
from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.config import FetchConfig
from monitor.models import FetchResult

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECTS = (301, 302, 303, 307, 308)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    now_ts = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, dt.timestamp() - now_ts)


def parse_max_age(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    m = re.search(r"(?:^|,)\s*max-age\s*=\s*(\d+)", cache_control, re.I)
    return float(m.group(1)) if m else None


def is_public_address(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


class Fetcher:
    """Fetches URLs under one set of limits. Use as ``async with Fetcher(cfg) as f``."""

    def __init__(self, config: FetchConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(
                config.timeout, connect=config.connect_timeout, read=config.read_timeout
            ),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=config.concurrency * 2),
            headers={"User-Agent": config.user_agent},
        )
        self._global = asyncio.Semaphore(config.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(config.per_host)
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        started = time.monotonic()
        host = (urlsplit(url).hostname or "").lower()
        try:
            async with asyncio.timeout(self.config.timeout):
                async with self._global, self._hosts[host]:
                    result = await self._fetch(url, etag, last_modified, accept)
        except TimeoutError:
            result = _error(url, "timeout", f"timed out after {self.config.timeout:g}s")
        except httpx.TimeoutException as e:
            result = _error(url, "timeout", f"timed out ({type(e).__name__})")
        except httpx.HTTPError as e:
            result = _error(url, "network", _describe(e))
        except (OSError, ValueError) as e:
            result = _error(url, "network", str(e) or type(e).__name__)
        return _with_elapsed(result, time.monotonic() - started)

    async def _guard(self, url: str) -> str | None:
        """None if the URL may be fetched, else the reason it may not."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"refusing to fetch a {parts.scheme or 'relative'} URL"
        host = parts.hostname
        if not host:
            return "the URL has no host"
        if self.config.allow_private_networks:
            return None
        try:
            ips = [str(ipaddress.ip_address(host))]
        except ValueError:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(
                    host,
                    parts.port or (443 if parts.scheme == "https" else 80),
                    type=socket.SOCK_STREAM,
                )
            except socket.gaierror as e:
                raise OSError(f"cannot resolve host {host!r}: {e.strerror}") from None
            ips = sorted({info[4][0] for info in infos})
        bad = [ip for ip in ips if not is_public_address(ip)]
        if bad:
            return (
                f"refusing to fetch {host} ({bad[0]}): a private, loopback or link-local "
                "address (set [fetch] allow_private_networks = true to allow)"
            )
        return None

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, accept: str
    ) -> FetchResult:
        current = url
        permanent: str | None = None
        all_permanent = True
        visited: set[str] = set()
        for _hop in range(self.config.max_redirects + 1):
            reason = await self._guard(current)
            if reason:
                return _error(url, "blocked", reason, final=current)
            visited.add(current)
            headers = {"Accept": accept}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            request = self._client.build_request("GET", current, headers=headers)
            response = await self._client.send(request, stream=True)
            try:
                status = response.status_code
                location = response.headers.get("location")
                if status in _REDIRECTS and location:
                    nxt = urljoin(current, location.strip())
                    all_permanent = all_permanent and status in (301, 308)
                    if all_permanent:
                        permanent = nxt
                    if nxt in visited:
                        return _error(url, "redirects", f"redirect loop at {nxt}", status=status)
                    current = nxt
                    continue
                common = {
                    "requested_url": url,
                    "url": current,
                    "status": status,
                    "permanent_url": permanent,
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                    "cache_max_age": parse_max_age(response.headers.get("cache-control")),
                }
                if status == 304:
                    return FetchResult(not_modified=True, **common)
                if status >= 400 or status < 200:
                    kind = "gone" if status == 410 else "http"
                    return FetchResult(
                        error=f"HTTP {status} {response.reason_phrase}".strip(),
                        error_kind=kind,
                        retry_after=parse_retry_after(response.headers.get("retry-after")),
                        **common,
                    )
                cap = self.config.max_bytes
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    return FetchResult(
                        error=f"response too large ({int(declared):,} bytes; limit {cap:,})",
                        error_kind="too-large",
                        **common,
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        return FetchResult(
                            error=f"response too large (over the limit of {cap:,} bytes)",
                            error_kind="too-large",
                            **common,
                        )
                    chunks.append(chunk)
                return FetchResult(
                    content=b"".join(chunks),
                    content_type=response.headers.get("content-type"),
                    **common,
                )
            finally:
                await response.aclose()
        return _error(
            url, "redirects", f"too many redirects (more than {self.config.max_redirects})"
        )


def _describe(e: httpx.HTTPError) -> str:
    text = str(e)
    if isinstance(e, httpx.ConnectError):
        return f"cannot connect: {text or 'connection failed'}"
    if isinstance(e, httpx.RemoteProtocolError):
        return f"broken HTTP response: {text}"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _error(
    url: str, kind: str, message: str, *, final: str | None = None, status: int | None = None
) -> FetchResult:
    return FetchResult(
        requested_url=url, url=final or url, error=message, error_kind=kind, status=status
    )


def _with_elapsed(r: FetchResult, elapsed: float) -> FetchResult:
    from dataclasses import replace

    return replace(r, elapsed=elapsed)
