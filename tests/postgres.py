"""A real, throwaway PostgreSQL server on loopback for the tests (Debian's ``postgresql``).

``initdb`` into a temporary folder, ``postgres`` on a free port of 127.0.0.1 with its unix
socket in that folder, a password for the test role; stopped and removed at the end. As
root, the server runs as the ``postgres`` system user (PostgreSQL refuses to run as root).
Anything missing is an error that says what to install, never a skip: the store tests run
against both backends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, log_tail, wait_answering

PASSWORD_ENV = "MONITOR_TEST_PG_PASSWORD"


class PostgresUnavailable(RuntimeError):
    """The throwaway server could not be started (the message says why)."""


def _bindir() -> Path:
    found = os.environ.get("MONITOR_PG_BINDIR")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin"))[::-1]
    for c in candidates:
        if c and (Path(c) / "initdb").exists():
            return Path(c)
    where = f"MONITOR_PG_BINDIR={found}" if found else "/usr/lib/postgresql/*/bin"
    raise PostgresUnavailable(
        f"PostgreSQL server binaries (initdb) not found in {where}: install Debian's "
        "'postgresql' package (.ci/run does) or point MONITOR_PG_BINDIR at them"
    )


@dataclass
class PostgresServer:
    """One throwaway cluster; :meth:`create_database` gives each test module its own."""

    folder: Path
    port: int
    password: str
    bindir: Path
    as_user: str | None  # run the server binaries as this user (when we are root)
    log: Path

    @classmethod
    def start(cls) -> PostgresServer:
        bindir = _bindir()
        as_user = "postgres" if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        password = uuid.uuid4().hex
        server = cls(folder, free_port(), password, bindir, as_user, folder / "server.log")
        try:
            server._init_and_run()
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, check=True, cwd=self.folder
            )
        except subprocess.CalledProcessError as e:
            raise PostgresUnavailable(
                f"{' '.join(cmd)} failed ({e.returncode}): {e.stderr.strip() or e.stdout.strip()}"
            ) from None
        except (OSError, subprocess.TimeoutExpired) as e:
            raise PostgresUnavailable(f"{' '.join(cmd)}: {e}") from None

    def _init_and_run(self) -> None:
        if self.as_user:
            shutil.chown(self.folder, self.as_user)
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password, encoding="utf-8")
        if self.as_user:
            shutil.chown(pwfile, self.as_user)
        data = self.folder / "data"
        self._run(
            self.bindir / "initdb",
            "-D",
            data,
            "-U",
            "monitor",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.folder} -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
            " -c shared_buffers=32MB"
        )
        self._run(
            self.bindir / "pg_ctl",
            "-D",
            data,
            "-l",
            self.log,
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )
        import psycopg

        # pg_ctl -w waits for the server; make sure TCP answers too
        error = wait_answering(
            lambda: psycopg.connect(self.dsn("postgres"), connect_timeout=5).close(),
            psycopg.OperationalError,
            every=0.2,
        )
        if error is not None:
            raise PostgresUnavailable(
                f"PostgreSQL on 127.0.0.1:{self.port} does not answer: {error}; "
                f"log: {log_tail(self.log)}"
            )

    def dsn(self, dbname: str) -> str:
        return (
            f"host=127.0.0.1 port={self.port} user=monitor dbname={dbname} password={self.password}"
        )

    def url(self, dbname: str) -> str:
        """The ``[storage] url`` of a database (no password: that comes from the env)."""
        return f"postgresql://monitor@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new database: empty, or a file copy of ``template`` (fast)."""
        import psycopg

        name = name or "t_" + uuid.uuid4().hex[:12]
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return name

    def stop(self) -> None:
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(PostgresUnavailable):
                self._run(self.bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
