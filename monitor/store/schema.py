"""The schema: one baseline for new databases, and the steps that bring older ones to it.

A new file gets :data:`BASELINE` (the squashed result of every step) in one transaction.
A file at version 1…N-1 runs the :data:`UPGRADES` from its version on, each step in its
own transaction with the version bump; the test ``tests/unit/test_store_migration.py``
checks that an upgraded file ends with the same tables, columns and indexes as a new one.

Data steps: version 2 added the dedup index, which the articles stored before it lack.
The upgrade marks them (``meta.dedup_backfill = pending``) and :func:`run_backfill` indexes
them with the configured dedup settings when the pipeline opens the file (see
``monitor.pipeline.open_store``). Version 5 added the full-text index of the articles
(``articles_fts``, SQLite FTS5 over the ``articles`` table, kept by triggers in the
transaction of every article write); its upgrade builds the index of the articles already
stored in the same transaction as the version bump (FTS5's ``rebuild``).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from monitor.errors import StoreError

if TYPE_CHECKING:
    from monitor.store import Store
    from monitor.store.backend import Connection

_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)"

# Every table and index of the current version (what v1 + the upgrades produce).
BASELINE = """
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
    updated_at TEXT,
    duplicate_of INTEGER                -- near-duplicate: the original
);
CREATE INDEX articles_url ON articles(url);
CREATE INDEX articles_canonical ON articles(canonical_url);
CREATE INDEX articles_hash ON articles(content_hash);
CREATE INDEX articles_story ON articles(story_id);
CREATE INDEX articles_duplicate ON articles(duplicate_of);
CREATE TABLE feed_entries (
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    guid TEXT NOT NULL,
    article_id INTEGER REFERENCES articles(id),
    first_seen TEXT NOT NULL,
    PRIMARY KEY (feed_id, guid)
);
CREATE INDEX feed_entries_article ON feed_entries(article_id);
CREATE INDEX feed_entries_feed_article ON feed_entries(feed_id, article_id);
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
CREATE INDEX matches_article ON matches(article_id);
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
    delivered_at TEXT,
    digest_id TEXT,                 -- the digest message that carried it
    first_attempt TEXT,             -- max_age counts from here
    acknowledged_at TEXT            -- a person saw it (web view), v5
);
CREATE INDEX alerts_due ON alerts(status, next_attempt);
CREATE INDEX alerts_sent ON alerts(channel, delivered_at);
CREATE INDEX alerts_channel_due ON alerts(channel, status, next_attempt);
CREATE INDEX alerts_created ON alerts(created_at);
CREATE INDEX alerts_watch ON alerts(watch, created_at);
CREATE TABLE alert_channels (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,            -- ok | failing
    since TEXT NOT NULL,            -- when the state last changed
    last_error TEXT,
    last_success TEXT,
    last_failure TEXT,
    failures INTEGER NOT NULL DEFAULT 0   -- consecutive failed attempts
);
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
-- distributed roles (v6): a lease per feed, so two workers never poll one feed at once
-- (taken atomically: the row is written only where no lease or an expired one is), and a
-- row per running scheduler, worker or delivery process with its heartbeat
CREATE TABLE feed_leases (
    feed TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE workers (
    name TEXT PRIMARY KEY,             -- host:pid
    role TEXT NOT NULL,                -- scheduler | worker | deliver
    started_at TEXT NOT NULL,
    heartbeat TEXT NOT NULL,
    tasks INTEGER NOT NULL DEFAULT 0,  -- feeds polled (worker), enqueued (scheduler), sent
    current TEXT,                      -- the feed being polled
    stopped_at TEXT
);
CREATE INDEX feeds_next_poll ON feeds(next_poll);  -- the scheduler's due query
-- full-text search over the stored articles (v5): an external-content FTS5 index of
-- articles(title, text), kept by triggers in the transaction of every article write
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, text, content='articles', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END
"""


# set one meta key (the upsert both engines accept; SQLite's "INSERT OR REPLACE" is not SQL)
SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# -- PostgreSQL: the same tables, columns and indexes ---------------------------------------
# The full-text index of the articles, as SQLite's: a table ``articles_fts`` beside
# ``articles``, kept by triggers of the same names in the transaction of every article
# write. It holds each article's tsvector (title weight A, text weight B) in a text search
# configuration that folds diacritics (the unaccent dictionary, then 'simple': lower case,
# no stemming), as FTS5's unicode61 tokenizer does, under a GIN index. Stored rather than
# an index on an expression, so ranking reads the vectors instead of re-parsing every
# matching text (40 times faster at 2,000 articles, docs/storage.md).
PG_FTS_VECTOR = (
    "setweight(to_tsvector('monitor_fts', {row}.title), 'A')"
    " || setweight(to_tsvector('monitor_fts', {row}.text), 'B')"
)
PG_FULL_TEXT = (
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION monitor_fts (COPY = simple)",
    "ALTER TEXT SEARCH CONFIGURATION monitor_fts"
    " ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple",
    "CREATE TABLE articles_fts (id BIGINT PRIMARY KEY, vector TSVECTOR NOT NULL)",
    "CREATE INDEX articles_fts_vector ON articles_fts USING GIN (vector)",
    f"""CREATE FUNCTION articles_fts_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM articles_fts WHERE id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO articles_fts (id, vector) VALUES (NEW.id, {PG_FTS_VECTOR.format(row="NEW")})
        ON CONFLICT (id) DO UPDATE SET vector = excluded.vector;
    RETURN NEW;
END $$""",
    "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles"
    " FOR EACH ROW EXECUTE FUNCTION articles_fts_write()",
    "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles"
    " FOR EACH ROW EXECUTE FUNCTION articles_fts_write()",
    "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles"
    " FOR EACH ROW EXECUTE FUNCTION articles_fts_write()",
)
# the tables whose implicit SQLite rowid is read (insertion order): a real column there
_PG_ROWID = ("alerts", "feed_entries")


def postgres_baseline() -> str:
    """:data:`BASELINE` in PostgreSQL's types (derived, so each table is written once):
    64-bit integers (``id`` columns are identities), ``BYTEA``, ``DOUBLE PRECISION``, text
    compared byte by byte (``COLLATE "C"``, SQLite's order), a ``rowid`` identity column
    on the tables whose insertion order is read. The full-text part is
    :data:`PG_FULL_TEXT`."""
    sql = pg_types(BASELINE[: BASELINE.index("-- full-text search")])
    for table in _PG_ROWID:
        head = f"CREATE TABLE {table} ("
        sql = sql.replace(head, head + "\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY,")
    return sql


def pg_types(sql: str) -> str:
    """SQLite DDL in PostgreSQL's types (see :func:`postgres_baseline`)."""
    sql = re.sub(
        r"\bid INTEGER PRIMARY KEY\b", "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql
    )
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    sql = re.sub(r"\bBLOB\b", "BYTEA", sql)
    sql = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', sql)
    return sql.replace(") WITHOUT ROWID;", ");")


def _pg_script(db: Connection, sql: str) -> None:
    """Run PostgreSQL DDL statement by statement (no statement holds a ``;`` inside)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _script(db: sqlite_utils.Database, sql: str) -> None:
    """Run DDL statement by statement (executescript would commit the migration early).

    A statement ends at a ``;`` that completes it (``sqlite3.complete_statement``), so a
    trigger's body, whose statements end in ``;`` too, stays one statement."""
    statement = ""
    for piece in sql.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                db.execute(statement)
            statement = ""
    if statement.strip(" \n;"):
        db.execute(statement)


# -- the upgrades of files made by older versions (v1 is the first release's schema) ---------
def _part(first: str, end: str | None = None) -> str:
    """The statements of :data:`BASELINE` from the one starting ``first`` up to ``end``.

    The upgrades create the tables a version added from the baseline's text, so each table
    is written once; ``test_each_version_upgrades_to_the_baseline`` checks that every
    older version still ends with the baseline's schema.
    """
    start = BASELINE.index(first)
    return BASELINE[start : BASELINE.index(end) if end else None]


def _to_v2(db: sqlite_utils.Database) -> None:
    """Dedup: URL identities, revisions, stories, similarity sketches (see monitor/dedup.py)."""
    _script(
        db,
        """
        ALTER TABLE articles ADD COLUMN duplicate_of INTEGER;
        CREATE INDEX articles_story ON articles(story_id);
        CREATE INDEX articles_duplicate ON articles(duplicate_of);
        INSERT OR REPLACE INTO meta (key, value)
            SELECT 'dedup_backfill', 'pending' WHERE EXISTS (SELECT 1 FROM articles);
        """,
    )
    _script(db, _part("CREATE TABLE stories (", "CREATE TABLE claims ("))


def _to_v3(db: sqlite_utils.Database) -> None:
    """Alert outbox: digests, first attempt (for max_age), channel health that survives."""
    _script(
        db,
        """
        ALTER TABLE alerts ADD COLUMN digest_id TEXT;
        ALTER TABLE alerts ADD COLUMN first_attempt TEXT;
        CREATE INDEX alerts_sent ON alerts(channel, delivered_at);
        CREATE INDEX alerts_channel_due ON alerts(channel, status, next_attempt);
        """,
    )
    _script(db, _part("CREATE TABLE alert_channels (", "CREATE TABLE stories ("))


def _to_v4(db: sqlite_utils.Database) -> None:
    """Claims: tracked propositions, the reports on each, and contradictions between them."""
    _script(db, _part("CREATE TABLE claims (", "-- distributed roles"))


def _to_v5(db: sqlite_utils.Database) -> None:
    """Web view: full-text search over the articles (FTS5, filled with the stored ones
    here, in the upgrade's transaction), acknowledged alerts, and the indexes its pages
    read by (alerts newest first, a feed's article count, a story's watches)."""
    _script(
        db,
        """
        ALTER TABLE alerts ADD COLUMN acknowledged_at TEXT;
        CREATE INDEX alerts_created ON alerts(created_at);
        CREATE INDEX alerts_watch ON alerts(watch, created_at);
        CREATE INDEX feed_entries_feed_article ON feed_entries(feed_id, article_id);
        CREATE INDEX matches_article ON matches(article_id);
        """,
    )
    _script(db, _part("-- full-text search"))
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")


def _to_v6(db: Any) -> None:
    """Distributed roles: per-feed leases and the processes' heartbeats."""
    _script(db, _part("-- distributed roles", "-- full-text search"))


def _to_v6_postgres(db: Connection) -> None:
    _pg_script(db, pg_types(_part("-- distributed roles", "-- full-text search")))


# UPGRADES[v] brings a file from version v to v + 1 (v >= 1; new files get BASELINE).
UPGRADES: dict[int, Callable[[sqlite_utils.Database], None]] = {
    1: _to_v2,
    2: _to_v3,
    3: _to_v4,
    4: _to_v5,
    5: _to_v6,
}
# the same for PostgreSQL databases (they start at version 5)
PG_UPGRADES: dict[int, Callable[[Connection], None]] = {5: _to_v6_postgres}
SCHEMA_VERSION = 6


def too_new(path: Path | str, version: int) -> str:
    return (
        f"{path}: database schema version {version} is newer than this "
        f"news-monitor understands ({SCHEMA_VERSION}); upgrade news-monitor"
    )


def _set_version(db: Any, version: int) -> None:
    db.execute(SET_META, ["schema_version", str(version)])


def migrate(store: Store) -> None:
    """Create a new database's schema, or upgrade an older file's, step by step."""
    if store.db.dialect.name == "postgresql":
        _migrate_postgres(store)
        return
    db = store.db
    try:
        with db.atomic():
            db.execute(_META)
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{store.location}: not a usable SQLite database: {e}") from None
    version = store.schema_version()
    if version > SCHEMA_VERSION:
        raise StoreError(too_new(store.location, version))
    if version == 0:
        with db.atomic():
            _script(db, BASELINE)
            _set_version(db, SCHEMA_VERSION)
        return
    for v in range(version, SCHEMA_VERSION):
        with db.atomic():
            UPGRADES[v](db)
            _set_version(db, v + 1)


def _migrate_postgres(store: Store) -> None:
    """A new PostgreSQL database gets the baseline, in one transaction. PostgreSQL
    databases start at version 5; each later version has its step in
    :data:`PG_UPGRADES`, run in its own transaction under the same advisory lock."""
    import psycopg

    db = store.db
    try:
        with db.atomic():
            # one creator at a time (two processes opening a new database at once)
            db.execute("SELECT pg_advisory_xact_lock(4242424242)")
            db.execute(_META)
            version = store.schema_version()
            if version == 0:
                _pg_script(db, postgres_baseline())
                for statement in PG_FULL_TEXT:
                    db.execute(statement)
                _set_version(db, SCHEMA_VERSION)
                return
    except psycopg.Error as e:
        raise StoreError(f"{store.location}: cannot create the schema: {e}") from None
    if version > SCHEMA_VERSION:
        raise StoreError(too_new(store.location, version))
    if version < 5:  # (PostgreSQL databases start at version 5)
        raise StoreError(
            f"{store.location}: schema version {version} has no PostgreSQL upgrade "
            f"to {SCHEMA_VERSION}"
        )
    for v in range(version, SCHEMA_VERSION):
        try:
            with db.atomic():
                db.execute("SELECT pg_advisory_xact_lock(4242424242)")
                if store.schema_version() != v:
                    continue  # another process upgraded it meanwhile
                PG_UPGRADES[v](db)
                _set_version(db, v + 1)
        except psycopg.Error as e:
            raise StoreError(f"{store.location}: cannot upgrade the schema: {e}") from None


# -- the data step of the v2 upgrade ------------------------------------------------------------
@dataclass(frozen=True)
class Backfill:
    """What indexing the articles stored before dedup needs: its settings and window."""

    dedup: Any  # monitor.dedup.DedupSettings
    fingerprint_window: float  # seconds ([storage] fingerprint_window)


def run_backfill(store: Store, settings: Backfill) -> None:
    """Index the articles stored before the dedup stage existed (once, when pending).

    All get their URL identities; those fetched within the fingerprint window are also
    sketched and grouped into stories.
    """
    if store.get_meta("dedup_backfill") != "pending":
        return
    from monitor.dedup import Deduplicator, fingerprint_row, url_hash, window_start
    from monitor.models import Article
    from monitor.store.rows import from_iso

    dedup = Deduplicator(store, settings.dedup)
    cutoff = window_start(datetime.now(UTC), settings.fingerprint_window)
    for aid in store.articles_without_urls():
        r = store.get_article(aid)
        if r is None:
            continue
        article = Article(
            url=r.url,
            title=r.title,
            text=r.text,
            text_source=r.text_source,  # type: ignore[arg-type]
            feed_name="",
            guid="",
            published=from_iso(r.published),
            site_name=r.site_name,
            canonical_url=r.canonical_url,
            fetched_at=from_iso(r.fetched_at),
        )
        seen = article.fetched_at or datetime.now(UTC)
        decision = dedup.decide(article)
        fp = decision.fingerprint
        with store.transaction():
            if seen < cutoff:
                store.dedup_add_urls(aid, [url_hash(k) for k in fp.url_keys])
                continue
            if decision.kind in ("near-duplicate", "story") and decision.story_id:
                story_id = decision.story_id
                store.join_story(story_id, aid, fp.when, decision.duplicate_of)
            else:
                story_id = store.create_story(article.title, aid, fp.when)
            store.dedup_record(
                fingerprint_row(aid, fp, story_id, seen, decision.duplicate_of),
                [url_hash(k) for k in fp.url_keys],
                fp.bands,
                fp.key_terms,
            )
    store.set_meta("dedup_backfill", "done")
