"""HTTP fetching with the rules an untrusted-input fetcher needs.

- conditional GET (If-None-Match / If-Modified-Since): an unchanged feed costs one 304;
- connect / read / total timeouts, and a size cap enforced while the body streams in;
- redirects followed by hand, each hop checked, with a limit and loop detection;
  a first hop answered 301/308 reports the new permanent address;
- addresses that resolve to private, loopback, link-local or otherwise non-global
  ranges are refused unless ``allow_private_networks`` is set (checked on every hop),
  IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) judged
  by that address;
- the check happens where the connection is made (:class:`PinnedBackend`): the name is
  resolved once, and the socket goes to the address that was vetted, so a DNS answer that
  changes in between (rebinding) cannot redirect it; the URL keeps the host name, so the
  Host header and TLS (SNI, certificate check) are unchanged;
- a global and a per-host concurrency limit.

Every outcome is a :class:`~monitor.models.FetchResult`; nothing raises to the caller.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import os
import re
import select
import socket
import ssl
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from monitor.config import FetchConfig
from monitor.models import FetchResult

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECTS = (301, 302, 303, 307, 308)
IDLE_HOSTS = 256  # hosts whose connections a fetcher keeps open between requests


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


_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64: site-private


def embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, compatible, translated, NAT64,
    6to4 and Teredo (server and client)."""
    low = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    out: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        out.append(addr.ipv4_mapped)
    if addr in _IPV4_COMPATIBLE or addr in _IPV4_TRANSLATED or addr in _NAT64:
        out.append(low)
    if addr.sixtofour is not None:
        out.append(addr.sixtofour)
    if addr.teredo is not None:
        out.extend(addr.teredo)
    return out


def is_public_address(ip: str) -> bool:
    """Whether an address is globally routable, judging an IPv6 address that embeds an
    IPv4 one by the embedded address too."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _NAT64_LOCAL:
            return False
        inner = embedded_ipv4(addr)
        if inner:
            if not all(is_public_address(str(v4)) for v4 in inner):
                return False
            if addr.ipv4_mapped is not None or addr in _IPV4_TRANSLATED:
                return True  # plain IPv4 written as IPv6: its IPv4 address decides
    return addr.is_global and not addr.is_multicast


class BlockedAddress(Exception):
    """A connection refused because the host resolves to a non-public address."""


FEED_SETTING = "[fetch] allow_private_networks"


def _blocked(host: str, ip: str, setting: str = FEED_SETTING) -> BlockedAddress:
    return BlockedAddress(
        f"refusing to connect to {host} ({ip}): a private, loopback or link-local "
        f"address (set {setting} = true to allow)"
    )


class _Stream(httpcore.AsyncNetworkStream):
    """A connection as asyncio streams, for httpcore. (httpcore's own backend goes through
    anyio, whose per-call machinery cost more CPU than the request itself in an all-304
    cycle: a cancel scope per read and write, a task group per connect, a dictionary of
    attributes built for each look at an idle connection.)"""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._socket = writer.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as e:
            raise httpcore.ReadTimeout("timed out reading") from e
        except OSError as e:
            raise httpcore.ReadError(str(e) or type(e).__name__) from e

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as e:
            raise httpcore.WriteTimeout("timed out writing") from e
        except (OSError, RuntimeError) as e:  # RuntimeError: the transport is closed
            raise httpcore.WriteError(str(e) or type(e).__name__) from e

    async def aclose(self) -> None:
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as e:
            self._writer.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from e
        except (OSError, ConnectionError) as e:  # ssl.SSLError is an OSError
            self._writer.close()
            raise httpcore.ConnectError(str(e) or type(e).__name__) from e
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle connection the server closed (or wrote to)
            return self._reader.at_eof() or _readable(self._socket)
        if info == "socket":
            return self._socket
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return None


def _readable(sock: Any) -> bool:
    """Whether a socket has data or an end waiting (without reading it)."""
    if sock is None or sock.fileno() < 0:
        return True
    poll = select.poll()
    poll.register(sock.fileno(), select.POLLIN)
    return bool(poll.poll(0))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving each host once and connecting to the vetted
    address itself: what was checked is what is connected to (no DNS rebinding)."""

    def __init__(self, allow_private: bool, setting: str = FEED_SETTING) -> None:
        self.allow_private = allow_private
        self.setting = setting  # the setting that allows them, named in the refusal

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            ips = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            try:
                async with asyncio.timeout(timeout):
                    infos = await asyncio.get_running_loop().getaddrinfo(
                        host, port, type=socket.SOCK_STREAM
                    )
            except socket.gaierror as e:
                raise httpcore.ConnectError(f"cannot resolve host {host!r}: {e.strerror}") from e
            except TimeoutError as e:
                raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from e
            ips = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            bad = [ip for ip in ips if not is_public_address(ip)]
            if bad:
                raise _blocked(host, bad[0], self.setting)
        last: Exception | None = None
        for ip in ips:
            try:
                return await _connect(ip, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect(
    ip: str,
    port: int,
    timeout: float | None,
    local_address: str | None,
    socket_options: Iterable[Any] | None,
) -> _Stream:
    """A TCP connection to an address (asyncio sets TCP_NODELAY on it)."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                ip, port, local_addr=(local_address, 0) if local_address else None
            )
    except TimeoutError as e:
        raise httpcore.ConnectTimeout(f"connecting to {ip} timed out") from e
    except OSError as e:
        raise httpcore.ConnectError(str(e) or type(e).__name__) from e
    for option in socket_options or ():
        writer.get_extra_info("socket").setsockopt(*option)
    return _Stream(reader, writer)


class HostPools:
    """A small connection pool per host (scheme, name, port), for the most recently used
    ``hosts`` hosts. httpcore's one pool looks at every connection it holds on each
    request, so a pool big enough to keep a connection open for each host of a large
    config costs more per request than it saves; a pool per host looks only at that
    host's few. The pool of the host used longest ago is closed once its connections are
    idle and more than ``hosts`` are open; every ``sweep`` seconds, the pools whose
    connections have all expired (keep-alive expiry, or closed by the server) are closed."""

    def __init__(
        self,
        hosts: int,
        make_pool: Callable[[], httpcore.AsyncConnectionPool],
        sweep: float = 10.0,
    ) -> None:
        self.hosts = hosts
        self.sweep = sweep
        self._make_pool = make_pool
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], httpcore.AsyncConnectionPool]
        self._pools = OrderedDict()
        self._next_sweep = time.monotonic() + sweep

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if time.monotonic() >= self._next_sweep:
            await self._close_where(lambda c: c.is_idle() and c.has_expired())
            self._next_sweep = time.monotonic() + self.sweep
        url = request.url
        key = (url.scheme, url.host, url.port)
        if key not in self._pools:
            await self._trim()  # room for one more
        pool = self._pools.pop(key, None) or self._make_pool()
        self._pools[key] = pool  # the most recently used last
        return await pool.handle_async_request(request)

    async def _trim(self) -> None:
        while len(self._pools) >= self.hosts:
            idle = next(
                (
                    key
                    for key, pool in self._pools.items()  # the least recently used first
                    if all(c.is_idle() for c in pool.connections)
                ),
                None,
            )
            if idle is None:
                return
            await self._pools.pop(idle).aclose()

    async def _close_where(self, unused: Callable[[Any], bool]) -> None:
        """Close the pools whose connections are all ``unused`` (taken out first, so no
        request picks one up while it closes)."""
        keys = [k for k, p in self._pools.items() if all(unused(c) for c in p.connections)]
        for pool in [self._pools.pop(k) for k in keys]:
            await pool.aclose()

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.aclose()

    async def __aenter__(self) -> HostPools:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_SSL_CONTEXTS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def ssl_context() -> ssl.SSLContext:
    """The trusted CAs for HTTPS (SSL_CERT_FILE / SSL_CERT_DIR when set), loaded once for
    all of the daemon's clients rather than once per client (loading them costs about as
    much CPU as a hundred 304s)."""
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    ctx = _SSL_CONTEXTS.get(key)
    if ctx is None:
        ctx = _SSL_CONTEXTS[key] = httpx.create_ssl_context(trust_env=True)
    return ctx


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a :class:`PinnedBackend`: direct connections, no proxies.
    ``hosts``: keep a pool per host (:class:`HostPools`) for this many hosts, each pool
    with ``limits``; None: one pool with ``limits``."""

    def __init__(
        self,
        allow_private: bool,
        limits: httpx.Limits | None = None,
        setting: str = FEED_SETTING,
        hosts: int | None = None,
    ) -> None:
        limits = limits or httpx.Limits()
        # SSL_CERT_FILE / SSL_CERT_DIR still name the trusted CAs (ssl_context); proxies
        # are never used (a client given a transport does not read the proxy variables),
        # since a proxy would resolve the name itself, past the check
        super().__init__(verify=ssl_context(), limits=limits, trust_env=False)
        # the pool httpx built, remade with the pinning backend (httpx has no parameter for it)
        pool = self._pool
        assert isinstance(pool, httpcore.AsyncConnectionPool)
        backend = PinnedBackend(allow_private, setting)

        def make_pool() -> httpcore.AsyncConnectionPool:
            return httpcore.AsyncConnectionPool(
                ssl_context=pool._ssl_context,  # one context (loading the CAs) for all
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=backend,
            )

        self._pool = HostPools(hosts, make_pool) if hosts else make_pool()  # type: ignore[assignment]


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
            transport=PinnedTransport(
                config.allow_private_networks,
                # a pool per host (one pool for all hosts scans every connection per
                # request: 256 idle ones made a 2,000-feed cycle 4x slower), never the
                # bottleneck (the global slots bound the requests at once, redirect hops
                # included); at most 2 x 256 idle connections kept
                httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=2),
                hosts=IDLE_HOSTS,
            ),
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
            # the slots first, then the clock: the deadline measures the request, not the
            # wait for a global or per-host slot (a queue is bounded by back-pressure)
            async with self._global, self._hosts[host]:
                started = time.monotonic()
                async with asyncio.timeout(self.config.timeout):
                    result = await self._fetch(url, etag, last_modified, accept)
        except BlockedAddress as e:
            result = _error(url, "blocked", str(e))
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
        # an address in the URL is refused here; a name is resolved and checked where the
        # connection is made (PinnedBackend), once, so the checked address is the one used
        try:
            ip = str(ipaddress.ip_address(host))
        except ValueError:
            return None
        return None if is_public_address(ip) else str(_blocked(host, ip))

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
                    await _drain_small(response)
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
                    # read the (empty) rest, so the connection goes back to the pool for
                    # the host's next request instead of being closed
                    await _drain_small(response)
                    return FetchResult(not_modified=True, **common)
                if status >= 400 or status < 200:
                    await _drain_small(response)
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


async def _drain_small(response: httpx.Response, limit: int = 65536) -> None:
    """Read a response to its end when it declares a small body (keeps the connection
    reusable); a large or undeclared one is left unread, and its connection closed."""
    declared = response.headers.get("content-length")
    if response.status_code == 304 or (declared and declared.isdigit() and int(declared) <= limit):
        await response.aread()


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
