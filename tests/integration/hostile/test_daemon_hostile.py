"""The hostile suite (issue 14): one real daemon, under /usr/bin/time, polling a loopback
server that serves what an attacker or bad luck would. It asserts no traceback, bounded
memory, every problem visible in `monitor status`, and nothing lost or sent twice.

Marked ``hostile`` (``pytest -m hostile`` runs it alone); the normal suite and CI run it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from monitor.demo.server import Response, repeat_bytes
from tests.conftest import basic_config
from tests.integration.helpers import monitor as monitor_cmd
from tests.integration.helpers import small_rss, wait_for
from tests.integration.test_hardening import PAGE, PEAK_RSS_BOUND_MB, children_of

pytestmark = pytest.mark.hostile

BIDI = "\u202e\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f"


def test_the_daemon_against_hostile_feeds(tmp_path, corpus, receiver):
    items = [
        ("h1", "Putin congratulated the giants " + "x" * 1_000_000, "Putin congratulated."),
        ("h2", f"Putin congratulated the {BIDI}riders", "Putin congratulated."),
        ("h3", "Putin congratulated the big page", "Putin congratulated."),
        ("h4", "Putin congratulated the loopers", "Putin congratulated."),
        ("h5", "Putin congratulated the drippers", "Putin congratulated."),
        ("h6", "Putin congratulated the [[fake]] markers", "Putin congratulated [[fake]]."),
    ]
    corpus.set_file("/hostile.xml", small_rss(corpus.base_url, items))
    corpus.set_file("/p/h1.html", PAGE.format(t="Putin congratulated"), content_type="text/html")
    corpus.set_file("/p/h2.html", PAGE.format(t="Putin congratulated"), content_type="text/html")
    corpus.add_route("/p/h3.html", lambda req: Response(body=repeat_bytes(6_000_000)))
    corpus.add_route("/p/h4.html", lambda req: Response.redirect("/p/h4.html"))
    corpus.add_route(
        "/p/h5.html", lambda req: Response(body=repeat_bytes(200_000, b"x" * 100), chunk_delay=1)
    )
    corpus.set_file("/p/h6.html", PAGE.format(t="Putin congratulated"), content_type="text/html")
    n = 700_000  # ~4.9 MB of nesting, under the 5 MB cap
    corpus.set_file("/deep.xml", "<rss><channel>" + "<x>" * n + "</x>" * n + "</channel></rss>")
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {c} "&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};">'
                  for p, c in zip("abcdefgh", "bcdefghi", strict=True))
        + ']><rss version="2.0"><channel><title>&i;</title></channel></rss>'
    )  # fmt: skip
    corpus.set_file("/bomb.xml", bomb)
    feeds = [corpus.base_url + p for p in ("/hostile.xml", "/deep.xml", "/bomb.xml")]
    config = basic_config(tmp_path, feeds, webhook_url=receiver.url)
    text = config.read_text().replace("workers = 0", "workers = 1")
    config.write_text(
        text.replace('alerts = ["console", "hook"]', 'alerts = ["hook"]\ndedup = "off"')
    )
    log = tmp_path / "daemon.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TEST_WEBHOOK_SECRET": "k"}
    proc = subprocess.Popen(
        ["/usr/bin/time", "-f", "maxrss_kb=%M", sys.executable, "-m", "monitor"]
        + ["--config", str(config), "run"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    try:
        wait_for(lambda: len(receiver.payloads()) >= 6, timeout=90, what="the six alerts")
        status = monitor_cmd("--config", str(config), "status", "--json")
        assert status.returncode == 0, status.stderr
    finally:
        (daemon,) = children_of(proc.pid)  # the daemon, under /usr/bin/time
        os.kill(daemon, signal.SIGTERM)
        code = proc.wait(timeout=60)
    out = log.read_text()
    assert code == 0 and "Traceback" not in out, out[-3000:]
    # bounded memory: the daemon process (its workers apart)
    peak_mb = int(out.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024
    assert peak_mb < PEAK_RSS_BOUND_MB, f"peak RSS {peak_mb:.0f} MB"
    # nothing lost, nothing twice
    payloads = receiver.payloads()
    ids = [p["id"] for p in payloads]
    assert len(ids) == len(set(ids)) == 6
    titles = [p["article"]["title"] for p in payloads]
    assert max(len(t) for t in titles) <= 1000
    # every problem visible in status
    feeds_status = {f["name"]: f for f in json.loads(status.stdout)["feeds"]}
    hostile, deep, bomb_feed = (feeds_status[f"feed{i}"] for i in range(3))
    assert hostile["articles"] == 6 and hostile["page_errors"] == 3
    assert "nested more than" in deep["last_error"] and deep["failures"] == 1
    assert "aaaaaaaaaa" * 10 not in json.dumps(feeds_status)  # the bomb did not expand
    assert bomb_feed["last_poll"]
