"""The fetcher against a real HTTP server on loopback."""

import asyncio

import pytest

from monitor.config import FetchConfig
from monitor.demo.server import CorpusServer, Response, repeat_bytes
from monitor.feeds.fetch import Fetcher, is_public_address

RSS = "<rss version='2.0'><channel><title>t</title></channel></rss>"


def fetch(url, cfg=None, **kw):
    async def go():
        async with Fetcher(
            cfg or FetchConfig(allow_private_networks=True, timeout=3, read_timeout=2)
        ) as f:
            return await f.fetch(url, **kw)

    return asyncio.run(go())


@pytest.fixture
def server():
    with CorpusServer() as s:
        yield s


def test_ok_and_conditional_get(server):
    server.set_file("/f.xml", RSS, content_type="application/rss+xml")
    r = fetch(server.base_url + "/f.xml")
    assert r.ok and r.status == 200 and b"<rss" in r.content and r.etag
    again = fetch(server.base_url + "/f.xml", etag=r.etag, last_modified=r.last_modified)
    assert again.ok and again.not_modified and again.status == 304 and again.content == b""
    assert server.requests[-1].header("if-none-match") == r.etag


def test_http_errors_are_values(server):
    server.add_route("/500", lambda req: Response(status=500, body="oops"))
    server.add_route("/410", lambda req: Response(status=410))
    server.add_route("/429", lambda req: Response(status=429, headers={"Retry-After": "120"}))
    r = fetch(server.base_url + "/500")
    assert not r.ok and r.error_kind == "http" and r.status == 500 and "500" in r.error
    assert fetch(server.base_url + "/410").error_kind == "gone"
    r = fetch(server.base_url + "/429")
    assert r.status == 429 and r.retry_after == 120


def test_timeout(server):
    server.add_route("/slow", lambda req: Response(body="late", delay=5))
    cfg = FetchConfig(allow_private_networks=True, timeout=1, read_timeout=1)
    r = fetch(server.base_url + "/slow", cfg)
    assert r.error_kind == "timeout" and r.elapsed < 3


def test_total_timeout_stops_a_dripping_body(server):
    # each chunk arrives within the read timeout, but the whole takes too long
    server.add_route("/drip", lambda req: Response(body=[b"x" * 10] * 50, chunk_delay=0.1))
    cfg = FetchConfig(allow_private_networks=True, timeout=1, read_timeout=1)
    r = fetch(server.base_url + "/drip", cfg)
    assert r.error_kind == "timeout" and r.elapsed < 3


def test_size_cap_while_streaming(server):
    server.add_route("/huge", lambda req: Response(body=repeat_bytes(50 * 2**20)))
    server.add_route(
        "/declared", lambda req: Response(body=b"x" * 2_000_000, content_length=2_000_000)
    )
    cfg = FetchConfig(allow_private_networks=True, max_bytes=1_000_000, timeout=10)
    r = fetch(server.base_url + "/huge", cfg)
    assert r.error_kind == "too-large" and "1,000,000" in r.error
    assert fetch(server.base_url + "/declared", cfg).error_kind == "too-large"


def test_redirects_loop_limit_and_permanent(server):
    server.set_file("/new.xml", RSS, content_type="application/rss+xml")
    server.add_route("/old.xml", lambda req: Response.redirect("/new.xml", 301))
    server.add_route("/temp.xml", lambda req: Response.redirect("/new.xml", 302))
    server.add_route("/a", lambda req: Response.redirect("/b"))
    server.add_route("/b", lambda req: Response.redirect("/a"))
    for i in range(10):
        server.add_route(f"/hop{i}", lambda req, i=i: Response.redirect(f"/hop{i + 1}"))
    r = fetch(server.base_url + "/old.xml")
    assert r.ok and r.url == server.base_url + "/new.xml"
    assert r.permanent_url == server.base_url + "/new.xml"
    r = fetch(server.base_url + "/temp.xml")
    assert r.ok and r.permanent_url is None
    r = fetch(server.base_url + "/a")
    assert r.error_kind == "redirects" and "loop" in r.error
    r = fetch(server.base_url + "/hop0")
    assert r.error_kind == "redirects" and "too many" in r.error


def test_private_addresses_refused_by_default(server):
    server.set_file("/f.xml", RSS)
    r = fetch(server.base_url + "/f.xml", FetchConfig())
    assert r.error_kind == "blocked" and "allow_private_networks" in r.error
    assert not server.requests  # refused before any connection
    # a public-looking redirect target is checked too: a redirect into loopback is refused
    r = fetch("http://localhost:1/x", FetchConfig())
    assert r.error_kind == "blocked"


@pytest.mark.parametrize(
    "ip,public",
    [
        # IPv4 and plain IPv6
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("8.8.8.8", True),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("2606:4700::1111", True),
        # IPv4-mapped ::ffff:0:0/96
        ("::ffff:127.0.0.1", False),
        ("::ffff:7f00:1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        # IPv4-compatible ::/96 (deprecated)
        ("::127.0.0.1", False),
        ("::10.0.0.1", False),
        ("::169.254.169.254", False),
        # IPv4-translated (SIIT) ::ffff:0:0:0/96
        ("::ffff:0:127.0.0.1", False),
        ("::ffff:0:10.0.0.1", False),
        # NAT64 well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48
        ("64:ff9b::127.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::8.8.8.8", True),
        ("64:ff9b:1::8.8.8.8", False),
        # 6to4 2002::/16 (the IPv4 address in bits 16-48)
        ("2002:7f00:1::", False),
        ("2002:a00:1::1", False),
        ("2002:808:808::1", True),
        # Teredo 2001::/32 (server and obfuscated client embedded)
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
        ("2001:0:7f00:1:0:0:0:1", False),
    ],
)
def test_address_classes(ip, public):
    """Every form an address can take, IPv6 forms embedding an IPv4 one included (issue 14)."""
    assert is_public_address(ip) is public


def test_connection_refused_is_a_value():
    r = fetch("http://127.0.0.1:9/nothing")
    assert not r.ok and r.error_kind == "network"


def test_user_agent_names_the_project(server):
    server.set_file("/f.xml", RSS)
    fetch(server.base_url + "/f.xml")
    assert "news-monitor" in server.requests[-1].header("user-agent")


class _Server304:
    """A server answering every request 304 on ``hosts`` (one port), counting connections
    and requests. With ``close_after_each`` it closes each connection after its response
    (an idle keep-alive connection the server has dropped)."""

    def __init__(self, close_after_each=False, ssl_context=None, hosts=("127.0.0.1",)):
        self.close_after_each, self.ssl_context, self.hosts = close_after_each, ssl_context, hosts
        self.seen = {"connections": 0, "requests": 0}
        self.closed = 0  # connections the client closed

    async def handle(self, reader, writer):
        self.seen["connections"] += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.seen["requests"] += 1
                writer.write(
                    b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 0\r\n\r\n'
                )
                await writer.drain()
                if self.close_after_each:
                    break
        except asyncio.IncompleteReadError:
            self.closed += 1
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def __aenter__(self):
        self.servers, self.port = [], 0
        for host in self.hosts:
            server = await asyncio.start_server(self.handle, host, self.port, ssl=self.ssl_context)
            self.port = server.sockets[0].getsockname()[1]
            self.servers.append(server)
        return self

    async def __aexit__(self, *exc):
        for server in self.servers:
            server.close()


def test_connections_reused_and_dropped_ones_not():
    """An unchanged feed's 304 leaves its connection for the host's next request; an idle
    connection the server closed meanwhile is noticed and not used."""

    async def go(close_after_each):
        async with (
            _Server304(close_after_each) as server,
            Fetcher(FetchConfig(allow_private_networks=True, timeout=3)) as f,
        ):
            results = []
            for _ in range(3):
                url = f"http://127.0.0.1:{server.port}/f.xml"
                results.append(await f.fetch(url, etag='"v1"'))
                await asyncio.sleep(0.05)  # the server's close arrives while idle
        return results, server.seen

    kept, seen = asyncio.run(go(close_after_each=False))
    assert all(r.not_modified and r.etag == '"v1"' for r in kept)
    assert seen == {"connections": 1, "requests": 3}
    dropped, seen = asyncio.run(go(close_after_each=True))
    assert all(r.ok and r.not_modified for r in dropped), [r.error for r in dropped]
    assert seen == {"connections": 3, "requests": 3}


def test_connections_kept_per_host_for_the_most_recent_hosts(monkeypatch):
    """Each host keeps its connection between requests (interleaved hosts too); past
    IDLE_HOSTS hosts, the least recently used host's idle connection is closed."""
    import monitor.feeds.fetch as fetch_module

    monkeypatch.setattr(fetch_module, "IDLE_HOSTS", 2)

    async def go():
        hosts = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
        async with (
            _Server304(hosts=hosts) as server,
            Fetcher(FetchConfig(allow_private_networks=True, timeout=3)) as f,
        ):
            for host in (*hosts[:2], *hosts[:2]):  # A B A B: one connection each
                r = await f.fetch(f"http://{host}:{server.port}/f.xml", etag='"v1"')
                assert r.not_modified, r.error
            interleaved = dict(server.seen)
            for host in ("127.0.0.3", "127.0.0.1"):  # C: A's connection closed, A again
                r = await f.fetch(f"http://{host}:{server.port}/f.xml", etag='"v1"')
                assert r.not_modified, r.error
            return interleaved, dict(server.seen)

    interleaved, after = asyncio.run(go())
    assert interleaved == {"connections": 2, "requests": 4}
    assert after == {"connections": 4, "requests": 6}


def test_https_checks_the_certificate(tmp_path, monkeypatch):
    """TLS through the fetcher's own connections: the server's name is checked against a
    trusted certificate (SSL_CERT_FILE), and an untrusted one is a network error."""
    import ssl

    from tests.servers import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def go():
        async with (
            _Server304(ssl_context=server_ctx) as server,
            Fetcher(FetchConfig(allow_private_networks=True, timeout=3)) as f,
        ):
            return await f.fetch(f"https://localhost:{server.port}/f.xml", etag='"v1"')

    untrusted = asyncio.run(go())
    assert not untrusted.ok and untrusted.error_kind == "network"
    assert "certificate" in (untrusted.error or "").lower()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    trusted = asyncio.run(go())
    assert trusted.ok and trusted.not_modified and trusted.status == 304


def test_expired_idle_connections_are_closed_by_the_sweep():
    """Connections idle past their keep-alive expiry are closed on the next request after
    a sweep is due, whatever host it goes to (no socket left open for long)."""
    import httpcore

    from monitor.feeds.fetch import HostPools, PinnedBackend

    async def go():
        hosts = ("127.0.0.1", "127.0.0.2")
        async with _Server304(hosts=hosts) as server:
            pools = HostPools(
                8,
                lambda: httpcore.AsyncConnectionPool(
                    keepalive_expiry=0.05, network_backend=PinnedBackend(allow_private=True)
                ),
                sweep=0.1,
            )
            async with pools:
                for host in hosts:
                    await asyncio.sleep(0.2)  # the first host's connection expires
                    url = f"http://{host}:{server.port}/f.xml"
                    headers = {"Host": f"{host}:{server.port}"}
                    r = await pools.handle_async_request(
                        httpcore.Request("GET", url, headers=headers)
                    )
                    await r.aread()
                    await r.aclose()
                    assert r.status == 304
                await asyncio.sleep(0.05)
                return server.closed

    assert asyncio.run(go()) == 1  # the first host's, closed by the sweep; not the second's
