"""The CLI as a user meets it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config
from monitor.demo import demo_articles
from tests.conftest import ROOT, basic_config, write_config
from tests.integration.helpers import monitor, small_rss


def test_demo_shows_the_scenario_alerts(tmp_path):
    out = monitor("demo", "--keep", str(tmp_path / "demo"))
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    scenario = [a["title"] for a in demo_articles() if a["role"].startswith("scenario")]
    unrelated = [
        a["title"] for a in demo_articles() if a["role"] == "unrelated" and "rate" not in a["title"]
    ]
    for title in scenario:
        assert title in out.stdout
    for title in unrelated:
        assert title not in out.stdout
    assert (tmp_path / "demo" / "demo.db").exists()


def test_run_once_and_status(tmp_path, corpus):
    corpus.set_file(
        "/f.xml",
        small_rss(
            corpus.base_url,
            [
                ("x", "Putin congratulated the team", "Putin congratulated the team."),
            ],
        ),
    )
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"])
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 0, out.stderr
    assert (
        "1 matches" in out.stderr
        and "ALERT [putin-congratulates] Putin congratulated the team" in out.stderr
    )
    out = monitor("--config", str(path), "alerts", "--json")
    (alert,) = json.loads(out.stdout)
    assert (
        alert["status"] == "delivered"
        and alert["payload"]["article"]["title"] == "Putin congratulated the team"
    )


def test_run_once_exit_status_when_every_feed_fails(tmp_path):
    path = basic_config(tmp_path, ["http://127.0.0.1:9/x.xml"])
    out = monitor("--config", str(path), "run", "--once")
    assert out.returncode == 1 and "feed0: cannot connect" in out.stderr
    assert "Traceback" not in out.stderr


def test_import_opml_keeps_comments_and_skips_known(tmp_path):
    path = write_config(
        tmp_path / "config.toml",
        """
# my precious comment
[storage]
path = "m.db"  # trailing comment

[[feeds]]
name = "Known"
url = "https://known.example/rss"
""",
    )
    opml = tmp_path / "subs.opml"
    opml.write_text("""<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="World">
    <outline type="rss" text="Wire One" xmlUrl="https://one.example/feed.xml"/>
    <outline type="rss" text="Known" xmlUrl="https://known.example/rss"/>
  </outline>
  <outline type="rss" title="Loose" xmlUrl="https://loose.example/atom"/>
</body></opml>""")
    result = CliRunner().invoke(cli, ["--config", str(path), "import-opml", str(opml)])
    assert result.exit_code == 0, result.output
    assert "2 feeds added, 1 already present" in result.output
    text = path.read_text()
    assert "# my precious comment" in text and "# trailing comment" in text
    cfg = load_config(path)
    assert [(f.name, f.tags) for f in cfg.feeds] == [
        ("Known", []),
        ("Wire One", ["World"]),
        ("Loose", []),
    ]


def test_import_opml_bad_file(tmp_path):
    path = write_config(tmp_path / "config.toml", "")
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body><outline")
    result = CliRunner().invoke(cli, ["--config", str(path), "import-opml", str(bad)])
    assert result.exit_code == 2 and "bad.opml: not readable XML" in result.output
    assert path.read_text() == ""


def test_test_rule_exit_codes(tmp_path):
    r = CliRunner()
    ok = r.invoke(
        cli,
        [
            "test-rule",
            "Putin AND congratulat*",
            "--text",
            "Kremlin says Putin has no plans to congratulate Trump.",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "congratulate" in ok.output
    no = r.invoke(cli, ["test-rule", "Putin AND congratulat*", "--text", "A football match."])
    assert no.exit_code == 1
    bad = r.invoke(cli, ["test-rule", "Putin AND (", "--text", "x"])
    assert bad.exit_code == 2 and "^" in bad.output and "Traceback" not in bad.output
    js = r.invoke(cli, ["test-rule", "Putin", "--text", "Putin spoke.", "--json"])
    assert js.exit_code == 0 and json.loads(js.output)["matched"] is True


def test_test_rule_on_html_file(tmp_path):
    page = ROOT / "monitor" / "demo" / "corpus"
    html = next(page.rglob("kremlin-says-putin-has-no-plans-to-congratulate-trump.html"))
    r = CliRunner().invoke(cli, ["test-rule", "Verstka NEAR/15 acquaintances", "--file", str(html)])
    assert r.exit_code == 0, r.output


def test_health_without_daemon(tmp_path, corpus):
    corpus.set_file("/f.xml", small_rss(corpus.base_url, [("x", "t", "d")]))
    path = basic_config(tmp_path, [corpus.base_url + "/f.xml"])
    r = CliRunner().invoke(cli, ["--config", str(path), "health"])
    assert r.exit_code == 2 and "no database yet" in r.output
    monitor("--config", str(path), "run", "--once")
    r = CliRunner().invoke(cli, ["--config", str(path), "health"])
    assert r.exit_code == 1 and "no heartbeat" in r.output
