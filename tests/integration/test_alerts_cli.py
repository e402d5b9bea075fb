"""`monitor alerts`, `alerts retry`, `alerts test`, `status` and `check-config` for channels."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config
from monitor.errors import ConfigError
from tests.conftest import basic_config, write_config
from tests.integration.test_alerts_crash import feed
from tests.servers import WebhookReceiver


def invoke(cfg_path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(cfg_path), *args], catch_exceptions=False)


def test_dead_letters_listed_retried_and_status_shows_the_channel(tmp_path, corpus, monkeypatch):
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "s3cret")
    answers = {"status": 422}  # a permanent refusal: each alert fails at its first attempt
    r = WebhookReceiver(responder=lambda rec: (answers["status"], {})).start()
    corpus.set_file("/f.xml", feed(corpus.base_url, 3))
    cfg_path = basic_config(
        tmp_path,
        [corpus.base_url + "/f.xml"],
        webhook_url=r.url,
        fetch_extra="fetch_pages = false",
    )
    try:
        assert invoke(cfg_path, "run", "--once").exit_code == 0
        failed = json.loads(invoke(cfg_path, "alerts", "--failed", "--json").output)
        assert len(failed) == 3 and {a["channel"] for a in failed} == {"hook"}
        assert all("HTTP 422" in a["last_error"] and a["attempts"] == 1 for a in failed)
        assert failed[0]["payload"]["type"] == "article.matched"
        listing = invoke(cfg_path, "alerts", "--failed").output
        assert failed[0]["id"] in listing and "Putin congratulated leader number 0" in listing

        status = invoke(cfg_path, "status")
        assert "channel hook: failing since" in status.output
        assert "HTTP 422" in status.output
        channels = json.loads(invoke(cfg_path, "status", "--json").output)["channels"]
        hook = next(c for c in channels if c["channel"] == "hook")
        assert hook["state"] == "failing" and hook["failed"] == 3

        bad = invoke(cfg_path, "alerts", "retry", "evt_nope")
        assert bad.exit_code != 0 and "no alert with id evt_nope" in bad.output
        assert "Traceback" not in bad.output

        answers["status"] = 204
        one = invoke(cfg_path, "alerts", "retry", failed[0]["id"])
        assert one.output.strip() == "1 alerts queued again"
        assert invoke(cfg_path, "run", "--once").exit_code == 0
        assert r.ids() == [failed[0]["id"]]
        out = invoke(cfg_path, "alerts", "retry", "--all-failed").output
        assert out.strip() == "2 alerts queued again"
        assert invoke(cfg_path, "run", "--once").exit_code == 0
        assert sorted(r.ids()) == sorted(a["id"] for a in failed)
        assert json.loads(invoke(cfg_path, "alerts", "--failed", "--json").output) == []
        assert "channel hook" not in invoke(cfg_path, "status").output  # healthy again
    finally:
        r.stop()


def test_alerts_test_command(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_WEBHOOK_SECRET", raising=False)
    answers = {"status": 200}
    r = WebhookReceiver(responder=lambda rec: (answers["status"], {})).start()
    try:
        cfg_path = basic_config(tmp_path, ["http://127.0.0.1:9/feed.xml"], webhook_url=r.url)
        res = invoke(cfg_path, "alerts", "test", "hook")
        assert res.exit_code == 0 and "delivered" in res.output
        (p,) = r.payloads()
        assert p["type"] == "article.matched" and "test alert" in p["article"]["title"]
        answers["status"] = 404
        res = invoke(cfg_path, "alerts", "test", "hook")
        assert res.exit_code == 1 and "failed (permanent): HTTP 404" in res.output
        res = invoke(cfg_path, "alerts", "test", "nope")
        assert res.exit_code != 0 and "no channel named 'nope'" in res.output
        # the secret's variable is not set: check-config says so
        res = invoke(cfg_path, "check-config")
        assert "alerts.hook.secret_env: environment variable TEST_WEBHOOK_SECRET is not set" in (
            res.output
        )
    finally:
        r.stop()


BASE = """
[[feeds]]
url = "https://one.example/rss"

[[watches]]
name = "w"
rule = "a"
alerts = ["c"]

[alerts.c]
"""


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ('type = "email"\nhost = "smtp.example"\nto = ["a@example.org"]', "needs 'from'"),
        (
            'type = "email"\nhost = "h"\nfrom = "a@b.example"\nto = ["not an address"]',
            "'not an address' is not an email address",
        ),
        (
            'type = "email"\nhost = "h"\nfrom = "a@b.example"\nto = ["x@y.example"]\nusername = "u"',
            "'username' needs 'password_env'",
        ),
        ('type = "webhook"\nurl = "https://x.example"\nhost = "h"', "'host' does not apply"),
        ('type = "slack"', "a slack channel needs 'url'"),
        ('type = "apprise"', "needs 'url_env'"),
        ('type = "log"\nmode = "digest"', "exactly one of 'every'"),
        ('type = "log"\nmode = "digest"\nevery = "1h"\nat = "08:00"', "exactly one of"),
        ('type = "log"\nevery = "1h"', 'need mode = "digest"'),
        ('type = "log"\nmode = "digest"\nat = "8am"', "invalid time '8am'"),
        (
            'type = "log"\nmode = "digest"\nat = "08:00"\ntimezone = "Mars/Olympus"',
            "unknown time zone 'Mars/Olympus'",
        ),
        ('type = "log"\nmax_per_hour = -1', "alerts.c.max_per_hour"),
        ('type = "ntfy"\nurl = "https://ntfy.sh/t"\npriority = 9', "alerts.c.priority"),
        ('type = "sms"', "'sms' is not allowed"),
    ],
)
def test_channel_config_errors(tmp_path, channel, expected):
    path = write_config(tmp_path / "c.toml", BASE + channel + "\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert expected in str(e.value)


def test_every_channel_type_loads(tmp_path):
    path = write_config(
        tmp_path / "c.toml",
        BASE.replace('alerts = ["c"]', 'alerts = ["c", "s", "d", "n", "a", "m"]')
        + """type = "webhook"
url_env = "HOOK_URL"
secret_env = "HOOK_SECRET"
headers = { "X-Team" = "news" }
max_per_hour = 30

[alerts.s]
type = "slack"
url_env = "SLACK_URL"
mode = "digest"
every = "30m"

[alerts.d]
type = "discord"
url = "https://discord.example/api/webhooks/1/x"

[alerts.n]
type = "ntfy"
url = "https://ntfy.example/news"
token_env = "NTFY_TOKEN"
priority = 3

[alerts.a]
type = "apprise"
url_env = "APPRISE_URL"

[alerts.m]
type = "email"
host = "smtp.example.org"
tls = "implicit"
username = "me"
password_env = "SMTP_PASSWORD"
from = "News <news@example.org>"
to = ["me@example.org"]
mode = "digest"
at = "08:00"
timezone = "Europe/Berlin"
""",
    )
    cfg = load_config(path)
    assert cfg.alerts["m"].smtp_port() == 465 and cfg.alerts["m"].from_ == "News <news@example.org>"
    assert cfg.alerts["s"].every == 1800 and cfg.alerts["c"].max_per_hour == 30
