"""One writer per database: an exclusive ``fcntl`` lock on a file next to it.

The daemon holds ``monitor.db.lock`` (for a database ``monitor.db``) while it runs, and
``monitor run --once`` holds it for its cycle, so two processes never poll and deliver from
one database at once (every alert would go out twice). The file keeps the holder's pid so the
refusal can name it. The kernel drops the lock when its holder exits, however it exits
(SIGKILL included): a stale file never blocks a restart.

On PostgreSQL (``[storage] url``) the lock is a session-level advisory lock held on a
connection of its own (:class:`PostgresLock`): it works across machines, the server drops
it when the holder's connection ends (a killed process included), and the holder's pid is
in its connection's ``application_name`` so the refusal can name it. :func:`writer_lock`
picks the right one for a config's database.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.config import DatabaseTarget, PostgresURL

# the advisory lock key of "one writer per database" (any fixed 64-bit number)
WRITER_LOCK_KEY = 7_346_520_111
# one scheduler and one delivery worker per database (the distributed roles, issue 16)
ROLE_LOCK_KEYS = {"scheduler": WRITER_LOCK_KEY + 1, "deliver": WRITER_LOCK_KEY + 2}


class DatabaseInUse(MonitorError):
    """Another process already holds a database's lock."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class _Held:
    """``with lock:`` acquires it, and releases it on the way out."""

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class DatabaseLock(_Held):
    """``with DatabaseLock(db, "the daemon"):`` holds the database's lock, or raises
    :class:`DatabaseInUse` naming the pid that holds it."""

    def __init__(self, database: Path, holder: str) -> None:
        self.path = lock_path(database)
        self.holder = holder
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            pid, _, who = other.partition(" ")
            raise DatabaseInUse(
                f"{self.path.with_suffix('')}: {who or 'another monitor process'} "
                f"(pid {pid or 'unknown'}) is already using this database; stop it first "
                f"({self.holder} refuses to run beside it)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.holder}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock; the file stays (removing it races)
            self._fd = None


class PostgresLock(_Held):
    """The same exclusive lock on a PostgreSQL database: ``pg_try_advisory_lock`` on a
    connection held for as long as the lock.

    ``shared``: the distributed roles hold the writer lock shared, so any number of them
    run together (per-feed leases keep them apart) while the all-in-one daemon, which
    takes it exclusively, refuses to run beside them and they beside it. ``key``: another
    lock than the writer's (one scheduler, one delivery worker: :data:`ROLE_LOCK_KEYS`)."""

    def __init__(
        self,
        database: PostgresURL,
        holder: str,
        *,
        key: int = WRITER_LOCK_KEY,
        shared: bool = False,
    ) -> None:
        self.database = database
        self.holder = holder
        self.key = key
        self.shared = shared
        self._conn: Any = None

    def acquire(self) -> None:
        from monitor.store.postgres import connect

        name = f"news-monitor: {self.holder} (pid {os.getpid()})"
        conn = connect(self.database, application_name=name[:63]).conn
        take = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
        try:
            if conn.execute(f"SELECT {take}(%s)", [self.key]).fetchone()[0]:
                self._conn = conn
                return
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND (l.classid::bigint << 32) + l.objid::bigint = %s"
                " ORDER BY l.mode = 'ExclusiveLock' DESC LIMIT 1",
                [self.key],
            ).fetchone()
        finally:
            if self._conn is not conn:  # not taken (refused, or a query failed): never leak it
                conn.close()
        who = (row[0] if row else "") or "another monitor process"
        raise DatabaseInUse(
            f"{self.database}: {who.removeprefix('news-monitor: ')} is already using this "
            f"database; stop it first ({self.holder} refuses to run beside it)"
        )

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session's advisory lock goes with it
            self._conn = None


def role_locks(database: PostgresURL, role: str, holder: str) -> list[PostgresLock]:
    """The locks a distributed role holds: the writer lock shared (no all-in-one daemon
    beside it), and for the scheduler and the delivery worker their own lock (one each)."""
    locks = [PostgresLock(database, holder, shared=True)]
    if role in ROLE_LOCK_KEYS:
        locks.append(PostgresLock(database, holder, key=ROLE_LOCK_KEYS[role]))
    return locks


def writer_lock(database: DatabaseTarget, holder: str) -> DatabaseLock | PostgresLock:
    """The one-writer lock of a database: a lock file next to a SQLite file, an advisory
    lock in a PostgreSQL database."""
    if isinstance(database, Path):
        return DatabaseLock(database, holder)
    return PostgresLock(database, holder)
