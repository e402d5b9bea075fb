"""The first hour of a new user (issue 13): no alert floods on the first poll, and the
run summary says what it held back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from monitor.config import load_config
from tests.conftest import ROOT, write_config
from tests.integration.helpers import monitor


def rss(base: str, items: list[tuple[str, str, datetime | None]]) -> str:
    """A small RSS feed: (guid, title, published) per item; the title is also the text."""
    body = ""
    for guid, title, published in items:
        date = f"<pubDate>{format_datetime(published)}</pubDate>" if published else ""
        body += (
            f"<item><guid>{guid}</guid><title>{title}</title><link>{base}/p/{guid}.html</link>"
            f"<description>{title}.</description>{date}</item>"
        )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{body}</channel></rss>"
    )


def config(
    tmp_path: Path,
    feeds: list[tuple[str, str]],
    *,
    fetch: str = "",
    watch: str = "",
    feed_extra: dict[str, str] | None = None,
    alerts: tuple[str, ...] = ("console",),
    channels: str = "",
) -> Path:
    """A config with the defaults a new user has (baseline on); ``feeds``: (name, url);
    the watch "putin" alerts ``alerts``; ``channels``: more [alerts.NAME] tables."""
    feed_extra = feed_extra or {}
    feeds_toml = "\n".join(
        f'[[feeds]]\nname = "{n}"\nurl = "{u}"\n{feed_extra.get(n, "")}\n' for n, u in feeds
    )
    return write_config(
        tmp_path / "config.toml",
        f"""
[storage]
path = "monitor.db"

[fetch]
allow_private_networks = true
fetch_pages = false
jitter = 0
{fetch}

[extract]
workers = 0

{feeds_toml}

[[watches]]
name = "putin"
rule = "Putin"
alerts = {json.dumps(list(alerts))}
{watch}

[alerts.console]
type = "log"
{channels}
""",
    )


def alerts_json(path: Path) -> list[dict]:
    out = monitor("--config", str(path), "alerts", "--json", "--limit", "2000")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_first_poll_is_a_silent_baseline_then_new_entries_alert(tmp_path, corpus):
    now = datetime.now(UTC)
    old = [(f"o{i}", f"Putin backlog story {i}", now - timedelta(days=400)) for i in range(3)]
    corpus.set_file("/a.xml", rss(corpus.base_url, old))
    path = config(tmp_path, [("a", corpus.url("/a.xml"))])
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert "3 alerts suppressed (baseline)" in out.stderr
    assert "0 alerts delivered" in out.stderr and "ALERT" not in out.stderr
    assert alerts_json(path) == []
    # the backlog is stored (stories and matches), only the alerts were held back
    stories = monitor("--config", str(path), "stories", "--json")
    assert {s["title"] for s in json.loads(stories.stdout)} == {t for _, t, _ in old}

    # the next poll: only the new entry alerts
    corpus.set_file("/a.xml", rss(corpus.base_url, [*old, ("n1", "Putin spoke today", now)]))
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert "suppressed" not in out.stderr
    assert [a["payload"]["article"]["title"] for a in alerts_json(path)] == ["Putin spoke today"]

    # a feed added later (to a running setup) is a baseline of its own
    corpus.set_file("/b.xml", rss(corpus.base_url, [("b1", "Putin in the b backlog", now)]))
    path = config(tmp_path, [("a", corpus.url("/a.xml")), ("b", corpus.url("/b.xml"))])
    out = monitor("--config", str(path), "run", "--once")
    assert "1 alert suppressed (baseline)" in out.stderr, out.stderr
    assert len(alerts_json(path)) == 1


def test_baseline_can_be_turned_off_per_feed_and_globally(tmp_path, corpus):
    now = datetime.now(UTC)
    corpus.set_file("/a.xml", rss(corpus.base_url, [("a1", "Putin in feed a", now)]))
    corpus.set_file("/b.xml", rss(corpus.base_url, [("b1", "Putin in feed b", now)]))
    feeds = [("a", corpus.url("/a.xml")), ("b", corpus.url("/b.xml"))]
    path = config(tmp_path, feeds, feed_extra={"b": "baseline = false"})
    out = monitor("--config", str(path), "run", "--once")
    assert "1 alert suppressed (baseline)" in out.stderr, out.stderr
    assert [a["payload"]["article"]["title"] for a in alerts_json(path)] == ["Putin in feed b"]

    other = tmp_path / "global"
    other.mkdir()
    path = config(other, feeds, fetch="baseline = false")
    out = monitor("--config", str(path), "run", "--once")
    assert "suppressed" not in out.stderr and len(alerts_json(path)) == 2


def test_ignore_older_than_per_watch_and_global(tmp_path, corpus):
    now = datetime.now(UTC)
    items = [
        ("old", "Putin in 2017", datetime(2017, 5, 1, tzinfo=UTC)),
        ("week", "Putin last week", now - timedelta(days=8)),
        ("new", "Putin this hour", now - timedelta(minutes=5)),
        ("undated", "Putin undated", None),
    ]
    corpus.set_file("/a.xml", rss(corpus.base_url, items))
    path = config(
        tmp_path,
        [("a", corpus.url("/a.xml"))],
        fetch='baseline = false\nignore_older_than = "1d"',
        watch='ignore_older_than = "30d"',
    )
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    # the watch's 30 days win over the global day; undated entries are not judged by age
    assert "1 alert suppressed (too old)" in out.stderr, out.stderr
    titles = {a["payload"]["article"]["title"] for a in alerts_json(path)}
    assert titles == {"Putin last week", "Putin this hour", "Putin undated"}

    other = tmp_path / "global"
    other.mkdir()
    path = config(
        other,
        [("a", corpus.url("/a.xml"))],
        fetch='baseline = false\nignore_older_than = "1d"',
    )
    out = monitor("--config", str(path), "run", "--once")
    assert "2 alerts suppressed (too old)" in out.stderr, out.stderr
    titles = {a["payload"]["article"]["title"] for a in alerts_json(path)}
    assert titles == {"Putin this hour", "Putin undated"}


def test_push_and_email_channels_have_a_default_rate_limit(tmp_path):
    path = write_config(
        tmp_path / "config.toml",
        """
[alerts.mail]
type = "email"
host = "127.0.0.1"
from = "monitor@example.org"
to = ["me@example.org"]

[alerts.push]
type = "ntfy"
url = "https://ntfy.example/topic"

[alerts.hook]
type = "webhook"
url = "https://hooks.example/x"

[alerts.unlimited]
type = "ntfy"
url = "https://ntfy.example/other"
max_per_hour = 0

[alerts.custom]
type = "email"
host = "127.0.0.1"
from = "monitor@example.org"
to = ["me@example.org"]
max_per_hour = 5
""",
    )
    alerts = load_config(path).alerts
    assert alerts["mail"].max_per_hour == 20 and alerts["push"].max_per_hour == 30
    assert alerts["hook"].max_per_hour is None and alerts["unlimited"].max_per_hour is None
    assert alerts["custom"].max_per_hour == 5


def test_run_once_drains_the_outbox_and_says_what_still_waits(tmp_path, corpus):
    """More alerts than one delivery round takes (200 a channel) all go out; what cannot
    go now (a digest's schedule, a failing channel) is counted with its reason."""
    now = datetime.now(UTC)
    items = [(f"g{i}", f"Putin item number {i} of the day", now) for i in range(230)]
    corpus.set_file("/a.xml", rss(corpus.base_url, items))
    path = config(
        tmp_path,
        [("a", corpus.url("/a.xml"))],
        fetch="baseline = false",
        watch='dedup = "off"',
        alerts=("console", "daily", "down"),
        channels="""
[alerts.daily]
type = "webhook"
url = "http://127.0.0.1:9/daily"
mode = "digest"
at = "08:00"

[alerts.down]
type = "webhook"
url = "http://127.0.0.1:9/down"
max_attempts = 5
""",
    )
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert "230 alerts delivered" in out.stderr, out.stderr
    assert "230 alerts still waiting on channel daily: digest: the next one goes out at" in (
        out.stderr
    )
    assert "230 alerts still waiting on channel down: backoff: the channel is failing" in (
        out.stderr
    )
    console = [a for a in alerts_json(path) if a["channel"] == "console"]
    assert len(console) == 230 and {a["status"] for a in console} == {"delivered"}


# -- reading commands work whatever state the config file is in --------------------------
LEDGER_PAGE = "/ledger/world/kremlin-says-putin-has-no-plans-to-congratulate-trump.html"


def test_reading_commands_work_with_a_broken_config(tmp_path, corpus):
    now = datetime.now(UTC)
    corpus.set_file("/a.xml", rss(corpus.base_url, [("a1", "Putin spoke", now)]))
    path = config(tmp_path, [("a", corpus.url("/a.xml"))], fetch="baseline = false")
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    # a bad edit while the daemon runs on the old config
    path.write_text(path.read_text().replace('rule = "Putin"', 'rule = "Putin AND ("'))
    out = monitor("--config", str(path), "status")
    assert out.returncode == 0, out.stderr
    assert "warning: the config does not load" in out.stderr and "watches[0].rule" in out.stderr
    assert "last good config's database" in out.stderr and "200" in out.stdout
    out = monitor("--config", str(path), "alerts")
    assert out.returncode == 0 and "Putin spoke" in out.stdout, out.stderr
    out = monitor("--config", str(path), "stories", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)[0]["title"] == "Putin spoke"
    assert monitor("--config", str(path), "claims").returncode == 0
    out = monitor("--config", str(path), "health")
    assert out.returncode == 1 and "no heartbeat" in out.stderr  # not "error" (exit 2)

    # not even TOML any more, and nothing remembered (another machine): --db, or MONITOR_DB
    path.write_text("[[feeds]\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "elsewhere")}
    out = monitor("--config", str(path), "status", env=env)
    assert out.returncode == 2 and "give --db PATH" in out.stderr, out.stderr
    out = monitor("--config", str(path), "--db", str(tmp_path / "monitor.db"), "alerts", env=env)
    assert out.returncode == 0 and "Putin spoke" in out.stdout, out.stderr
    out = monitor(
        "--config", str(path), "status", env={**env, "MONITOR_DB": str(tmp_path / "monitor.db")}
    )
    assert out.returncode == 0 and "TOML syntax error" in out.stderr


def test_import_opml_is_not_blocked_by_an_unrelated_problem(tmp_path):
    path = write_config(
        tmp_path / "config.toml",
        """
[[watches]]
name = "world"
rule = "Putin"
tags = ["world"]  # no feed has this tag any more
""",
    )
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="News">'
        '<outline text="One" xmlUrl="https://one.example/rss"/></outline></body></opml>'
    )
    out = monitor("--config", str(path), "import-opml", str(opml))
    assert out.returncode == 0, out.stderr
    assert "1 feeds added" in out.stdout
    assert "problem(s) of its own" in out.stderr and "watches[0].tags" in out.stderr
    assert 'url = "https://one.example/rss"' in path.read_text()

    # a problem the import itself would cause is still refused, and nothing is written
    before = path.read_text()
    opml.write_text(
        '<opml version="2.0"><body>'
        '<outline text="Bad" xmlUrl="ftp://bad.example/rss"/></body></opml>'
    )
    out = monitor("--config", str(path), "import-opml", str(opml))
    assert out.returncode == 2 and "feeds[1].url" in out.stderr, out.stderr
    assert "watches[0].tags" not in out.stderr and path.read_text() == before


def test_test_rule_url_honours_the_fetch_settings(tmp_path, corpus):
    url = corpus.url(LEDGER_PAGE)
    args = ["test-rule", "Kremlin AND Putin", "--url", url]
    # no config file: the defaults, which refuse loopback addresses
    out = monitor("--config", str(tmp_path / "none.toml"), *args)
    assert out.returncode == 2 and "allow_private_networks" in out.stderr, out.stderr
    path = write_config(
        tmp_path / "config.toml",
        '[fetch]\nallow_private_networks = true\nuser_agent = "rule-tester/1"\n',
    )
    out = monitor("--config", str(path), *args)
    assert out.returncode == 0, out.stderr
    (req,) = corpus.requests_for(LEDGER_PAGE)
    assert req.header("User-Agent") == "rule-tester/1"


# -- health that does not hide failures ---------------------------------------------------
def test_malformed_and_empty_feeds_are_warnings_in_the_summary_and_status(tmp_path, corpus):
    now = datetime.now(UTC)
    good = rss(corpus.base_url, [("g1", "Putin spoke", now), ("g2", "Putin again", now)])
    corpus.set_file("/good.xml", good)
    corpus.set_file("/cut.xml", good[: good.index("<item>", good.index("<item>") + 1) + 30])
    corpus.set_file(
        "/empty.xml",
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Nothing</title></channel></rss>",
    )
    corpus.set_file(
        "/html.xml", "<html><body><p>Not a feed</p></body></html>", content_type="text/html"
    )
    names = ["good", "cut", "empty", "html"]
    path = config(tmp_path, [(n, corpus.url(f"/{n}.xml")) for n in names])
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert "1 feed errors, 2 feed warnings" in out.stderr, out.stderr
    assert "feed cut: warning: malformed feed" in out.stderr
    assert "feed empty: warning: the feed lists no entries" in out.stderr
    assert "feed html: error: " in out.stderr

    out = monitor("--config", str(path), "status", "--json")
    states = {f["name"]: f["state"] for f in json.loads(out.stdout)["feeds"]}
    assert states == {"good": "ok", "cut": "warning", "empty": "warning", "html": "error"}
    out = monitor("--config", str(path), "status", "--failing", "--json")
    assert {f["name"] for f in json.loads(out.stdout)["feeds"]} == {"cut", "empty", "html"}
    out = monitor("--config", str(path), "status", "--failing")
    assert out.returncode == 0 and "warning" in out.stdout and "good" not in out.stdout


def test_health_fails_once_the_daemon_stops_or_its_heartbeat_goes_stale(tmp_path, corpus):
    from tests.integration.helpers import start_daemon, wait_for

    now = datetime.now(UTC)
    corpus.set_file("/a.xml", rss(corpus.base_url, [("a1", "Putin backlog", now)]))
    corpus.set_file("/b.xml", rss(corpus.base_url, [("b1", "Putin in b's backlog", now)]))
    path = config(tmp_path, [("a", corpus.url("/a.xml"))])
    log = tmp_path / "daemon.log"

    def health(*extra: str) -> subprocess.CompletedProcess:
        return monitor("--config", str(path), "health", *extra)

    proc = start_daemon(path, log)
    try:
        wait_for(lambda: "1 alerts suppressed (baseline)" in log.read_text(), what="baseline")
        wait_for(lambda: health().returncode == 0, what="a fresh heartbeat")
        # a feed added to the running daemon: its backlog is a baseline too
        path.write_text(
            path.read_text().replace(
                "[[watches]]",
                f'[[feeds]]\nname = "b"\nurl = "{corpus.url("/b.xml")}"\n\n[[watches]]',
            )
        )
        wait_for(lambda: "feed b: first poll" in log.read_text(), what="the new feed's baseline")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    out = health()
    assert out.returncode == 1 and "the daemon stopped at" in out.stderr, out.stderr
    assert "ALERT" not in log.read_text()

    proc = start_daemon(path, log)
    try:
        wait_for(lambda: health().returncode == 0, what="a fresh heartbeat after the restart")
    finally:
        proc.kill()  # no clean stop: only the heartbeat's age tells
        proc.wait(timeout=30)
    time.sleep(2.5)
    out = health("--max-age", "2")
    assert out.returncode == 1 and "stale: last heartbeat" in out.stderr, out.stderr


# -- alerts and stories readable outside a terminal line ---------------------------------
def two_watch_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = config(tmp_path, [("a", url)], fetch="baseline = false")
    return write_config(
        path,
        path.read_text()
        + '\n[[watches]]\nname = "rates"\nrule = "rate*"\nalerts = ["console"]\n'
        + extra,
    )


def test_alerts_in_columns_with_filters(tmp_path, corpus):
    now = datetime.now(UTC)
    items = [("p", "Putin spoke to the press", now), ("r", "The bank raised its rates", now)]
    corpus.set_file("/a.xml", rss(corpus.base_url, items))
    path = two_watch_config(tmp_path, corpus.url("/a.xml"))
    assert monitor("--config", str(path), "run", "--once").returncode == 0

    out = monitor("--config", str(path), "alerts")
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["TIME", "STATUS", "CHANNEL", "WATCH", "TYPE", "TITLE", "ID"]
    assert len(rows) == 2 and all("delivered" in r and "article.matched" in r for r in rows)
    # columns line up: every row has its watch where the header says WATCH
    at = header.index("WATCH")
    assert {r[at:].split()[0] for r in rows} == {"putin", "rates"}

    out = monitor("--config", str(path), "alerts", "--watch", "rates")
    assert "The bank raised its rates" in out.stdout and "Putin" not in out.stdout
    out = monitor("--config", str(path), "alerts", "--type", "claim")
    assert out.stdout.strip() == "no alerts (with these filters)"
    out = monitor("--config", str(path), "alerts", "--type", "article.matched", "--since", "1h")
    assert len(out.stdout.splitlines()) == 3
    out = monitor("--config", str(path), "alerts", "--since", "2999-01-01")
    assert out.stdout.strip() == "no alerts (with these filters)"
    out = monitor("--config", str(path), "alerts", "--type", "matched")
    assert out.returncode == 2 and "article.matched" in out.stderr
    out = monitor("--config", str(path), "alerts", "--since", "yesterday")
    assert out.returncode == 2 and "a duration back from now" in out.stderr
    for cmd in (["alerts"], ["stories"], ["claims"]):
        out = monitor("--config", str(path), *cmd, "--watch", "ratez")
        assert out.returncode == 2, out
        assert "no watch named 'ratez'" in out.stderr and "did you mean 'rates'" in out.stderr


def test_stories_lists_matched_stories_and_never_a_hash_title(tmp_path, corpus):
    now = datetime.now(UTC)
    feed = rss(corpus.base_url, [("p", "Putin spoke to the press", now)])
    # entries with neither title nor link: the parser names them by a hash of their text
    untitled = (
        "<item><description>Putin met the regional governors in Kazan on Monday to talk"
        " about the harvest and the roads.</description></item>"
        "<item><pubDate>Mon, 02 Jan 2023 10:00:00 GMT</pubDate></item>"
        "<item><title>Football: the derby ends in a draw</title>"
        f"<link>{corpus.base_url}/p/f.html</link><description>A draw.</description></item>"
    )
    corpus.set_file("/a.xml", feed.replace("</channel>", untitled + "</channel>"))
    path = two_watch_config(tmp_path, corpus.url("/a.xml"))
    assert monitor("--config", str(path), "run", "--once").returncode == 0

    out = monitor("--config", str(path), "stories", "--json")
    titles = {s["title"] for s in json.loads(out.stdout)}
    assert titles == {
        "Putin spoke to the press",
        "Putin met the regional governors in Kazan on Monday to talk about the harvest and the"
        " roads.",
    }
    out = monitor("--config", str(path), "stories", "--all")
    assert "Football: the derby ends in a draw" in out.stdout and "sha256" not in out.stdout
    assert "(untitled entry of a)" in out.stdout
    out = monitor("--config", str(path), "stories", "--watch", "rates")
    assert out.returncode == 0 and "no story matched a watch yet" in out.stdout


def test_email_subjects_arrive_as_written(tmp_path, corpus):
    from tests.servers import SMTPReceiver

    title = (
        "Кремль: Putin не планирует поздравлять Трампа — “no plans”, says Peskov, while"
        " Verstka reports the opposite 🎉 in a long headline about the election"
    )
    corpus.set_file("/a.xml", rss(corpus.base_url, [("p", title, datetime.now(UTC))]))
    smtp = SMTPReceiver().start()
    try:
        path = config(
            tmp_path,
            [("a", corpus.url("/a.xml"))],
            fetch="baseline = false",
            alerts=("mail",),
            channels=f'[alerts.mail]\ntype = "email"\nhost = "127.0.0.1"\nport = {smtp.port}\n'
            'tls = "none"\nfrom = "monitor@example.org"\nto = ["me@example.org"]\n',
        )
        out = monitor("--config", str(path), "run", "--once")
        assert out.returncode == 0, out.stderr
    finally:
        smtp.stop()
    assert len(smtp.messages) == 1, out.stderr
    (msg,) = smtp.messages
    assert msg["Subject"] == f"[putin] {title}"


def test_alerts_test_shows_what_it_sent(tmp_path):
    path = config(tmp_path, [("a", "https://news.example/rss")])
    out = monitor("--config", str(path), "alerts", "test", "console")
    assert out.returncode == 0, out.stderr
    assert "sent to console (log): article.matched evt_" in out.stdout
    assert "[test] news-monitor test alert: this channel works" in out.stdout
    assert out.stdout.rstrip().endswith("channel console: delivered")


# -- query habits from other engines -------------------------------------------------------
def test_lucene_proximity_is_near_and_fuzzy_or_wildcards_are_refused(tmp_path, corpus):
    text = "Putin said on Monday that he would not call Trump this week."
    near = monitor("test-rule", '"Putin Trump"~10', "--text", text, "--json")
    assert near.returncode == 0, near.stderr
    assert json.loads(near.stdout)["matched"] is True
    far = monitor("test-rule", '"Putin Trump"~3', "--text", text)
    assert far.returncode == 1  # 9 words apart: NEAR/3 does not hold

    for rule, caret, hint in [
        ("Putin~5", 6, "fuzzy search"),
        ("Put?n", 4, "one-character wildcard"),
        ('"Putin Trump" ~5', 15, "right after a phrase's closing quote"),
        ('"Putin"~2', 8, "after a single word"),
    ]:
        out = monitor("test-rule", rule, "--text", text)
        assert out.returncode == 2 and hint in out.stderr, out.stderr
        shown, marker = out.stderr.rstrip("\n").splitlines()[-2:]
        assert shown.strip() == rule and marker.index("^") - 2 == caret - 1, out.stderr

    # in a config: the same error, naming the watch, and nothing runs
    path = config(tmp_path, [("a", "https://news.example/rss")], watch="")
    path.write_text(path.read_text().replace('rule = "Putin"', 'rule = "Put?n"'))
    out = monitor("--config", str(path), "check-config")
    assert out.returncode == 2 and "watches[0].rule (watch 'putin')" in out.stderr

    # and through the pipeline: "a b"~N matches as NEAR/N
    corpus.set_file(
        "/a.xml",
        rss(corpus.base_url, [("n", text, datetime.now(UTC)), ("f", "Putin only", None)]),
    )
    path = config(tmp_path, [("a", corpus.url("/a.xml"))], fetch="baseline = false")
    path.write_text(path.read_text().replace('rule = "Putin"', "rule = '\"Putin Trump\"~10'"))
    assert monitor("--config", str(path), "run", "--once").returncode == 0
    assert [a["payload"]["article"]["title"] for a in alerts_json(path)] == [text]


# -- packaging ----------------------------------------------------------------------------
def test_export_opml_round_trips_with_import_opml(tmp_path):
    from monitor.feeds.opml import read_opml

    sample = ROOT / "examples" / "feeds.opml"
    first = write_config(tmp_path / "first.toml", '[storage]\npath = "m.db"\n')
    out = monitor("--config", str(first), "import-opml", str(sample))
    assert out.returncode == 0 and "7 feeds added" in out.stdout, out.stderr
    assert monitor("--config", str(first), "check-config").returncode == 0

    exported = tmp_path / "out.opml"
    out = monitor("--config", str(first), "export-opml", str(exported))
    assert out.returncode == 0 and "7 feeds written" in out.stderr, out.stderr
    assert read_opml(exported.read_bytes()) == read_opml(sample.read_bytes())
    stdout = monitor("--config", str(first), "export-opml").stdout
    assert stdout.encode() == exported.read_bytes()

    second = write_config(tmp_path / "second.toml", "")
    assert monitor("--config", str(second), "import-opml", str(exported)).returncode == 0
    a, b = load_config(first).feeds, load_config(second).feeds
    assert [(f.name, f.url, f.tags) for f in a] == [(f.name, f.url, f.tags) for f in b]
    assert ("DW - World", ["world", "europe"]) in [(f.name, f.tags) for f in b]


def test_packaging_files_run_real_commands(tmp_path):
    import configparser
    import re
    import tomllib

    import yaml

    from monitor.cli import cli

    commands = set(cli.commands)
    # systemd: the daemon unit runs `monitor run`; the timer's service runs `monitor health`
    units = {}
    for name in (
        "news-monitor.service",
        "news-monitor-health.service",
        "news-monitor-health.timer",
    ):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read(ROOT / "packaging" / name)
        units[name] = unit
    daemon = units["news-monitor.service"]
    assert daemon["Service"]["ExecStart"].split()[1:] == ["run"]
    assert daemon["Service"]["KillSignal"] == "SIGTERM" and daemon["Install"]["WantedBy"]
    check = units["news-monitor-health.service"]["Service"]["ExecStart"]
    assert "monitor health ||" in check and "restart news-monitor.service" in check
    assert units["news-monitor-health.timer"]["Timer"]["Unit"] == "news-monitor-health.service"
    assert {"run", "health"} <= commands

    # compose: a volume on the database's directory, and `monitor health` as healthcheck
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["news-monitor"]
    assert service["healthcheck"]["test"] == ["CMD", "monitor", "health"]
    volume, target = service["volumes"][0].split(":")
    assert volume in compose["volumes"] and target == "/data"
    # the image's config (the example, edited by the Dockerfile's sed) keeps its DB there
    dockerfile = (ROOT / "Dockerfile").read_text()
    pattern, replacement = re.search(r"sed -i 's\|(.+?)\|(.+?)\|'", dockerfile).groups()
    example = (ROOT / "config.toml").read_text()
    edited = re.sub(pattern.replace("^", "(?m)^"), replacement, example)
    assert edited != example
    (tmp_path / "config.toml").write_text(edited)
    assert str(load_config(tmp_path / "config.toml").database_path()) == target + "/monitor.db"
    assert 'CMD ["monitor", "health"]' in dockerfile

    # the license file is the one pyproject names; the changelog has the version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert f"## [{project['version']}]" in (ROOT / "CHANGELOG.md").read_text()


# -- validation in one pass, pointing at lines -------------------------------------------
def test_every_config_problem_at_once_with_its_line_and_name(tmp_path):
    text = """[fetch]
concurrency = 0

[[feeds]]
name = "BBC"
url = "https://bbc.example/rss"
interval = "5x"

[[feeds]]
name = "BBC"
url = "https://two.example/rss"
tags = "world"

[[watches]]
name = "w"
rule = "Putin AND ("
alerts = "pager"

  [[watches.claims]]
  text = "x"

[alerts.mail]
type = "email"
host = "smtp.example"
from = "a@example.org"
to = "me@example.org"
"""
    path = write_config(tmp_path / "c.toml", text)
    out = monitor("--config", str(path), "check-config")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.replace(str(path), "c.toml")
    # model errors, duplicate names, unknown channels and bad rules: one round
    assert "c.toml: 6 problems" in lines, lines
    for expected in [
        "fetch.concurrency: Input should be greater than or equal to 1 (line 2)",
        "feeds[0].interval: invalid duration '5x'",
        "or '1d' (line 7, feed 'BBC')",
        "feeds[1].name: 'BBC' is already used by feeds[0] (line 10, feed 'BBC')",
        "watches[0].claims[0].text: String should have at least 3 characters (line 20, watch 'w')",
        "watches[0].alerts: no channel named 'pager' (channels: mail); define it as"
        " [alerts.pager] (line 17, watch 'w')",
        "watches[0].rule (watch 'w'): unbalanced parenthesis: this '(' is never closed (line 16)",
    ]:
        assert expected in lines, expected
    # a single string where a list goes is that one item
    fixed = text.replace("concurrency = 0", "concurrency = 1").replace('"5x"', '"5m"')
    fixed = fixed.replace('name = "BBC"\nurl = "https://two', 'name = "Two"\nurl = "https://two')
    fixed = fixed.replace('"Putin AND ("', '"Putin"').replace('"pager"', '"mail"')
    fixed = fixed.replace('text = "x"', 'text = "Putin won"')
    cfg = load_config(write_config(tmp_path / "c.toml", fixed))
    assert cfg.alerts["mail"].to == ["me@example.org"] and cfg.feeds[1].tags == ["world"]
    assert cfg.watches[0].alerts == ["mail"]


def test_extraction_falls_back_to_a_thread_when_worker_processes_cannot_start(
    corpus, monkeypatch, caplog
):
    """Seen in a container without a writable /dev/shm: the process pool cannot be made;
    pages are still extracted (in a thread), with one warning, not a traceback per feed."""
    import asyncio

    import monitor.feeds.extract as extract

    def no_semaphores(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(extract, "_Worker", no_semaphores)
    page = corpus.get_file(LEDGER_PAGE)
    ex = extract.Extractor(workers=2)
    try:
        got = asyncio.run(ex.extract(page, corpus.url(LEDGER_PAGE)))
    finally:
        ex.close()
    assert got is not None and "Kremlin" in got.text
    assert "extracting in a thread" in caplog.text
