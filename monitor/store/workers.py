"""The distributed roles' shared state: per-feed leases and the processes' heartbeats.

A lease is a row per feed with its holder and expiry. :meth:`WorkersRepo.take_lease` writes
it in one statement that succeeds only where there is no lease or an expired one
(``INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now RETURNING``), so of two workers
asking at once exactly one gets it, on SQLite and PostgreSQL alike. A worker that dies
keeps its lease until it expires; then any worker may take the feed again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.store.db import Database
from monitor.store.rows import LeaseRow, WorkerRow, from_iso, iso, utcnow


class WorkersRepo(Database):
    # -- leases ----------------------------------------------------------------------------
    def take_lease(
        self, feed: str, holder: str, seconds: float, now: datetime | None = None
    ) -> bool:
        """Take ``feed``'s lease for ``seconds`` if nobody holds it (or its lease expired).
        True when ``holder`` has it now."""
        now = now or utcnow()
        row = self.db.execute(
            "INSERT INTO feed_leases (feed, holder, taken_at, expires_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (feed) DO UPDATE SET holder = excluded.holder,"
            " taken_at = excluded.taken_at, expires_at = excluded.expires_at"
            " WHERE feed_leases.expires_at <= ? RETURNING holder",
            [feed, holder, iso(now), iso(now + timedelta(seconds=seconds)), iso(now)],
        ).fetchone()
        return row is not None and row[0] == holder

    def renew_lease(self, feed: str, holder: str, seconds: float) -> bool:
        """Push the expiry of a lease ``holder`` holds; False when it is no longer its."""
        until = iso(utcnow() + timedelta(seconds=seconds))
        row = self.db.execute(
            "UPDATE feed_leases SET expires_at = ? WHERE feed = ? AND holder = ? RETURNING feed",
            [until, feed, holder],
        ).fetchone()
        return row is not None

    def release_lease(self, feed: str, holder: str) -> None:
        """Give a lease back (only its holder can)."""
        self.db.execute("DELETE FROM feed_leases WHERE feed = ? AND holder = ?", [feed, holder])

    def leases(self) -> list[LeaseRow]:
        return [
            LeaseRow.from_row(r) for r in self.db.query("SELECT * FROM feed_leases ORDER BY feed")
        ]

    # -- processes -------------------------------------------------------------------------
    def beat(self, name: str, role: str, *, tasks: int = 0, current: str | None = None) -> None:
        """Record a process's heartbeat (its row is made on the first one)."""
        now = iso(utcnow())
        self.db.execute(
            "INSERT INTO workers (name, role, started_at, heartbeat, tasks, current)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " role = excluded.role, heartbeat = excluded.heartbeat, tasks = excluded.tasks,"
            " current = excluded.current, stopped_at = NULL",
            [name, role, now, now, tasks, current],
        )

    def worker_stopped(self, name: str) -> None:
        self.db.execute(
            "UPDATE workers SET stopped_at = ?, current = NULL WHERE name = ?",
            [iso(utcnow()), name],
        )

    def workers(self) -> list[WorkerRow]:
        return [
            WorkerRow.from_row(r)
            for r in self.db.query("SELECT * FROM workers ORDER BY role, name")
        ]

    def due_feeds(self, now: datetime | None = None) -> dict[str, datetime | None]:
        """Feeds due now (never polled, or next poll passed) and not leased, with their
        planned time (None: never polled)."""
        t = iso(now or utcnow())
        rows = self.db.execute(
            "SELECT f.name, f.next_poll FROM feeds f LEFT JOIN feed_leases l ON l.feed = f.name"
            " AND l.expires_at > ? WHERE (f.next_poll IS NULL OR f.next_poll <= ?)"
            " AND f.disabled_reason IS NULL AND l.feed IS NULL",
            [t, t],
        )

        return {name: from_iso(when) for name, when in rows}
