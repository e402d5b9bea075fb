"""Who may use the web view: the bind address and token check made at start-up, the token
on every request, and the CSRF check of the state-changing forms."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

    from monitor.config import Config, DatabaseTarget

CSRF_COOKIE = "monitor_csrf"
CSRF_FIELD = "csrf"
REALM = "news-monitor"


@dataclass(frozen=True)
class WebSettings:
    """What the web view needs: the database, where to listen, the token (None: open,
    allowed on loopback only), and the config (watch names and languages; may be None)."""

    database: DatabaseTarget  # a SQLite file or a PostgreSQL database
    address: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    config: Config | None = None


def is_loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def web_settings(
    cfg: Config,
    database: DatabaseTarget | None = None,
    address: str | None = None,
    port: int | None = None,
) -> WebSettings:
    """The ``[web]`` settings (command-line overrides first), checked: a non-loopback
    address without a token from the environment is refused with what to do."""
    web = cfg.web
    address = address or web.address
    port = web.port if port is None else port
    token = None
    if web.token_env:
        token = os.environ.get(web.token_env) or None
        if token is None:
            raise ConfigError(
                _source(cfg),
                [
                    f"web.token_env names the environment variable {web.token_env}, which is"
                    " not set (or empty): set it to the access token, or remove token_env"
                ],
            )
    if token is None and not is_loopback(address):
        raise ConfigError(
            _source(cfg),
            [
                f"web.address: {address!r} is not a loopback address: the web view would be"
                " open to the network without a token. Set [web] token_env to the name of an"
                " environment variable holding an access token (and set that variable), or"
                " listen on 127.0.0.1"
            ],
        )
    return WebSettings(database or cfg.database(), address, port, token, cfg)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def allowed_hosts(settings: WebSettings) -> list[str]:
    """The Host headers answered. Without a token (loopback only) just the loopback names
    and the address itself: a web page cannot then reach the view through a DNS name it
    rebinds to 127.0.0.1. With a token, any host (the token is the check)."""
    if settings.token is not None:
        return ["*"]
    address = settings.address.lower()
    return list(dict.fromkeys([*LOOPBACK_HOSTS, address, f"[{address.strip('[]')}]"]))


def _source(cfg: Config) -> str:
    return str(cfg.path) if cfg.path is not None else "config"


def _presented_token(headers: dict[bytes, bytes]) -> str | None:
    """The token of ``Authorization: Bearer T`` or of HTTP Basic (the password)."""
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


class TokenAuth:
    """ASGI middleware: every HTTP request must carry the token (401 otherwise)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        presented = _presented_token(dict(scope["headers"]))
        if presented is not None and hmac.compare_digest(
            presented.encode("utf-8"), self.token.encode("utf-8")
        ):
            await self.app(scope, receive, send)
            return
        from starlette.responses import PlainTextResponse

        response = PlainTextResponse(
            "401 Unauthorized: this news-monitor needs its access token "
            "(Authorization: Bearer TOKEN, or the token as the HTTP Basic password)\n",
            status_code=401,
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )
        await response(scope, receive, send)


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (the cookie's, else a new one the page response sets)."""
    token = request.cookies.get(CSRF_COOKIE)
    if token and len(token) >= 32:
        return token
    state: Any = request.state
    if not getattr(state, "new_csrf", None):
        state.new_csrf = secrets.token_urlsafe(32)
    return str(state.new_csrf)


def csrf_ok(request: Request, form_token: str | None) -> bool:
    """A state-changing form is accepted when its hidden token equals the cookie's (a
    double-submit cookie, SameSite=Strict) and, if the browser says where it came from,
    it came from this site."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not form_token or not hmac.compare_digest(cookie, form_token):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1].rstrip("/") == host
    return True
