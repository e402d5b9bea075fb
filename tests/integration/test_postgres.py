"""The PostgreSQL store end to end: ``monitor run --once`` against the loopback corpus with
``[storage] url`` naming a database on a real throwaway PostgreSQL server (tests/postgres.py),
the same run on SQLite for comparison, and the errors a user meets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from monitor.config import PostgresURL, load_config
from monitor.demo import demo_articles
from monitor.lock import PostgresLock
from monitor.store import Store
from monitor.web import WebSettings
from tests.conftest import basic_config, postgres_target
from tests.integration.helpers import monitor as run_monitor
from tests.integration.helpers import small_rss, start_daemon, wait_for
from tests.integration.test_pipeline import COPY_TITLES, SCENARIO_TITLES, corpus_feed_urls
from tests.postgres import PASSWORD_ENV, PostgresServer
from tests.servers import free_port, running_web


def monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The ``monitor`` command in a subprocess, with the webhook's secret set."""
    return run_monitor(*args, env={**os.environ, "TEST_WEBHOOK_SECRET": "s3cret", **(env or {})})


def on_postgres(config: Path, url: str, password_env: str = PASSWORD_ENV) -> Path:
    """The test config with its ``[storage]`` in PostgreSQL instead of the SQLite file."""
    text = config.read_text(encoding="utf-8")
    storage = f'url = "{url}"\npassword_env = "{password_env}"'
    config.write_text(text.replace('path = "monitor.db"', storage, 1), encoding="utf-8")
    return config


def stored(store: Store) -> dict[str, object]:
    """What a run left in a store, in terms both backends must agree on."""
    alerts = store.alerts()
    return {
        "articles": sorted(a.title for a in store.latest_articles()),
        "stories": sorted(
            (sorted(m.title for m in s.article_list), s.watches) for s in store.stories()
        ),
        "alerts": sorted((a.channel, a.type, a.payload["article"]["title"]) for a in alerts),
        "statuses": store.alert_counts(),
    }


def test_run_once_on_postgres_stores_and_alerts_as_sqlite_does(
    tmp_path, corpus, receiver, postgres
):
    url = postgres.url(postgres.create_database())
    pg_config = on_postgres(
        basic_config(tmp_path, corpus_feed_urls(corpus), webhook_url=receiver.url), url
    )
    out = monitor("--config", str(pg_config), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    payloads = receiver.payloads()
    # the scenario of test_pipeline: one article.matched, the copy and the report join its story
    assert sorted(p["type"] for p in payloads) == [
        "article.matched",
        "story.updated",
        "story.updated",
    ]
    assert {p["article"]["title"] for p in payloads} == SCENARIO_TITLES | COPY_TITLES
    assert not list(tmp_path.glob("*.db")), "nothing may be written to a SQLite file"

    store = Store.open(load_config(pg_config).database(), readonly=True)
    try:
        assert store.db.dialect.name == "postgresql"
        assert store.article_count() == len(demo_articles())
        assert store.alert_counts() == {"delivered": len(payloads) + 1}  # + the log channel's
        (story,) = [s for s in store.stories() if s.watches]
        assert story.articles == 3 and story.watches == ("putin-congratulates",)
        on_pg = stored(store)
        # full-text search on the stored articles (the GIN index, FTS5's query syntax)
        hits = store.search_articles("Kremlin AND congratulat*")
        assert hits and all("kremlin" in (h.title + h.snippet).lower() for h in hits)
        assert any("\ue000" in h.snippet for h in hits)  # the found words are marked
    finally:
        store.close()

    # the reading commands read the same database
    listed = json.loads(monitor("--config", str(pg_config), "alerts", "--json").stdout)
    assert len(listed) == len(payloads) + 1 and {a["status"] for a in listed} == {"delivered"}
    status = monitor("--config", str(pg_config), "status")
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    search = monitor("--config", str(pg_config), "search", "Kremlin")
    assert search.returncode == 0 and "Kremlin" in search.stdout, search.stderr

    # the web view reads it too: pages, the API, the search and the Atom feed
    settings = WebSettings(load_config(pg_config).database(), "127.0.0.1", 0, None, None)
    with running_web(settings) as server, httpx.Client(base_url=server.url, timeout=30) as web:
        for path in (
            "/",
            "/stories",
            f"/stories/{story.id}",
            "/feeds",
            "/feeds/feed0",
            "/alerts",
            "/claims",
            "/search?q=Kremlin",
            "/feeds/alerts.atom",
        ):
            r = web.get(path)
            assert r.status_code == 200, (path, r.text[:300])
        assert "Kremlin" in web.get(f"/stories/{story.id}").text
        hits = web.get("/api/search", params={"q": "Kremlin"}).json()
        assert hits and any("Kremlin" in h["title"] for h in hits)
        assert any(h["highlights"] for h in hits)  # ts_headline's marks, read back

    # a second run: nothing is new, nothing alerts again
    again = monitor("--config", str(pg_config), "run", "--once")
    assert again.returncode == 0, again.stderr
    assert len(receiver.payloads()) == len(payloads)

    # the same input on SQLite stores the same articles, stories and alerts
    sqlite_dir = tmp_path / "sqlite"
    sqlite_dir.mkdir()
    sqlite_config = basic_config(sqlite_dir, corpus_feed_urls(corpus), webhook_url=receiver.url)
    assert monitor("--config", str(sqlite_config), "run", "--once").returncode == 0
    store = Store.open(load_config(sqlite_config).database(), readonly=True)
    try:
        assert store.db.dialect.name == "sqlite"
        assert stored(store) == on_pg
    finally:
        store.close()


def test_postgres_errors_name_the_problem(tmp_path, postgres: PostgresServer):
    feeds = ["http://127.0.0.1:9/x.xml"]
    url = postgres.url(postgres.create_database())

    def run(config: Path, **env: str) -> subprocess.CompletedProcess[str]:
        out = monitor("--config", str(config), "run", "--once", env=env)
        assert "Traceback" not in out.stderr, out.stderr
        return out

    # the password variable is not set
    config = on_postgres(basic_config(tmp_path, feeds), url, "MONITOR_NO_SUCH_VARIABLE")
    out = run(config)
    assert out.returncode == 2
    assert "environment variable MONITOR_NO_SUCH_VARIABLE" in out.stderr and url in out.stderr
    # a wrong password
    config = on_postgres(basic_config(tmp_path, feeds), url, "MONITOR_WRONG_PASSWORD")
    out = run(config, MONITOR_WRONG_PASSWORD="not-the-password")
    assert out.returncode == 2
    assert f"{url}: cannot connect to PostgreSQL" in out.stderr
    assert "password authentication failed" in out.stderr
    # no server there
    down = f"postgresql://monitor@127.0.0.1:{free_port()}/nothing"
    out = run(on_postgres(basic_config(tmp_path, feeds), down))
    assert out.returncode == 2 and f"{down}: cannot connect to PostgreSQL" in out.stderr
    # a URL that is not PostgreSQL's, or holds the password: config errors with the key path
    out = run(on_postgres(basic_config(tmp_path, feeds), "mysql://u@h/db"))
    assert out.returncode == 2 and "storage.url" in out.stderr
    assert "not a PostgreSQL URL" in out.stderr
    out = run(on_postgres(basic_config(tmp_path, feeds), "postgresql://u:secret@h/db"))
    assert out.returncode == 2 and "password_env" in out.stderr
    assert "secret" not in out.stderr.replace("password", "")
    # the reading commands say the same
    out = monitor("--config", str(on_postgres(basic_config(tmp_path, feeds), down)), "status")
    assert out.returncode == 2 and "cannot connect to PostgreSQL" in out.stderr
    assert "Traceback" not in out.stderr


def test_one_writer_per_postgres_database(tmp_path, postgres):
    """run --once refuses while another process holds the database's writer lock (an
    advisory lock: it works across machines), naming the holder."""
    target = postgres_target(postgres)
    config = on_postgres(basic_config(tmp_path, ["http://127.0.0.1:9/x.xml"]), target.url)
    with PostgresLock(PostgresURL(target.url, PASSWORD_ENV), "the daemon"):
        out = monitor("--config", str(config), "run", "--once")
        assert out.returncode == 2, out.stderr
        assert "the daemon (pid" in out.stderr and "already using this database" in out.stderr
    out = monitor("--config", str(config), "run", "--once")  # released: it runs
    assert out.returncode == 1 and "feed0: cannot connect" in out.stderr  # (the feed is down)


def test_a_lock_query_that_fails_leaves_no_connection_behind(postgres):
    """If taking the advisory lock raises (here: a key PostgreSQL cannot take), the
    connection opened for it is closed, not left holding a server slot."""
    import psycopg

    target = postgres_target(postgres)
    lock = PostgresLock(PostgresURL(target.url, PASSWORD_ENV), "leak-check", key=2**70)
    with pytest.raises(psycopg.Error) as caught:  # the traceback keeps acquire's frame alive
        lock.acquire()
    with psycopg.connect(postgres.dsn("postgres")) as conn:
        n = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s",
            ["news-monitor: leak-check%"],
        ).fetchone()[0]
    assert n == 0, caught.value


@pytest.mark.slow
def test_daemon_on_postgres(tmp_path, corpus, receiver, postgres):
    """The daemon polls, alerts and beats its heartbeat in PostgreSQL; a second daemon on
    the same database (from another folder: another machine, as far as it knows) refuses,
    naming the first; SIGTERM stops it cleanly."""
    feed = [("a1", "Putin congratulated the champions", "Putin congratulated the champions.")]
    corpus.set_file("/one.xml", small_rss(corpus.base_url, feed))
    url = postgres.url(postgres.create_database())
    config = on_postgres(
        basic_config(tmp_path, [corpus.base_url + "/one.xml"], webhook_url=receiver.url), url
    )
    config.write_text(config.read_text().replace('interval = "1h"', 'interval = "1s"'))
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: len(receiver.payloads()) == 1, what="the first alert")
        other = tmp_path / "elsewhere"
        other.mkdir()
        second = run_monitor("--config", str(config), "run", cwd=other)
        assert second.returncode == 2, second.stderr
        assert f"the daemon (pid {proc.pid})" in second.stderr and "Traceback" not in second.stderr
        health = monitor("--config", str(config), "health")
        assert health.returncode == 0 and "healthy" in health.stdout, health.stderr
        feed.append(("a2", "Putin congratulated the scientists", "Putin congratulated them."))
        corpus.set_file("/one.xml", small_rss(corpus.base_url, feed))
        wait_for(lambda: len(receiver.payloads()) == 2, what="the second alert")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0 and "Traceback" not in log.read_text()
    assert [p["article"]["title"] for p in receiver.payloads()] == [t for _, t, _ in feed]
    store = Store.open(load_config(config).database(), readonly=True)
    try:
        assert store.article_count() == 2 and store.get_meta("daemon_stopped")
    finally:
        store.close()
