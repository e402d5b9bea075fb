"""Opening the database file, transactions, the ``meta`` table and the schema check.

All writes go through one :class:`~monitor.store.Store` owned by the daemon's event-loop
thread, so there is a single writer; the CLI's read commands open their own read-only
connection and read concurrently (WAL lets readers and the writer proceed together).

A writer brings an older file up to date on open (:mod:`monitor.store.schema`); a
reader refuses a file whose schema is not the current one, with a message saying what to
do, so no caller has to handle a missing table itself. A file from a newer version is
refused either way rather than damaged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import sqlite_utils

from monitor.errors import StoreError
from monitor.store import schema
from monitor.store.backend import Connection, SqliteConnection

if TYPE_CHECKING:
    from monitor.config import PostgresURL

HEARTBEAT_META = "heartbeat"  # the running daemon's last sign of life (ISO time)
STOPPED_META = "daemon_stopped"  # when the daemon last stopped cleanly
RELOAD_ERROR_META = "config_reload_error"  # the daemon's last failed reload (`monitor status`)


class Database:
    """The connection and what every domain module shares (see :class:`Store`).

    ``db`` is the backend's :class:`~monitor.store.backend.Connection` (SQLite or
    PostgreSQL); ``path`` the SQLite file (None on PostgreSQL); ``location`` names the
    database in messages (the file, or the URL without password).
    """

    def __init__(self, db: Connection, path: Path | None, location: str | None = None) -> None:
        self.db = db
        self.path = path
        self.location = location or str(path)

    @classmethod
    def open(
        cls,
        target: str | Path | PostgresURL,
        *,
        readonly: bool = False,
        backfill: schema.Backfill | None = None,
    ) -> Self:
        """Open (and for a writer create or upgrade) the database: a SQLite file, or the
        PostgreSQL database of a :class:`~monitor.config.PostgresURL`.

        ``backfill``: the dedup settings with which to finish the data part of an old
        file's upgrade (the pipeline's opener passes them; other writers leave it pending).
        """
        if not isinstance(target, str | Path):  # a PostgresURL (config imported lazily)
            from monitor.store import postgres

            store = cls(postgres.connect(target, readonly=readonly), None, target.url)
        else:
            store = cls._open_sqlite(Path(target), readonly)
        try:
            if readonly:
                store._check_readable()
            else:
                schema.migrate(store)
                if backfill is not None:
                    schema.run_backfill(store, backfill)
        except BaseException:
            store.db.close()
            raise
        return store

    @classmethod
    def _open_sqlite(cls, p: Path, readonly: bool) -> Self:
        try:
            if readonly:
                if not p.exists():
                    raise StoreError(f"{p}: no database yet (run 'monitor run --once' first)")
                # as_uri() percent-encodes the path, so a '?' or '#' in a file name stays
                # part of the name instead of starting URI parameters
                conn = sqlite3.connect(
                    p.absolute().as_uri() + "?mode=ro",
                    uri=True,
                    check_same_thread=False,
                    timeout=10,
                )
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(p), check_same_thread=False, timeout=10)
            conn.execute("PRAGMA busy_timeout = 10000")
            db = sqlite_utils.Database(conn)
            if not readonly:
                db.enable_wal()
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{p}: cannot open the database: {e}") from None
        return cls(SqliteConnection(db), p)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all.

        BEGIN … COMMIT, savepoints when nested (sqlite-utils' ``atomic()``, psycopg's
        ``transaction()``).
        """
        with self.db.atomic():
            yield

    def _exists(self, sql: str, args: list[Any]) -> bool:
        """Whether the query finds a row."""
        return self.db.execute(sql, args).fetchone() is not None

    def _insert(self, table: str, record: dict[str, Any]) -> int:
        """Insert a row; its id."""
        return self.db.insert(table, record)

    # -- schema and meta ------------------------------------------------------------------
    def schema_version(self) -> int:
        try:
            if "meta" not in self.db.table_names():
                return 0
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.location}: not a usable SQLite database: {e}") from None
        return int(row[0]) if row else 0

    def _check_readable(self) -> None:
        version = self.schema_version()
        if version > schema.SCHEMA_VERSION:
            raise StoreError(schema.too_new(self.location, version))
        if version < schema.SCHEMA_VERSION:
            raise StoreError(
                f"{self.location}: the database is at schema version {version}, older than this "
                f"news-monitor's ({schema.SCHEMA_VERSION}); run 'monitor run --once' (or "
                "start the daemon) to upgrade it"
            )

    def table_counts(self) -> dict[str, int]:
        """How many articles, stories, claims and alerts are stored."""
        return {
            t: int(self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
            for t in ("articles", "stories", "claims", "alerts")
        }

    def set_meta(self, key: str, value: str) -> None:
        with self.db.atomic():
            self.db.execute(schema.SET_META, [key, value])

    def note_delivery_heartbeat(self) -> None:
        """Record that the outbox was just drained (`monitor health` reads it), from the
        daemon or the delivery worker."""
        self.set_meta(HEARTBEAT_META, _stamp_now())

    def note_reload_error(self, problem: str) -> None:
        """Keep a rejected config change, stamped now, for `monitor status`."""
        self.set_meta(RELOAD_ERROR_META, f"{_stamp_now()}: {problem}")

    def clear_reload_error(self) -> None:
        """A config change was taken: the last rejected one no longer applies."""
        self.set_meta(RELOAD_ERROR_META, "")

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None


def _stamp_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
