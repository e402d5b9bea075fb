"""One writer per database: an exclusive ``fcntl`` lock on a file next to it.

The daemon holds ``monitor.db.lock`` (for a database ``monitor.db``) while it runs, and
``monitor run --once`` holds it for its cycle, so two processes never poll and deliver from
one database at once (every alert would go out twice). The file keeps the holder's pid so the
refusal can name it. The kernel drops the lock when its holder exits, however it exits
(SIGKILL included): a stale file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from monitor.errors import MonitorError


class DatabaseInUse(MonitorError):
    """Another process already holds a database's lock."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class DatabaseLock:
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

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
