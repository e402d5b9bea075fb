"""The daemon as users run it: a real `monitor run` process against loopback servers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import basic_config
from tests.integration.helpers import small_rss, start_daemon, wait_for


@pytest.mark.slow
def test_daemon_polls_reloads_rejects_bad_edits_and_stops_cleanly(tmp_path, corpus, receiver):
    corpus.set_file(
        "/one.xml",
        small_rss(
            corpus.base_url,
            [
                ("a1", "Putin congratulated the champions", "Putin congratulated the champions."),
            ],
        ),
    )
    corpus.set_file(
        "/two.xml",
        small_rss(
            corpus.base_url,
            [
                ("b1", "Putin congratulates the new mayor", "Putin congratulates the mayor."),
            ],
        ),
    )
    config = basic_config(tmp_path, [corpus.base_url + "/one.xml"], webhook_url=receiver.url)
    config.write_text(config.read_text().replace('interval = "1h"', 'interval = "1s"'))
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: len(receiver.payloads()) == 1, what="the first alert")

        # an invalid edit is rejected, named in the log, and the old config keeps working
        good_text = config.read_text()
        config.write_text(
            good_text.replace('rule = "Putin AND congratulat*"', 'rule = "Putin AND (congratulat*"')
        )
        wait_for(lambda: "config change rejected" in log.read_text(), what="the rejection")
        assert "watches[0].rule" in log.read_text()
        corpus.set_file(
            "/one.xml",
            small_rss(
                corpus.base_url,
                [
                    (
                        "a2",
                        "Putin congratulated the scientists",
                        "Putin congratulated the scientists.",
                    ),
                    (
                        "a1",
                        "Putin congratulated the champions",
                        "Putin congratulated the champions.",
                    ),
                ],
            ),
        )
        wait_for(lambda: len(receiver.payloads()) == 2, what="an alert under the old config")
        assert proc.poll() is None

        # a valid edit adding a feed takes effect without a restart
        config.write_text(
            good_text.replace(
                "[[watches]]",
                f'[[feeds]]\nname = "second"\nurl = "{corpus.base_url}/two.xml"\n\n[[watches]]',
                1,
            )
        )
        wait_for(lambda: len(receiver.payloads()) == 3, what="the new feed's alert")
        assert "config reloaded" in log.read_text()
        titles = [p["article"]["title"] for p in receiver.payloads()]
        assert titles[-1] == "Putin congratulates the new mayor"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    text = log.read_text()
    assert code == 0, text
    assert "stopped" in text and "Traceback" not in text
    # every alert exactly once
    ids = [p["id"] for p in receiver.payloads()]
    assert len(ids) == len(set(ids)) == 3


@pytest.mark.slow
def test_daemon_keeps_running_with_unreachable_feeds(tmp_path):
    # nothing listens on port 9: every poll fails, the daemon stays up and says why
    config = basic_config(tmp_path, ["http://127.0.0.1:9/feed.xml"])
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: "cannot connect" in log.read_text(), what="the feed error in the log")
        time.sleep(1)
        assert proc.poll() is None
        out = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "status", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert '"failures": 1' in out.stdout and "cannot connect" in out.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == 0
