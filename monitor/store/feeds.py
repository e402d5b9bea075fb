"""Feeds: their polling state, and the entries each one listed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.models import FeedState
from monitor.store.db import Database
from monitor.store.rows import FeedEntryRow, FeedStatusRow, PageErrorsRow, from_iso, iso, utcnow
from monitor.store.schema import SET_META

# page errors live in the meta table, one key per feed (no schema change for a counter)
PAGE_ERRORS_PREFIX = "page_errors:"


class FeedsRepo(Database):
    def sync_feed(self, name: str, config_url: str) -> FeedState:
        """Make sure a configured feed has a row; a changed config URL resets its state."""
        rows = list(
            self.db.query(
                "SELECT * FROM feeds WHERE name = ? AND config_url = ?", [name, config_url]
            )
        )
        if rows:
            return _feed_state(rows[0])  # known, unchanged: nothing to write
        self.sync_feeds([(name, config_url)])
        state = self.feed_state(name)
        assert state is not None
        return state

    def sync_feeds(self, feeds: Iterable[tuple[str, str]]) -> None:
        """:meth:`sync_feed` for many (name, config URL) pairs, in one transaction (a
        reload of thousands of feeds must not hold the event loop for a second)."""
        feeds = list(feeds)
        known: dict[str, str] = {}
        names = [name for name, _ in feeds]
        for i in range(0, len(names), 500):
            chunk = names[i : i + 500]
            marks = ",".join("?" * len(chunk))
            q = f"SELECT name, config_url FROM feeds WHERE name IN ({marks})"
            known.update(self.db.execute(q, chunk).fetchall())
        if all(known.get(name) == config_url for name, config_url in feeds):
            return  # nothing new, nothing changed: no transaction
        now = iso(utcnow())
        with self.db.atomic():
            for name, config_url in feeds:
                old = known.get(name)
                if old is None:
                    self.db.execute(
                        "INSERT INTO feeds (name, config_url, url, failures, created_at)"
                        " VALUES (?, ?, ?, 0, ?) ON CONFLICT (name) DO NOTHING",  # (a race)
                        [name, config_url, config_url, now],
                    )
                    known[name] = config_url
                elif old != config_url:
                    self._reset_feed(name, config_url)
                    known[name] = config_url

    def _reset_feed(self, name: str, config_url: str) -> None:
        """A feed whose config URL changed starts afresh (call inside a transaction)."""
        self.db.execute(
            "UPDATE feeds SET config_url = ?, url = ?, etag = NULL, last_modified = NULL,"
            " failures = 0, next_poll = NULL, disabled_reason = NULL, last_error = NULL"
            " WHERE name = ?",
            [config_url, config_url, name],
        )

    def synced_states(self, feeds: Iterable[tuple[str, str]]) -> dict[str, FeedState]:
        """The states of those (name, config URL) pairs whose row is there with that
        config URL, by name, in one query (a cycle reads them all at once; the others
        need :meth:`sync_feed`)."""
        wanted = dict(feeds)
        return {
            r["name"]: _feed_state(r)
            for r in self.db.query("SELECT * FROM feeds")
            if wanted.get(r["name"]) == r["config_url"]
        }

    def feed_state(self, name: str) -> FeedState | None:
        rows = list(self.db.query("SELECT * FROM feeds WHERE name = ?", [name]))
        return _feed_state(rows[0]) if rows else None

    def next_polls(self) -> dict[str, datetime | None]:
        """Every stored feed's next planned poll, by name (one query for a schedule)."""
        rows = self.db.execute("SELECT name, next_poll FROM feeds")
        return {name: from_iso(when) for name, when in rows}

    def update_feed(self, name: str, **fields: Any) -> None:
        self.update_feeds([(name, fields)])

    def update_feeds(self, updates: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """:meth:`update_feed` for many (name, fields) pairs, in one transaction (a cycle
        records the polls of its unchanged feeds in batches, not a commit each)."""
        with self.db.atomic():
            for name, fields in updates:
                values = {k: iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
                sets = ", ".join(f"{k} = ?" for k in values)
                self.db.execute(f"UPDATE feeds SET {sets} WHERE name = ?", [*values.values(), name])

    def feed_status(self) -> list[FeedStatusRow]:
        """Per-feed health for `monitor status`."""
        return [
            FeedStatusRow(**r)
            for r in self.db.query(
                """
                SELECT f.name, f.url, f.config_url, f.title, f.last_poll, f.last_status,
                       f.last_error, f.failures, f.next_poll, f.disabled_reason,
                       (SELECT COUNT(DISTINCT article_id) FROM feed_entries e
                         WHERE e.feed_id = f.id AND e.article_id IS NOT NULL) AS articles
                FROM feeds f ORDER BY f.name
                """
            )
        ]

    def feed_entries(self, name: str, limit: int = 50) -> list[FeedEntryRow]:
        """A feed's latest entries (first seen, newest first) with their stored articles."""
        rows = self.db.query(
            "SELECT e.guid, e.first_seen, e.article_id, a.title, a.url, a.published,"
            " a.story_id FROM feed_entries e JOIN feeds f ON f.id = e.feed_id"
            " LEFT JOIN articles a ON a.id = e.article_id WHERE f.name = ?"
            " ORDER BY e.first_seen DESC, e.rowid DESC LIMIT ?",
            [name, limit],
        )
        return [FeedEntryRow.from_row(r) for r in rows]

    def record_page_errors(
        self, name: str, count: int, last_error: str | None, *, fallbacks: int = 0
    ) -> None:
        """Add ``count`` page errors (too large, redirect loop, timeout, ...) and
        ``fallbacks`` (entries stored with the feed's text instead of their page's) to a
        feed's counts; ``last_error`` None keeps the previous one."""
        key = PAGE_ERRORS_PREFIX + name
        with self.db.atomic():
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
            old = json.loads(row[0]) if row else {}
            value = {
                "count": count + old.get("count", 0),
                "last_error": last_error or old.get("last_error"),
                "last_at": iso(utcnow()),
                "fallbacks": fallbacks + old.get("fallbacks", 0),
            }
            self.db.execute(SET_META, [key, json.dumps(value)])

    def page_errors(self) -> dict[str, PageErrorsRow]:
        """Each feed's page errors, by feed name (feeds without any are absent)."""
        rows = self.db.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
            [len(PAGE_ERRORS_PREFIX), PAGE_ERRORS_PREFIX],
        )
        out = {}
        for key, value in rows:
            name = key[len(PAGE_ERRORS_PREFIX) :]
            out[name] = PageErrorsRow(feed=name, **json.loads(value))
        return out

    # -- entries ----------------------------------------------------------------------------
    def unseen_guids(self, feed_id: int, guids: Iterable[str]) -> set[str]:
        guids = list(dict.fromkeys(guids))
        seen: set[str] = set()
        for i in range(0, len(guids), 500):
            chunk = guids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT guid FROM feed_entries WHERE feed_id = ? AND guid IN ({marks})",
                    [feed_id, *chunk],
                )
            )
        return set(guids) - seen

    def feed_has_entries(self, feed_id: int) -> bool:
        """Whether anything the feed listed was stored (its first poll is behind it)."""
        return self._exists("SELECT 1 FROM feed_entries WHERE feed_id = ? LIMIT 1", [feed_id])

    def link_entry(self, feed_id: int, guid: str, article_id: int | None) -> None:
        """Record a feed entry as processed (call inside :meth:`transaction`)."""
        self.db.execute(
            "INSERT INTO feed_entries (feed_id, guid, article_id, first_seen) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (feed_id, guid) DO UPDATE SET article_id = excluded.article_id",
            [feed_id, guid, article_id, iso(utcnow())],
        )

    def article_in_feed(self, article_id: int, feed_id: int | None) -> bool:
        return self._exists(
            "SELECT 1 FROM feed_entries WHERE article_id = ? AND feed_id = ? LIMIT 1",
            [article_id, feed_id],
        )


def _feed_state(r: dict[str, Any]) -> FeedState:
    return FeedState(
        id=r["id"],
        url=r["url"],
        name=r["name"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        last_poll=from_iso(r["last_poll"]),
        last_status=r["last_status"],
        last_error=r["last_error"],
        failures=r["failures"],
        next_poll=from_iso(r["next_poll"]),
        disabled_reason=r["disabled_reason"],
    )
