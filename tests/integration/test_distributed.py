"""The distributed roles end to end: `monitor scheduler`, three `monitor worker` processes
and `monitor deliver`, on a real PostgreSQL server and a real Redis server (both throwaway,
on loopback), against a loopback farm of feeds and a webhook receiver. One worker is
killed with SIGKILL while it polls; nothing is lost, nothing is stored twice."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.demo import Response
from monitor.store import Store
from tests.conftest import basic_config
from tests.integration.helpers import start_daemon, wait_for
from tests.integration.test_postgres import monitor, on_postgres

FEEDS = 12
ITEMS = 5
WORDS = [f"w{n:04x}" for n in range(4000)]


def farm_feed(base: str, feed: int, rng: random.Random, topic: str, count: int) -> str:
    items = []
    for i in range(count):
        guid = f"f{feed}-{i}"
        # distinct words: no two articles are near-duplicates or one story
        text = f"{topic} {' '.join(rng.sample(WORDS, 80))}."
        items.append(
            f"<item><guid>{guid}</guid><title>{topic} {guid}</title>"
            f"<link>{base}/p/{guid}.html</link><description>{text}</description></item>"
        )
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>farm</title>"
        + "".join(items)
        + "</channel></rss>"
    )


def serve_farm(
    corpus,
    first: int,
    count: int,
    rng: random.Random,
    topic: str,
    *,
    delay: float = 0.3,
    items: int = ITEMS,
) -> list[str]:
    """Feeds /farm/<n>.xml and their article pages (each answered after ``delay``, so a
    poll takes a while: long enough to kill a worker in the middle of one)."""
    urls = []
    for n in range(first, first + count):
        corpus.set_file(f"/farm/{n}.xml", farm_feed(corpus.base_url, n, rng, topic, items))
        for i in range(items):
            guid = f"f{n}-{i}"
            page = (
                f"<html><head><title>{topic} {guid}</title></head><body><article>"
                f"<h1>{topic} {guid}</h1><p>{topic} "
                + " ".join(rng.sample(WORDS, 120))
                + "</p></article></body></html>"
            )
            corpus.add_route(
                f"/p/{guid}.html",
                lambda info, page=page: Response(
                    body=page, content_type="text/html; charset=utf-8", delay=delay
                ),
            )
        urls.append(corpus.base_url + f"/farm/{n}.xml")
    return urls


def start(role: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    return start_daemon(config, log, role, secret="s3cret")


@pytest.mark.slow
def test_scheduler_three_workers_and_deliver(tmp_path, corpus, receiver, postgres, redis_server):
    rng = random.Random(16)
    urls = serve_farm(corpus, 0, FEEDS, rng, "Putin congratulated")
    url = postgres.url(postgres.create_database())
    extra = (
        f'[distributed]\nredis_url = "{redis_server.url}"\nqueue = "t{os.getpid()}"\n'
        'lease = "3s"\ntasks = 2\ntick = "0.3s"\n'
        # every farm article is its own story (they share the watch's words), so each alerts
        "[dedup]\nstory_similarity = 1.0\n"
    )
    config = on_postgres(basic_config(tmp_path, urls, webhook_url=receiver.url, extra=extra), url)
    database = load_config(config).database()
    Store.open(database).close()  # the schema, before four processes race to make it

    logs = {name: tmp_path / f"{name}.log" for name in ("sched", "w0", "w1", "w2", "deliver")}
    procs = {
        name: start({"sched": "scheduler", "deliver": "deliver"}.get(name, "worker"), config, log)
        for name, log in logs.items()
    }
    victim = procs["w0"]
    victim_name = f"{socket.gethostname()}:{victim.pid}"
    store = Store.open(database, readonly=True)
    try:
        # kill worker 0 while it holds a feed's lease (mid-poll: its pages take 0.3 s each)
        def victim_polls() -> bool:
            assert victim.poll() is None, logs["w0"].read_text()
            return any(lease.holder == victim_name for lease in store.leases())

        wait_for(victim_polls, timeout=90, what="worker 0 to poll a feed")
        killed_feeds = {lease.feed for lease in store.leases() if lease.holder == victim_name}
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

        expected = {f"Putin congratulated f{n}-{i}" for n in range(FEEDS) for i in range(ITEMS)}
        wait_for(
            lambda: {a.title for a in store.latest_articles(limit=500)} == expected,
            timeout=120,
            what="every article of the farm stored",
        )
        try:
            wait_for(
                lambda: {p["article"]["title"] for p in receiver.payloads()} >= expected,
                timeout=60,
                what="every alert delivered",
            )
        except AssertionError as e:
            alerts = monitor("--config", str(config), "alerts")
            raise AssertionError(
                f"{e}: {len(receiver.received)} received; {store.alert_counts()};"
                f" {alerts.stdout[-3000:]} {logs['deliver'].read_text()[-3000:]}"
            ) from None

        # every article stored once, with its page's text
        assert store.article_count() == len(expected)
        # every alert at least once; a repeat only under the same key (webhook-id)
        by_title: dict[str, set[str]] = {}
        for rec in receiver.received:
            by_title.setdefault(rec.json()["article"]["title"], set()).add(
                rec.headers["webhook-id"]
            )
        assert set(by_title) == expected
        assert all(len(ids) == 1 for ids in by_title.values()), by_title
        assert store.alert_counts().get("delivered", 0) >= len(expected)

        # two workers never polled one feed at once: each feed was fetched once, but for
        # the ones worker 0 held when it died (polled again after its lease expired)
        for n in range(FEEDS):
            hits = corpus.hits(f"/farm/{n}.xml", "GET")
            if f"feed{n}" in killed_feeds:
                assert hits in (1, 2), (n, hits)
            else:
                assert hits == 1, (n, hits)
        # every process beat its heartbeat; the live ones are in `monitor status`
        roles = {w.name: w.role for w in store.workers()}
        live = {f"{socket.gethostname()}:{p.pid}" for n, p in procs.items() if n != "w0"}
        assert live <= set(roles) and sorted(roles[n] for n in live) == [
            "deliver",
            "scheduler",
            "worker",
            "worker",
        ]
        assert sum(w.tasks for w in store.workers() if w.role == "worker") >= FEEDS - 2
        status = monitor("--config", str(config), "status")
        assert status.returncode == 0, status.stderr
        assert "workers" in status.stdout and "queue" in status.stdout
        as_json = json.loads(monitor("--config", str(config), "status", "--json").stdout)
        assert live <= {w["name"] for w in as_json["workers"]}
        queue = as_json["queue"]
        assert queue["queue"] == f"t{os.getpid()}" and queue["error"] is None
        assert isinstance(queue["waiting"], int) and queue["due_feeds"] == 0

        # a config edit reaches every process: a new feed and a wider rule
        more = serve_farm(corpus, FEEDS, 1, rng, "Merkel praised")
        text = config.read_text()
        text = text.replace(
            'rule = "Putin AND congratulat*"',
            'rule = "(Putin AND congratulat*) OR (Merkel AND praised)"',
        )
        text = text.replace(
            "[[watches]]", f'[[feeds]]\nname = "late"\nurl = "{more[0]}"\n\n[[watches]]'
        )
        config.write_text(text)
        late = {f"Merkel praised f{FEEDS}-{i}" for i in range(ITEMS)}
        wait_for(
            lambda: {p["article"]["title"] for p in receiver.payloads()} >= late,
            timeout=60,
            what="the alerts of the feed added by the config edit",
        )
        for name in ("sched", "w1", "w2", "deliver"):
            wait_for(
                lambda name=name: "config reloaded" in logs[name].read_text(),
                what=f"{name} to reload its config",
            )
    finally:
        store.close()
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = {name: p.wait(timeout=60) for name, p in procs.items()}
    assert {n: c for n, c in codes.items() if n != "w0"} == dict.fromkeys(
        ("sched", "w1", "w2", "deliver"), 0
    )
    for name, log in logs.items():
        assert "Traceback" not in log.read_text(), (name, log.read_text()[-3000:])


def test_roles_refuse_what_they_cannot_run_beside(tmp_path, postgres, redis_server):
    """The roles hold the writer lock shared: they run beside each other, never beside the
    all-in-one daemon (which holds it exclusively); one scheduler per database; a SQLite
    store or a Redis that does not answer is a one-line error."""
    from monitor.config import PostgresURL
    from monitor.lock import ROLE_LOCK_KEYS, PostgresLock
    from tests.conftest import postgres_target
    from tests.postgres import PASSWORD_ENV
    from tests.servers import free_port

    target = postgres_target(postgres)
    extra = f'[distributed]\nredis_url = "{redis_server.url}"\n'
    config = on_postgres(
        basic_config(tmp_path, ["http://127.0.0.1:9/x.xml"], extra=extra), target.url
    )
    db = PostgresURL(target.url, PASSWORD_ENV)

    def refused(*args: str) -> str:
        out = monitor("--config", str(config), *args)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        return out.stderr

    with (
        PostgresLock(db, "the worker on a", shared=True),
        PostgresLock(db, "the worker on b", shared=True),
    ):
        # two workers hold it together; the daemon and run --once refuse, naming one
        assert "the worker on " in refused("run", "--once")
    with PostgresLock(db, "the daemon"):
        for role in ("scheduler", "worker", "deliver"):
            assert "the daemon (pid" in refused(role)
    with PostgresLock(db, "the scheduler on c", key=ROLE_LOCK_KEYS["scheduler"]):
        assert "the scheduler on c (pid" in refused("scheduler")
    # Redis away
    down = f'[distributed]\nredis_url = "redis://127.0.0.1:{free_port()}/0"\n'
    config = on_postgres(
        basic_config(tmp_path, ["http://127.0.0.1:9/x.xml"], extra=down), target.url
    )
    assert "cannot reach Redis" in refused("worker")
    # a SQLite store
    config = basic_config(tmp_path, ["http://127.0.0.1:9/x.xml"], extra=extra)
    assert "needs a PostgreSQL store" in refused("scheduler")


def test_compose_file_runs_the_roles_on_one_config(tmp_path):
    """compose.distributed.yaml: PostgreSQL, Redis, a scheduler, workers and a delivery
    worker, all reading the example config, whose store and queue are those services."""
    import yaml

    from monitor.config import PostgresURL

    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "compose.distributed.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "scheduler", "worker", "deliver"} <= set(services)
    for role in ("scheduler", "worker", "deliver"):
        assert services[role]["command"] == ["monitor", role]
        assert services[role]["build"]["args"]["EXTRAS"] == "distributed"
    assert services["deliver"]["healthcheck"]["test"] == ["CMD", "monitor", "health"]
    env = services["worker"]["environment"]
    config_path = env["MONITOR_CONFIG"]
    mount, target, _ = services["worker"]["volumes"][0].split(":")
    assert config_path.startswith(target + "/")
    cfg = load_config(root / "examples" / Path(config_path).name)
    db = cfg.database()
    assert isinstance(db, PostgresURL) and "@postgres:5432/" in db.url
    assert db.password_env in env
    assert cfg.distributed.redis_url.startswith("redis://redis:")
    assert "ARG EXTRAS" in (root / "Dockerfile").read_text()
