"""Where the bundled demo corpus lives and what its manifest lists.

Imported by both :mod:`monitor.demo` and :mod:`monitor.demo.server`, so the server does
not import the package that re-exports it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["corpus_root", "demo_articles", "demo_feeds"]


def corpus_root() -> Path:
    """The folder holding the bundled corpus (feeds, pages and manifest.json)."""
    return Path(__file__).resolve().parent / "corpus"


@cache
def _manifest() -> dict[str, Any]:
    return json.loads((corpus_root() / "manifest.json").read_text(encoding="utf-8"))


def demo_feeds() -> list[dict[str, Any]]:
    """The corpus feeds: path, name, format ("rss"/"atom"), site, tags, interval."""
    return [dict(f) for f in _manifest()["feeds"]]


def demo_articles() -> list[dict[str, Any]]:
    """The corpus articles: key, site, title, author, published, path, feed, role, served.

    ``role`` is one of "scenario-first", "scenario-second", "syndicated-copy",
    "feed-content-fallback" (its page 404s; the feed item has the full text) or "unrelated".
    """
    return [dict(a) for a in _manifest()["articles"]]
