"""The two store backends side by side, and what a query layer would cost on top.

1. Writes: N synthetic articles (no real news), each written as the apply step writes one
   (article, feed entry, URL identity, a match, an outbox row) in one transaction; the
   figure is articles per second, on SQLite and on PostgreSQL.
2. Reads: full-text search (FTS5 / the GIN index) and the outbox's due alerts, median ms.
3. Per-statement overhead of the layer between the store and the driver: one indexed
   ``SELECT`` by key, in turns of 1,000 calls (the fastest of 7 rounds), through the raw driver, the store's own connection
   adapter (``monitor.store.backend``), and SQLAlchemy Core (``text()`` on an engine
   connection: the lightest way to send the same SQL through it), when it is installed.

PostgreSQL: ``--url postgresql://user@host/db`` with the password in ``$PGPASSWORD``, or
by default a throwaway server on loopback (tests/postgres.py; Debian's ``postgresql``).

    python benchmarks/bench_store.py [--articles 2000] [--url URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.config import PostgresURL  # noqa: E402
from monitor.models import AlertEvent, Article, Match  # noqa: E402
from monitor.store import Store  # noqa: E402

WORDS = (
    "harbour council minister budget election river storm bank rate inflation school "
    "hospital strike court ruling police bridge train airport energy wind solar farm "
    "market export tariff union contract mayor city village coast festival museum"
).split()


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def write_articles(store: Store, n: int) -> float:
    """Seconds to write n articles, one transaction each."""
    rng = random.Random(7)
    feed = store.sync_feed("bench", "https://bench.example/rss")
    start = time.perf_counter()
    for i in range(n):
        a = Article(
            url=f"https://bench.example/{i}",
            title=text(rng, 8),
            text=text(rng, 400),
            text_source="page",
            feed_name="bench",
            guid=f"g{i}",
        )
        with store.transaction():
            aid = store.insert_article(a, f"h{i}")
            store.link_entry(feed.id, a.guid, aid)
            store.dedup_add_urls(aid, [rng.getrandbits(62)])
            store.insert_match(aid, Match(watch="w", terms=("storm",)))
            store.enqueue_alert(
                AlertEvent(
                    id=f"evt_{i}", type="article.matched", channel="c", watch="w", payload={}
                )
            )
    return time.perf_counter() - start


def median_ms(fn: Callable[[], Any], rounds: int = 20) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def per_statement_us(layers: dict[str, Callable[[], Any]], n: int = 1000, rounds: int = 7):
    """µs per call of each layer: the layers take turns (rounds of n calls each), and the
    fastest round counts, so load from other processes on the machine skews them alike."""
    best = dict.fromkeys(layers, float("inf"))
    for fn in layers.values():
        fn()  # warm (prepared statements, caches)
    for _ in range(rounds):
        for name, fn in layers.items():
            t = time.perf_counter()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t) / n * 1e6)
    return best


def overheads(store: Store, sqlalchemy_url: str, password: str | None) -> dict[str, float]:
    sql = "SELECT value FROM meta WHERE key = ?"
    db = store.db
    raw = db.conn
    raw_sql = sql if db.dialect.name == "sqlite" else sql.replace("?", "%s")
    layers: dict[str, Callable[[], Any]] = {
        "raw driver": lambda: raw.execute(raw_sql, ["schema_version"]).fetchone(),
        "store adapter": lambda: db.execute(sql, ["schema_version"]).fetchone(),
    }
    try:
        import sqlalchemy
    except ImportError:
        return per_statement_us(layers)
    engine = sqlalchemy.create_engine(
        sqlalchemy_url, connect_args={"password": password} if password else {}
    )
    text_stmt = sqlalchemy.text("SELECT value FROM meta WHERE key = :k")
    meta = sqlalchemy.Table(
        "meta",
        sqlalchemy.MetaData(),
        sqlalchemy.Column("key", sqlalchemy.Text, primary_key=True),
        sqlalchemy.Column("value", sqlalchemy.Text),
    )
    select = sqlalchemy.select(meta.c.value).where(meta.c.key == sqlalchemy.bindparam("k"))
    with engine.connect() as conn:
        layers["SQLAlchemy Core text()"] = lambda: conn.execute(
            text_stmt, {"k": "schema_version"}
        ).fetchone()
        layers["SQLAlchemy Core select()"] = lambda: conn.execute(
            select, {"k": "schema_version"}
        ).fetchone()
        out = per_statement_us(layers)
    engine.dispose()
    return out


def bench(name: str, target: Path | PostgresURL, n: int, sa_url: str, pw: str | None) -> None:
    store = Store.open(target)
    try:
        secs = write_articles(store, n)
        search = median_ms(lambda: store.search_articles("harbour AND storm", limit=50))
        due = median_ms(lambda: store.due_alerts(limit=100))
        print(f"\n## {name}")
        print(f"writes: {n} articles in {secs:.2f} s = {n / secs:,.0f} articles/s")
        print(f"search 'harbour AND storm' (50 best of {n}): median {search:.1f} ms")
        print(f"due alerts (100 of {n}): median {due:.2f} ms")
        for layer, us in overheads(store, sa_url, pw).items():
            print(f"one indexed SELECT via {layer}: {us:.1f} µs")
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--url", help="a PostgreSQL database (password in $PGPASSWORD)")
    args = ap.parse_args()
    print(f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        bench("SQLite", db, args.articles, f"sqlite:///{db}", None)
    server = None
    if args.url:
        url, password = args.url, os.environ.get("PGPASSWORD")
        target = PostgresURL(url, "PGPASSWORD" if password else None)
    else:
        from tests.postgres import PASSWORD_ENV, PostgresServer

        server = PostgresServer.start()
        os.environ[PASSWORD_ENV] = password = server.password
        url = server.url(server.create_database())
        target = PostgresURL(url, PASSWORD_ENV)
    try:
        sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        bench("PostgreSQL (loopback, psycopg 3)", target, args.articles, sa_url, password)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
