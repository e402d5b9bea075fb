"""Articles per second through the distributed roles with 1, 2 and 4 worker processes.

A throwaway PostgreSQL and Redis on loopback (tests/postgres.py, tests/redis_server.py),
a loopback farm of feeds with article pages (the integration test's), `monitor
scheduler` and N `monitor worker` processes. Each round gets a new database and an
empty queue; the clock starts when the scheduler starts (the workers are up and beating)
and stops when every article of the farm is stored.

    python benchmarks/bench_distributed.py --feeds 40 --items 10 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import load_config  # noqa: E402
from monitor.demo import CorpusServer  # noqa: E402
from monitor.store import Store  # noqa: E402
from tests.conftest import basic_config  # noqa: E402
from tests.integration.test_distributed import serve_farm, start  # noqa: E402
from tests.integration.test_postgres import on_postgres  # noqa: E402
from tests.postgres import PASSWORD_ENV, PostgresServer  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402


def one_round(
    pg: PostgresServer, redis: RedisServer, farm: list[str], total: int, workers: int, tasks: int
) -> tuple[float, float]:
    """(seconds until every article is stored, CPU seconds of the workers)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-dist-"))
    redis.flush()
    url = pg.url(pg.create_database())
    extra = (
        f'[distributed]\nredis_url = "{redis.url}"\nlease = "60s"\ntasks = {tasks}\n'
        'tick = "0.2s"\n[dedup]\nstory_similarity = 1.0\n'
    )
    config = on_postgres(basic_config(folder, farm, extra=extra), url)
    database = load_config(config).database()
    Store.open(database).close()
    procs = [start("worker", config, folder / f"w{i}.log") for i in range(workers)]
    store = Store.open(database, readonly=True)
    try:
        while len([w for w in store.workers() if w.role == "worker"]) < workers:
            time.sleep(0.1)
        usage0 = os.times()
        t0 = time.monotonic()
        procs.append(start("scheduler", config, folder / "sched.log"))
        while store.article_count() < total:
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
    finally:
        store.close()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    usage1 = os.times()
    cpu = (usage1.children_user - usage0.children_user) + (
        usage1.children_system - usage0.children_system
    )
    return elapsed, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--items", type=int, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--tasks", type=int, default=4, help="[distributed] tasks per worker")
    ap.add_argument("--rounds", type=int, default=2, help="rounds per worker count (best kept)")
    args = ap.parse_args()
    pg = PostgresServer.start()
    os.environ[PASSWORD_ENV] = pg.password
    redis = RedisServer.start()
    corpus = CorpusServer().start()
    try:
        farm = serve_farm(
            corpus,
            0,
            args.feeds,
            random.Random(1),
            "Putin congratulated",
            delay=0,
            items=args.items,
        )
        total = args.feeds * args.items
        print(
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
            f" load {os.getloadavg()[0]:.1f}; {args.feeds} feeds x {args.items} articles"
            f" (pages fetched and extracted), {args.tasks} tasks per worker"
        )
        print("| workers | seconds | articles/s | worker CPU s per article |")
        print("| --- | --- | --- | --- |")
        for n in args.workers:
            best = min(
                (one_round(pg, redis, farm, total, n, args.tasks) for _ in range(args.rounds)),
                key=lambda r: r[0],
            )
            print(
                f"| {n} | {best[0]:.1f} | {total / best[0]:.0f} | {best[1] / total * 1000:.1f} ms |",
                flush=True,
            )
    finally:
        corpus.stop()
        redis.stop()
        pg.stop()


if __name__ == "__main__":
    main()
