"""The bundled demo corpus and its loopback server (monitor.demo)."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import lxml.html
import pytest
import trafilatura

from monitor.demo import (
    DEMO_WATCHES,
    CorpusServer,
    RequestInfo,
    Response,
    corpus_root,
    demo_articles,
    demo_config_toml,
    demo_feeds,
    repeat_bytes,
)

ARTICLES = {a["key"]: a for a in demo_articles()}
FEEDS = {f["path"]: f for f in demo_feeds()}
SERVED = [a for a in ARTICLES.values() if a["served"]]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def corpus() -> Iterator[CorpusServer]:
    """The bundled corpus, unchanged (tests that change files or routes use `server`)."""
    with CorpusServer() as srv:
        yield srv


@pytest.fixture()
def server() -> Iterator[CorpusServer]:
    with CorpusServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture(scope="module")
def extracted(corpus: CorpusServer, client: httpx.Client) -> dict[str, dict]:
    """trafilatura's result for every served page, keyed by article key."""
    out = {}
    for a in SERVED:
        url = corpus.url(a["path"])
        html = client.get(url).text
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
        assert doc is not None, a["path"]
        out[a["key"]] = {"html": html, **doc.as_dict()}
    return out


@pytest.fixture(scope="module")
def parsed_feeds(
    corpus: CorpusServer, client: httpx.Client
) -> dict[str, feedparser.FeedParserDict]:
    return {p: feedparser.parse(client.get(corpus.url(p)).content) for p in FEEDS}


# --------------------------------------------------------------------------- the corpus


def test_manifest_matches_files() -> None:
    root = corpus_root()
    assert len(FEEDS) >= 4
    assert {f["format"] for f in FEEDS.values()} == {"rss", "atom"}
    for path in FEEDS:
        assert (root / path.lstrip("/")).is_file(), path
    roles = [a["role"] for a in ARTICLES.values()]
    for role in ("scenario-first", "scenario-second", "syndicated-copy", "feed-content-fallback"):
        assert roles.count(role) == 1, role
    assert roles.count("unrelated") >= 5
    for a in ARTICLES.values():
        assert a["feed"] in FEEDS
        assert (root / a["path"].lstrip("/")).is_file() == a["served"], a["path"]
    # The stored files keep the placeholder, never a concrete address.
    for f in root.rglob("*"):
        if f.is_file():
            assert "127.0.0.1" not in f.read_text(encoding="utf-8"), f


def test_every_feed_parses_with_its_entries(
    corpus: CorpusServer, parsed_feeds: dict[str, feedparser.FeedParserDict]
) -> None:
    for path, meta in FEEDS.items():
        d = parsed_feeds[path]
        assert not d.bozo, (path, d.get("bozo_exception"))
        assert d.version == {"rss": "rss20", "atom": "atom10"}[meta["format"]], path
        expected = {corpus.url(a["path"]) for a in ARTICLES.values() if a["feed"] == path}
        assert {e.link for e in d.entries} == expected, path
        assert d.feed.title
        for e in d.entries:
            assert e.id and e.title and e.author and e.published_parsed and e.summary, e.link
            assert "{base}" not in e.link
            art = next(a for a in ARTICLES.values() if corpus.url(a["path"]) == e.link)
            assert e.title == art["title"]
            assert e.author == art["author"]
            assert time.strftime("%Y-%m-%dT%H:%M", e.published_parsed) == art["published"][:16]


def test_rss_and_atom_carry_their_usual_elements(
    parsed_feeds: dict[str, feedparser.FeedParserDict],
) -> None:
    rss = parsed_feeds["/ledger/world.xml"]
    assert rss.feed.get("ttl") == "30"
    for e in rss.entries:
        assert e.guidislink is False and e.id.startswith("ledger-")
        assert "published" in e and "author_detail" in e  # pubDate, dc:creator
    atom = parsed_feeds["/harbour/atom.xml"]
    for e in atom.entries:
        assert e.id.startswith("tag:") and e.updated_parsed
        assert [lk.rel for lk in e.links] == ["alternate"]
        assert e.summary_detail.type == "text/plain"


def test_fallback_entry_has_full_text_in_feed_and_its_page_404s(
    corpus: CorpusServer, client: httpx.Client, parsed_feeds: dict[str, feedparser.FeedParserDict]
) -> None:
    fallback = next(a for a in ARTICLES.values() if a["role"] == "feed-content-fallback")
    entry = next(
        e for e in parsed_feeds[fallback["feed"]].entries if e.link == corpus.url(fallback["path"])
    )
    text = squash(lxml.html.fromstring(entry.content[0].value).text_content())
    assert 250 <= len(text.split()) <= 600
    assert len(text) > 3 * len(entry.summary)
    assert client.get(entry.link).status_code == 404
    # The other entries of that feed carry no full content: only the fallback needs it.
    others = [e for e in parsed_feeds[fallback["feed"]].entries if e.link != entry.link]
    assert others and all("content" not in e for e in others)


def test_every_linked_page_is_served(
    corpus: CorpusServer, client: httpx.Client, parsed_feeds: dict[str, feedparser.FeedParserDict]
) -> None:
    links = [e.link for d in parsed_feeds.values() for e in d.entries]
    assert len(links) == len(ARTICLES)
    for a in ARTICLES.values():
        r = client.get(corpus.url(a["path"]))
        if not a["served"]:
            assert r.status_code == 404
            continue
        assert r.status_code == 200, a["path"]
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        doc = lxml.html.fromstring(r.content)
        assert doc.xpath("//link[@rel='canonical']/@href") == [corpus.url(a["path"])]
        assert doc.xpath("//meta[@property='article:published_time']/@content") == [a["published"]]
        assert "{base}" not in r.text


# --------------------------------------------------------------------------- extraction


def _boilerplate(html: str) -> list[str]:
    """Texts of the page outside the article: cookie banner, nav, related links, footer."""
    doc = lxml.html.fromstring(html)
    nodes = doc.xpath(
        "//*[contains(@id,'cookie') or contains(@class,'cookie') or @id='consent']"
        " | //nav | //footer | //aside | //section[contains(@class,'more-from')]"
        " | //*[contains(@class,'share-tools') or contains(@class,'top-bar')]"
    )
    texts = []
    for n in nodes:
        for piece in n.xpath(".//text()"):
            piece = squash(piece)
            if len(piece) >= 12:  # skip one-word menu items that may occur in any story
                texts.append(piece)
    return texts


def test_trafilatura_gets_metadata_and_main_text_not_boilerplate(
    extracted: dict[str, dict],
) -> None:
    for key, doc in extracted.items():
        art = ARTICLES[key]
        assert doc["title"] == art["title"], key
        assert doc["author"] == art["author"], key
        assert doc["date"] == art["published"][:10], key
        assert doc["sitename"] == art["site"], key
        text = squash(doc["text"])
        assert 250 <= len(text.split()) <= 600, (key, len(text.split()))
        page = lxml.html.fromstring(doc["html"])
        paragraphs = [squash(p.text_content()) for p in page.xpath("//article//p")]
        assert len(paragraphs) >= 6
        for p in paragraphs:
            assert p in text, (key, p[:60])
        assert text.startswith(paragraphs[0]), key  # no kicker/headline/byline in the text
        boilerplate = _boilerplate(doc["html"])
        assert len(boilerplate) >= 5, key
        for b in boilerplate:
            assert b not in text, (key, b)


def test_syndicated_copy_shares_the_text_but_not_the_page(extracted: dict[str, dict]) -> None:
    original, copy = extracted["ledger-kremlin"], extracted["courier-kremlin-copy"]
    assert original["title"] != copy["title"]
    assert original["sitename"] != copy["sitename"]
    assert squash(original["text"]) in squash(copy["text"])
    extra = squash(copy["text"]).replace(squash(original["text"]), "")
    assert "first published by The Northern Ledger" in extra
    assert set(_boilerplate(original["html"])).isdisjoint(_boilerplate(copy["html"]))


# --------------------------------------------------------------------------- the rule facts


def _article_texts(
    corpus: CorpusServer,
    extracted: dict[str, dict],
    parsed_feeds: dict[str, feedparser.FeedParserDict],
) -> dict[str, str]:
    texts = {k: d["title"] + "\n" + d["text"] for k, d in extracted.items()}
    for a in ARTICLES.values():
        if not a["served"]:
            e = next(e for e in parsed_feeds[a["feed"]].entries if e.link == corpus.url(a["path"]))
            body = lxml.html.fromstring(e.content[0].value).text_content()
            texts[a["key"]] = e.title + "\n" + body
    assert set(texts) == set(ARTICLES)
    return texts


PUTIN = re.compile(r"\bputin\b", re.I)
CONGRAT = re.compile(r"\bcongratulat\w*", re.I)


def test_watch_rule_facts_hold(
    corpus: CorpusServer,
    extracted: dict[str, dict],
    parsed_feeds: dict[str, feedparser.FeedParserDict],
) -> None:
    texts = _article_texts(corpus, extracted, parsed_feeds)
    both = {k for k, t in texts.items() if PUTIN.search(t) and CONGRAT.search(t)}
    assert both == {"ledger-kremlin", "harbour-moscow-signals", "courier-kremlin-copy"}
    assert both == set(DEMO_WATCHES[0]["expected"])
    unrelated = {
        k for k, a in ARTICLES.items() if a["role"] in ("unrelated", "feed-content-fallback")
    }
    assert any(PUTIN.search(texts[k]) and not CONGRAT.search(texts[k]) for k in unrelated)
    assert any(CONGRAT.search(texts[k]) and not PUTIN.search(texts[k]) for k in unrelated)
    rates = {
        k
        for k, t in texts.items()
        if re.search(r"\bcentral bank\b", t, re.I) and re.search(r"\brate\w*", t, re.I)
    }
    assert rates == set(DEMO_WATCHES[1]["expected"]) == {"ledger-rates"}


def test_scenario_statements_are_worded_as_briefed(
    corpus: CorpusServer,
    extracted: dict[str, dict],
    parsed_feeds: dict[str, feedparser.FeedParserDict],
) -> None:
    texts = {k: squash(t) for k, t in _article_texts(corpus, extracted, parsed_feeds).items()}
    first, second = texts["ledger-kremlin"], texts["harbour-moscow-signals"]
    assert (
        "Kremlin spokesman Dmitry Peskov told reporters that Putin had no plans to congratulate Trump"
        in first
    )
    assert "“I am not aware of any such plans,” Peskov said" in first
    assert (
        "The independent outlet Verstka, citing two sources, reported that Putin had "
        "congratulated Trump unofficially through acquaintances." in first
    )
    assert "Vyorstka" in second and "Verstka" not in second
    assert "extended his congratulations to Trump via acquaintances" in second
    assert "not aware of any such plans" in second
    # the second report paraphrases: no long sentence copied from the first
    for sentence in re.split(r"(?<=[.”])\s+", first):
        if len(sentence) > 60:
            assert sentence not in second
    pub = {k: ARTICLES[k]["published"] for k in ("ledger-kremlin", "harbour-moscow-signals")}
    assert (
        pub["ledger-kremlin"][:10] == "2024-11-06"
        and pub["harbour-moscow-signals"][:10] == "2024-11-07"
    )


# --------------------------------------------------------------------------- the server


def test_conditional_get_answers_304(server: CorpusServer, client: httpx.Client) -> None:
    url = server.feed_urls()[0]
    first = client.get(url)
    assert first.status_code == 200 and first.content
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong ETag

    again = client.get(url, headers={"If-None-Match": etag, "If-Modified-Since": last_modified})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    # If-None-Match wins over a matching If-Modified-Since (RFC 9110)
    stale = client.get(
        url, headers={"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    )
    assert stale.status_code == 200

    log = server.requests_for(url.removeprefix(server.base_url))
    assert [r.status for r in log] == [200, 304, 304, 304, 200]
    assert log[1].header("If-None-Match") == etag
    assert server.hits(url.removeprefix(server.base_url), "GET") == 5


def test_set_file_changes_feed_etag_and_last_modified(
    server: CorpusServer, client: httpx.Client
) -> None:
    path = "/ledger/world.xml"
    first = client.get(server.url(path))
    before = feedparser.parse(first.content)
    item = (
        "<item><title>Late entry</title><link>{base}/ledger/world/late.html</link>"
        "<guid isPermaLink='false'>ledger-late</guid>"
        "<pubDate>Tue, 12 Nov 2024 08:00:00 +0000</pubDate><description>New.</description></item>"
    )
    grown = server.get_file(path).decode().replace("<item>", item + "\n    <item>", 1)
    server.set_file(path, grown.replace(server.base_url, "{base}"))
    headers = {
        "If-None-Match": first.headers["etag"],
        "If-Modified-Since": first.headers["last-modified"],
    }
    changed = client.get(server.url(path), headers=headers)
    assert changed.status_code == 200
    assert changed.headers["etag"] != first.headers["etag"]
    assert changed.headers["content-type"] == "application/rss+xml; charset=utf-8"
    after = feedparser.parse(changed.content)
    assert len(after.entries) == len(before.entries) + 1
    assert after.entries[0].link == server.url("/ledger/world/late.html")
    lm_after = changed.headers["last-modified"]
    ims_only = client.get(
        server.url(path), headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    assert ims_only.status_code == 200 and lm_after != first.headers["last-modified"]

    server.set_file(
        "/new/page.html", "<p>hello {base}</p>", headers={"Cache-Control": "max-age=60"}
    )
    r = client.get(server.url("/new/page.html"))
    assert r.text == f"<p>hello {server.base_url}</p>"
    assert r.headers["cache-control"] == "max-age=60"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    server.remove_file("/new/page.html")
    assert client.get(server.url("/new/page.html")).status_code == 404


def test_head_404_and_405(server: CorpusServer, client: httpx.Client) -> None:
    url = server.feed_urls()[1]
    head = client.head(url)
    get = client.get(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["etag"] == get.headers["etag"]
    assert get.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert client.get(server.url("/no/such/page.html")).status_code == 404
    assert client.post(url, content=b"x").status_code == 405
    index = client.get(server.base_url + "/")
    assert index.status_code == 200 and server.feed_urls()[0] in index.text


def test_routes_inject_faults(server: CorpusServer) -> None:
    seen: list[RequestInfo] = []

    def flaky(info: RequestInfo) -> Response:
        seen.append(info)
        if info.count <= 2:
            return Response(status=500)
        return server.serve_file(dataclasses.replace(info, path="/harbour/atom.xml"))

    server.add_route("/flaky.xml", flaky)
    server.add_route("/loop", lambda i: Response.redirect(i.base_url + "/loop"))
    server.add_route("/moved.xml", lambda i: Response.redirect("/ledger/world.xml", 301))
    server.add_route("/busy.xml", lambda i: Response(status=429, headers={"Retry-After": "120"}))
    server.add_route("/gone.xml", lambda i: Response(status=410))
    server.add_route(
        "/huge.xml",
        lambda i: Response(body=repeat_bytes(5_000_000), content_type="application/rss+xml"),
    )
    server.add_route("/not-modified.xml", lambda i: Response(status=304, headers={"ETag": '"x"'}))
    server.add_route("/broken", lambda i: 1 / 0)
    server.add_route("/ledger/world.xml", lambda i: "overridden")  # a route wins over a file

    with httpx.Client(timeout=5, follow_redirects=True) as c:
        assert [c.get(server.url("/flaky.xml?x=1")).status_code for _ in range(3)] == [
            500,
            500,
            200,
        ]
        assert [i.count for i in seen] == [1, 2, 3] and seen[0].query == "x=1"
        with pytest.raises(httpx.TooManyRedirects):
            c.get(server.url("/loop"))
        moved = c.get(server.url("/moved.xml"))
        assert moved.status_code == 200 and moved.text == "overridden"
        assert moved.history[0].status_code == 301
        busy = c.get(server.url("/busy.xml"))
        assert busy.status_code == 429 and busy.headers["retry-after"] == "120"
        assert c.get(server.url("/gone.xml")).status_code == 410
        assert c.get(server.url("/not-modified.xml")).status_code == 304
        with c.stream("GET", server.url("/huge.xml")) as r:
            assert "content-length" not in r.headers
            assert sum(len(b) for b in r.iter_bytes()) == 5_000_000
        assert c.get(server.url("/broken")).status_code == 500
        assert isinstance(server.errors[0], ZeroDivisionError)
    server.remove_route("/ledger/world.xml")
    assert "overridden" not in httpx.get(server.url("/ledger/world.xml")).text
    assert server.hits("/loop") > 5


def test_slow_responses_time_out_and_do_not_block_stop() -> None:
    srv = CorpusServer().start()
    port = srv.port
    srv.add_route("/slow.xml", lambda i: Response(body=b"late", delay=30))
    srv.add_route(
        "/drip.xml",
        lambda i: Response(body=iter([b"a"] * 100), chunk_delay=0.2, content_length=100),
    )
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(srv.url("/slow.xml"), timeout=0.3)
    t = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(srv.url("/drip.xml"), timeout=0.1)
    assert time.monotonic() - t < 2
    # a handler is still sleeping in /slow.xml: stop() must not wait for it
    t = time.monotonic()
    srv.stop()
    assert time.monotonic() - t < 1.0
    assert not srv.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/ledger/world.xml")


def test_start_is_fast_quiet_and_restartable(capfd: pytest.CaptureFixture[str]) -> None:
    CorpusServer().start().stop()  # warm imports
    timings = []
    for _ in range(3):
        t = time.perf_counter()
        srv = CorpusServer().start()
        timings.append(time.perf_counter() - t)
        port = srv.port
        with httpx.Client() as c:  # a kept-alive connection must not survive stop()
            assert c.get(srv.url("/missing")).status_code == 404
            srv.add_route("/boom", lambda i: 1 / 0)
            assert c.get(srv.url("/boom")).status_code == 500
            srv.stop()
            with pytest.raises(httpx.TransportError):
                c.get(f"http://127.0.0.1:{port}/ledger/world.xml")
    assert min(timings) < 0.1, timings
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_custom_root_discovers_feeds_without_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "feed.xml").write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        "<id>x</id><updated>2024-01-01T00:00:00Z</updated><entry><id>1</id><title>E</title>"
        '<updated>2024-01-01T00:00:00Z</updated><link href="{base}/a/e.html"/></entry></feed>',
        encoding="utf-8",
    )
    (tmp_path / "a" / "other.xml").write_text("<opml/>", encoding="utf-8")
    with CorpusServer(tmp_path) as srv:
        assert srv.feed_urls() == [srv.url("/a/feed.xml")]
        d = feedparser.parse(httpx.get(srv.feed_urls()[0]).content)
        assert d.entries[0].link == srv.url("/a/e.html")
    with pytest.raises(FileNotFoundError):
        CorpusServer(tmp_path / "missing")


def test_demo_config_toml_renders_a_complete_config() -> None:
    base = "http://127.0.0.1:8765"
    db = 'C:\\demo dir\\mon "x".db'
    cfg = tomllib.loads(demo_config_toml(base + "/", db))
    assert cfg["storage"]["path"] == db
    assert cfg["fetch"] == {"allow_private_networks": True, "timeout": "10s", "baseline": False}
    assert [f["url"] for f in cfg["feeds"]] == [base + p for p in FEEDS]
    assert {f["name"] for f in cfg["feeds"]} == {f["name"] for f in FEEDS.values()}
    assert all(f["interval"] and f["tags"] for f in cfg["feeds"])
    watch = cfg["watches"][0]
    assert watch == {
        "name": "putin-congratulates",
        "rule": "Putin AND congratulat*",
        "alerts": ["console"],
        "track_claims": True,
    }
    assert {w["name"] for w in cfg["watches"]} == {w["name"] for w in DEMO_WATCHES}
    assert cfg["alerts"] == {"console": {"type": "log"}}


def test_python_m_entry_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.demo.server"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Serving the demo corpus at http://127.0.0.1:"), first
        assert proc.stdout.readline().strip() == "Feeds:"
        urls = [proc.stdout.readline().strip() for _ in FEEDS]
        assert all(u.startswith("http://127.0.0.1:") for u in urls)
        assert feedparser.parse(httpx.get(urls[0], timeout=5).content).entries
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "Traceback" not in err and err == ""


def test_python_m_entry_reports_a_busy_port_without_traceback(corpus: CorpusServer) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "monitor.demo.server", "--port", str(corpus.port)],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert r.returncode == 2
    assert "cannot listen on 127.0.0.1" in r.stderr and "Traceback" not in r.stderr
