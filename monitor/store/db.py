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
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from monitor.errors import StoreError
from monitor.store import schema

HEARTBEAT_META = "heartbeat"  # the running daemon's last sign of life (ISO time)
STOPPED_META = "daemon_stopped"  # when the daemon last stopped cleanly
RELOAD_ERROR_META = "config_reload_error"  # the daemon's last failed reload (`monitor status`)


class Database:
    """The connection and what every domain module shares (see :class:`Store`)."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        readonly: bool = False,
        backfill: schema.Backfill | None = None,
    ) -> Self:
        """Open (and for a writer create or upgrade) the database file.

        ``backfill``: the dedup settings with which to finish the data part of an old
        file's upgrade (the pipeline's opener passes them; other writers leave it pending).
        """
        p = Path(path)
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
        store = cls(db, p)
        try:
            if readonly:
                store._check_readable()
            else:
                schema.migrate(store)
                if backfill is not None:
                    schema.run_backfill(store, backfill)
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all.

        sqlite-utils' atomic(): BEGIN … COMMIT, savepoints when nested.
        """
        with self.db.atomic():
            yield

    def _exists(self, sql: str, args: list[Any]) -> bool:
        """Whether the query finds a row."""
        return self.db.execute(sql, args).fetchone() is not None

    def _insert(self, table: str, record: dict[str, Any]) -> int:
        cols = ", ".join(record)
        marks = ", ".join("?" * len(record))
        cur = self.db.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(record.values())
        )
        return int(cur.lastrowid)

    # -- schema and meta ------------------------------------------------------------------
    def schema_version(self) -> int:
        try:
            if "meta" not in self.db.table_names():
                return 0
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database: {e}") from None
        return int(row[0]) if row else 0

    def _check_readable(self) -> None:
        version = self.schema_version()
        if version > schema.SCHEMA_VERSION:
            raise StoreError(schema.too_new(self.path, version))
        if version < schema.SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: the database is at schema version {version}, older than this "
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
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None
