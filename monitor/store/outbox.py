"""The alert outbox: queued alerts, their delivery attempts, and channel health."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.models import AlertEvent
from monitor.store.db import Database
from monitor.store.rows import (
    ChannelCountsRow,
    ChannelHealthRow,
    StoredAlert,
    from_iso,
    iso,
    utcnow,
)


class OutboxRepo(Database):
    def enqueue_alert(self, event: AlertEvent) -> bool:
        """Add an alert to the outbox (call inside the transaction of its cause)."""
        cur = self.db.execute(
            "INSERT INTO alerts (id, type, channel, watch, payload, status, attempts,"
            " next_attempt, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [
                event.id,
                event.type,
                event.channel,
                event.watch,
                json.dumps(event.payload, ensure_ascii=False, sort_keys=True),
                iso(event.created_at or utcnow()),
                iso(event.created_at or utcnow()),
            ],
        )
        return cur.rowcount > 0

    def due_channels(self, now: datetime | None = None) -> list[str]:
        """Channels that have at least one pending alert due at ``now``."""
        rows = self.db.execute(
            "SELECT DISTINCT channel FROM alerts WHERE status = 'pending' AND"
            " (next_attempt IS NULL OR next_attempt <= ?) ORDER BY channel",
            [iso(now or utcnow())],
        )
        return [r[0] for r in rows]

    def due_alerts(
        self, now: datetime | None = None, limit: int = 100, channel: str | None = None
    ) -> list[StoredAlert]:
        """Pending alerts whose next attempt has come, oldest first."""
        sql = (
            "SELECT * FROM alerts WHERE status = 'pending' AND (next_attempt IS NULL OR"
            " next_attempt <= ?)"
        )
        args: list[Any] = [iso(now or utcnow())]
        if channel is not None:
            sql += " AND channel = ?"
            args.append(channel)
        rows = self.db.query(sql + " ORDER BY created_at, rowid LIMIT ?", [*args, limit])
        return [StoredAlert.from_row(r) for r in rows]

    def alert(self, alert_id: str) -> StoredAlert | None:
        rows = list(self.db.query("SELECT * FROM alerts WHERE id = ?", [alert_id]))
        return StoredAlert.from_row(rows[0]) if rows else None

    def alerts(self, status: str | None = None, limit: int = 1000) -> list[StoredAlert]:
        sql, args = "SELECT * FROM alerts", []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        rows = self.db.query(sql + " ORDER BY created_at, rowid LIMIT ?", [*args, limit])
        return [StoredAlert.from_row(r) for r in rows]

    def record_delivery(
        self,
        alert_id: str,
        *,
        delivered: bool,
        error: str | None = None,
        next_attempt: datetime | None = None,
        failed: bool = False,
        now: datetime | None = None,
    ) -> None:
        """Record one attempt of one alert (delivered, to retry at ``next_attempt``, or failed)."""
        self.record_attempt(
            [alert_id],
            delivered=delivered,
            error=error,
            next_attempt=next_attempt,
            failed_ids=[alert_id] if failed else (),
            now=now,
        )

    def record_attempt(
        self,
        alert_ids: Iterable[str],
        *,
        delivered: bool,
        error: str | None = None,
        next_attempt: datetime | None = None,
        failed_ids: Iterable[str] = (),
        digest_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record one attempt that carried these alerts (one alert, or a digest), atomically.

        Delivered: every alert is acknowledged (with the digest's id when it was one).
        Not delivered: each counts an attempt; those in ``failed_ids`` become dead letters,
        the others wait until ``next_attempt``.
        """
        ids = list(alert_ids)
        failed = set(failed_ids)
        stamp = iso(now or utcnow())
        with self.db.atomic():
            for alert_id in ids:
                if delivered:
                    self.db.execute(
                        "UPDATE alerts SET status = 'delivered', attempts = attempts + 1,"
                        " delivered_at = ?, last_error = NULL, digest_id = ?,"
                        " first_attempt = COALESCE(first_attempt, ?) WHERE id = ?",
                        [stamp, digest_id, stamp, alert_id],
                    )
                else:
                    self.db.execute(
                        "UPDATE alerts SET status = ?, attempts = attempts + 1, last_error = ?,"
                        " next_attempt = ?, first_attempt = COALESCE(first_attempt, ?)"
                        " WHERE id = ?",
                        [
                            "failed" if alert_id in failed else "pending",
                            error,
                            iso(next_attempt),
                            stamp,
                            alert_id,
                        ],
                    )

    def sent_since(self, channel: str, since: datetime) -> list[datetime]:
        """When each message (an alert, or a digest of several) was delivered since ``since``."""
        rows = self.db.execute(
            "SELECT MIN(delivered_at) FROM alerts WHERE channel = ? AND status = 'delivered'"
            " AND delivered_at > ? GROUP BY COALESCE(digest_id, id) ORDER BY 1",
            [channel, iso(since)],
        )
        return [d for (v,) in rows if (d := from_iso(v)) is not None]

    def channel_backoff(self, channel: str, now: datetime) -> datetime | None:
        """Until when the channel is in backoff: the earliest retry of an alert that
        failed an attempt and waits (None when nothing of the channel is in backoff)."""
        row = self.db.execute(
            "SELECT MIN(next_attempt) FROM alerts WHERE channel = ? AND status = 'pending'"
            " AND attempts > 0 AND next_attempt > ?",
            [channel, iso(now)],
        ).fetchone()
        return from_iso(row[0]) if row else None

    def pending_by_channel(self) -> dict[str, tuple[int, datetime | None]]:
        """Per channel: how many alerts are pending, and the earliest next attempt."""
        rows = self.db.execute(
            "SELECT channel, COUNT(*), MIN(next_attempt) FROM alerts WHERE status = 'pending'"
            " GROUP BY channel ORDER BY channel"
        )
        return {ch: (n, from_iso(at)) for ch, n, at in rows}

    def alert_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall()
        return {status: n for status, n in rows}

    def set_channel_state(
        self, name: str, ok: bool, error: str | None = None, now: datetime | None = None
    ) -> str | None:
        """Record the outcome of an attempt on a channel; returns the state before it."""
        stamp = iso(now or utcnow())
        state = "ok" if ok else "failing"
        with self.db.atomic():
            row = self.db.execute(
                "SELECT state FROM alert_channels WHERE name = ?", [name]
            ).fetchone()
            before = row[0] if row else None
            if row is None:
                self.db.execute(
                    "INSERT INTO alert_channels (name, state, since, failures) VALUES (?, ?, ?, 0)",
                    [name, state, stamp],
                )
            elif before != state:
                self.db.execute(
                    "UPDATE alert_channels SET state = ?, since = ? WHERE name = ?",
                    [state, stamp, name],
                )
            if ok:
                self.db.execute(
                    "UPDATE alert_channels SET last_success = ?, failures = 0 WHERE name = ?",
                    [stamp, name],
                )
            else:
                self.db.execute(
                    "UPDATE alert_channels SET last_failure = ?, last_error = ?,"
                    " failures = failures + 1 WHERE name = ?",
                    [stamp, error, name],
                )
        return before

    def channel_health(self) -> list[ChannelHealthRow]:
        """Per channel: state (ok | failing, since when), last error, pending and failed counts.

        Lists every channel that has a recorded state or an undelivered alert.
        """
        counts = {
            r["channel"]: r
            for r in self.db.query(
                "SELECT channel, COUNT(CASE WHEN status = 'pending' THEN 1 END) AS pending,"
                " COUNT(CASE WHEN status = 'failed' THEN 1 END) AS failed,"
                " MAX(last_error) AS last_error"
                " FROM alerts WHERE status != 'delivered' GROUP BY channel"
            )
        }
        states = {r["name"]: r for r in self.db.query("SELECT * FROM alert_channels")}
        out = []
        for name in sorted(set(counts) | set(states)):
            c, st = counts.get(name, {}), states.get(name, {})
            out.append(
                ChannelHealthRow(
                    channel=name,
                    state=st.get("state", "unknown"),
                    since=st.get("since"),
                    failures=st.get("failures", 0),
                    pending=c.get("pending") or 0,
                    failed=c.get("failed") or 0,
                    last_error=st.get("last_error") or c.get("last_error"),
                    last_success=st.get("last_success"),
                )
            )
        return out

    def defer_alerts(self, alert_ids: Iterable[str], next_attempt: datetime) -> None:
        with self.db.atomic():
            for alert_id in alert_ids:
                self.db.execute(
                    "UPDATE alerts SET next_attempt = ? WHERE id = ? AND status = 'pending'",
                    [iso(next_attempt), alert_id],
                )

    def retry_alerts(self, ids: Iterable[str] | None = None) -> int:
        """Queue alerts again, due now: every failed one when ids is None, else these ids
        (failed, pending in backoff, or even delivered ones, which are then sent again)."""
        reset = (
            "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt = NULL,"
            " first_attempt = NULL, digest_id = NULL"
        )
        with self.db.atomic():
            if ids is None:
                return self.db.execute(reset + " WHERE status = 'failed'").rowcount
            return sum(self.db.execute(reset + " WHERE id = ?", [i]).rowcount for i in ids)

    # -- reading for people (web view) ------------------------------------------------------
    def latest_alerts(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        watch: str | None = None,
        limit: int = 100,
    ) -> list[StoredAlert]:
        """Alerts newest first, optionally of one status, channel and watch."""
        where, args = [], []
        for column, value in (("status", status), ("channel", channel), ("watch", watch)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.db.query(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", [*args, limit])
        return [StoredAlert.from_row(r) for r in rows]

    def channel_counts(self) -> list[ChannelCountsRow]:
        """Per channel: alerts delivered, pending and failed."""
        rows = self.db.execute(
            "SELECT channel, COUNT(CASE WHEN status = 'delivered' THEN 1 END),"
            " COUNT(CASE WHEN status = 'pending' THEN 1 END),"
            " COUNT(CASE WHEN status = 'failed' THEN 1 END)"
            " FROM alerts GROUP BY channel ORDER BY channel"
        )
        return [ChannelCountsRow(c, d or 0, p or 0, f or 0) for c, d, p, f in rows]

    def alert_watches(self) -> list[str]:
        """Every watch the outbox has alerts of."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT watch FROM alerts ORDER BY 1")]

    def acknowledge_alerts(self, ids: Iterable[str], now: datetime | None = None) -> int:
        """Mark alerts as seen by a person (a dead letter acknowledged leaves the overview's
        list of problems); returns how many were not acknowledged before."""
        stamp = iso(now or utcnow())
        with self.db.atomic():
            return sum(
                self.db.execute(
                    "UPDATE alerts SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL",
                    [stamp, i],
                ).rowcount
                for i in ids
            )
