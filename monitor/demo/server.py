"""A small loopback HTTP server for the demo corpus and for integration tests.

``CorpusServer`` serves a folder of feeds and pages (by default the bundled corpus) from
127.0.0.1 on an OS-chosen port. Stored files may contain the placeholder ``{base}``; it is
replaced at serve time by ``http://127.0.0.1:PORT`` so that links in feeds and pages work
whatever port was bound.

What it does for a client, like a real news site:

* static files with a Content-Type that fits (RSS, Atom, HTML, JSON), a strong ETag (a hash
  of the body as served) and Last-Modified;
* conditional GET: ``If-None-Match`` (takes precedence) or ``If-Modified-Since`` → 304;
* HEAD, keep-alive (HTTP/1.1), 404 for unknown paths, 405 for writes to static files.

What it does for a test:

* ``requests`` logs every request (method, path, headers, status) before the answer is sent;
* ``add_route(path, handler)`` puts a Python function in front of a path, for faults:
  500s, slow or dripping answers, redirect loops, huge bodies, 304/410/429 and so on;
* ``set_file`` / ``remove_file`` change what is served while the server runs.

Run ``python -m monitor.demo.server`` to serve the bundled corpus by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import hashlib
import html
import json
import mimetypes
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.demo.manifest import corpus_root

__all__ = [
    "BASE_PLACEHOLDER",
    "CorpusServer",
    "RequestInfo",
    "RequestLog",
    "Response",
    "repeat_bytes",
]

BASE_PLACEHOLDER = "{base}"
_TEXT_SUFFIXES = {".xml", ".html", ".htm", ".json", ".txt", ".opml", ".rss", ".atom"}


@dataclass(frozen=True)
class RequestInfo:
    """One request as a route handler sees it. Header names are lower-case."""

    method: str
    path: str  # percent-decoded path, without the query
    query: str  # raw query string, without '?'
    headers: Mapping[str, str]
    body: bytes
    base_url: str
    count: int  # how many requests this path has had, this one included (1 = first)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True)
class RequestLog:
    """One served request, recorded before the answer goes out."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    status: int
    time: float  # time.monotonic() when the request was read

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """What a route handler returns.

    ``body`` may be an iterable of byte chunks (for huge or dripping answers); then the
    response carries ``content_length`` if given, or no length at all and the connection is
    closed after the last chunk. ``delay`` waits before the status line; ``chunk_delay``
    waits between chunks. Both waits end early when the server stops.
    """

    status: int = 200
    body: bytes | str | Iterable[bytes] = b""
    content_type: str | None = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    content_length: int | None = None

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status=status, headers={"Location": location}, content_type=None)

    @classmethod
    def text(
        cls, body: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"
    ) -> Response:
        return cls(status=status, body=body, content_type=content_type)


Handler = Callable[[RequestInfo], "Response | bytes | str"]


def repeat_bytes(total: int, chunk: bytes = b"x" * 65536) -> Iterator[bytes]:
    """Yield ``total`` bytes made of ``chunk`` repeated: a huge body without the memory."""
    left = total
    while left > 0:
        piece = chunk[:left] if left < len(chunk) else chunk
        left -= len(piece)
        yield piece


def guess_content_type(path: str, body: bytes) -> str:
    """Content-Type for a stored file: sniffs .xml files for RSS vs Atom."""
    suffix = Path(path).suffix.lower()
    if suffix in {".xml", ".rss", ".atom"}:
        head = body[:1024].lower()
        if b"<rss" in head or b"<rdf:rdf" in head:
            return "application/rss+xml; charset=utf-8"
        if b"<feed" in head:
            return "application/atom+xml; charset=utf-8"
        return "application/xml; charset=utf-8"
    if suffix in {".html", ".htm"}:
        return "text/html; charset=utf-8"
    if suffix == ".json":
        return "application/json"
    if suffix == ".opml":
        return "text/x-opml; charset=utf-8"
    guessed, _ = mimetypes.guess_type(path)
    if guessed and guessed.startswith("text/"):
        return guessed + "; charset=utf-8"
    return guessed or "application/octet-stream"


@dataclass
class _File:
    raw: bytes
    content_type: str
    last_modified: int  # whole seconds since the epoch
    substitute: bool
    headers: Mapping[str, str]


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses weak comparison (RFC 9110 §13.1.2)."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in header.split(","))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stuck slow handler must not hold up stop()
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: CorpusServer) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can take
        # seconds on a machine without a resolver; the name is not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        if self.owner.verbose:
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "monitor-demo/1"
    timeout = 30  # idle keep-alive connections end after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._connections_add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connections_discard(self.connection)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        try:
            self.server.owner._handle(self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch


class CorpusServer:
    """Serve a corpus folder on loopback; see the module docstring.

    >>> with CorpusServer() as srv:
    ...     urls = srv.feed_urls()
    """

    def __init__(
        self,
        root: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
    ) -> None:
        if root is None:
            root = corpus_root()
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"corpus folder not found: {self.root}")
        self.host = host
        self.port = port
        self.verbose = verbose
        self.requests: list[RequestLog] = []
        self.errors: list[BaseException] = []  # exceptions raised by route handlers
        self._lock = threading.RLock()
        self._files: dict[str, _File] = {}
        self._routes: dict[str, Handler] = {}
        self._counts: dict[str, int] = {}
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._load_root()

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("CorpusServer is not started")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> CorpusServer:
        if self._httpd is not None:
            raise RuntimeError("CorpusServer already started")
        self._stopping.clear()
        httpd = _Server((self.host, self.port), self)
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"corpus-server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delay/chunk_delay
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:  # end keep-alive connections so no answer comes after stop()
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> CorpusServer:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- content

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def manifest(self) -> dict[str, Any]:
        """The corpus's manifest.json (feeds and articles), or an empty one."""
        f = self.root / "manifest.json"
        if not f.is_file():
            return {"feeds": [], "articles": []}
        return json.loads(f.read_text(encoding="utf-8"))

    def feed_paths(self) -> list[str]:
        """Paths of the corpus feeds: from manifest.json, else every .xml that is RSS/Atom."""
        listed = [f["path"] for f in self.manifest().get("feeds", [])]
        if listed:
            return listed
        with self._lock:
            return sorted(
                p
                for p, f in self._files.items()
                if f.content_type.startswith(("application/rss+xml", "application/atom+xml"))
            )

    def feed_urls(self) -> list[str]:
        return [self.url(p) for p in self.feed_paths()]

    def paths(self) -> list[str]:
        """Every path currently served from a file."""
        with self._lock:
            return sorted(self._files)

    def set_file(
        self,
        path: str,
        body: bytes | str,
        content_type: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        substitute: bool = True,
    ) -> None:
        """Add or replace a served file. ``{base}`` in it is replaced at serve time unless
        ``substitute`` is false. Last-Modified becomes now (always later than before)."""
        path = _norm_path(path)
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        with self._lock:
            old = self._files.get(path)
            now = int(time.time())
            last_modified = max(now, old.last_modified + 1) if old else now
            self._files[path] = _File(
                raw=raw,
                content_type=content_type or guess_content_type(path, raw),
                last_modified=last_modified,
                substitute=substitute,
                headers=dict(headers or {}),
            )

    def remove_file(self, path: str) -> None:
        with self._lock:
            self._files.pop(_norm_path(path), None)

    def get_file(self, path: str) -> bytes:
        """A file's body as it would be served now (placeholder substituted)."""
        with self._lock:
            f = self._files[_norm_path(path)]
        return self._body_of(f)

    def add_route(self, path: str, handler: Handler) -> None:
        """Answer every request for ``path`` (any method, any query) with ``handler``.
        A route wins over a file at the same path; ``serve_file(info)`` gives the file's
        own answer, for handlers that wrap it."""
        with self._lock:
            self._routes[_norm_path(path)] = handler

    def remove_route(self, path: str) -> None:
        with self._lock:
            self._routes.pop(_norm_path(path), None)

    def serve_file(self, info: RequestInfo) -> Response:
        """The static answer for a request: 200, 304, 404 or 405."""
        with self._lock:
            f = self._files.get(info.path)
            if f is None and info.path.endswith("/"):
                f = self._files.get(info.path + "index.html")
        if f is None:
            if info.path == "/":
                return Response.text(self._index_page(), content_type="text/html; charset=utf-8")
            return Response.text(f"404 not found: {info.path}\n", status=404)
        if info.method not in ("GET", "HEAD"):
            return Response(
                status=405, body=b"method not allowed\n", headers={"Allow": "GET, HEAD"}
            )
        body = self._body_of(f)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        last_modified = email.utils.formatdate(f.last_modified, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": last_modified, **f.headers}
        if _not_modified(info, etag, f.last_modified):
            return Response(status=304, headers=headers, content_type=None)
        return Response(status=200, body=body, content_type=f.content_type, headers=headers)

    # ----------------------------------------------------------------- request log

    def hits(self, path: str, method: str | None = None) -> int:
        """How many logged requests were for ``path`` (and ``method``, if given)."""
        return len(self.requests_for(path, method))

    def requests_for(self, path: str, method: str | None = None) -> list[RequestLog]:
        path = _norm_path(path)
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path == path and (method is None or r.method == method.upper())
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()
            self._counts.clear()

    # ----------------------------------------------------------------- internals

    def _load_root(self) -> None:
        for f in sorted(self.root.rglob("*")):
            if not f.is_file() or f.name.startswith("."):
                continue
            path = "/" + f.relative_to(self.root).as_posix()
            raw = f.read_bytes()
            self._files[path] = _File(
                raw=raw,
                content_type=guess_content_type(path, raw),
                last_modified=int(f.stat().st_mtime),
                substitute=f.suffix.lower() in _TEXT_SUFFIXES,
                headers={},
            )

    def _body_of(self, f: _File) -> bytes:
        if not f.substitute or b"{base}" not in f.raw:
            return f.raw
        return f.raw.replace(BASE_PLACEHOLDER.encode(), self.base_url.encode())

    def _index_page(self) -> str:
        items = "\n".join(
            f'<li><a href="{html.escape(u)}">{html.escape(u)}</a></li>' for u in self.feed_urls()
        )
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Demo corpus</title>"
            f"</head><body><h1>Demo corpus</h1><p>Feeds:</p><ul>\n{items}\n</ul></body></html>\n"
        )

    def _connections_add(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _connections_discard(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _handle(self, h: _RequestHandler) -> None:
        received = time.monotonic()
        target = urlsplit(h.path)
        path = _norm_path(unquote(target.path or "/"))
        headers = {k.lower(): v for k, v in h.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        with self._lock:
            count = self._counts.get(path, 0) + 1
            self._counts[path] = count
            route = self._routes.get(path)
        info = RequestInfo(
            method=h.command,
            path=path,
            query=target.query,
            headers=headers,
            body=body,
            base_url=self.base_url,
            count=count,
        )
        if route is not None:
            try:
                result = route(info)
                resp = result if isinstance(result, Response) else Response(body=result)
            except Exception as exc:  # a broken test handler: answer 500, keep it for the test
                with self._lock:
                    self.errors.append(exc)
                if self.verbose:
                    traceback.print_exc()
                resp = Response.text(f"route handler failed: {exc!r}\n", status=500)
        else:
            resp = self.serve_file(info)
        with self._lock:
            self.requests.append(
                RequestLog(h.command, path, target.query, headers, resp.status, received)
            )
        self._send(h, info, resp)

    def _send(self, h: _RequestHandler, info: RequestInfo, resp: Response) -> None:
        if resp.delay > 0 and self._stopping.wait(resp.delay):
            h.close_connection = True
            return
        body = resp.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        no_body = info.method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        h.send_response(resp.status)
        names = {k.lower() for k in resp.headers}
        if resp.content_type and "content-type" not in names:
            h.send_header("Content-Type", resp.content_type)
        for k, v in resp.headers.items():
            h.send_header(k, v)
        if isinstance(body, bytes | bytearray):
            if resp.status != 304 and "content-length" not in names:
                h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if not no_body:
                h.wfile.write(body)
            return
        # An iterable body: stream it.
        if resp.content_length is not None and "content-length" not in names:
            h.send_header("Content-Length", str(resp.content_length))
        elif resp.content_length is None and "content-length" not in names:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if no_body:
            return
        for i, chunk in enumerate(body):
            if i and resp.chunk_delay > 0 and self._stopping.wait(resp.chunk_delay):
                h.close_connection = True
                return
            h.wfile.write(chunk)
            h.wfile.flush()


def _norm_path(path: str) -> str:
    path = path.split("?", 1)[0] or "/"
    return path if path.startswith("/") else "/" + path


def _not_modified(info: RequestInfo, etag: str, last_modified: int) -> bool:
    if info.method not in ("GET", "HEAD"):
        return False
    inm = info.header("if-none-match")
    if inm is not None:  # takes precedence over If-Modified-Since (RFC 9110 §13.2.2)
        return _etag_matches(inm, etag)
    ims = info.header("if-modified-since")
    if ims:
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return last_modified <= since
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.demo.server",
        description="Serve the demo news corpus (feeds and article pages) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--root", type=Path, default=None, help="corpus folder to serve")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request")
    args = parser.parse_args(argv)
    try:
        server = CorpusServer(args.root, host=args.host, port=args.port, verbose=args.verbose)
        server.start()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    try:  # from here on, Ctrl-C (even while the URLs are printed) stops cleanly
        print(f"Serving the demo corpus at {server.base_url}/ (Ctrl-C to stop)")
        print("Feeds:")
        for url in server.feed_urls():
            print(f"  {url}")
        sys.stdout.flush()
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
