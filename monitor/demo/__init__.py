"""The bundled demo corpus: a few news sites' feeds and pages, served on loopback.

``monitor demo`` starts a :class:`CorpusServer` over this corpus, writes the config that
:func:`demo_config_toml` renders, runs one cycle and prints the alerts. The corpus tells
one story in several reports (see ``corpus/manifest.json``):

* The Northern Ledger: the Kremlin says Putin has *no plans* to congratulate Trump, and
  the same article reports that Verstka says he *did*, unofficially, through acquaintances;
* Harbour Street Journal, a day later: both statements again, reworded ("Vyorstka");
* The Lakeshore Courier: a syndicated copy of the Ledger article (other boilerplate,
  tweaked headline), and a feed entry whose page is missing but whose feed item carries the
  full text, so the pipeline falls back to feed content;
* unrelated stories (football, interest rates, climate talks, a gadget, a mayoral race, gas
  transit) that the demo watches must not match.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from monitor.demo.manifest import corpus_root, demo_articles, demo_feeds

if TYPE_CHECKING:
    from monitor.demo.server import CorpusServer, RequestInfo, RequestLog, Response, repeat_bytes

__all__ = [
    "DEMO_WATCHES",
    "CorpusServer",
    "RequestInfo",
    "RequestLog",
    "Response",
    "corpus_root",
    "demo_articles",
    "demo_config_toml",
    "demo_feeds",
    "repeat_bytes",
]

# The watches of the demo config. Only name/rule/track_claims go into the TOML;
# "about" and "expected" (manifest article keys the rule must match) are for the CLI and tests.
DEMO_WATCHES: list[dict[str, Any]] = [
    {
        "name": "putin-congratulates",
        "rule": "Putin AND congratulat*",
        "track_claims": True,
        "about": "Did Putin congratulate Trump? The Kremlin says no plans; Verstka says he did.",
        "expected": ["ledger-kremlin", "harbour-moscow-signals", "courier-kremlin-copy"],
    },
    {
        "name": "rate-decisions",
        "rule": '"central bank" AND rate*',
        "track_claims": False,
        "about": "Central-bank interest-rate decisions.",
        "expected": ["ledger-rates"],
    },
]


_SERVER_NAMES = {"CorpusServer", "RequestInfo", "RequestLog", "Response", "repeat_bytes"}


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m monitor.demo.server` does not import server.py twice.
    if name in _SERVER_NAMES:
        from monitor.demo import server

        return getattr(server, name)
    raise AttributeError(f"module 'monitor.demo' has no attribute {name!r}")


def _q(value: str) -> str:
    """A TOML basic string (JSON string escapes are a subset TOML accepts)."""
    return json.dumps(value, ensure_ascii=False)


def _q_list(values: list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def demo_config_toml(base_url: str, db_path: str) -> str:
    """A complete config for the demo: the corpus feeds at ``base_url``, the demo watches,
    console alerts, and the database at ``db_path``."""
    base = base_url.rstrip("/")
    out = [
        "# Demo configuration written by `monitor demo`.",
        "# Feeds point at a loopback server that serves the bundled demo corpus.",
        "",
        "[storage]",
        f"path = {_q(str(db_path))}",
        "",
        "[fetch]",
        "allow_private_networks = true  # the demo server is on 127.0.0.1",
        'timeout = "10s"',
        "# The demo's reports are the news: alert on them at the first poll. A real config",
        "# keeps the default (baseline = true): a feed's first poll stores its backlog silently.",
        "baseline = false",
    ]
    for feed in demo_feeds():
        out += [
            "",
            "[[feeds]]",
            f"name = {_q(feed['name'])}",
            f"url = {_q(base + feed['path'])}",
            f"interval = {_q(feed['interval'])}",
            f"tags = {_q_list(list(feed['tags']))}",
        ]
    for watch in DEMO_WATCHES:
        out += [
            "",
            "[[watches]]",
            f"name = {_q(watch['name'])}",
            f"rule = {_q(watch['rule'])}",
            'alerts = ["console"]',
            f"track_claims = {'true' if watch['track_claims'] else 'false'}",
        ]
    out += ["", "[alerts.console]", 'type = "log"', ""]
    return "\n".join(out)
