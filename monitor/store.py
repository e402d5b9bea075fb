"""SQLite storage (one file, WAL) through sqlite-utils.

All writes go through one :class:`Store` owned by the daemon's event-loop thread, so
there is a single writer; the CLI's read commands open their own connection and read
concurrently (WAL lets readers and the writer proceed together).

The schema is versioned in ``meta.schema_version``; :data:`MIGRATIONS` brings an older
file up to date on open, and a file from a newer version is refused rather than damaged.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import StoreError
from monitor.models import AlertEvent, Article, FeedState, Match


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    dt = datetime.fromisoformat(s)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _script(db: sqlite_utils.Database, sql: str) -> None:
    """Run DDL statement by statement (executescript would commit the migration early)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite_utils.Database) -> None:
    _script(
        db,
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            config_url TEXT NOT NULL,       -- the URL as written in the config
            url TEXT NOT NULL,              -- the URL polled (updated by permanent redirects)
            title TEXT,
            etag TEXT,
            last_modified TEXT,
            last_poll TEXT,
            last_status INTEGER,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_poll TEXT,
            disabled_reason TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            canonical_url TEXT,
            title TEXT NOT NULL,
            author TEXT,
            published TEXT,
            site_name TEXT,
            fetched_at TEXT NOT NULL,
            text TEXT NOT NULL,
            text_source TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            story_id INTEGER,
            revision INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT
        );
        CREATE INDEX articles_url ON articles(url);
        CREATE INDEX articles_canonical ON articles(canonical_url);
        CREATE INDEX articles_hash ON articles(content_hash);
        CREATE TABLE feed_entries (
            feed_id INTEGER NOT NULL REFERENCES feeds(id),
            guid TEXT NOT NULL,
            article_id INTEGER REFERENCES articles(id),
            first_seen TEXT NOT NULL,
            PRIMARY KEY (feed_id, guid)
        );
        CREATE INDEX feed_entries_article ON feed_entries(article_id);
        CREATE TABLE matches (
            id INTEGER PRIMARY KEY,
            watch TEXT NOT NULL,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            terms TEXT NOT NULL,
            hits TEXT NOT NULL,
            snippets TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (watch, article_id)
        );
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            channel TEXT NOT NULL,
            watch TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',   -- pending | delivered | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT
        );
        CREATE INDEX alerts_due ON alerts(status, next_attempt);
        """,
    )


def _v3(db: sqlite_utils.Database) -> None:
    """Alert outbox: digests, first attempt (for max_age), channel health that survives."""
    _script(
        db,
        """
        ALTER TABLE alerts ADD COLUMN digest_id TEXT;      -- the digest message that carried it
        ALTER TABLE alerts ADD COLUMN first_attempt TEXT;  -- max_age counts from here
        CREATE INDEX alerts_sent ON alerts(channel, delivered_at);
        CREATE INDEX alerts_channel_due ON alerts(channel, status, next_attempt);
        CREATE TABLE alert_channels (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL,            -- ok | failing
            since TEXT NOT NULL,            -- when the state last changed
            last_error TEXT,
            last_success TEXT,
            last_failure TEXT,
            failures INTEGER NOT NULL DEFAULT 0   -- consecutive failed attempts
        );
        """,
    )


# Each entry brings the schema from version i to i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v3]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class StoredAlert:
    id: str
    type: str
    channel: str
    watch: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    digest_id: str | None = None  # the digest message that carried it, if any
    first_attempt: datetime | None = None

    def event(self) -> AlertEvent:
        return AlertEvent(
            id=self.id,
            type=self.type,
            channel=self.channel,
            watch=self.watch,
            payload=self.payload,
            created_at=self.created_at,
        )


class Store:
    """The database. Open with :meth:`open`; one instance per writer."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        p = Path(path)
        try:
            if readonly:
                if not p.exists():
                    raise StoreError(f"{p}: no database yet (run 'monitor run --once' first)")
                conn = sqlite3.connect(
                    f"file:{p}?mode=ro", uri=True, check_same_thread=False, timeout=10
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
        if not readonly:
            store._migrate()
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

    def _insert(self, table: str, record: dict[str, Any]) -> int:
        cols = ", ".join(record)
        marks = ", ".join("?" * len(record))
        cur = self.db.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(record.values())
        )
        return int(cur.lastrowid)

    # -- schema ---------------------------------------------------------------------
    def schema_version(self) -> int:
        if "meta" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        try:
            with self.db.atomic():
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)"
                )
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database: {e}") from None
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: database schema version {version} is newer than this "
                f"news-monitor understands ({SCHEMA_VERSION}); upgrade news-monitor"
            )
        for v in range(version, SCHEMA_VERSION):
            with self.db.atomic():
                MIGRATIONS[v](self.db)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    [str(v + 1)],
                )

    def set_meta(self, key: str, value: str) -> None:
        with self.db.atomic():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    # -- feeds ----------------------------------------------------------------------
    def sync_feed(self, name: str, config_url: str) -> FeedState:
        """Make sure a configured feed has a row; a changed config URL resets its state."""
        row = self.db.execute("SELECT id, config_url FROM feeds WHERE name = ?", [name]).fetchone()
        with self.db.atomic():
            if row is None:
                self._insert(
                    "feeds",
                    {
                        "name": name,
                        "config_url": config_url,
                        "url": config_url,
                        "failures": 0,
                        "created_at": iso(utcnow()),
                    },
                )
            elif row[1] != config_url:
                self.db.execute(
                    "UPDATE feeds SET config_url = ?, url = ?, etag = NULL, last_modified = NULL,"
                    " failures = 0, next_poll = NULL, disabled_reason = NULL, last_error = NULL"
                    " WHERE id = ?",
                    [config_url, config_url, row[0]],
                )
        state = self.feed_state(name)
        assert state is not None
        return state

    def feed_state(self, name: str) -> FeedState | None:
        rows = list(self.db.query("SELECT * FROM feeds WHERE name = ?", [name]))
        return _feed_state(rows[0]) if rows else None

    def feed_states(self) -> list[FeedState]:
        return [_feed_state(r) for r in self.db.query("SELECT * FROM feeds ORDER BY name")]

    def update_feed(self, name: str, **fields: Any) -> None:
        values = {k: iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        with self.db.atomic():
            sets = ", ".join(f"{k} = ?" for k in values)
            self.db.execute(f"UPDATE feeds SET {sets} WHERE name = ?", [*values.values(), name])

    def feed_status(self) -> list[dict[str, Any]]:
        """Per-feed health for `monitor status`."""
        return list(
            self.db.query(
                """
                SELECT f.name, f.url, f.config_url, f.title, f.last_poll, f.last_status,
                       f.last_error, f.failures, f.next_poll, f.disabled_reason,
                       (SELECT COUNT(DISTINCT article_id) FROM feed_entries e
                         WHERE e.feed_id = f.id AND e.article_id IS NOT NULL) AS articles
                FROM feeds f ORDER BY f.name
                """
            )
        )

    # -- entries and articles ---------------------------------------------------------
    def unseen_guids(self, feed_id: int, guids: Iterable[str]) -> set[str]:
        guids = list(dict.fromkeys(guids))
        seen: set[str] = set()
        for i in range(0, len(guids), 500):
            chunk = guids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT guid FROM feed_entries WHERE feed_id = ? AND guid IN ({marks})",
                    [feed_id, *chunk],
                )
            )
        return set(guids) - seen

    def article_id_for_url(self, *urls: str | None) -> int | None:
        for u in urls:
            if not u:
                continue
            row = self.db.execute(
                "SELECT id FROM articles WHERE url = ? OR canonical_url = ? LIMIT 1", [u, u]
            ).fetchone()
            if row:
                return int(row[0])
        return None

    def get_article(self, article_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return rows[0] if rows else None

    def insert_article(self, article: Article, content_hash: str) -> int:
        """Insert an article row (call inside :meth:`transaction`)."""
        return self._insert(
            "articles",
            {
                "url": article.url,
                "canonical_url": article.canonical_url,
                "title": article.title,
                "author": article.author,
                "published": iso(article.published),
                "site_name": article.site_name,
                "fetched_at": iso(article.fetched_at or utcnow()),
                "text": article.text,
                "text_source": article.text_source,
                "content_hash": content_hash,
                "revision": 1,
            },
        )

    def link_entry(self, feed_id: int, guid: str, article_id: int | None) -> None:
        """Record a feed entry as processed (call inside :meth:`transaction`)."""
        self.db.execute(
            "INSERT OR REPLACE INTO feed_entries (feed_id, guid, article_id, first_seen)"
            " VALUES (?, ?, ?, COALESCE((SELECT first_seen FROM feed_entries"
            " WHERE feed_id = ? AND guid = ?), ?))",
            [feed_id, guid, article_id, feed_id, guid, iso(utcnow())],
        )

    def insert_match(self, article_id: int, match: Match) -> bool:
        """Store a match; False if this watch already matched this article."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO matches (watch, article_id, terms, hits, snippets, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                match.watch,
                article_id,
                json.dumps(list(match.terms)),
                json.dumps([h.__dict__ for h in match.hits][:200]),
                json.dumps(list(match.snippets)),
                iso(utcnow()),
            ],
        )
        return cur.rowcount > 0

    def article_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def matches(self, watch: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT m.watch, m.terms, m.snippets, m.created_at, a.id AS article_id, a.title,"
            " a.url, a.site_name FROM matches m JOIN articles a ON a.id = m.article_id"
        )
        args: list[Any] = []
        if watch:
            sql += " WHERE m.watch = ?"
            args.append(watch)
        return list(self.db.query(sql + " ORDER BY m.id", args))

    # -- alert outbox -------------------------------------------------------------------
    def enqueue_alert(self, event: AlertEvent) -> bool:
        """Add an alert to the outbox (call inside the transaction of its cause)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO alerts (id, type, channel, watch, payload, status, attempts,"
            " next_attempt, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            [
                event.id,
                event.type,
                event.channel,
                event.watch,
                json.dumps(event.payload, ensure_ascii=False, sort_keys=True),
                iso(event.created_at or utcnow()),
                iso(event.created_at or utcnow()),
            ],
        )
        return cur.rowcount > 0

    def due_channels(self, now: datetime | None = None) -> list[str]:
        """Channels that have at least one pending alert due at ``now``."""
        rows = self.db.execute(
            "SELECT DISTINCT channel FROM alerts WHERE status = 'pending' AND"
            " (next_attempt IS NULL OR next_attempt <= ?) ORDER BY channel",
            [iso(now or utcnow())],
        )
        return [r[0] for r in rows]

    def due_alerts(
        self, now: datetime | None = None, limit: int = 100, channel: str | None = None
    ) -> list[StoredAlert]:
        """Pending alerts whose next attempt has come, oldest first."""
        sql = (
            "SELECT * FROM alerts WHERE status = 'pending' AND (next_attempt IS NULL OR"
            " next_attempt <= ?)"
        )
        args: list[Any] = [iso(now or utcnow())]
        if channel is not None:
            sql += " AND channel = ?"
            args.append(channel)
        rows = self.db.query(sql + " ORDER BY created_at, id LIMIT ?", [*args, limit])
        return [_stored_alert(r) for r in rows]

    def alert(self, alert_id: str) -> StoredAlert | None:
        rows = list(self.db.query("SELECT * FROM alerts WHERE id = ?", [alert_id]))
        return _stored_alert(rows[0]) if rows else None

    def alerts(self, status: str | None = None, limit: int = 1000) -> list[StoredAlert]:
        sql, args = "SELECT * FROM alerts", []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        rows = self.db.query(sql + " ORDER BY created_at, id LIMIT ?", [*args, limit])
        return [_stored_alert(r) for r in rows]

    def record_delivery(
        self,
        alert_id: str,
        *,
        delivered: bool,
        error: str | None = None,
        next_attempt: datetime | None = None,
        failed: bool = False,
        now: datetime | None = None,
    ) -> None:
        """Record one attempt of one alert (delivered, to retry at ``next_attempt``, or failed)."""
        self.record_attempt(
            [alert_id],
            delivered=delivered,
            error=error,
            next_attempt=next_attempt,
            failed_ids=[alert_id] if failed else (),
            now=now,
        )

    def record_attempt(
        self,
        alert_ids: Iterable[str],
        *,
        delivered: bool,
        error: str | None = None,
        next_attempt: datetime | None = None,
        failed_ids: Iterable[str] = (),
        digest_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record one attempt that carried these alerts (one alert, or a digest), atomically.

        Delivered: every alert is acknowledged (with the digest's id when it was one).
        Not delivered: each counts an attempt; those in ``failed_ids`` become dead letters,
        the others wait until ``next_attempt``.
        """
        ids = list(alert_ids)
        failed = set(failed_ids)
        stamp = iso(now or utcnow())
        with self.db.atomic():
            for alert_id in ids:
                if delivered:
                    self.db.execute(
                        "UPDATE alerts SET status = 'delivered', attempts = attempts + 1,"
                        " delivered_at = ?, last_error = NULL, digest_id = ?,"
                        " first_attempt = COALESCE(first_attempt, ?) WHERE id = ?",
                        [stamp, digest_id, stamp, alert_id],
                    )
                else:
                    self.db.execute(
                        "UPDATE alerts SET status = ?, attempts = attempts + 1, last_error = ?,"
                        " next_attempt = ?, first_attempt = COALESCE(first_attempt, ?)"
                        " WHERE id = ?",
                        [
                            "failed" if alert_id in failed else "pending",
                            error,
                            iso(next_attempt),
                            stamp,
                            alert_id,
                        ],
                    )

    def sent_since(self, channel: str, since: datetime) -> list[datetime]:
        """When each message (an alert, or a digest of several) was delivered since ``since``."""
        rows = self.db.execute(
            "SELECT MIN(delivered_at) FROM alerts WHERE channel = ? AND status = 'delivered'"
            " AND delivered_at > ? GROUP BY COALESCE(digest_id, id) ORDER BY 1",
            [channel, iso(since)],
        )
        return [d for (v,) in rows if (d := from_iso(v)) is not None]

    def alert_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall()
        return {status: n for status, n in rows}

    def channel_state(self, name: str) -> dict[str, Any] | None:
        if "alert_channels" not in self.db.table_names():
            return None
        rows = list(self.db.query("SELECT * FROM alert_channels WHERE name = ?", [name]))
        return rows[0] if rows else None

    def set_channel_state(
        self, name: str, ok: bool, error: str | None = None, now: datetime | None = None
    ) -> str | None:
        """Record the outcome of an attempt on a channel; returns the state before it."""
        stamp = iso(now or utcnow())
        state = "ok" if ok else "failing"
        with self.db.atomic():
            row = self.db.execute(
                "SELECT state FROM alert_channels WHERE name = ?", [name]
            ).fetchone()
            before = row[0] if row else None
            if row is None:
                self.db.execute(
                    "INSERT INTO alert_channels (name, state, since, failures) VALUES (?, ?, ?, 0)",
                    [name, state, stamp],
                )
            elif before != state:
                self.db.execute(
                    "UPDATE alert_channels SET state = ?, since = ? WHERE name = ?",
                    [state, stamp, name],
                )
            if ok:
                self.db.execute(
                    "UPDATE alert_channels SET last_success = ?, failures = 0 WHERE name = ?",
                    [stamp, name],
                )
            else:
                self.db.execute(
                    "UPDATE alert_channels SET last_failure = ?, last_error = ?,"
                    " failures = failures + 1 WHERE name = ?",
                    [stamp, error, name],
                )
        return before

    def channel_health(self) -> list[dict[str, Any]]:
        """Per channel: state (ok | failing, since when), last error, pending and failed counts.

        Lists every channel that has a recorded state or an undelivered alert.
        """
        counts = {
            r["channel"]: r
            for r in self.db.query(
                "SELECT channel, SUM(status = 'pending') AS pending,"
                " SUM(status = 'failed') AS failed, MAX(last_error) AS last_error"
                " FROM alerts WHERE status != 'delivered' GROUP BY channel"
            )
        }
        states: dict[str, dict[str, Any]] = {}
        if "alert_channels" in self.db.table_names():
            states = {r["name"]: r for r in self.db.query("SELECT * FROM alert_channels")}
        out = []
        for name in sorted(set(counts) | set(states)):
            c, st = counts.get(name, {}), states.get(name, {})
            out.append(
                {
                    "channel": name,
                    "state": st.get("state", "unknown"),
                    "since": st.get("since"),
                    "failures": st.get("failures", 0),
                    "pending": c.get("pending") or 0,
                    "failed": c.get("failed") or 0,
                    "last_error": st.get("last_error") or c.get("last_error"),
                    "last_success": st.get("last_success"),
                }
            )
        return out

    def defer_alert(self, alert_id: str, next_attempt: datetime) -> None:
        """Push a pending alert's next attempt back without counting an attempt."""
        self.defer_alerts([alert_id], next_attempt)

    def defer_alerts(self, alert_ids: Iterable[str], next_attempt: datetime) -> None:
        with self.db.atomic():
            for alert_id in alert_ids:
                self.db.execute(
                    "UPDATE alerts SET next_attempt = ? WHERE id = ? AND status = 'pending'",
                    [iso(next_attempt), alert_id],
                )

    def retry_alerts(self, ids: Iterable[str] | None = None) -> int:
        """Queue alerts again, due now: every failed one when ids is None, else these ids
        (failed, pending in backoff, or even delivered ones, which are then sent again)."""
        reset = (
            "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt = NULL,"
            " first_attempt = NULL, digest_id = NULL"
        )
        with self.db.atomic():
            if ids is None:
                return self.db.execute(reset + " WHERE status = 'failed'").rowcount
            return sum(self.db.execute(reset + " WHERE id = ?", [i]).rowcount for i in ids)


def _feed_state(r: dict[str, Any]) -> FeedState:
    return FeedState(
        id=r["id"],
        url=r["url"],
        name=r["name"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        last_poll=from_iso(r["last_poll"]),
        last_status=r["last_status"],
        last_error=r["last_error"],
        failures=r["failures"],
        next_poll=from_iso(r["next_poll"]),
        disabled_reason=r["disabled_reason"],
    )


def _stored_alert(r: dict[str, Any]) -> StoredAlert:
    created = from_iso(r["created_at"])
    assert created is not None
    return StoredAlert(
        id=r["id"],
        type=r["type"],
        channel=r["channel"],
        watch=r["watch"],
        payload=json.loads(r["payload"]),
        status=r["status"],
        attempts=r["attempts"],
        next_attempt=from_iso(r["next_attempt"]),
        last_error=r["last_error"],
        created_at=created,
        delivered_at=from_iso(r["delivered_at"]),
        digest_id=r.get("digest_id"),
        first_attempt=from_iso(r.get("first_attempt")),
    )
