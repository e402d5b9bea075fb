"""The JSON shapes of what the monitor stores, shared by the CLI's ``--json`` outputs and
the web view's read API (``/api/...``), and the JSON Schema files that describe them
(``schemas/``, draft 2020-12; docs/web.md lists them).

Stories and claims are shaped where they are read (``monitor.dedup.stories_overview`` /
``story_detail``, ``monitor.claims.track.claims_overview`` / ``claim_timeline``); alerts,
feeds and search results here. Within ``schema_version`` 1 fields may be added, never
removed, renamed or retyped.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.search import RuleHit, RuleSearch
    from monitor.store import Store, StoredAlert
    from monitor.store.rows import FeedEntryRow, FeedStatusRow, SearchHitRow

SCHEMA_VERSION = 1
BASE_URI = "https://news-monitor.example/schemas/resources/v1/"
RESOURCES = (
    "alert",
    "claim",
    "claim-timeline",
    "feed",
    "feed-entry",
    "rule-search",
    "search-hit",
    "story",
)


def unknown_watch(store: Store, config: Config | None, watch: str) -> str | None:
    """What is wrong with a ``watch`` filter (the CLI's ``--watch``, the web's ``?watch=``):
    None for a known watch (one of the config's, or one the database has matches or alerts
    of), else a message naming the known watches and the closest one."""
    known = set(store.matched_watches()) | set(store.alert_watches())
    if config is not None:
        known |= {w.name for w in config.watches}
    if watch in known:
        return None
    hint = difflib.get_close_matches(watch, sorted(known), n=1)
    also = f"; did you mean '{hint[0]}'?" if hint else ""
    return f"no watch named '{watch}' (watches: {', '.join(sorted(known)) or 'none yet'}){also}"


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def alert_json(a: StoredAlert) -> dict[str, Any]:
    """An alert of the outbox (``monitor alerts --json``, ``/api/alerts``)."""
    return {
        "id": a.id,
        "type": a.type,
        "channel": a.channel,
        "watch": a.watch,
        "status": a.status,
        "attempts": a.attempts,
        "last_error": a.last_error,
        "created_at": a.created_at.isoformat(),
        "next_attempt": _time(a.next_attempt),
        "delivered_at": _time(a.delivered_at),
        "digest_id": a.digest_id,
        "acknowledged_at": _time(a.acknowledged_at),
        "payload": a.payload,
    }


def feed_json(f: FeedStatusRow, **extra: Any) -> dict[str, Any]:
    """A feed's health (an item of ``monitor status --json``'s ``feeds``, ``/api/feeds``)."""
    return {**dataclasses.asdict(f), "state": f.health, **extra}


def feed_entry_json(e: FeedEntryRow) -> dict[str, Any]:
    return dataclasses.asdict(e)


def search_hit_json(h: SearchHitRow) -> dict[str, Any]:
    """A full-text hit; the snippet's marks become ``[`` … ``]``-free plain text plus the
    list of found words (``highlights``)."""
    from monitor.store.articles import HIT_END, HIT_START

    d = dataclasses.asdict(h)
    d["highlights"] = list(
        dict.fromkeys(part.split(HIT_END)[0] for part in h.snippet.split(HIT_START)[1:])
    )
    d["snippet"] = h.snippet.replace(HIT_START, "").replace(HIT_END, "")
    return d


def rule_hit_json(hit: RuleHit) -> dict[str, Any]:
    a = hit.article
    return {
        "article": {
            "id": a.id,
            "title": a.title,
            "url": a.url,
            "site_name": a.site_name,
            "published": a.published,
            "fetched_at": a.fetched_at,
            "story_id": a.story_id,
        },
        "explanation": hit.explanation.to_dict(),
    }


def rule_search_json(result: RuleSearch) -> dict[str, Any]:
    """``monitor search RULE --json`` and ``/api/search/rule``."""
    return {
        "rule": result.rule,
        "scanned": result.scanned,
        "matches": [rule_hit_json(h) for h in result.hits],
    }


@cache
def load(name: str) -> dict[str, Any]:
    """A schema by file stem ('story', 'claim', ...)."""
    text = files(__name__).joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def validate(name: str, value: Any) -> None:
    """Raise ``jsonschema.ValidationError`` if ``value`` is not a ``name`` resource
    (needs the ``jsonschema`` package)."""
    import jsonschema
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (BASE_URI + f"{n}.json", Resource.from_contents(load(n))) for n in RESOURCES
    )
    jsonschema.Draft202012Validator(load(name), registry=registry).validate(value)
