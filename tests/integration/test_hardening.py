"""Issue 14: what an attacker or bad luck did to the daemon, each reproduced through the real
CLI, the real daemon process and loopback servers."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import monitor.daemon
from monitor.cli import cli
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.pipeline import open_pipeline
from monitor.store import Store
from monitor.store.db import RELOAD_ERROR_META
from tests.conftest import basic_config
from tests.integration.helpers import monitor as monitor_cmd
from tests.integration.helpers import small_rss, start_daemon, wait_for

PUTIN = ("a1", "Putin congratulated the champions", "Putin congratulated the champions.")
PUTIN2 = ("a2", "Putin congratulated the scientists", "Putin congratulated the scientists.")


# -- 1. valid-looking edits that used to stop polling -------------------------------------------
@pytest.mark.parametrize(
    "section,line,expected",
    [
        ("[fetch]", "interval = 1e308", "fetch.interval: duration 1e+308 is too long"),
        (
            "[fetch]",
            'interval = "99999999999999999999999d"',
            "fetch.interval: duration '99999999999999999999999d' is too long",
        ),
        (
            "[storage]",
            'fingerprint_window = "9999999999999999w"',
            "storage.fingerprint_window: duration '9999999999999999w' is too long",
        ),
        ("[fetch]", "max_backoff = inf", "fetch.max_backoff: duration inf is too long"),
        ("[fetch]", "timeout = nan", "fetch.timeout: duration nan is too long"),
        ("[fetch]", 'max_bytes = "0MB"', "fetch.max_bytes: size '0MB' must be more than 0"),
        ("[fetch]", "max_bytes = 0", "fetch.max_bytes: size 0 must be more than 0"),
        ("[fetch]", 'max_bytes = "5000GB"', "fetch.max_bytes: size '5000GB' is too large"),
    ],
)
def test_out_of_range_settings_are_config_errors(tmp_path, section, line, expected):
    path = basic_config(tmp_path, ["http://127.0.0.1:9/f.xml"])
    text = path.read_text()
    if section == "[fetch]" and line.split()[0] + " =" in text:
        text = "\n".join(
            ln for ln in text.splitlines() if not ln.startswith(line.split()[0] + " =")
        )
    path.write_text(text.replace(section, f"{section}\n{line}", 1))
    for args in (["check-config"], ["run", "--once"]):
        r = CliRunner().invoke(cli, ["--config", str(path), *args])
        assert r.exit_code == 2, r.output
        assert expected in r.output and "Traceback" not in r.output


def test_storage_path_with_uri_characters_is_a_plain_path(tmp_path, corpus):
    corpus.set_file("/f.xml", small_rss(corpus.base_url, [PUTIN]))
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"])
    path.write_text(path.read_text().replace('path = "monitor.db"', 'path = "odd?mode=rw#x.db"'))
    out = monitor_cmd("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "odd?mode=rw#x.db").is_file()
    status = monitor_cmd("--config", str(path), "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["feeds"][0]["articles"] == 1


def test_stopping_lets_a_poll_in_flight_finish(tmp_path, corpus):
    """SIGTERM while a feed's response is on its way: the poll finishes and is stored (the
    scheduler used to be shut down first, and apscheduler cancels running jobs then)."""
    from monitor.demo.server import Response

    feed = small_rss(corpus.base_url, [PUTIN])
    corpus.add_route(
        "/slow.xml", lambda req: Response(body=feed, content_type="application/rss+xml", delay=1)
    )
    config = basic_config(tmp_path, [corpus.base_url + "/slow.xml"])
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: corpus.hits("/slow.xml") == 1, 60, "the feed's request", proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 0 and "Traceback" not in text and "CancelledError" not in text
    stopping = text.index("stopping: letting 1 running job(s) finish")
    assert "feed feed0: 1 new entries" in text[stopping:]


def test_a_rejected_reload_keeps_polling_and_is_visible(tmp_path, corpus, receiver):
    corpus.set_file("/one.xml", small_rss(corpus.base_url, [PUTIN]))
    config = basic_config(tmp_path, [corpus.base_url + "/one.xml"], webhook_url=receiver.url)
    good = config.read_text().replace('interval = "1h"', 'interval = "1s"')
    config.write_text(good)
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        # (generous bounds: the daemon starts, reloads and polls in a loaded CI machine)
        wait_for(lambda: len(receiver.payloads()) == 1, 60, "the first alert", proc, log)
        config.write_text(good.replace('interval = "1s"', "interval = 1e308"))
        wait_for(
            lambda: "config change rejected" in log.read_text(), 60, "the rejection", proc, log
        )
        corpus.set_file("/one.xml", small_rss(corpus.base_url, [PUTIN2, PUTIN]))
        wait_for(
            lambda: len(receiver.payloads()) == 2, 60, "an alert under the old config", proc, log
        )
        # (the commands read the edited file's twin: the edited one no longer validates)
        twin = tmp_path / "twin.toml"
        twin.write_text(good)
        status = monitor_cmd("--config", str(twin), "status")
        assert "config change rejected" in status.stdout and "fetch.interval" in status.stdout
        health = monitor_cmd("--config", str(twin), "health")
        assert health.returncode == 0, health.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0 and "Traceback" not in log.read_text()


def test_reload_is_all_or_nothing(tmp_path, corpus, monkeypatch):
    """Whatever validation misses, a reload that fails half-way leaves the old schedule."""
    corpus.set_file("/one.xml", small_rss(corpus.base_url, [PUTIN]))
    path = basic_config(tmp_path, [corpus.base_url + "/one.xml"])
    cfg = load_config(path)
    second = cfg.feeds[0].model_copy(update={"name": "two", "url": corpus.base_url + "/2.xml"})
    # a config no file could produce (validation refuses it): the scheduler overflows on it
    broken = cfg.model_copy(
        update={
            "feeds": [*cfg.feeds, second],
            "fetch": cfg.fetch.model_copy(update={"interval": 1e308}),
        }
    )

    async def go() -> tuple[list[str], list[str], str | None]:
        async with open_pipeline(cfg) as pipeline:
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            d = Daemon(cfg, path)
            d.pipeline = pipeline
            d.scheduler = AsyncIOScheduler(timezone=UTC)
            d._schedule_feeds(d._feed_jobs(cfg))
            before = [j.id for j in d.scheduler.get_jobs()]
            monkeypatch.setattr(monitor.daemon, "load_config", lambda p: broken)
            d._config_stamp = None
            await d._check_config()
            after = [j.id for j in d.scheduler.get_jobs()]
            assert d.config is cfg and pipeline.config is cfg
            return before, after, pipeline.store.get_meta(RELOAD_ERROR_META)

    before, after, problem = asyncio.run(go())
    assert before == after == ["feed:feed0"]
    assert problem and "OverflowError" in problem


def test_health_is_unhealthy_when_feeds_are_overdue(tmp_path, corpus):
    corpus.set_file("/f.xml", small_rss(corpus.base_url, [PUTIN]))
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"])
    assert monitor_cmd("--config", str(path), "run", "--once").returncode == 0
    db = load_config(path).database_path()
    now = datetime.now(UTC)
    store = Store.open(db)
    try:
        # the heartbeat ticks, but the feed (interval 1h) was due 4 hours ago
        store.set_meta("heartbeat", now.isoformat(timespec="seconds"))
        store.update_feed("feed0", next_poll=now - timedelta(hours=4))
    finally:
        store.close()
    r = CliRunner().invoke(cli, ["--config", str(path), "health"])
    assert r.exit_code == 1 and "feed0" in r.output and "overdue" in r.output
    r = CliRunner().invoke(cli, ["--config", str(path), "health", "--overdue", "5"])
    assert r.exit_code == 0, r.output
    store = Store.open(db)
    try:
        store.update_feed("feed0", next_poll=now + timedelta(minutes=30))
    finally:
        store.close()
    r = CliRunner().invoke(cli, ["--config", str(path), "health"])
    assert r.exit_code == 0 and "healthy" in r.output


# -- 4. one daemon per database -------------------------------------------------------------------
def test_one_daemon_per_database(tmp_path, corpus, receiver):
    corpus.set_file("/one.xml", small_rss(corpus.base_url, [PUTIN]))
    config = basic_config(tmp_path, [corpus.base_url + "/one.xml"], webhook_url=receiver.url)
    config.write_text(config.read_text().replace('interval = "1h"', 'interval = "1s"'))
    first = start_daemon(config, tmp_path / "first.log")
    try:
        wait_for(lambda: len(receiver.payloads()) == 1, what="the first alert")
        second = start_daemon(config, tmp_path / "second.log")
        assert second.wait(timeout=60) == 2
        text = (tmp_path / "second.log").read_text()
        assert f"the daemon (pid {first.pid}) is already using this database" in text
        assert "Traceback" not in text
        once = monitor_cmd("--config", str(config), "run", "--once")
        assert once.returncode == 2
        assert f"(pid {first.pid})" in once.stderr and "run --once refuses" in once.stderr
        corpus.set_file("/one.xml", small_rss(corpus.base_url, [PUTIN2, PUTIN]))
        wait_for(lambda: len(receiver.payloads()) == 2, what="the second alert")
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    # each alert went out once; with the daemon gone the database is free again
    ids = [p["id"] for p in receiver.payloads()]
    assert len(ids) == len(set(ids)) == 2
    once = monitor_cmd("--config", str(config), "run", "--once")
    assert once.returncode == 0, once.stderr


def test_a_killed_daemon_leaves_no_stale_lock(tmp_path, corpus):
    corpus.set_file("/one.xml", small_rss(corpus.base_url, [PUTIN]))
    config = basic_config(tmp_path, [corpus.base_url + "/one.xml"])
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    wait_for(lambda: "news-monitor running" in log.read_text(), what="the daemon to start")
    proc.kill()
    proc.wait(timeout=30)
    once = monitor_cmd("--config", str(config), "run", "--once")
    assert once.returncode == 0, once.stderr


# -- 5. SSRF ------------------------------------------------------------------------------------
def test_dns_rebinding_cannot_switch_the_address(corpus, monkeypatch):
    """A name that answers a public address first and loopback afterwards: the address
    checked is the one connected to, so the loopback server is never reached."""
    import socket

    from monitor.config import FetchConfig
    from monitor.feeds.fetch import Fetcher

    corpus.set_file("/f.xml", small_rss(corpus.base_url, [PUTIN]))
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host, port, *args, **kw):
        if host != "rebind.example":
            return real(host, port, *args, **kw)
        ip = "192.88.99.1" if not answers else "127.0.0.1"  # public, then loopback
        answers.append(ip)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    cfg = FetchConfig(timeout=3, connect_timeout=1, read_timeout=1)

    async def go():
        async with Fetcher(cfg) as f:
            return await f.fetch(f"http://rebind.example:{corpus.port}/f.xml")

    result = asyncio.run(go())
    assert not result.ok and answers == ["192.88.99.1"]  # resolved once, that address used
    assert not corpus.requests

    # a name resolving to loopback is refused where the connection is made
    result = asyncio.run(_fetch_once(FetchConfig(), f"http://localhost:{corpus.port}/f.xml"))
    assert result.error_kind == "blocked" and "[fetch] allow_private_networks" in result.error
    assert not corpus.requests
    # allowed: the name stays in the URL, so the Host header is the name, not the address
    allowed = FetchConfig(allow_private_networks=True)
    result = asyncio.run(_fetch_once(allowed, f"http://localhost:{corpus.port}/f.xml"))
    assert result.ok, result.error
    assert corpus.requests[-1].headers["host"] == f"localhost:{corpus.port}"


async def _fetch_once(cfg, url):
    from monitor.feeds.fetch import Fetcher

    async with Fetcher(cfg) as f:
        return await f.fetch(url)


def test_alert_channels_private_addresses_are_a_visible_setting(tmp_path, corpus, receiver):
    corpus.set_file("/f.xml", small_rss(corpus.base_url, [PUTIN]))
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"], webhook_url=receiver.url)
    text = path.read_text()
    # allowed by default (a receiver on the LAN is legitimate): test_daemon delivers so;
    # set to false, the loopback receiver is refused and the alert fails visibly
    path.write_text(
        text.replace(
            'secret_env = "TEST_WEBHOOK_SECRET"',
            'secret_env = "TEST_WEBHOOK_SECRET"\nallow_private_networks = false',
        )
    )
    out = monitor_cmd("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert not receiver.payloads()
    status = monitor_cmd("--config", str(path), "status", "--json")
    (hook,) = [c for c in json.loads(status.stdout)["channels"] if c["channel"] == "hook"]
    assert "allow_private_networks in the [alerts.NAME] table" in hook["last_error"]
    # an email channel has no such setting: naming it there is an error
    bad = text + '\n[alerts.mail]\ntype = "email"\nhost = "h"\nfrom = "a@b.c"\nto = ["d@e.f"]\n'
    path.write_text(bad + "allow_private_networks = false\n")
    r = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert r.exit_code == 2 and "'allow_private_networks' does not apply" in r.output


# -- 6. recursion limits and fuzzing ----------------------------------------------------------------
@pytest.mark.parametrize(
    "rule,column",
    [
        # the caret points at the 65th level
        ("(" * 3000 + "Putin" + ")" * 3000, 65),
        ("NOT " * 3000 + "Putin", 64 * 4 + 1),
        ("Putin AND (" * 3000 + "x" + ")" * 3000, 64 * 11 + 11),
    ],
)
def test_deep_rules_are_bad_rules_with_a_caret(rule, column):
    r = CliRunner().invoke(cli, ["test-rule", rule, "--text", "Putin"])
    assert r.exit_code == 2, r.output
    assert "rule nested too deeply" in r.output and "Traceback" not in r.output
    caret_line = r.output.rstrip("\n").splitlines()[-1]
    assert caret_line.index("^") - 2 == column - 1


def test_rules_nested_within_the_limit_still_work():
    rule = "(" * 30 + "NOT " * 30 + "Putin" + ")" * 30
    r = CliRunner().invoke(cli, ["test-rule", rule, "--text", "Putin"])  # 30 NOTs cancel out
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "body",
    [
        "x = " + "[" * 1000 + "]" * 1000,  # tomllib itself recurses too deep
        "x = " + "{a = " * 1000 + "1" + "}" * 1000,
        "[fetch]\nx = " + "[" * 100 + "]" * 100,  # parses, then refused before validation
        "a" + ".a" * 3000 + " = 1",
    ],
)
def test_deep_toml_is_a_config_error(tmp_path, body):
    path = tmp_path / "c.toml"
    path.write_text(body)
    r = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert r.exit_code == 2, r.output
    assert "nested too deeply" in r.output and "Traceback" not in r.output


_RULE_PIECES = st.sampled_from(
    [
        "Putin", "congratulat*", '"new mayor"', "=Apple", "(", ")", "AND", "OR", "NOT", "-",
        "+", "NEAR/3", "ONEAR/2", "NEAR", "SENT", "title:", "tag:", "bogus:", '"', "=", "*",
        "and", " ", "é", "\u202e", "url:https://x.example/a",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RULE_PIECES | st.text(max_size=3), max_size=40).map(" ".join))
def test_fuzz_rule_parser(rule):
    """Any text is a rule or a RuleError (exit 2 material), never another exception."""
    from monitor.rules import RuleError, compile_rule

    try:
        compile_rule(rule)
    except RuleError as e:
        assert e.column >= 1 and "^" in str(e)


_TOML_LEAF = st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.text(max_size=8))
_TOML_VALUE = st.recursive(
    _TOML_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["url", "name", "interval", "x", "type"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)
_SECTIONS = ["storage", "fetch", "extract", "claims", "dedup", "feeds", "watches", "alerts"]
_KEYS = ["path", "interval", "max_bytes", "url", "rule", "name", "type", "timeout", "judge"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(_SECTIONS),
        st.dictionaries(st.sampled_from(_KEYS), _TOML_VALUE, max_size=4)
        | st.lists(st.dictionaries(st.sampled_from(_KEYS), _TOML_VALUE, max_size=4), max_size=2),
        max_size=4,
    )
)
def test_fuzz_config_loader(data):
    """Any parsed document is a config or a ConfigError naming the source, nothing else."""
    from monitor.config import parse_config
    from monitor.errors import ConfigError

    try:
        parse_config(data, "fuzz.toml")
    except ConfigError as e:
        assert str(e).startswith("fuzz.toml")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="[]{}=.\"'\n #abcfeds0123456789_,-", max_size=120))
def test_fuzz_config_text(tmp_path_factory, text):
    """Any file is a config or a ConfigError: TOML errors included."""
    from monitor.errors import ConfigError

    path = tmp_path_factory.mktemp("fuzz") / "c.toml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as e:
        assert str(path) in str(e)


# -- 8. smaller defects -------------------------------------------------------------------------
def children_of(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc)."""
    from pathlib import Path

    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


PAGE = "<html><body><article><h1>{t}</h1>" + "<p>{t}. Officials said more.</p>" * 20 + "</article></body></html>"  # fmt: skip


def test_extraction_workers_die_with_a_killed_daemon(tmp_path, corpus):
    corpus.set_file("/f.xml", small_rss(corpus.base_url, [PUTIN]))
    corpus.set_file("/p/a1.html", PAGE.format(t=PUTIN[1]), content_type="text/html")
    config = basic_config(tmp_path, [corpus.base_url + "/f.xml"])
    config.write_text(config.read_text().replace("workers = 0", "workers = 2"))
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: corpus.hits("/p/a1.html") == 1, what="the page fetch")
        wait_for(lambda: len(children_of(proc.pid)) >= 2, what="the extraction workers")
        workers = children_of(proc.pid)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    wait_for(lambda: not any(_alive(p) for p in workers), timeout=15, what="the workers to exit")


def test_page_errors_are_counted_per_feed_in_status(tmp_path, corpus):
    from monitor.demo.server import Response, repeat_bytes

    items = [PUTIN, PUTIN2, ("a3", "Putin congratulated the crew", "Putin congratulated.")]
    corpus.set_file("/f.xml", small_rss(corpus.base_url, items))
    corpus.add_route("/p/a1.html", lambda req: Response(body=repeat_bytes(400_000)))
    corpus.add_route("/p/a2.html", lambda req: Response.redirect("/p/a2.html"))
    corpus.set_file("/p/a3.html", PAGE.format(t=items[2][1]), content_type="text/html")
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"], fetch_extra='max_bytes = "100KB"')
    out = monitor_cmd("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    status = monitor_cmd("--config", str(path), "status", "--json")
    (feed,) = json.loads(status.stdout)["feeds"]
    assert feed["articles"] == 3 and feed["page_errors"] == 2
    assert feed["last_page_error"].split(": ", 1)[1] in (
        "response too large (over the limit of 100,000 bytes)",
        f"redirect loop at {corpus.base_url}/p/a2.html",
    )
    table = monitor_cmd("--config", str(path), "status").stdout
    assert "page errors" in table and "last page error" in table
    # the next poll adds to the count
    corpus.set_file("/f.xml", small_rss(corpus.base_url, [("a4", "t", "d"), *items]))
    corpus.add_route("/p/a4.html", lambda req: Response(status=503))
    monitor_cmd("--config", str(path), "run", "--once")
    status = monitor_cmd("--config", str(path), "status", "--json")
    (feed,) = json.loads(status.stdout)["feeds"]
    assert feed["page_errors"] == 3 and feed["last_page_error"].endswith(
        "HTTP 503 Service Unavailable"
    )


def test_hostile_titles_and_text_are_cut_and_neutralised(tmp_path, corpus, receiver):
    from monitor.alerts.render import split_hits
    from tests.servers import SMTPReceiver

    huge = "Putin congratulated " + "x" * 1_000_000
    bidi = "Putin congratulated the \u202emaet\u202c \u2066team\u2069 \u200f!"
    marker = "Putin congratulated the [[fake hit]] committee"
    corpus.set_file(
        "/f.xml",
        small_rss(corpus.base_url, [("h1", huge, "d"), ("h2", bidi, "d"), ("h3", marker, marker)]),
    )
    smtp = SMTPReceiver().start()
    try:
        extra = (
            f'[alerts.chat]\ntype = "slack"\nurl = "{receiver.url}"\n\n'
            f'[alerts.mail]\ntype = "email"\nhost = "127.0.0.1"\nport = {smtp.port}\n'
            'tls = "none"\nfrom = "m@example.org"\nto = ["r@example.org"]\n'
        )
        path = basic_config(tmp_path, [corpus.base_url + "/f.xml"], extra=extra)
        path.write_text(
            path.read_text().replace(
                'alerts = ["console"]', 'alerts = ["chat", "mail"]\ndedup = "off"'
            )
        )
        cfg = load_config(path)
        out = monitor_cmd("--config", str(path), "run", "--once")
        assert out.returncode == 0, out.stderr
        subjects = [str(m["Subject"]) for m in smtp.messages]
    finally:
        smtp.stop()
    # a 1 MB title is stored cut
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        titles = [r[0] for r in store.db.execute("SELECT title FROM articles")]
    finally:
        store.close()
    assert len(titles) == 3 and max(len(t) for t in titles) <= 1000
    # bidi controls reach neither the email subject nor the chat message
    bidi_chars = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F]}
    chat = json.dumps([p for p in receiver.payloads()], ensure_ascii=False)
    assert len(subjects) == 3 and any("Putin congratulated the maet team !" in s for s in subjects)
    assert not any(c in s for s in subjects for c in bidi_chars)
    assert not any(c in chat for c in bidi_chars)
    assert "Putin congratulated the maet team !" in chat
    # the article's own [[...]] is text, not a hit mark: only the rule's words are marked
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        snippets = [
            json.loads(r[0]).get("snippet", "")
            for r in store.db.execute("SELECT payload FROM alerts WHERE channel = 'chat'")
        ]
    finally:
        store.close()
    (snippet,) = [s for s in snippets if "committee" in s]
    hits = [text for text, hit in split_hits(snippet) if hit]
    assert hits == ["Putin", "congratulated"] and "fake hit" in snippet
    assert "*fake hit*" not in chat


# -- 3. a pathological feed is that feed's error ----------------------------------------------------
def test_deeply_nested_feed_is_refused_quickly_and_alone(tmp_path, corpus):
    import time

    n = 700_000  # about 4.9 MB, under the 5 MB cap: feedparser would take ~15 s on it
    deep = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        + "<x>" * n
        + "</x>" * n
        + "<item><guid>d</guid><title>Putin congratulated</title></item></channel></rss>"
    )
    assert 4_500_000 < len(deep) < 5_000_000
    corpus.set_file("/deep.xml", deep)
    corpus.set_file("/ok.xml", small_rss(corpus.base_url, [PUTIN]))
    path = basic_config(tmp_path, [corpus.base_url + "/deep.xml", corpus.base_url + "/ok.xml"])
    started = time.monotonic()
    out = monitor_cmd("--config", str(path), "run", "--once")
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert "1 matches" in out.stderr and "Traceback" not in out.stderr
    assert elapsed < 30  # (mostly interpreter start-up; the refusal itself is milliseconds)
    status = monitor_cmd("--config", str(path), "status", "--json")
    feeds = {f["name"]: f for f in json.loads(status.stdout)["feeds"]}
    assert "nested more than 100 deep" in feeds["feed0"]["last_error"]
    assert feeds["feed0"]["failures"] == 1 and feeds["feed1"]["articles"] == 1


# -- 7. dead letters are not serial ---------------------------------------------------------------
def test_a_failing_channel_ages_its_whole_queue_together(tmp_path):
    from monitor.alerts import events as ev
    from tests.integration.test_alerts import (
        T0,
        Clock,
        article,
        channel,
        enqueue,
        match,
        matched,
        rounds,
    )
    from tests.servers import WebhookReceiver

    store = Store.open(tmp_path / "alerts.db")
    answers = {"status": 503}
    r = WebhookReceiver(responder=lambda rec: (answers["status"], {})).start()
    clock = Clock(T0)
    cfg = {"hook": channel(type="webhook", url=r.url, max_attempts=4, max_age="1d")}
    try:
        # ten alerts behind a receiver that is down: each failed round counts for all ten,
        # so all are dead letters after 4 rounds (it took 40, one alert after another)
        ids = matched(store, "hook", 10, now=clock())
        for n in range(1, 5):
            asyncio.run(rounds(store, cfg, clock=clock))
            states = [store.alert(i) for i in ids]
            assert {a.attempts for a in states} == {n}
            pending = [a for a in states if a.status == "pending"]
            if pending:
                clock.t = min(a.next_attempt for a in pending)
        assert [store.alert(i).status for i in ids] == ["failed"] * 10
        assert len(r.rejected) == 4  # one real attempt per round: the head probes the channel
        # a channel that recovers mid-way lets its whole queue flow, in order
        more = [
            enqueue(store, ev.article_matched(article(100 + i), match(), ["hook"], now=clock()))[0]
            for i in range(5)
        ]
        asyncio.run(rounds(store, cfg, clock=clock))
        answers["status"] = 200
        clock.t = store.alert(more[0]).next_attempt
        asyncio.run(rounds(store, cfg, clock=clock))
        assert [store.alert(i).status for i in more] == ["delivered"] * 5
        assert r.ids()[-5:] == more
    finally:
        r.stop()
        store.close()


# -- 2. memory per poll is bounded ----------------------------------------------------------------
PEAK_RSS_BOUND_MB = 300  # the daemon process itself (docs/config.md, [extract]); workers apart


def test_memory_per_poll_is_bounded_with_hostile_pages(tmp_path, corpus):
    """60 entries whose pages are 4.6 MB each (276 MB in all): pages are fetched only as an
    extraction slot frees, so the process never holds more than a few of them."""
    import subprocess
    import sys

    n, size = 60, 4_600_000
    page = b"<html><!--" + b"x" * (size - 40) + b"--><body></body></html>"
    items = [(f"m{i}", f"Putin congratulated team {i}", "Putin congratulated.") for i in range(n)]
    corpus.set_file("/f.xml", small_rss(corpus.base_url, items))
    for guid, _, _ in items:
        corpus.set_file(f"/p/{guid}.html", page, content_type="text/html")
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"])
    # extraction is timed from its start: a page waiting for the worker does not time out
    path.write_text(path.read_text().replace("workers = 0", 'workers = 1\ntimeout = "5s"'))
    out = subprocess.run(
        ["/usr/bin/time", "-f", "maxrss_kb=%M", sys.executable, "-m", "monitor"]
        + ["--config", str(path), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert f"{n} new articles" in out.stderr and "Traceback" not in out.stderr
    assert "took over" not in out.stderr
    peak_mb = int(out.stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024
    assert peak_mb < PEAK_RSS_BOUND_MB, f"peak RSS {peak_mb:.0f} MB"
    assert all(corpus.hits(f"/p/{g}.html") == 1 for g, _, _ in items)  # every page was read


def test_a_page_over_the_extraction_limit_does_not_hold_up_the_next(tmp_path, corpus):
    slow = b"<html><head><script>" + b"x" * 4_600_000 + b"</script></head><body></body></html>"
    items = [PUTIN, PUTIN2, ("a3", "Putin congratulated the crew", "Putin congratulated.")]
    corpus.set_file("/f.xml", small_rss(corpus.base_url, items))
    corpus.set_file("/p/a1.html", slow, content_type="text/html")  # ~5 s of trafilatura
    for guid, title, _ in items[1:]:
        corpus.set_file(f"/p/{guid}.html", PAGE.format(t=title), content_type="text/html")
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"])
    path.write_text(path.read_text().replace("workers = 0", 'workers = 1\ntimeout = "1s"'))
    out = monitor_cmd("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("took over 1s") == 1 and "/p/a1.html" in out.stderr
    store = Store.open(load_config(path).database_path(), readonly=True)
    try:
        rows = store.db.execute("SELECT url, text_source FROM articles").fetchall()
    finally:
        store.close()
    sources = {url.rsplit("/", 1)[1]: source for url, source in rows}
    assert sources == {"a1.html": "feed-summary", "a2.html": "page", "a3.html": "page"}


def test_pinned_connections_keep_the_name_for_tls_and_host(tmp_path, monkeypatch):
    """The socket goes to the vetted address, while TLS still sends the name (SNI) and
    checks the certificate against it, and the Host header is the name."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from monitor.config import FetchConfig
    from tests.servers import self_signed_cert

    cert, key = self_signed_cert(tmp_path, "localhost")
    seen: dict[str, str | None] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen["host"] = self.headers["Host"]
            body = small_rss("https://localhost", [PUTIN]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    context.sni_callback = lambda sock, name, ctx: seen.__setitem__("sni", name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        port = httpd.server_address[1]
        cfg = FetchConfig(allow_private_networks=True, timeout=10)
        result = asyncio.run(_fetch_once(cfg, f"https://localhost:{port}/f.xml"))
    finally:
        httpd.shutdown()
    assert result.ok, result.error
    assert seen == {"sni": "localhost", "host": f"localhost:{port}"}
