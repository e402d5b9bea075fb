"""Real servers on loopback for the integration tests (webhook receiver, SMTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP receiver that records every POST and answers as told.

    ``responder`` decides the answer per request: (status, headers); default 200.
    """

    responder: Callable[[Received], tuple[int, dict[str, str]]] | None = None
    received: list[Received] = field(default_factory=list)

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length") or 0)
                rec = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(n)
                )
                status, headers = (200, {})
                if receiver.responder is not None:
                    status, headers = receiver.responder(rec)
                if 200 <= status < 300:
                    with receiver._lock:
                        receiver.received.append(rec)
                else:
                    with receiver._lock:
                        receiver.rejected.append(rec)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._lock = threading.Lock()
        self.rejected: list[Received] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json() for r in self.received]
