"""Upgrading a database file made by the first release (schema v1), with data in it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.dedup import DedupSettings, url_hash, url_key
from monitor.errors import StoreError
from monitor.store import SCHEMA_VERSION, Backfill, Store

# The first release's schema, as it shipped (monitor/store.py, migration _v1).
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config_url TEXT NOT NULL,
    url TEXT NOT NULL,
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
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX alerts_due ON alerts(status, next_attempt);
INSERT INTO meta (key, value) VALUES ('schema_version', '1');
"""

TEXT = (
    "MOSCOW - The Kremlin said on Wednesday that President Vladimir Putin had no plans to"
    " congratulate Donald Trump on winning the US presidential election, even as an"
    " independent Russian news outlet reported that a private message had been sent."
)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def make_v1(path: Path, now: datetime) -> None:
    """A v1 file: one feed, a recent article and its syndicated copy, an old article,
    their feed entries, a match and a delivered alert."""
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    recent, old = _iso(now - timedelta(hours=2)), "2024-01-05T10:00:00+00:00"
    conn.execute(
        "INSERT INTO feeds (id, name, config_url, url, etag, failures, next_poll, created_at)"
        " VALUES (1, 'ledger', 'https://ledger.example/rss', 'https://ledger.example/rss',"
        " '\"e1\"', 2, ?, ?)",
        [recent, old],
    )
    articles = [
        (1, "https://ledger.example/kremlin", "Kremlin says no plans", "The Ledger", recent),
        (2, "https://courier.example/kremlin", "Kremlin says no plans", "The Courier", recent),
        (3, "https://ledger.example/football", "Cup final", "The Ledger", old),
    ]
    for aid, url, title, site, fetched in articles:
        text = TEXT if aid < 3 else "Liverpool beat Chelsea two goals to one in the cup final."
        conn.execute(
            "INSERT INTO articles (id, url, title, site_name, published, fetched_at, text,"
            " text_source, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, 'page', ?)",
            [aid, url, title, site, fetched, fetched, text, f"v1-hash-{aid}"],
        )
        conn.execute(
            "INSERT INTO feed_entries (feed_id, guid, article_id, first_seen) VALUES (1, ?, ?, ?)",
            [f"g{aid}", aid, fetched],
        )
    conn.execute(
        "INSERT INTO matches (watch, article_id, terms, hits, snippets, created_at)"
        " VALUES ('putin', 1, '[\"Putin\"]', '[]', '[]', ?)",
        [recent],
    )
    conn.execute(
        "INSERT INTO alerts (id, type, channel, watch, payload, status, attempts, created_at,"
        " delivered_at) VALUES ('evt_1', 'article.matched', 'hook', 'putin', '{\"n\": 1}',"
        " 'delivered', 1, ?, ?)",
        [recent, recent],
    )
    conn.commit()
    conn.close()


def shape(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not null, default), every index's columns and
    every trigger's text."""
    conn = sqlite3.connect(path)
    try:
        out: dict[str, object] = {}
        names = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for kind, name, table, sql in names:
            if kind == "trigger":
                out[f"trigger {name}"] = (table, " ".join(sql.split()))
            if kind == "table":
                cols = conn.execute(f"PRAGMA table_info({name})").fetchall()
                out[name] = sorted((c[1], c[2], c[3], c[4], c[5]) for c in cols)
            elif kind == "index":
                cols = conn.execute(f"PRAGMA index_info({name})").fetchall()
                out[f"index {name}"] = (table, [c[2] for c in cols])
        return out
    finally:
        conn.close()


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_v1_file_upgrades_with_its_rows_and_is_backfilled(tmp_path, now):
    path = tmp_path / "v1.db"
    make_v1(path, now)
    # a reader refuses the old file, with what to do, before any table is touched
    with pytest.raises(StoreError, match="schema version 1, older.*monitor run --once"):
        Store.open(path, readonly=True)

    settings = Backfill(DedupSettings(), fingerprint_window=30 * 86400)
    s = Store.open(path, backfill=settings)
    try:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.get_meta("dedup_backfill") == "done"
        # the rows are all there, read back as typed rows, with the new columns
        a1 = s.get_article(1)
        assert (
            a1 is not None
            and a1.title == "Kremlin says no plans"
            and a1.site_name == ("The Ledger")
        )
        assert a1.revision == 1 and a1.text == TEXT
        feed = s.feed_state("ledger")
        assert feed is not None and feed.etag == '"e1"' and feed.failures == 2
        (status,) = s.feed_status()
        assert status.articles == 3 and status.url == "https://ledger.example/rss"
        (alert,) = s.alerts()
        assert alert.status == "delivered" and alert.payload == {"n": 1}
        assert alert.digest_id is None and alert.first_attempt is None  # v3 columns
        assert s.claims() == [] and s.channel_health() == []  # v3 and v4 tables, empty
        assert not s.unseen_guids(1, ["g1", "g2", "g3"])

        # the backfill: every article is known by its URL; the recent ones are sketched
        # and folded into one story (the copy points at the original)
        for aid in (1, 2, 3):
            url = s.get_article(aid).url  # type: ignore[union-attr]
            known = s.dedup_known([url_hash(url_key(url))])
            assert known is not None and known.article_id == aid
        sketched = [r[0] for r in s.db.execute("SELECT article_id FROM dedup_sketches")]
        assert sorted(sketched) == [1, 2]
        (story,) = s.stories()
        assert [a.id for a in story.article_list] == [1, 2]
        assert story.article_list[1].duplicate_of == 1 and story.watches == ("putin",)
        assert story.outlets == ("The Ledger", "The Courier")
        assert s.get_article(3).story_id is None  # type: ignore[union-attr]
    finally:
        s.close()

    # now a reader opens it, and an upgraded file has exactly a new file's schema
    Store.open(path, readonly=True).close()
    fresh = tmp_path / "new.db"
    Store.open(fresh).close()
    assert shape(path) == shape(fresh)


def test_upgrade_without_backfill_settings_leaves_it_pending(tmp_path, now):
    path = tmp_path / "v1.db"
    make_v1(path, now)
    s = Store.open(path)  # a writer that is not the pipeline (e.g. `monitor alerts retry`)
    try:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.get_meta("dedup_backfill") == "pending"
        assert s.articles_without_urls() == [1, 2, 3]
    finally:
        s.close()
    s = Store.open(path, backfill=Backfill(DedupSettings(), fingerprint_window=30 * 86400))
    try:
        assert s.get_meta("dedup_backfill") == "done" and s.articles_without_urls() == []
    finally:
        s.close()


def test_each_version_upgrades_to_the_baseline(tmp_path):
    """A file at every older version (made by the upgrades from v1) ends like a new one."""
    from monitor.store.schema import UPGRADES

    fresh = tmp_path / "new.db"
    Store.open(fresh).close()
    for start in range(1, SCHEMA_VERSION):
        path = tmp_path / f"v{start}.db"
        conn = sqlite3.connect(path)
        conn.executescript(V1_SCHEMA)
        for v in range(1, start):
            UPGRADES[v](_Db(conn))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(start)])
        conn.commit()
        conn.close()
        Store.open(path).close()
        assert shape(path) == shape(fresh), start


def _at_version(path: Path, version: int, now: datetime) -> None:
    """A file at ``version``: the v1 file with its rows, brought up by the upgrades."""
    from monitor.store.schema import UPGRADES

    make_v1(path, now)
    conn = sqlite3.connect(path)
    for v in range(1, version):
        UPGRADES[v](_Db(conn))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    conn.commit()
    conn.close()


def test_v4_file_gets_the_search_index_of_its_articles(tmp_path, now):
    """v5's data step: the articles stored before the full-text index are searchable after
    the upgrade, and later writes keep the index."""
    path = tmp_path / "v4.db"
    _at_version(path, 4, now)
    s = Store.open(path)
    try:
        assert s.schema_version() == SCHEMA_VERSION == 6
        assert sorted(h.id for h in s.search_articles("Kremlin")) == [1, 2]
        assert [h.id for h in s.search_articles("Liverpool")] == [3]
        (alert,) = s.alerts()
        assert alert.acknowledged_at is None
        assert s.acknowledge_alerts([alert.id]) == 1 and s.acknowledge_alerts([alert.id]) == 0
        with s.transaction():
            s.db.execute("UPDATE articles SET text = 'Tottenham drew.' WHERE id = 3")
        assert s.search_articles("Liverpool") == []
        assert [h.id for h in s.search_articles("Tottenham")] == [3]
    finally:
        s.close()
    fresh = tmp_path / "new.db"
    Store.open(fresh).close()
    assert shape(path) == shape(fresh)
    assert "trigger articles_fts_insert" in shape(fresh)


class _Db:
    """What the upgrade steps use of a sqlite-utils Database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: list[object] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, params or [])


def test_readers_refuse_files_they_cannot_read(tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(StoreError, match="schema version 0, older"):
        Store.open(empty, readonly=True)
    newer = tmp_path / "newer.db"
    s = Store.open(newer)
    s.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    s.close()
    with pytest.raises(StoreError, match="newer than this news-monitor"):
        Store.open(newer, readonly=True)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all " * 200)
    with pytest.raises(StoreError, match="junk.db"):
        Store.open(junk, readonly=True)
