from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Config, PostgresURL, load_config
from monitor.demo.server import CorpusServer
from monitor.pipeline import CycleReport, open_pipeline, open_store
from tests.postgres import PASSWORD_ENV, PostgresServer, PostgresUnavailable
from tests.redis_server import RedisServer, RedisUnavailable
from tests.servers import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the CLI remembers each config's database: a fresh folder per test."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("MONITOR_DB", raising=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on loopback for the whole session (started on first use).
    It cannot be skipped: a server that does not start fails the tests that need it."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as e:
        problem = str(e)
    else:
        problem = None
    if problem is not None:
        pytest.fail(f"cannot start the test PostgreSQL server: {problem}", pytrace=False)
    os.environ[PASSWORD_ENV] = server.password
    try:
        # the store tests start from a copy of a database with the schema (the
        # integration tests create theirs from nothing, through the store)
        from monitor.store import Store

        server.create_database(STORE_TEMPLATE)
        Store.open(PostgresURL(server.url(STORE_TEMPLATE), PASSWORD_ENV)).close()
        yield server
    finally:
        os.environ.pop(PASSWORD_ENV, None)
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server on loopback for the session (started on first use); one that
    cannot start fails the tests that need it, never skips them."""
    try:
        server = RedisServer.start()
    except RedisUnavailable as e:
        pytest.fail(f"cannot start the test Redis server: {e}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


STORE_TEMPLATE = "monitor_store_template"


def postgres_target(server: PostgresServer, *, empty: bool = False) -> PostgresURL:
    """A fresh PostgreSQL database on the test server, as the store opens it: a copy of
    a new store's (schema made, nothing stored), or ``empty``."""
    name = server.create_database(template=None if empty else STORE_TEMPLATE)
    return PostgresURL(server.url(name), PASSWORD_ENV)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Path | PostgresURL:
    """Where a store test's database is: a new SQLite file, then a new PostgreSQL
    database (every store test runs against both backends)."""
    if request.param == "sqlite":
        return tmp_path / "unit.db"
    return postgres_target(request.getfixturevalue("postgres"))


@pytest.fixture
def corpus() -> Iterator[CorpusServer]:
    with CorpusServer() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def write_config(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def toml_feeds(feeds: list[dict[str, Any]]) -> str:
    out = []
    for f in feeds:
        lines = ["[[feeds]]"]
        for k, v in f.items():
            lines.append(f"{k} = {_toml_value(v)}")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def basic_config(
    tmp_path: Path,
    feed_urls: list[str],
    *,
    webhook_url: str | None = None,
    rule: str = "Putin AND congratulat*",
    extra: str = "",
    fetch_extra: str = "",
) -> Path:
    channels = '[alerts.console]\ntype = "log"\n'
    alerts = '["console"]'
    if webhook_url:
        channels += f'\n[alerts.hook]\ntype = "webhook"\nurl = "{webhook_url}"\nsecret_env = "TEST_WEBHOOK_SECRET"\n'
        alerts = '["console", "hook"]'
    feeds = toml_feeds([{"name": f"feed{i}", "url": u} for i, u in enumerate(feed_urls)])
    body = f"""
[storage]
path = "monitor.db"

[fetch]
allow_private_networks = true
timeout = "5s"
read_timeout = "2s"
connect_timeout = "2s"
interval = "1h"
jitter = 0
baseline = false  # these tests alert on the first poll
{fetch_extra}

[extract]
workers = 0

{feeds}

[[watches]]
name = "putin-congratulates"
rule = {_toml_value(rule)}
alerts = {alerts}

{channels}
{extra}
"""
    return write_config(tmp_path / "config.toml", body)


def run_cycle(cfg: Config) -> CycleReport:
    async def go() -> CycleReport:
        async with open_pipeline(cfg) as pipeline:
            return await pipeline.run_cycle()

    return asyncio.run(go())


__all__ = ["ROOT", "basic_config", "load_config", "open_store", "run_cycle", "write_config"]
