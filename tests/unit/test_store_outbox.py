"""Store, alert outbox: queueing, attempts, digests, backoff, channel health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.models import AlertEvent
from monitor.store.rows import ChannelHealthRow, StoredAlert

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(n: int, channel: str = "hook") -> AlertEvent:
    return AlertEvent(
        id=f"evt_{n}",
        type="article.matched",
        channel=channel,
        watch="w",
        payload={"n": n, "title": "Zürich"},
        created_at=T0 + timedelta(seconds=n),
    )


def test_queue_is_idempotent_and_typed(store):
    with store.transaction():
        assert store.enqueue_alert(event(1))
        assert not store.enqueue_alert(event(1))  # the same id: queued once
        assert store.enqueue_alert(event(2, "mail"))
    got = store.alert("evt_1")
    assert isinstance(got, StoredAlert)
    assert (got.status, got.attempts, got.created_at, got.payload) == (
        "pending",
        0,
        T0 + timedelta(seconds=1),
        {"n": 1, "title": "Zürich"},
    )
    assert got.event() == event(1)
    assert store.alert("nope") is None
    assert store.due_channels(T0) == [] and store.due_channels(T0 + timedelta(minutes=1)) == [
        "hook",
        "mail",
    ]
    assert [a.id for a in store.due_alerts(T0 + timedelta(minutes=1), channel="mail")] == ["evt_2"]


def test_attempts_backoff_dead_letters_and_retry(store):
    with store.transaction():
        for n in (1, 2, 3):
            store.enqueue_alert(event(n))
    later = T0 + timedelta(minutes=1)
    retry_at = later + timedelta(minutes=5)
    store.record_attempt(
        ["evt_1", "evt_2"],
        delivered=False,
        error="HTTP 503",
        next_attempt=retry_at,
        failed_ids=["evt_2"],
        now=later,
    )
    one, two = store.alert("evt_1"), store.alert("evt_2")
    assert (one.status, one.attempts, one.next_attempt, one.first_attempt) == (
        "pending",
        1,
        retry_at,
        later,
    )
    assert two.status == "failed" and two.last_error == "HTTP 503"
    assert store.channel_backoff("hook", later) == retry_at
    assert [a.id for a in store.due_alerts(later)] == ["evt_3"]
    store.defer_alerts(["evt_3"], retry_at)
    assert store.due_alerts(later) == []
    # a digest carries two alerts in one message
    store.record_attempt(["evt_1", "evt_3"], delivered=True, digest_id="dig_1", now=retry_at)
    assert {a.digest_id for a in store.alerts("delivered")} == {"dig_1"}
    assert store.sent_since("hook", T0) == [retry_at]  # one message
    assert store.alert_counts() == {"delivered": 2, "failed": 1}
    assert store.retry_alerts() == 1 and store.alert("evt_2").status == "pending"
    assert store.retry_alerts(["evt_1"]) == 1 and store.alert("evt_1").digest_id is None


def test_channel_health(store):
    assert store.set_channel_state("hook", ok=False, error="HTTP 500", now=T0) is None
    assert store.set_channel_state("hook", ok=False, error="HTTP 502", now=T0) == "failing"
    with store.transaction():
        store.enqueue_alert(event(1, "mail"))
    hook, mail = store.channel_health()
    assert hook == ChannelHealthRow(
        channel="hook",
        state="failing",
        since=T0.isoformat(),
        failures=2,
        pending=0,
        failed=0,
        last_error="HTTP 502",
        last_success=None,
    )
    assert (mail.channel, mail.state, mail.pending) == ("mail", "unknown", 1)
    later = T0 + timedelta(hours=1)
    assert store.set_channel_state("hook", ok=True, now=later) == "failing"
    hook = store.channel_health()[0]
    assert (hook.state, hook.since, hook.failures, hook.last_success) == (
        "ok",
        later.isoformat(),
        0,
        later.isoformat(),
    )
