"""The web view against the real server on loopback: every page and API route (status,
content, escaping of hostile titles), the Atom feed (parsed by feedparser), the shared
JSON schema of the API and the CLI's --json, CSRF and access control."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.resources import validate
from monitor.store import Store
from monitor.web import WebSettings, web_settings
from tests.integration.webdata import BROKEN, EMPTY, HOSTILE, SECRET, WATCH, WebData, populate
from tests.servers import running_web

ESCAPED = "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> WebData:
    return populate(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def web(data: WebData) -> Iterator[httpx.Client]:
    settings = WebSettings(data.database, "127.0.0.1", 0, None, data.config)
    with running_web(settings) as server, httpx.Client(base_url=server.url, timeout=20) as c:
        yield c


def page(client: httpx.Client, path: str, status: int = 200) -> str:
    r = client.get(path)
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    if status == 200:
        assert r.headers["content-type"].startswith("text/html")
    # hostile text is always escaped: never a live script tag, never the channel's secret
    assert "<script" not in r.text and SECRET not in r.text
    return r.text


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_overview(web, data):
    html = page(web, "/")
    assert "Broken &lt;feed&gt;" in html  # a failing feed
    assert "Overview" in html and "Dead letters" in html and "Failing feeds" in html
    assert "articles" in html and "putin-congratulates" in html
    # the dead letter, its headline escaped, its error without the channel URL's secret
    assert ESCAPED in html and "https://hooks.slack.com/…" in html
    assert f'value="{data.dead_letter}"' in html
    assert f'href="/stories/{data.story_id}"' in html  # a story a watch matched
    assert "no heartbeat yet" in html


def test_stories_and_story(web, data):
    html = page(web, "/stories")
    assert f'href="/stories/{data.story_id}"' in html and "Kremlin" in html
    assert ESCAPED in page(web, "/stories?all=1")
    html = page(web, f"/stories/{data.story_id}")
    text = text_of(html)
    for outlet in ("The Northern Ledger", "Harbour Street Journal", "The Lakeshore Courier"):
        assert outlet in text
    assert "copy of #" in text and WATCH in text
    assert f'href="/claims/{data.claim_id}"' in html  # the story's claims
    hostile = page(web, f"/stories/{data.hostile_story}")
    assert ESCAPED in hostile and "&lt;b&gt;Evil&lt;/b&gt; Outlet" in hostile
    page(web, "/stories/999999", 404)
    page(web, "/stories?watch=nope", 404)


def test_claims_and_claim_timeline_shows_both_sides(web, data):
    html = page(web, "/claims")
    assert f'href="/claims/{data.claim_id}"' in html
    html = page(web, f"/claims/{data.claim_id}")
    text = text_of(html)
    assert "First said by" in text and "Confirming" in text and "Contradicting" in text
    sides = re.findall(r'<blockquote class="report (for|against)">(.*?)</blockquote>', html, re.S)
    confirming = " ".join(t for side, t in sides if side == "for")
    contradicting = " ".join(t for side, t in sides if side == "against")
    assert "no plans to congratulate" in confirming  # the Kremlin's denial ...
    assert "Verstka" in contradicting and "congratulated Trump" in contradicting  # ... vs
    page(web, "/claims/999999", 404)


def test_feeds_and_feed(web, data):
    html = page(web, "/feeds")
    for feed in data.config.feeds:
        assert feed.name in html
    assert "Broken &lt;feed&gt;" in html and "HTTP 500 &lt;Server Error&gt;" in html
    for which in ("failing", "never", "backoff"):
        filtered = page(web, f"/feeds?filter={which}")
        assert "Broken &lt;feed&gt;" in filtered and "Lakeshore Courier" not in filtered
    page(web, "/feeds?filter=bogus", 400)
    # page errors and fallbacks to feed text, as `monitor status` counts them
    store = Store.open(data.database, readonly=True)
    try:
        pe = store.page_errors()["Lakeshore Courier"]
    finally:
        store.close()
    assert pe.fallbacks >= 2  # (webdata adds 2 to what the corpus run counted)
    row = re.search(
        r'<tr class="state-ok"><td><a href="/feeds/Lakeshore%20Courier">.*?</tr>', html, re.S
    )
    assert row and f"<td>{pe.count}</td><td>{pe.fallbacks}</td>" in row.group(0)
    assert "last page error: page timed out" in row.group(0)
    html = page(web, "/feeds/Lakeshore%20Courier")
    assert "Recent entries" in html and "congratulate Trump" in html
    page(web, "/feeds/no-such-feed", 404)


def test_alerts_page(web, data):
    html = page(web, "/alerts")
    assert "Channels" in html and ">hook<" in html and "https://hooks.slack.com/…" in html
    assert "Retry" in html and "Acknowledge" in html and ESCAPED in html
    # per channel: state, delivered, pending, failed (the console delivered the demo's alerts)
    console = re.search(r'<tr><td><a href="/alerts\?channel=console">console</a>.*?</tr>', html)
    assert console and re.search(r"<td>[1-9]\d*</td><td>0</td><td>0</td>", console.group(0))
    failed = page(web, "/alerts?status=failed")
    assert data.dead_letter in failed and data.pending not in failed
    page(web, "/alerts?status=lost", 400)


def test_search_full_text_and_try_a_rule(web):
    html = page(web, "/search?q=Kremlin")
    assert "<mark>Kremlin</mark>" in html and "found for" in html
    html = page(web, "/search?q=Zanzibar")
    assert ESCAPED in html and "<mark>Zanzibar</mark>" in html
    html = page(web, "/search?q=congratulat*+AND+(")  # not FTS5 syntax: searched as words
    assert "found for" in html
    html = page(web, "/search?q=Kremlin+AND+(")  # ... and those words are found
    assert re.search(r"[1-9]\d* articles? found for", html) and "<mark>Kremlin</mark>" in html
    html = page(web, "/search?rule=Putin+AND+congratulat*")
    assert re.search(r"\d+ match(es)? of <code>Putin AND congratulat\*</code>", html)
    assert "<mark>" in html and ("in title" in html or "in text" in html)
    html = page(web, "/search?rule=Putin+AND+(")
    assert "The rule cannot be used" in html
    page(web, "/search?q=x&since=yesterday-ish", 400)


def test_unknown_pages_are_404(web):
    page(web, "/nope", 404)


def test_only_loopback_host_names_are_answered_without_a_token(web):
    """A page elsewhere cannot read the view through a DNS name rebound to 127.0.0.1."""
    assert web.get("/api/overview", headers={"Host": "evil.example"}).status_code == 400
    assert web.get("/", headers={"Host": "localhost:8080"}).status_code == 200


def test_api_routes_share_the_cli_schema(web, data, tmp_path):
    def get(path: str, status: int = 200):
        r = web.get(path)
        assert r.status_code == status, (path, r.text[:300])
        assert r.headers["content-type"].startswith("application/json")
        assert SECRET not in r.text
        return r.json()

    overview = get("/api/overview")
    assert overview["counts"]["articles"] >= 5 and overview["dead_letters"]
    for s in get("/api/stories?all=1"):
        validate("story", s)
    story = get(f"/api/stories/{data.story_id}")
    validate("story", story)
    for c in get("/api/claims"):
        validate("claim", c)
    claim = get(f"/api/claims/{data.claim_id}")
    validate("claim-timeline", claim)
    assert {e["side"] for e in claim["timeline"]} >= {"for", "against"}
    feeds = get("/api/feeds")
    for f in feeds:
        validate("feed", f)
    failing = [f["name"] for f in get("/api/feeds?filter=failing")]
    # one definition of failing (error, warning, disabled) for the filter and the overview,
    # as for `monitor status --failing`
    assert sorted(failing) == sorted([BROKEN, EMPTY])
    assert sorted(f["name"] for f in overview["failing_feeds"]) == sorted(failing)
    (lakeshore,) = [f for f in feeds if f["name"] == "Lakeshore Courier"]
    assert lakeshore["fallbacks"] >= 2 and lakeshore["page_errors"] >= 2
    feed = get("/api/feeds/Lakeshore%20Courier")
    validate("feed", feed["feed"])
    for e in feed["entries"]:
        validate("feed-entry", e)
    alerts = get("/api/alerts")
    for a in alerts:
        validate("alert", a)
    assert any(a["status"] == "failed" and "…" in a["last_error"] for a in alerts)
    hits = get("/api/search?q=Zanzibar")
    assert hits and hits[0]["title"] == HOSTILE and hits[0]["highlights"] == ["Zanzibar"]
    for h in hits:
        validate("search-hit", h)
    rule = get("/api/search/rule?rule=Putin+AND+congratulat*")
    validate("rule-search", rule)
    assert rule["matches"]
    get("/api/search/rule?rule=Putin+AND+(", 400)
    get("/api/stories/999999", 404)
    get("/api/alerts?watch=nope", 404)

    # the CLI's --json prints the same resources, by the same schemas
    def cli_json(*args: str):
        r = CliRunner().invoke(cli, ["--db", str(data.database), *args])
        assert r.exit_code in (0, 1), r.output
        return json.loads(r.output)

    shown = cli_json("stories", "show", str(data.story_id), "--json")
    assert shown == {k: v for k, v in story.items() if k != "claims"} and story["claims"]
    assert cli_json("claims", "show", str(data.claim_id), "--json") == claim
    for a in cli_json("alerts", "--json"):
        validate("alert", a)
    for f in cli_json("status", "--json")["feeds"]:
        validate("feed", f)
    searched = cli_json("search", "Putin AND congratulat*", "--json")
    validate("rule-search", searched)
    assert searched == rule


def test_atom_feed_of_alerts(web, data):
    r = web.get(f"/feeds/alerts.atom?watch={WATCH}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    assert "<script" not in r.text
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10" and WATCH in feed.feed.title
    titles = [e.title for e in feed.entries]
    assert HOSTILE in titles  # the hostile title, as text
    assert any("Contradicted" in t or "Kremlin" in t for t in titles)
    ids = [e.id for e in feed.entries]
    assert len(ids) == len(set(ids)) and all(i.startswith("urn:news-monitor:alert:") for i in ids)
    assert all(e.updated for e in feed.entries)
    everything = feedparser.parse(web.get("/feeds/alerts.atom").content)
    assert not everything.bozo and len(everything.entries) >= len(feed.entries)
    assert web.get("/feeds/alerts.atom?watch=nope").status_code == 404


def _csrf(client: httpx.Client) -> str:
    html = client.get("/alerts").text
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_retry_and_acknowledge_are_csrf_protected(data, tmp_path):
    settings = WebSettings(data.database, "127.0.0.1", 0, None, data.config)
    with running_web(settings) as server, httpx.Client(base_url=server.url) as c:
        token = _csrf(c)
        form = {"csrf": token, "id": data.dead_letter}
        # without the token, with a wrong one, or from another site: refused, nothing changes
        assert c.post("/alerts/retry", data={"id": data.dead_letter}).status_code == 403
        assert c.post("/alerts/retry", data={**form, "csrf": "x" * 43}).status_code == 403
        other = c.post("/alerts/retry", data=form, headers={"Origin": "http://evil.example"})
        assert other.status_code == 403
        fresh = httpx.post(server.url + "alerts/retry", data=form)  # no cookie
        assert fresh.status_code == 403
        store = Store.open(data.database, readonly=True)
        assert store.alert(data.dead_letter).status == "failed"  # type: ignore[union-attr]
        store.close()

        ack = c.post("/alerts/acknowledge", data=form)
        assert ack.status_code == 303 and "acknowledged" in ack.headers["location"]
        dead = c.get("/api/overview").json()["dead_letters"]
        assert data.dead_letter not in [a["id"] for a in dead]
        r = c.post("/alerts/retry", data={**form, "back": "/alerts?status=pending"})
        assert r.status_code == 303 and r.headers["location"].startswith("/alerts?status=pending")
        store = Store.open(data.database, readonly=True)
        retried = store.alert(data.dead_letter)
        store.close()
        assert retried is not None and retried.status == "pending" and retried.attempts == 0
        assert c.post("/alerts/retry", data={**form, "id": "evt_nope"}).status_code == 404


def test_non_loopback_bind_without_token_is_refused(data, tmp_path, monkeypatch):
    text = data.config.path.read_text()  # type: ignore[union-attr]
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(text + '\n[web]\naddress = "0.0.0.0"\nport = 0\n')
    cfg = load_config(cfg_path)
    with pytest.raises(ConfigError, match="not a loopback address.*token_env"):
        web_settings(cfg)
    r = CliRunner().invoke(cli, ["--config", str(cfg_path), "web"])
    assert r.exit_code == 2 and "not a loopback address" in r.output
    assert "Traceback" not in r.output
    # token_env naming an unset variable is refused too, even on loopback
    cfg_path.write_text(text + '\n[web]\ntoken_env = "NM_TEST_WEB_TOKEN"\n')
    monkeypatch.delenv("NM_TEST_WEB_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="NM_TEST_WEB_TOKEN, which is not set"):
        web_settings(load_config(cfg_path))
    # the daemon refuses to start the same way
    from monitor.daemon import Daemon

    cfg_path.write_text(text + '\n[web]\nenabled = true\naddress = "0.0.0.0"\n')
    with pytest.raises(ConfigError, match="not a loopback address"):
        asyncio.run(Daemon(load_config(cfg_path)).run())
    # with the token set, a non-loopback address is accepted
    monkeypatch.setenv("NM_TEST_WEB_TOKEN", "tok")
    cfg_path.write_text(text + '\n[web]\naddress = "0.0.0.0"\ntoken_env = "NM_TEST_WEB_TOKEN"\n')
    assert web_settings(load_config(cfg_path)).token == "tok"


def test_requests_without_the_token_get_401(data):
    token = "s3cret-token-for-the-web"
    settings = WebSettings(data.database, "127.0.0.1", 0, token, data.config)
    with running_web(settings) as server:
        base = server.url.rstrip("/")
        for path in ("/", "/api/overview", "/feeds/alerts.atom", "/static/style.css"):
            r = httpx.get(base + path)
            assert r.status_code == 401 and "Basic" in r.headers["www-authenticate"]
            assert (
                httpx.get(base + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            )
        assert httpx.post(base + "/alerts/retry", data={"id": "x"}).status_code == 401
        ok = httpx.get(base + "/", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and "Overview" in ok.text
        # with a token, any Host name is answered (a LAN name, a reverse proxy's)
        named = {"Authorization": f"Bearer {token}", "Host": "monitor.lan"}
        assert httpx.get(base + "/api/overview", headers=named).status_code == 200
        basic = base64.b64encode(f"me:{token}".encode()).decode()
        r = httpx.get(base + "/api/overview", headers={"Authorization": f"Basic {basic}"})
        assert r.status_code == 200


def test_daemon_serves_the_web_view_when_enabled(data, tmp_path):
    from monitor.daemon import Daemon

    cfg_path = tmp_path / "config.toml"
    text = data.config.path.read_text()  # type: ignore[union-attr]
    db = tmp_path / "daemon.db"
    text = re.sub(r'path = "[^"]*"', f'path = "{db}"', text, count=1)
    # the feeds point at a corpus server that is gone: polls fail, the web view answers
    cfg_path.write_text(text + "\n[web]\nenabled = true\nport = 0\n")
    daemon = Daemon(load_config(cfg_path))

    async def go() -> tuple[int, str, int]:
        task = asyncio.create_task(daemon.run())
        for _ in range(300):
            if daemon.web is not None and daemon.web.started:
                break
            await asyncio.sleep(0.05)
        assert daemon.web is not None and daemon.web.started
        async with httpx.AsyncClient(base_url=daemon.web.url) as c:
            r = await c.get("/feeds")
        daemon.stop()
        return r.status_code, r.text, await asyncio.wait_for(task, 60)

    status, html, code = asyncio.run(go())
    assert status == 200 and "Lakeshore Courier" in html and code == 0


def test_monitor_search_command(data):
    run = CliRunner().invoke
    r = run(cli, ["--db", str(data.database), "search", "Putin AND congratulat*"])
    assert r.exit_code == 0 and "match" in r.output and "result:  MATCH" in r.output
    r = run(cli, ["--db", str(data.database), "search", "zzzunlikelyword"])
    assert r.exit_code == 1 and "0 matches" in r.output
    r = run(cli, ["--db", str(data.database), "search", "Putin AND ("])
    assert r.exit_code == 2 and "bad rule" in r.output
    r = run(cli, ["--db", str(data.database), "search", "Putin", "--since", "soon"])
    assert r.exit_code == 2 and "--since" in r.output
    r = run(cli, ["--db", str(Path("/nonexistent/x.db")), "search", "Putin"])
    assert r.exit_code == 2 and "no database yet" in r.output
