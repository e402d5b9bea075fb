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
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


def _v2(db: sqlite_utils.Database) -> None:
    """Dedup: URL identities, revisions, stories, similarity sketches (see monitor/dedup.py)."""
    _script(
        db,
        """
        ALTER TABLE articles ADD COLUMN duplicate_of INTEGER;   -- near-duplicate: the original
        CREATE INDEX articles_story ON articles(story_id);
        CREATE INDEX articles_duplicate ON articles(duplicate_of);
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,               -- the first article's title
            first_article_id INTEGER NOT NULL,
            articles INTEGER NOT NULL DEFAULT 1,
            first_seen TEXT NOT NULL,          -- event times (published, else fetched)
            last_seen TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX stories_updated ON stories(updated_at);
        -- every URL an article is known by, as a 64-bit hash of monitor.dedup.url_key()
        CREATE TABLE article_urls (
            key INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL
        );
        CREATE INDEX article_urls_article ON article_urls(article_id);
        CREATE TABLE article_revisions (       -- earlier texts of revised articles
            article_id INTEGER NOT NULL,
            revision INTEGER NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            fetched_at TEXT,
            PRIMARY KEY (article_id, revision)
        );
        -- similarity sketches, pruned after [storage] fingerprint_window
        CREATE TABLE dedup_sketches (
            article_id INTEGER PRIMARY KEY,
            seen INTEGER NOT NULL,             -- fetch time, unix seconds (pruning)
            t INTEGER NOT NULL,                -- event time, unix seconds (story window)
            story_id INTEGER,
            duplicate_of INTEGER,
            site TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            minhash BLOB NOT NULL,
            terms BLOB NOT NULL,
            bands BLOB NOT NULL,               -- its dedup_bands keys (to delete them)
            keys BLOB NOT NULL                 -- its dedup_terms keys
        );
        CREATE INDEX dedup_sketches_seen ON dedup_sketches(seen);
        CREATE INDEX dedup_sketches_story ON dedup_sketches(story_id);
        CREATE INDEX dedup_sketches_hash ON dedup_sketches(content_hash);
        CREATE TABLE dedup_bands (             -- MinHash LSH buckets
            key INTEGER NOT NULL,
            article_id INTEGER NOT NULL,
            PRIMARY KEY (key, article_id)
        ) WITHOUT ROWID;
        CREATE TABLE dedup_terms (             -- heaviest terms, to find story candidates
            key INTEGER NOT NULL,
            t INTEGER NOT NULL,
            article_id INTEGER NOT NULL,
            PRIMARY KEY (key, t, article_id)
        ) WITHOUT ROWID;
        INSERT OR REPLACE INTO meta (key, value)
            SELECT 'dedup_backfill', 'pending' WHERE EXISTS (SELECT 1 FROM articles);
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


def _v4(db: sqlite_utils.Database) -> None:
    """Claims: tracked propositions, the reports on each, and contradictions between them."""
    _script(
        db,
        """
        CREATE TABLE claims (
            id INTEGER PRIMARY KEY,
            watch TEXT NOT NULL,
            origin TEXT NOT NULL,              -- article | config
            statement TEXT NOT NULL,           -- the clause (or the user's text) that states it
            proposition TEXT NOT NULL,         -- JSON: subject/predicate/object and their keys
            predicate_key TEXT NOT NULL,
            polarity TEXT NOT NULL,            -- asserted | denied
            modality TEXT NOT NULL,
            config_text TEXT,                  -- declared claims: the text as configured
            first_article_id INTEGER REFERENCES articles(id),
            first_source TEXT,                 -- attribution of the first report
            first_outlet TEXT,
            first_url TEXT,
            first_title TEXT,
            first_published TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX claims_watch ON claims(watch, predicate_key);
        CREATE UNIQUE INDEX claims_declared ON claims(watch, config_text);
        CREATE TABLE claim_evidence (
            id INTEGER PRIMARY KEY,
            claim_id INTEGER NOT NULL REFERENCES claims(id),
            article_id INTEGER REFERENCES articles(id),
            role TEXT NOT NULL,                -- origin | confirms | discusses
            quote TEXT NOT NULL,
            statement TEXT,
            field TEXT,
            attribution TEXT,
            source_keys TEXT NOT NULL DEFAULT '[]',
            outlet TEXT,
            url TEXT,
            title TEXT,
            published TEXT,
            polarity TEXT,
            modality TEXT,
            confidence REAL,
            copy INTEGER NOT NULL DEFAULT 0,   -- a verbatim re-run of an earlier report
            alerted INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX claim_evidence_claim ON claim_evidence(claim_id);
        CREATE INDEX claim_evidence_article ON claim_evidence(article_id);
        CREATE TABLE claim_relations (
            claim_a INTEGER NOT NULL REFERENCES claims(id),   -- the older claim
            claim_b INTEGER NOT NULL REFERENCES claims(id),
            relation TEXT NOT NULL,            -- contradicts
            confidence REAL,
            evidence_id INTEGER REFERENCES claim_evidence(id),
            created_at TEXT NOT NULL,
            PRIMARY KEY (claim_a, claim_b)
        );
        """,
    )


# Each entry brings the schema from version i to i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4]
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

    # -- dedup ------------------------------------------------------------------------------
    # Reads used by monitor.dedup.Deduplicator (through its DedupState protocol) and the
    # writes the pipeline makes to apply a DedupDecision (inside its transaction).
    def dedup_known(self, url_hashes: Sequence[int]) -> dict[str, Any] | None:
        """The stored article one of these URL identity hashes belongs to."""
        if not url_hashes:
            return None
        marks = ",".join("?" * len(url_hashes))
        rows = list(
            self.db.query(
                "SELECT a.id AS article_id, a.content_hash, a.text_source, a.revision,"
                " a.story_id, s.site FROM article_urls u JOIN articles a ON a.id = u.article_id"
                f" LEFT JOIN dedup_sketches s ON s.article_id = a.id WHERE u.key IN ({marks})"
                " ORDER BY a.id LIMIT 1",
                list(url_hashes),
            )
        )
        return rows[0] if rows else None

    def dedup_by_hash(self, content_hash: str) -> list[dict[str, Any]]:
        """Recent articles (within the fingerprint window) with exactly this text."""
        return list(
            self.db.query(
                "SELECT s.article_id, s.content_hash, a.text_source, a.revision, s.story_id,"
                " s.site FROM dedup_sketches s JOIN articles a ON a.id = s.article_id"
                " WHERE s.content_hash = ? ORDER BY s.article_id LIMIT 20",
                [content_hash],
            )
        )

    def dedup_band_candidates(self, bands: Sequence[int], limit: int) -> list[int]:
        """Articles sharing at least one LSH band, most shared bands first."""
        if not bands:
            return []
        marks = ",".join("?" * len(bands))
        return [
            r[0]
            for r in self.db.execute(
                f"SELECT article_id FROM dedup_bands WHERE key IN ({marks})"
                " GROUP BY article_id ORDER BY COUNT(*) DESC, article_id LIMIT ?",
                [*bands, limit],
            )
        ]

    def dedup_term_candidates(
        self, keys: Sequence[int], start: int, end: int, per_key: int
    ) -> list[int]:
        """Articles of the time range sharing key terms; an id once per shared term.

        At most ``per_key`` (the latest) per term, so a frequent term costs no more than
        a rare one.
        """
        if not keys:
            return []
        sub = (
            "SELECT article_id FROM (SELECT article_id FROM dedup_terms WHERE key = ?"
            " AND t BETWEEN ? AND ? ORDER BY t DESC LIMIT ?)"
        )
        args: list[Any] = []
        for k in keys:
            args += [k, start, end, per_key]
        sql = " UNION ALL ".join([sub] * len(keys))
        return [r[0] for r in self.db.execute(sql, args)]

    def dedup_sketches(self, article_ids: Sequence[int]) -> list[dict[str, Any]]:
        if not article_ids:
            return []
        marks = ",".join("?" * len(article_ids))
        cols = ("article_id", "story_id", "duplicate_of", "site", "t", "minhash", "terms")
        cur = self.db.conn.execute(
            f"SELECT {', '.join(cols)} FROM dedup_sketches WHERE article_id IN ({marks})",
            list(article_ids),
        )
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def story_sites(self, story_id: int) -> set[str]:
        """The outlets (hosts) whose articles are in a story (within the window)."""
        return {
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT site FROM dedup_sketches WHERE story_id = ?", [story_id]
            )
        }

    def dedup_record(
        self,
        sketch: dict[str, Any],
        url_hashes: Sequence[int],
        bands: Sequence[int],
        term_keys: Sequence[int],
    ) -> None:
        """Store an article's sketch, URL identities, LSH bands and key terms."""
        aid = sketch["article_id"]
        self.dedup_forget(aid)
        row = {
            **sketch,
            "bands": struct.pack(f"<{len(bands)}q", *bands),
            "keys": struct.pack(f"<{len(term_keys)}q", *term_keys),
        }
        cols = ", ".join(row)
        self.db.execute(
            f"INSERT INTO dedup_sketches ({cols}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        self.dedup_add_urls(aid, url_hashes)
        self.db.execute(
            "UPDATE articles SET content_hash = ? WHERE id = ? AND content_hash != ?",
            [sketch["content_hash"], aid, sketch["content_hash"]],
        )
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO dedup_bands (key, article_id) VALUES (?, ?)",
            [(b, aid) for b in bands],
        )
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO dedup_terms (key, t, article_id) VALUES (?, ?, ?)",
            [(k, sketch["t"], aid) for k in term_keys],
        )

    def dedup_add_urls(self, article_id: int, url_hashes: Sequence[int]) -> None:
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO article_urls (key, article_id) VALUES (?, ?)",
            [(h, article_id) for h in url_hashes],
        )

    def dedup_forget(self, article_id: int) -> bool:
        """Drop an article's sketch, bands and key terms (its URL identities stay)."""
        row = self.db.execute(
            "SELECT bands, keys, t FROM dedup_sketches WHERE article_id = ?", [article_id]
        ).fetchone()
        if row is None:
            return False
        bands = struct.unpack(f"<{len(row[0]) // 8}q", row[0])
        keys = struct.unpack(f"<{len(row[1]) // 8}q", row[1])
        self.db.conn.executemany(
            "DELETE FROM dedup_bands WHERE key = ? AND article_id = ?",
            [(b, article_id) for b in bands],
        )
        self.db.conn.executemany(
            "DELETE FROM dedup_terms WHERE key = ? AND t = ? AND article_id = ?",
            [(k, row[2], article_id) for k in keys],
        )
        self.db.execute("DELETE FROM dedup_sketches WHERE article_id = ?", [article_id])
        return True

    def prune_fingerprints(self, before: datetime, limit: int = 20_000) -> int:
        """Forget the sketches of articles fetched before a time (at most ``limit``)."""
        ids = [
            r[0]
            for r in self.db.execute(
                "SELECT article_id FROM dedup_sketches WHERE seen < ? ORDER BY seen LIMIT ?",
                [int(before.timestamp()), limit],
            )
        ]
        with self.db.atomic():
            for aid in ids:
                self.dedup_forget(aid)
        return len(ids)

    def create_story(self, title: str, article_id: int, when: datetime) -> int:
        now = iso(utcnow())
        sid = self._insert(
            "stories",
            {
                "title": title,
                "first_article_id": article_id,
                "articles": 1,
                "first_seen": iso(when),
                "last_seen": iso(when),
                "created_at": now,
                "updated_at": now,
            },
        )
        self.db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [sid, article_id])
        return sid

    def join_story(
        self, story_id: int, article_id: int, when: datetime, duplicate_of: int | None = None
    ) -> None:
        self.db.execute(
            "UPDATE articles SET story_id = ?, duplicate_of = ? WHERE id = ?",
            [story_id, duplicate_of, article_id],
        )
        w = iso(when)
        self.db.execute(
            "UPDATE stories SET articles = articles + 1, updated_at = ?,"
            " first_seen = MIN(first_seen, ?), last_seen = MAX(last_seen, ?) WHERE id = ?",
            [iso(utcnow()), w, w, story_id],
        )

    def revise_article(self, article_id: int, article: Article, content_hash: str) -> int:
        """Archive the stored text and put the new one in its place; the new revision."""
        old = self.get_article(article_id)
        if old is None:
            raise StoreError(f"article {article_id} does not exist")
        self.db.execute(
            "INSERT OR REPLACE INTO article_revisions (article_id, revision, title, text,"
            " content_hash, fetched_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                article_id,
                old["revision"],
                old["title"],
                old["text"],
                old["content_hash"],
                old["fetched_at"],
            ],
        )
        revision = int(old["revision"]) + 1
        self.db.execute(
            "UPDATE articles SET title = ?, text = ?, text_source = ?, content_hash = ?,"
            " author = COALESCE(?, author), revision = ?, updated_at = ? WHERE id = ?",
            [
                article.title,
                article.text,
                article.text_source,
                content_hash,
                article.author,
                revision,
                iso(article.fetched_at or utcnow()),
                article_id,
            ],
        )
        return revision

    def article_revision(self, article_id: int, revision: int) -> dict[str, Any] | None:
        """An earlier text of a revised article (the current one is in ``articles``)."""
        rows = list(
            self.db.query(
                "SELECT * FROM article_revisions WHERE article_id = ? AND revision = ?",
                [article_id, revision],
            )
        )
        return rows[0] if rows else None

    def watch_matched_story(self, watch: str, story_id: int, besides: int) -> bool:
        """Has the watch matched another article of the story already?"""
        row = self.db.execute(
            "SELECT 1 FROM matches m JOIN articles a ON a.id = m.article_id"
            " WHERE m.watch = ? AND a.story_id = ? AND a.id != ? LIMIT 1",
            [watch, story_id, besides],
        ).fetchone()
        return row is not None

    def watch_matched_copy(self, watch: str, original: int, besides: int) -> bool:
        """Has the watch matched the original or another copy of it?"""
        row = self.db.execute(
            "SELECT 1 FROM matches m JOIN articles a ON a.id = m.article_id"
            " WHERE m.watch = ? AND (a.id = ? OR a.duplicate_of = ?) AND a.id != ? LIMIT 1",
            [watch, original, original, besides],
        ).fetchone()
        return row is not None

    def stories(self, limit: int = 50, watch: str | None = None) -> list[dict[str, Any]]:
        """Stories, latest activity first, with their outlets and the watches they matched."""
        where, args = "", []
        if watch:
            where = (
                " WHERE s.id IN (SELECT a.story_id FROM matches m JOIN articles a"
                " ON a.id = m.article_id WHERE m.watch = ?)"
            )
            args.append(watch)
        rows = list(
            self.db.query(
                f"SELECT s.* FROM stories s{where} ORDER BY s.updated_at DESC, s.id DESC LIMIT ?",
                [*args, limit],
            )
        )
        for r in rows:
            r.update(self._story_members(r["id"]))
        return rows

    def story(self, story_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM stories WHERE id = ?", [story_id]))
        if not rows:
            return None
        story = rows[0]
        story.update(self._story_members(story_id))
        return story

    def _story_members(self, story_id: int) -> dict[str, Any]:
        arts = list(
            self.db.query(
                "SELECT a.id, a.title, a.url, a.site_name, a.published, a.fetched_at,"
                " a.duplicate_of, a.revision, (SELECT GROUP_CONCAT(DISTINCT f.name)"
                " FROM feed_entries e JOIN feeds f ON f.id = e.feed_id"
                " WHERE e.article_id = a.id) AS feeds"
                " FROM articles a WHERE a.story_id = ? ORDER BY a.id",
                [story_id],
            )
        )
        for a in arts:
            a["feeds"] = sorted((a["feeds"] or "").split(",")) if a["feeds"] else []
        watches = [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT m.watch FROM matches m JOIN articles a ON a.id = m.article_id"
                " WHERE a.story_id = ? ORDER BY m.watch",
                [story_id],
            )
        ]
        for a in arts:  # the outlet: the page's site name, else the feed's name, else the host
            a["outlet"] = a["site_name"] or (a["feeds"][0] if a["feeds"] else _host(a["url"]))
        outlets = list(dict.fromkeys(a["outlet"] for a in arts))
        return {"article_list": arts, "outlets": outlets, "watches": watches}

    def article_in_feed(self, article_id: int, feed_id: int | None) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM feed_entries WHERE article_id = ? AND feed_id = ? LIMIT 1",
            [article_id, feed_id],
        ).fetchone()
        return row is not None

    def dedup_backfill_pending(self) -> list[int]:
        """Articles stored before dedup existed, when the migration asked for a backfill."""
        if self.get_meta("dedup_backfill") != "pending":
            return []
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM articles a WHERE NOT EXISTS"
                " (SELECT 1 FROM article_urls u WHERE u.article_id = a.id) ORDER BY a.id"
            )
        ]

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
        rows = self.db.query(sql + " ORDER BY created_at, rowid LIMIT ?", [*args, limit])
        return [_stored_alert(r) for r in rows]

    def alert(self, alert_id: str) -> StoredAlert | None:
        rows = list(self.db.query("SELECT * FROM alerts WHERE id = ?", [alert_id]))
        return _stored_alert(rows[0]) if rows else None

    def alerts(self, status: str | None = None, limit: int = 1000) -> list[StoredAlert]:
        sql, args = "SELECT * FROM alerts", []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        rows = self.db.query(sql + " ORDER BY created_at, rowid LIMIT ?", [*args, limit])
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

    def channel_backoff(self, channel: str, now: datetime) -> datetime | None:
        """Until when the channel is in backoff: the earliest retry of an alert that
        failed an attempt and waits (None when nothing of the channel is in backoff)."""
        row = self.db.execute(
            "SELECT MIN(next_attempt) FROM alerts WHERE channel = ? AND status = 'pending'"
            " AND attempts > 0 AND next_attempt > ?",
            [channel, iso(now)],
        ).fetchone()
        return from_iso(row[0]) if row else None

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

    # -- claims ---------------------------------------------------------------------------
    def insert_claim(self, fields: dict[str, Any]) -> int:
        """Store a tracked claim (call inside :meth:`transaction`); see ``_v4`` for columns."""
        record = {k: iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        record.setdefault("created_at", iso(utcnow()))
        return self._insert("claims", record)

    def declared_claim_id(self, watch: str, config_text: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM claims WHERE watch = ? AND config_text = ?", [watch, config_text]
        ).fetchone()
        return int(row[0]) if row else None

    def claims_of_watch(
        self, watch: str, predicate_keys: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """A watch's claims (all, or those with these predicate keys plus declared ones)."""
        sql, args = "SELECT * FROM claims WHERE watch = ?", [watch]
        if predicate_keys is not None:
            keys = list(dict.fromkeys(predicate_keys))
            marks = ",".join("?" * len(keys)) or "NULL"
            sql += f" AND (origin = 'config' OR predicate_key IN ({marks}))"
            args += keys
        return list(self.db.query(sql + " ORDER BY id", args))

    def claims(self, watch: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM claims", []
        if watch:
            sql += " WHERE watch = ?"
            args.append(watch)
        return list(self.db.query(sql + " ORDER BY watch, id", args))

    def claim(self, claim_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM claims WHERE id = ?", [claim_id]))
        return rows[0] if rows else None

    def add_claim_evidence(self, fields: dict[str, Any]) -> int:
        """Record one report on a claim (call inside :meth:`transaction`)."""
        record = {k: iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        if not isinstance(record.get("source_keys", "[]"), str):
            record["source_keys"] = json.dumps(list(record["source_keys"]))
        record.setdefault("created_at", iso(utcnow()))
        return self._insert("claim_evidence", record)

    def claim_evidence(self, claim_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Evidence rows of these claims, oldest first, with source_keys decoded."""
        ids = list(dict.fromkeys(claim_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = list(
            self.db.query(
                f"SELECT * FROM claim_evidence WHERE claim_id IN ({marks})"
                " ORDER BY COALESCE(published, created_at), id",
                ids,
            )
        )
        for r in rows:
            r["source_keys"] = json.loads(r["source_keys"] or "[]")
        return rows

    def add_claim_relation(
        self, older: int, newer: int, relation: str, confidence: float, evidence_id: int | None
    ) -> bool:
        """Record that two claims relate; False if that pair was already recorded."""
        a, b = min(older, newer), max(older, newer)
        cur = self.db.execute(
            "INSERT OR IGNORE INTO claim_relations (claim_a, claim_b, relation, confidence,"
            " evidence_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [a, b, relation, confidence, evidence_id, iso(utcnow())],
        )
        return cur.rowcount > 0

    def has_claim_relation(self, a: int, b: int) -> bool:
        """Whether a relation between two claims is on file (either order)."""
        lo, hi = min(a, b), max(a, b)
        row = self.db.execute(
            "SELECT 1 FROM claim_relations WHERE claim_a = ? AND claim_b = ?", [lo, hi]
        ).fetchone()
        return row is not None

    def claim_relations(self, claim_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM claim_relations", []
        if claim_ids is not None:
            ids = list(dict.fromkeys(claim_ids))
            marks = ",".join("?" * len(ids)) or "NULL"
            sql += f" WHERE claim_a IN ({marks}) OR claim_b IN ({marks})"
            args = ids + ids
        return list(self.db.query(sql + " ORDER BY created_at", args))


def _host(url: str | None) -> str:
    return urlsplit(url or "").netloc.removeprefix("www.")


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
