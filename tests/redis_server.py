"""A real, throwaway Redis server on loopback for the tests (Debian's ``redis-server``).

``redis-server --port <free> --bind 127.0.0.1 --save '' --dir <tmp>``: nothing persisted,
removed at the end. A missing binary or a server that does not answer is an error that
says what to install, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, log_tail, wait_answering


class RedisUnavailable(RuntimeError):
    """The throwaway server could not be started (the message says why)."""


@dataclass
class RedisServer:
    folder: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls) -> RedisServer:
        binary = os.environ.get("MONITOR_REDIS_SERVER") or shutil.which("redis-server")
        if not binary or not Path(binary).exists():
            raise RedisUnavailable(
                "redis-server not found: install Debian's 'redis-server' package (.ci/run"
                " does) or point MONITOR_REDIS_SERVER at the binary"
            )
        folder = Path(tempfile.mkdtemp(prefix="monitor-redis-"))
        port = free_port()
        log = folder / "redis.log"
        cmd = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--logfile",
            str(log),
        ]
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise RedisUnavailable(f"{binary}: {e}") from None
        server = cls(folder, port, proc)
        import redis

        error = wait_answering(
            lambda: redis.Redis(port=port, socket_connect_timeout=2).ping(),
            redis.RedisError,
            exited=lambda: proc.poll() is not None,
        )
        if error is not None:
            tail = log_tail(log, 1500)
            server.stop()
            raise RedisUnavailable(
                f"redis-server on 127.0.0.1:{port} does not answer: {error}; log: {tail}"
            )
        return server

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
