"""Config validation: every error names the file, the key path and what is wrong."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import PostgresURL, check_reload, load_config, parse_duration, parse_size
from monitor.errors import ConfigError
from tests.conftest import ROOT, write_config

GOOD = """
[storage]
path = "data/m.db"

[fetch]
interval = "10m"
max_bytes = "2MB"

[[feeds]]
name = "one"
url = "https://one.example/rss"
interval = "90s"
tags = ["world"]

[[feeds]]
url = "https://two.example/atom.xml"

[[watches]]
name = "w"
rule = "Putin AND congratulat*"
alerts = ["hook"]
tags = ["world"]

[alerts.hook]
type = "webhook"
url = "https://hooks.example/x"
secret_env = "HOOK_SECRET"
"""


def test_good_config(tmp_path):
    cfg = load_config(write_config(tmp_path / "c.toml", GOOD))
    assert cfg.fetch.interval == 600 and cfg.fetch.max_bytes == 2_000_000
    assert cfg.feeds[0].interval == 90 and cfg.feed_interval(cfg.feeds[1]) == 600
    assert cfg.feeds[1].name == "two.example/atom.xml"
    assert cfg.database_path() == tmp_path / "data" / "m.db"
    assert "w" in cfg.rules


def test_feed_by_name_follows_the_feeds_of_each_config(tmp_path):
    cfg = load_config(write_config(tmp_path / "c.toml", GOOD))
    one, two = cfg.feeds[0], cfg.feeds[1]
    assert cfg.feed(one.name) is one and cfg.feed(two.name) is two
    assert cfg.feed("no such feed") is None
    # a copy with other feeds does not answer from the original's index
    fewer = cfg.model_copy(update={"feeds": [two]})
    assert fewer.feed(one.name) is None and fewer.feed(two.name) is two
    assert cfg.feed(one.name) is one


def test_a_reload_that_moves_the_store_is_refused_naming_the_file(tmp_path):
    path = write_config(tmp_path / "c.toml", GOOD)
    running = load_config(path)
    check_reload(running, load_config(path))  # the same store: accepted
    path.write_text(path.read_text().replace('path = "data/m.db"', 'path = "other.db"'))
    moved = load_config(path)
    assert moved.database() != running.database()
    with pytest.raises(ConfigError, match=r"c\.toml: \[storage\] path and url cannot change"):
        check_reload(running, moved)


@pytest.mark.parametrize(
    "text,seconds",
    [("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), (45, 45)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5x", "", "m", "1h 30", True, -1])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_sizes():
    assert parse_size("5MB") == 5_000_000 and parse_size("512KiB") == 524288
    with pytest.raises(ValueError):
        parse_size("lots")


@pytest.mark.parametrize(
    "edit,expected",
    [
        (
            ('interval = "90s"', 'interval = "5x"'),
            "c.toml: feeds[0].interval: invalid duration '5x'",
        ),
        (
            ('interval = "90s"', 'intervall = "90s"'),
            "c.toml: feeds[0].intervall: unknown key (did you mean 'interval'?)",
        ),
        (
            ('url = "https://one.example/rss"', 'url = "ftp://one.example/rss"'),
            "c.toml: feeds[0].url: 'ftp://one.example/rss' is not an http(s) URL",
        ),
        (
            ('alerts = ["hook"]', 'alerts = ["pager"]'),
            "c.toml: watches[0].alerts: no channel named 'pager' (channels: hook)",
        ),
        (
            ('tags = ["world"]\n\n[alerts', 'tags = ["sport"]\n\n[alerts'),
            "c.toml: watches[0].tags: no feed has the tag 'sport'",
        ),
        (
            ('type = "webhook"', 'type = "pager"'),
            "c.toml: alerts.hook.type: 'pager' is not allowed",
        ),
        (('url = "https://hooks.example/x"\n', ""), "alerts.hook: a webhook channel needs 'url'"),
        (
            ("[fetch]", "[fetch]\nconcurrency = 0"),
            "c.toml: fetch.concurrency: Input should be greater",
        ),
        (
            ('name = "w"', 'name = "w"\nlanguage = "xx"'),
            "watches[0].language: no stemmer for language 'xx'",
        ),
        (("[storage]", "[storage\n"), "c.toml: TOML syntax error"),
        (
            ('path = "data/m.db"', 'url = "mysql://u@db.example/news"'),
            "c.toml: storage.url: 'mysql://u@db.example/news' is not a PostgreSQL URL",
        ),
        (
            ('path = "data/m.db"', 'url = "postgresql://u:hunter2@db.example/news"'),
            "c.toml: storage.url: the URL must not hold the password",
        ),
        (
            ('path = "data/m.db"', 'url = "postgresql://u@db.example"'),
            "storage.url: 'postgresql://u@db.example' names no database",
        ),
        (
            ('path = "data/m.db"', 'url = "postgresql://u@db.example:54x/news"'),
            "storage.url: 'postgresql://u@db.example:54x/news': the port is not a number",
        ),
        (
            ('path = "data/m.db"', 'password_env = "PGPASS"'),
            "storage: 'password_env' is for a PostgreSQL 'url'",
        ),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path, edit, expected):
    old, new = edit
    assert old in GOOD
    path = write_config(tmp_path / "c.toml", GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert expected in str(e.value).replace(str(tmp_path) + "/", "")


def test_postgres_url_selects_the_postgres_store(tmp_path):
    text = GOOD.replace(
        'path = "data/m.db"',
        'url = "postgresql://news@db.example:5433/news?sslmode=require"\npassword_env = "PGPASS"',
    )
    cfg = load_config(write_config(tmp_path / "c.toml", text))
    target = cfg.database()
    assert target == PostgresURL("postgresql://news@db.example:5433/news?sslmode=require", "PGPASS")
    assert str(target) == target.url  # what messages show: no password in it
    # without a url, the SQLite file
    assert load_config(write_config(tmp_path / "d.toml", GOOD)).database() == (
        tmp_path / "data" / "m.db"
    )


def test_bad_rule_names_watch_and_column(tmp_path):
    path = write_config(
        tmp_path / "c.toml", GOOD.replace("Putin AND congratulat*", "Putin AND (congratulat*")
    )
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "watches[0].rule (watch 'w')" in msg
    assert "^" in msg


def test_several_problems_reported_at_once(tmp_path):
    text = GOOD.replace('interval = "90s"', 'interval = "5x"').replace(
        "[fetch]", "[fetch]\nconcurrency = 0"
    )
    with pytest.raises(ConfigError) as e:
        load_config(write_config(tmp_path / "c.toml", text))
    assert len(e.value.problems) == 2


def test_duplicate_feed_names(tmp_path):
    text = GOOD.replace(
        'url = "https://two.example/atom.xml"', 'name = "one"\nurl = "https://two.example/atom.xml"'
    )
    with pytest.raises(ConfigError, match=r"feeds\[1\].name: 'one' is already used by feeds\[0\]"):
        load_config(write_config(tmp_path / "c.toml", text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_errors_without_traceback(tmp_path):
    path = write_config(tmp_path / "c.toml", GOOD.replace('interval = "90s"', 'interval = "5x"'))
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert result.exit_code == 2
    assert "feeds[0].interval: invalid duration '5x'" in result.output
    assert "Traceback" not in result.output
    ok = write_config(tmp_path / "ok.toml", GOOD)
    result = CliRunner().invoke(cli, ["--config", str(ok), "check-config"])
    assert result.exit_code == 0 and "2 feeds" in result.output and "1 watches" in result.output
    assert "HOOK_SECRET is not set" in result.output


def test_example_config_is_valid():
    cfg = load_config(ROOT / "config.toml")
    assert len(cfg.feeds) >= 4 and all(f.url.startswith("https://") for f in cfg.feeds)
    assert cfg.fetch.allow_private_networks is False
    assert any(w.track_claims for w in cfg.watches)


def test_secret_comes_from_environment(tmp_path, monkeypatch):
    cfg = load_config(write_config(tmp_path / "c.toml", GOOD))
    assert cfg.alerts["hook"].secret() is None
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    assert cfg.alerts["hook"].secret() == "s3cret"
    assert "s3cret" not in Path(tmp_path / "c.toml").read_text()


def test_reading_commands_remember_a_postgres_database(tmp_path):
    """A broken config's reading commands fall back to the database its last good version
    named: a PostgreSQL one too, with its password variable."""
    from monitor.cli.base import last_good_database, remember_database

    text = GOOD.replace(
        'path = "data/m.db"', 'url = "postgresql://news@db.example/news"\npassword_env = "PGPASS"'
    )
    path = write_config(tmp_path / "c.toml", text)
    remember_database(load_config(path))
    path.write_text(text + "\n[broken", encoding="utf-8")
    assert last_good_database(path) == PostgresURL("postgresql://news@db.example/news", "PGPASS")
