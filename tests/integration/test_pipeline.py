"""End to end: the real pipeline against loopback servers and a real SQLite file."""

from __future__ import annotations

import json

from monitor.config import load_config
from monitor.demo import demo_articles, demo_feeds
from monitor.demo.server import Response, repeat_bytes
from tests.conftest import basic_config, open_store, run_cycle
from tests.integration.helpers import small_rss

SCENARIO_TITLES = {a["title"] for a in demo_articles() if a["role"].startswith("scenario")}
COPY_TITLES = {a["title"] for a in demo_articles() if a["role"] == "syndicated-copy"}
LEDGER_TITLE = next(a["title"] for a in demo_articles() if a["role"] == "scenario-first")


def corpus_feed_urls(corpus) -> list[str]:
    return [corpus.base_url + f["path"] for f in demo_feeds()]


def test_scenario_alerts_once_with_full_payload(tmp_path, corpus, receiver, monkeypatch):
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "s3cret")
    cfg = load_config(basic_config(tmp_path, corpus_feed_urls(corpus), webhook_url=receiver.url))
    report = run_cycle(cfg)
    assert not report.errors, [f.error for f in report.errors]
    payloads = receiver.payloads()
    # dedup = "story": the Ledger article, its syndicated Courier copy and the Harbour report
    # of the same event are one story: one article.matched; the two others join the story
    # and reach the webhook (not the log channel) as story.updated, each a new outlet
    matched = [p for p in payloads if p["type"] == "article.matched"]
    updated = [p for p in payloads if p["type"] == "story.updated"]
    assert len(matched) == 1 and len(updated) == 2 and len(payloads) == 3
    (first,) = matched
    # which of the two copies is stored first depends on which feed finishes first
    assert first["article"]["title"] in {LEDGER_TITLE, *COPY_TITLES}
    story_id = first["story"]["id"]
    assert {p["story"]["id"] for p in updated} == {story_id}
    assert {p["article"]["title"] for p in payloads} == SCENARIO_TITLES | COPY_TITLES
    assert {p["relation"] for p in updated} <= {"copy", "report"}
    harbour = next(p for p in updated if p["article"]["title"] not in {LEDGER_TITLE, *COPY_TITLES})
    assert harbour["relation"] == "report" and harbour["story"]["articles"] >= 2
    assert "Harbour Street Journal" in harbour["story"]["outlets"]
    assert len(payloads) == len({p["article"]["url"] for p in payloads})
    p = next(p for p in payloads if p["article"]["title"] == LEDGER_TITLE)
    assert p["watch"] == "putin-congratulates"
    assert p["id"].startswith("evt_") and p["article"]["source"] == "The Northern Ledger"
    assert p["article"]["published"].startswith("2024-11-06")
    assert p["article"]["url"].startswith(corpus.base_url)
    assert any(t.lower().startswith("putin") for t in p["matched_terms"])
    assert "Putin" in p["snippet"] or "putin" in p["snippet"].lower()
    p = first
    # the webhook carried the same id as its idempotency key, signed
    rec = next(r for r in receiver.received if r.json()["id"] == p["id"])
    assert rec.headers["webhook-id"] == p["id"] and rec.headers["webhook-signature"].startswith(
        "v1,"
    )

    store = open_store(cfg)
    try:
        arts = list(store.db.query("SELECT title, text_source, site_name, author FROM articles"))
        assert len(arts) == len(demo_articles())
        ledger = next(a for a in arts if a["title"].startswith("Kremlin says"))
        assert ledger["text_source"] == "page" and ledger["author"] == "Elena Marsh"
        # the entry whose page is missing fell back to the feed's full text
        assert any(a["text_source"] == "feed-content" for a in arts)
        # webhook: all three; log channel: the article.matched only
        assert store.alert_counts() == {"delivered": len(payloads) + 1}
        (story,) = [s for s in store.stories() if s.id == story_id]
        assert story.articles == 3 and story.watches == ("putin-congratulates",)
    finally:
        store.close()

    # a second cycle: every feed answers 304, no page is fetched again, nothing alerts
    before = len(corpus.requests)
    report = run_cycle(cfg)
    assert {f.status for f in report.feeds} == {"not-modified"}
    again = corpus.requests[before:]
    assert len(again) == len(demo_feeds()) and {r.status for r in again} == {304}
    assert len(receiver.payloads()) == len(payloads)


def test_restart_neither_realerts_nor_skips(tmp_path, corpus, receiver):
    corpus.set_file(
        "/small.xml",
        small_rss(
            corpus.base_url,
            [
                ("a1", "Putin congratulates nobody", "Putin did not congratulate anyone today."),
            ],
        ),
    )
    cfg = load_config(
        basic_config(tmp_path, [corpus.base_url + "/small.xml"], webhook_url=receiver.url)
    )
    run_cycle(cfg)
    assert len(receiver.payloads()) == 1
    # "restart": a fresh pipeline and store on the same file; the feed changed meanwhile
    corpus.set_file(
        "/small.xml",
        small_rss(
            corpus.base_url,
            [
                (
                    "a2",
                    "Putin congratulated the winner",
                    "Putin congratulated the winner by phone.",
                ),
                ("a1", "Putin congratulates nobody", "Putin did not congratulate anyone today."),
            ],
        ),
    )
    cfg = load_config(tmp_path / "config.toml")
    run_cycle(cfg)
    titles = [p["article"]["title"] for p in receiver.payloads()]
    assert titles == ["Putin congratulates nobody", "Putin congratulated the winner"]
    run_cycle(load_config(tmp_path / "config.toml"))
    assert len(receiver.payloads()) == 2


def test_failures_stay_visible_and_others_go_on(tmp_path, corpus, receiver):
    corpus.set_file(
        "/malformed.xml", "<html><body>not a feed at all</body></html>", content_type="text/html"
    )
    corpus.add_route("/500.xml", lambda req: Response(status=500, body="boom"))
    corpus.add_route("/slow.xml", lambda req: Response(body="<rss/>", delay=4))
    corpus.add_route("/loop1.xml", lambda req: Response.redirect("/loop2.xml"))
    corpus.add_route("/loop2.xml", lambda req: Response.redirect("/loop1.xml"))
    corpus.add_route(
        "/huge.xml",
        lambda req: Response(body=repeat_bytes(20 * 2**20), content_type="application/rss+xml"),
    )
    corpus.set_file(
        "/good.xml",
        small_rss(
            corpus.base_url,
            [
                ("g1", "Putin congratulated the team", "Putin congratulated the team."),
            ],
        ),
    )
    bad = ["/malformed.xml", "/500.xml", "/slow.xml", "/loop1.xml", "/huge.xml"]
    urls = [corpus.base_url + p for p in [*bad, "/good.xml"]]
    cfg = load_config(
        basic_config(tmp_path, urls, webhook_url=receiver.url, fetch_extra='max_bytes = "1MB"')
    )
    report = run_cycle(cfg)
    by_name = {f.name: f for f in report.feeds}
    assert by_name["feed5"].status == "ok" and len(receiver.payloads()) == 1
    expected = {
        "feed0": "RSS/Atom/JSON feed",
        "feed1": "HTTP 500",
        "feed2": "timed out",
        "feed3": "redirect loop",
        "feed4": "too large",
    }
    store = open_store(cfg)
    try:
        rows = {r.name: r for r in store.feed_status()}
    finally:
        store.close()
    for name, text in expected.items():
        assert by_name[name].status == "error"
        assert text in (rows[name].last_error or ""), (name, rows[name].last_error)
        assert rows[name].failures == 1 and rows[name].next_poll
    assert rows["feed5"].failures == 0 and rows["feed5"].last_error is None


def test_status_command_shows_errors(tmp_path, corpus):
    from click.testing import CliRunner

    from monitor.cli import cli

    corpus.add_route("/500.xml", lambda req: Response(status=500))
    path = basic_config(tmp_path, [corpus.base_url + "/500.xml"])
    run_cycle(load_config(path))
    result = CliRunner().invoke(cli, ["--config", str(path), "status", "--json"])
    assert result.exit_code == 0, result.output
    (feed,) = json.loads(result.output)["feeds"]
    assert feed["last_error"].startswith("HTTP 500") and feed["failures"] == 1
    result = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert "HTTP 500" in result.output and "feed0" in result.output


def test_private_address_refused_by_default(tmp_path, corpus):
    corpus.set_file("/small.xml", small_rss(corpus.base_url, [("x", "t", "d")]))
    path = basic_config(tmp_path, [corpus.base_url + "/small.xml"])
    text = path.read_text().replace(
        "allow_private_networks = true", "allow_private_networks = false"
    )
    path.write_text(text)
    report = run_cycle(load_config(path))
    (feed,) = report.feeds
    assert feed.status == "error" and "private, loopback or link-local" in feed.error
    assert not corpus.requests


def test_permanent_redirect_updates_url_and_gone_disables(tmp_path, corpus):
    corpus.set_file(
        "/new.xml",
        small_rss(corpus.base_url, [("x", "Putin congratulates", "Putin congratulates.")]),
    )
    corpus.add_route("/old.xml", lambda req: Response.redirect("/new.xml", 301))
    corpus.add_route("/gone.xml", lambda req: Response(status=410))
    cfg = load_config(
        basic_config(tmp_path, [corpus.base_url + "/old.xml", corpus.base_url + "/gone.xml"])
    )
    run_cycle(cfg)
    store = open_store(cfg)
    try:
        assert store.feed_state("feed0").url == corpus.base_url + "/new.xml"
        gone = store.feed_state("feed1")
        assert gone.disabled_reason and "410" in gone.disabled_reason
    finally:
        store.close()
    n = len(corpus.requests)
    report = run_cycle(load_config(tmp_path / "config.toml"))
    assert {f.name: f.status for f in report.feeds}["feed1"] == "disabled"
    paths = [r.path for r in corpus.requests[n:]]
    assert "/new.xml" in paths and "/old.xml" not in paths and "/gone.xml" not in paths


def test_watch_scope_by_feed_tag(tmp_path, corpus, receiver):
    corpus.set_file(
        "/a.xml",
        small_rss(corpus.base_url, [("a", "Putin congratulated A", "Putin congratulated A.")]),
    )
    corpus.set_file(
        "/b.xml",
        small_rss(corpus.base_url, [("b", "Putin congratulated B", "Putin congratulated B.")]),
    )
    path = basic_config(
        tmp_path, [corpus.base_url + "/a.xml", corpus.base_url + "/b.xml"], webhook_url=receiver.url
    )
    text = path.read_text().replace(
        'url = "' + corpus.base_url + '/a.xml"',
        'url = "' + corpus.base_url + '/a.xml"\ntags = ["keep"]',
    )
    text = text.replace(
        'rule = "Putin AND congratulat*"', 'rule = "Putin AND congratulat*"\ntags = ["keep"]'
    )
    path.write_text(text)
    run_cycle(load_config(path))
    assert [p["article"]["title"] for p in receiver.payloads()] == ["Putin congratulated A"]
