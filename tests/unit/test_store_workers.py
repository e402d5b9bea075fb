"""Per-feed leases and process heartbeats (the distributed roles), on both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from monitor.store import SCHEMA_VERSION, Store


def test_a_lease_has_one_holder_until_it_expires_or_is_released(database):
    s = Store.open(database)
    try:
        s.sync_feeds([("a", "http://x/a"), ("b", "http://x/b")])
        now = datetime.now(UTC)
        assert s.take_lease("a", "w1", 60, now)
        assert not s.take_lease("a", "w2", 60, now)  # held
        assert s.take_lease("b", "w2", 60, now)  # another feed: free
        assert [(lease.feed, lease.holder) for lease in s.leases()] == [("a", "w1"), ("b", "w2")]
        assert set(s.due_feeds(now)) == set()  # both leased (and never polled)
        # w1 dies: once its lease expires, another worker takes the feed
        later = now + timedelta(seconds=61)
        assert s.take_lease("a", "w2", 60, later)
        assert not s.renew_lease("a", "w1", 60)  # w1's lease is gone
        assert s.renew_lease("a", "w2", 60)
        s.release_lease("a", "w1")  # not its lease: nothing happens
        assert [lease.holder for lease in s.leases()] == ["w2", "w2"]
        s.release_lease("a", "w2")
        assert set(s.due_feeds(now)) == {"a"}
        assert s.take_lease("a", "w3", 60, now)
    finally:
        s.close()


def test_concurrent_takers_get_one_lease(postgres):
    """Eight connections race for one feed's lease: exactly one wins (PostgreSQL: the
    distributed roles' store)."""
    from tests.conftest import postgres_target

    database = postgres_target(postgres)
    Store.open(database).close()
    stores = [Store.open(database) for _ in range(8)]
    try:
        now = datetime.now(UTC)
        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(lambda i: stores[i].take_lease("f", f"w{i}", 30, now), range(8)))
        assert sum(won) == 1
        (lease,) = stores[0].leases()
        assert lease.holder == f"w{won.index(True)}"
    finally:
        for s in stores:
            s.close()


def test_heartbeats_and_due_feeds(database):
    s = Store.open(database)
    try:
        s.beat("host:1", "worker", tasks=3, current="a")
        s.beat("host:2", "scheduler", tasks=7)
        s.beat("host:1", "worker", tasks=4)
        s.worker_stopped("host:2")
        rows = {w.name: w for w in s.workers()}
        assert rows["host:1"].tasks == 4 and rows["host:1"].current is None
        assert rows["host:2"].role == "scheduler" and rows["host:2"].stopped_at
        s.sync_feeds([("a", "http://x/a"), ("b", "http://x/b"), ("c", "http://x/c")])
        now = datetime.now(UTC)
        s.update_feed("a", next_poll=now + timedelta(minutes=5))
        s.update_feed("b", next_poll=now - timedelta(minutes=5))
        s.update_feed("c", disabled_reason="gone")
        assert s.due_feeds(now) == {"b": (now - timedelta(minutes=5)).replace(microsecond=0)}
    finally:
        s.close()


def test_postgres_database_at_version_5_is_upgraded(postgres):
    from tests.conftest import postgres_target

    target = postgres_target(postgres)
    s = Store.open(target)
    with s.transaction():
        s.db.execute("DROP TABLE feed_leases")
        s.db.execute("DROP TABLE workers")
        s.db.execute("DROP INDEX feeds_next_poll")
        s.set_meta("schema_version", "5")
    s.close()
    s = Store.open(target)
    try:
        assert s.schema_version() == SCHEMA_VERSION == 6
        assert {"feed_leases", "workers"} <= set(s.db.table_names())
        s.sync_feeds([("a", "http://x/a")])
        assert s.take_lease("a", "w", 5)
    finally:
        s.close()


def test_declared_claims_stored_once_when_processes_start_together(database):
    """Two workers starting at once both find a declared claim missing: it is stored once."""
    from tests.unit.test_store_claims import new_claim

    s = Store.open(database)
    try:
        claim = new_claim("w", "win", origin="config", config_text="X won")
        with s.transaction():
            first = s.insert_declared_claim(claim)
        with s.transaction():
            again = s.insert_declared_claim(claim)
        assert first == again
        assert [c.id for c in s.claims_of_watch("w")] == [first]
    finally:
        s.close()
