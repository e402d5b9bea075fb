"""Real servers on loopback for the integration tests (webhook receiver, SMTP, the web view)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
    port: int = 0  # 0: any free port; a fixed one lets a test start it late (after refusals)
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)
    secret: str | None = None  # verify Standard Webhooks signatures; bad ones get 401

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length") or 0)
                rec = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(n)
                )
                status, headers = (200, {})
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.secret is not None and not receiver._verify(rec):
                    status = 401
                elif receiver.responder is not None:
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
        self.bad_signatures = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
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

    def ids(self) -> list[str]:
        """The webhook-id of every acknowledged request (repeats show re-deliveries)."""
        with self._lock:
            return [r.headers.get("webhook-id", "") for r in self.received]

    def _verify(self, rec: Received) -> bool:
        """The receiving side of Standard Webhooks, with the library's own verify."""
        from standardwebhooks import Webhook
        from standardwebhooks.webhooks import WebhookVerificationError

        assert self.secret is not None
        key = self.secret if self.secret.startswith("whsec_") else self.secret.encode()
        try:
            Webhook(key).verify(rec.body, rec.headers)
        except WebhookVerificationError:
            with self._lock:
                self.bad_signatures += 1
            return False
        return True


def wait_answering(
    probe: Callable[[], object],
    errors: type[Exception] | tuple[type[Exception], ...],
    *,
    timeout: float = 30.0,
    every: float = 0.1,
    exited: Callable[[], bool] = lambda: False,
) -> Exception | None:
    """Call ``probe`` until it stops raising ``errors`` (a throwaway server answers): None
    then, else the last error once ``timeout`` passed or the server ``exited``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return None
        except errors as e:
            if exited() or time.monotonic() > deadline:
                return e
            time.sleep(every)


def log_tail(path: Path, chars: int = 2000) -> str:
    """The end of a server's log file, for an error message."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def free_port() -> int:
    """A port nobody listens on right now (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed_cert(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A certificate and key for ``host`` and 127.0.0.1 (the cert is also its own CA file)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


@dataclass
class SMTPReceiver:
    """A real SMTP server (aiosmtpd) on loopback that parses what it receives.

    ``tls``: None (plain), "starttls" (required before MAIL) or "implicit" (TLS from the
    first byte); ``login``: (user, password) to require AUTH; ``reply``: an SMTP reply
    such as "451 4.7.1 try later" to answer DATA with instead of accepting.
    """

    tls: str | None = None
    cert: tuple[Path, Path] | None = None
    login: tuple[str, str] | None = None
    reply: str | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    def start(self) -> SMTPReceiver:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                if receiver.reply:
                    return receiver.reply
                msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
                receiver.messages.append(msg)  # type: ignore[arg-type]
                receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):  # type: ignore[no-untyped-def]
            if isinstance(data, LoginPassword) and receiver.login is not None:
                user, pw = data.login.decode(), data.password.decode()
                if (user, pw) == receiver.login:
                    receiver.logins.append(user)
                    return AuthResult(success=True, auth_data=data)
            return AuthResult(success=False, handled=False)

        context = None
        if self.tls:
            assert self.cert is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
        kwargs: dict[str, Any] = {}
        if self.login is not None:
            kwargs.update(authenticator=authenticator, auth_require_tls=self.tls is not None)
        if self.tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif self.tls == "implicit":
            kwargs.update(ssl_context=context)
        self.port = free_port()
        self._controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@contextmanager
def running_web(settings: Any) -> Iterator[Any]:
    """The real web view (uvicorn) on loopback in a background thread; yields the
    ``WebServer`` (its ``url`` and ``port``)."""
    import asyncio

    from monitor.web.app import WebServer

    server = WebServer(settings)
    server.bind()
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web view did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.stop()
        thread.join(15)
