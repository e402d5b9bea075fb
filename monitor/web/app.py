"""The Starlette application and its server (uvicorn), for `monitor web` and the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from monitor.errors import MonitorError
from monitor.web.access import TokenAuth, WebSettings, allowed_hosts
from monitor.web.routes import error_page, routes, templates

log = logging.getLogger("monitor.web")


def create_app(settings: WebSettings) -> Starlette:
    """The web view over ``settings.database`` (pages, ``/api``, the Atom feed)."""
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings)),
            Middleware(TokenAuth, token=settings.token),
        ],
        exception_handlers={404: error_page, 405: error_page, 400: error_page},
    )
    app.state.settings = settings
    app.state.templates = templates()
    return app


class _Server(uvicorn.Server):
    """uvicorn's server; leaves the signals alone when the daemon owns them."""

    def __init__(self, config: uvicorn.Config, handle_signals: bool) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            yield


class WebServer:
    """The web view on its address: :meth:`bind` (errors at once, with the address), then
    ``await serve()`` until :meth:`stop`."""

    def __init__(self, settings: WebSettings, *, handle_signals: bool = False) -> None:
        self.settings = settings
        self.handle_signals = handle_signals
        self.sock: socket.socket | None = None
        self.server: _Server | None = None

    def bind(self) -> None:
        s = self.settings
        family = socket.AF_INET6 if ":" in s.address else socket.AF_INET
        try:
            self.sock = socket.create_server((s.address.strip("[]"), s.port), family=family)
        except OSError as e:
            raise MonitorError(
                f"web: cannot listen on {s.address}:{s.port}: {e.strerror or e}"
            ) from None
        # answers go out at once: without TCP_NODELAY (inherited by the accepted sockets) a
        # response written in two parts waits ~40 ms on a kept-alive connection for the
        # client's delayed ACK (Nagle's algorithm)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)

    @property
    def port(self) -> int:
        assert self.sock is not None, "bind() first"
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = self.settings.address
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{self.port}/"

    @property
    def started(self) -> bool:
        return bool(self.server and self.server.started)

    async def serve(self) -> None:
        if self.sock is None:
            self.bind()
        assert self.sock is not None
        config = uvicorn.Config(
            create_app(self.settings),
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
        )
        self.server = _Server(config, self.handle_signals)
        log.info("web view on %s", self.url)
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True


async def serve(settings: WebSettings, *, handle_signals: bool = True) -> None:
    """Serve until interrupted (`monitor web`)."""
    server = WebServer(settings, handle_signals=handle_signals)
    server.bind()
    print(f"news-monitor web view: {server.url}", flush=True)
    await server.serve()


def run(settings: WebSettings) -> None:
    asyncio.run(serve(settings))
