import sqlite3

import psycopg
import pytest

from monitor.errors import StoreError
from monitor.models import AlertEvent, Article, Match
from monitor.store import SCHEMA_VERSION, Store
from tests.conftest import postgres_target


def test_schema_and_version(database):
    s = Store.open(database)
    assert s.schema_version() == SCHEMA_VERSION
    if s.db.dialect.name == "sqlite":
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"feeds", "articles", "feed_entries", "matches", "alerts"} <= set(s.db.table_names())
    s.set_meta("x", "1")
    s.close()
    # reopening does not migrate again or lose anything; a reader opens it too
    s = Store.open(database)
    assert s.schema_version() == SCHEMA_VERSION and s.get_meta("x") == "1"
    s.close()
    r = Store.open(database, readonly=True)
    assert r.get_meta("x") == "1"
    r.close()


def test_newer_database_is_refused(database):
    s = Store.open(database)
    s.set_meta("schema_version", str(SCHEMA_VERSION + 5))
    s.close()
    with pytest.raises(StoreError, match="newer than this"):
        Store.open(database)
    with pytest.raises(StoreError, match="newer than this"):
        Store.open(database, readonly=True)


def test_not_a_database(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        Store.open(p)


def test_feed_sync_entries_and_outbox(database):
    s = Store.open(database)
    st = s.sync_feed("f", "https://a.example/rss")
    assert st.id and st.url == "https://a.example/rss" and st.failures == 0
    s.update_feed("f", etag='"x"', failures=2, url="https://b.example/rss")
    assert s.sync_feed("f", "https://a.example/rss").url == "https://b.example/rss"  # moved: kept
    # a changed config URL resets the state
    st = s.sync_feed("f", "https://c.example/rss")
    assert st.url == "https://c.example/rss" and st.etag is None and st.failures == 0
    art = Article(
        url="https://a.example/1",
        title="T",
        text="body",
        text_source="page",
        feed_name="f",
        guid="g1",
    )
    assert s.unseen_guids(st.id, ["g1", "g2"]) == {"g1", "g2"}
    with s.transaction():
        aid = s.insert_article(art, "hash")
        s.link_entry(st.id, "g1", aid)
        assert s.insert_match(aid, Match(watch="w", terms=("t",)))
        assert not s.insert_match(aid, Match(watch="w", terms=("t",)))
        s.enqueue_alert(
            AlertEvent(
                id="evt_1", type="article.matched", channel="c", watch="w", payload={"title": "T"}
            )
        )
    assert s.unseen_guids(st.id, ["g1", "g2"]) == {"g2"}
    assert s.article_id_for_url("https://a.example/1") == aid
    (due,) = s.due_alerts()
    assert due.id == "evt_1" and due.payload == {"title": "T"}
    s.record_delivery("evt_1", delivered=False, error="HTTP 500", failed=True)
    assert s.due_alerts() == [] and s.alerts("failed")[0].last_error == "HTTP 500"
    assert s.retry_alerts() == 1 and s.due_alerts()[0].attempts == 0
    s.record_delivery("evt_1", delivered=True)
    assert s.alert_counts() == {"delivered": 1}
    s.close()


def test_transaction_rolls_back_everything(database):
    s = Store.open(database)
    st = s.sync_feed("f", "https://a.example/rss")
    art = Article(url="u", title="T", text="b", text_source="page", feed_name="f", guid="g")
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)), s.transaction():
        aid = s.insert_article(art, "h")
        s.link_entry(st.id, "g", aid)
        s.db.execute(
            "INSERT INTO feed_entries (feed_id, guid, article_id, first_seen) VALUES (?, ?, ?, 'x')",
            [st.id, "g", aid],
        )  # duplicate key
    assert s.article_count() == 0 and s.unseen_guids(st.id, ["g"]) == {"g"}
    s.close()


def test_readonly_open_of_missing_db(tmp_path):
    with pytest.raises(StoreError, match="no database yet"):
        Store.open(tmp_path / "none.db", readonly=True)


def test_placeholders_for_psycopg_leave_quoted_text_alone():
    from monitor.store.backend import to_pyformat

    assert to_pyformat("SELECT a FROM t WHERE b = ? AND c LIKE 'x?%' AND d = ?") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x?%%' AND d = %s"
    )
    assert to_pyformat("""SELECT "odd?name", 'it''s ?' FROM t WHERE v % 2 = ?""") == (
        """SELECT "odd?name", 'it''s ?' FROM t WHERE v %% 2 = %s"""
    )


def test_postgres_store_reconnects_after_losing_its_connection(postgres):
    """A connection the server dropped fails the statement (and the transaction) that
    finds it broken; the next statement connects again."""
    s = Store.open(postgres_target(postgres))

    def drop_connection() -> None:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [s.db.conn.info.backend_pid])

    try:
        s.set_meta("x", "1")
        drop_connection()
        with pytest.raises(psycopg.OperationalError):
            s.get_meta("x")
        assert s.get_meta("x") == "1"
        # inside a transaction: the transaction fails whole, nothing of it is written
        with pytest.raises(psycopg.OperationalError), s.transaction():
            s.set_meta("y", "1")
            drop_connection()
            s.set_meta("z", "1")
        assert s.get_meta("y") is None and s.get_meta("z") is None
    finally:
        s.close()
