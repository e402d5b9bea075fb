"""`monitor status` and `monitor health`: what the daemon has been doing, read from the store.

`read_status` gathers the figures, `render_status` prints them; the commands only wire them up.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.base import CliState, pass_state, short_time
from monitor.store.db import HEARTBEAT_META, RELOAD_ERROR_META, STOPPED_META
from monitor.store.rows import ChannelHealthRow, FeedStatusRow, WorkerRow

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.config import Config, DatabaseTarget


@dataclass(frozen=True)
class FeedLine(FeedStatusRow):
    """A feed's stored health, and whether the config still has (and enables) it."""

    in_config: bool = False
    enabled: bool = False
    state: str = "ok"  # FeedStatusRow.health: ok, warning, error, disabled, new
    page_errors: int = 0  # article pages that could not be fetched (too large, timeout, ...)
    last_page_error: str | None = None
    fallbacks: int = 0  # entries stored with the feed's text although their page was asked for


@dataclass
class QueueStatus:
    """The distributed roles' feed queue: messages in Redis, and how late the due feeds
    are (lag: how long the most overdue feed has been due)."""

    queue: str
    waiting: int | None  # messages not yet taken (None: Redis did not answer)
    in_progress: int | None  # taken by a worker, not yet acknowledged
    due_feeds: int  # feeds due and not leased
    lag_seconds: float
    error: str | None = None


@dataclass
class StatusReport:
    """Everything `monitor status` shows."""

    feeds: list[FeedLine]
    alerts: dict[str, int]
    channels: list[ChannelHealthRow]
    claims_judge: dict[str, Any] | None
    heartbeat: str | None
    daemon_stopped: str | None = None
    config_error: str | None = None  # the daemon's last rejected config change
    workers: list[WorkerRow] = dataclasses.field(default_factory=list)  # distributed roles
    queue: QueueStatus | None = None  # the distributed feed queue, when roles ever ran

    def failing_only(self) -> StatusReport:
        """Only what needs a look: feeds in error, warning or disabled; troubled channels."""
        return dataclasses.replace(
            self,
            feeds=[f for f in self.feeds if f.failing],
            channels=[c for c in self.channels if c.state != "ok" or c.pending or c.failed],
        )


def read_status(db: DatabaseTarget, cfg: Config | None) -> StatusReport:
    """Per-feed health (marked with whether the config still has the feed), alert counts,
    channel health, the claims judge's state and the daemon's heartbeat.

    ``cfg`` None: the config does not load; every stored feed counts as configured."""
    from monitor.store import Store

    store = Store.open(db, readonly=True)
    try:
        feeds = store.feed_status()
        page_errors = store.page_errors()
        alerts = store.alert_counts()
        channels = store.channel_health()
        heartbeat = store.get_meta(HEARTBEAT_META)
        stopped = store.get_meta(STOPPED_META)
        config_error = store.get_meta(RELOAD_ERROR_META) or None
        workers = store.workers()
        due = store.due_feeds() if workers else {}
        judge_meta = None
        if cfg is None or cfg.claims.judge:  # (the judge's module is imported only then)
            from monitor.claims.judge import JUDGE_META

            judge_meta = store.get_meta(JUDGE_META)
    finally:
        store.close()
    configured = {f.name: f.enabled for f in cfg.feeds} if cfg else {f.name: True for f in feeds}
    lines = [
        FeedLine(
            **vars(f),  # (asdict copies deeply: seconds at 10,000 feeds)
            in_config=f.name in configured,
            enabled=configured.get(f.name, False),
            state=f.health,
            page_errors=page_errors[f.name].count if f.name in page_errors else 0,
            last_page_error=page_errors[f.name].last_error if f.name in page_errors else None,
            fallbacks=page_errors[f.name].fallbacks if f.name in page_errors else 0,
        )
        for f in feeds
    ]
    judge = json.loads(judge_meta) if judge_meta else None
    queue = _queue_status(cfg, due) if workers else None
    return StatusReport(
        lines, alerts, channels, judge, heartbeat, stopped, config_error, workers, queue
    )


def _queue_status(cfg: Config | None, due: dict[str, datetime | None]) -> QueueStatus:
    from monitor.config import DistributedConfig

    dist = cfg.distributed if cfg is not None else DistributedConfig()
    enabled = {f.name for f in cfg.feeds if f.enabled} if cfg is not None else set(due)
    now = datetime.now(UTC)
    waits = [(now - when).total_seconds() for n, when in due.items() if n in enabled and when]
    waiting = in_progress = None
    error = None
    try:
        from monitor.distributed import queue_depth

        waiting, in_progress = queue_depth(dist)
    except Exception as e:  # Redis away, or the [distributed] extra missing: say so
        error = f"{dist.redis_url}: {type(e).__name__}: {e}"
    return QueueStatus(
        dist.queue,
        waiting,
        in_progress,
        len([n for n in due if n in enabled]),
        max(waits, default=0.0),
        error,
    )


# the order feeds are listed in: what needs a look first
_STATE_ORDER = {"error": 0, "disabled": 1, "warning": 2, "new": 3, "ok": 4}


def render_status(report: StatusReport, console: Console, limit: int | None = None) -> None:
    """The feeds table (failing feeds first; at most ``limit`` rows, then a summary of the
    rest), then alert counts, troubled channels, the judge and the heartbeat."""
    from rich.table import Table

    feeds = sorted(report.feeds, key=lambda f: (_STATE_ORDER.get(f.state, 5), f.name))
    shown = feeds if limit is None else feeds[:limit]
    table = Table(title="feeds", show_lines=False)
    columns = (
        "feed",
        "state",
        "last poll",
        "http",
        "failures",
        "next poll",
        "articles",
        "page errors",
        "feed text",
        "error",
    )
    for col in columns:
        table.add_column(col)
    for f in shown:
        table.add_row(
            f.name + ("" if f.in_config else " (not in config)"),
            f.state,
            short_time(f.last_poll),
            str(f.last_status or "-"),
            str(f.failures),
            short_time(f.next_poll),
            str(f.articles),
            str(f.page_errors),
            str(f.fallbacks),
            f.disabled_reason
            or f.last_error
            or (f"last page error: {f.last_page_error}" if f.last_page_error else ""),
        )
    console.print(table)
    if len(shown) < len(feeds):
        states: dict[str, int] = {}
        for f in feeds:
            states[f.state] = states.get(f.state, 0) + 1
        counts = ", ".join(
            f"{n:,} {st}"
            for st, n in sorted(states.items(), key=lambda x: _STATE_ORDER.get(x[0], 5))
        )
        console.print(
            f"{len(feeds):,} feeds ({counts}); the first {len(shown):,} are shown, failing"
            " first (--all: every feed; --json: all of them, machine-readable)",
            markup=False,
            highlight=False,
        )
    alerts = report.alerts
    console.print(
        "alerts: " + ", ".join(f"{k} {v}" for k, v in alerts.items()) if alerts else "alerts: none"
    )
    for ch in report.channels:
        if ch.state == "ok" and not ch.pending and not ch.failed:
            continue
        state = ch.state + (f" since {short_time(ch.since)}" if ch.since else "")
        line = f"channel {ch.channel}: {state}, {ch.pending} pending, {ch.failed} failed"
        if ch.state != "ok" and ch.last_error:
            line += f", last error: {ch.last_error}"
        console.print(line, markup=False, highlight=False)
    judge = report.claims_judge
    if judge:
        line = f"claims judge {judge['model']}: {judge['state']} since {short_time(judge['since'])}"
        if judge["state"] != "ok" and judge["error"]:
            line += f", last error: {judge['error']} (the built-in verdicts stand)"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    _render_workers(report, console)
    if report.heartbeat:
        console.print(f"daemon heartbeat: {report.heartbeat} ({heartbeat_verdict(report)[1]})")
    if report.config_error:
        console.print(
            f"config change rejected at {report.config_error}", markup=False, highlight=False
        )


def _render_workers(report: StatusReport, console: Console) -> None:
    """The distributed roles (heartbeats from the store) and the feed queue."""
    from rich.table import Table

    from monitor.store import from_iso

    if report.workers:
        table = Table(title="workers")
        for col in ("process", "role", "state", "heartbeat", "tasks", "polling"):
            table.add_column(col)
        now = datetime.now(UTC)
        for w in report.workers:
            beat = from_iso(w.heartbeat)
            age = (now - beat).total_seconds() if beat else 0.0
            state = "stopped" if w.stopped_at else ("silent" if age > WORKER_SILENT else "up")
            table.add_row(w.name, w.role, state, f"{age:.0f}s ago", str(w.tasks), w.current or "")
        console.print(table)
    q = report.queue
    if q is not None:
        depth = (
            f"{q.waiting} waiting, {q.in_progress} taken"
            if q.waiting is not None
            else f"depth unknown ({q.error})"
        )
        console.print(
            f"queue {q.queue}: {depth}; {q.due_feeds} feeds due, lag {q.lag_seconds:.0f}s",
            markup=False,
            highlight=False,
        )


WORKER_SILENT = 60  # seconds without a heartbeat after which a process is shown as silent
STATUS_ROWS = 50  # feeds in the status table by default (10,000 rows take seconds to draw)
HEALTH_MAX_AGE = 180  # seconds a heartbeat stays fresh (the daemon beats every few seconds)


def heartbeat_verdict(report: StatusReport, max_age: float = HEALTH_MAX_AGE) -> tuple[bool, str]:
    """Whether the daemon is alive by its heartbeat, and the words for it."""
    from monitor.store import from_iso

    beat = from_iso(report.heartbeat)
    if beat is None:
        return False, "no heartbeat yet: the daemon has not run"
    stopped = from_iso(report.daemon_stopped)
    if stopped is not None and stopped >= beat:
        return False, f"the daemon stopped at {report.daemon_stopped}"
    age = (datetime.now(UTC) - beat).total_seconds()
    if age > max_age:
        return False, f"stale: last heartbeat {age:.0f}s ago (the daemon is stopped or stuck)"
    return True, f"last heartbeat {age:.0f}s ago"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--failing", is_flag=True, help="Only feeds in error or warning, and troubled channels."
)
@click.option(
    "--limit",
    default=STATUS_ROWS,
    show_default=True,
    help="Feeds listed in the table, failing ones first (the rest are summed up).",
)
@click.option("--all", "show_all", is_flag=True, help="List every feed in the table.")
@pass_state
def status(state: CliState, as_json: bool, failing: bool, limit: int, show_all: bool) -> None:
    """Per-feed health: state, last poll, HTTP status, error, failures, next poll, articles,
    page errors and entries stored with the feed's text; failing feeds first."""
    report = read_status(state.database(), state.config_or_none())
    if failing:
        report = report.failing_only()
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 160)
    render_status(report, console, limit=None if show_all else max(0, limit))


@click.command()
@click.option(
    "--max-age", default=HEALTH_MAX_AGE, show_default=True, help="Seconds a heartbeat stays fresh."
)
@click.option(
    "--overdue",
    default=3.0,
    show_default=True,
    help="Unhealthy when a feed's poll is overdue by more than this many of its intervals.",
)
@pass_state
@click.pass_context
def health(ctx: click.Context, state: CliState, max_age: int, overdue: float) -> None:
    """Exit 0 when the daemon's heartbeat is fresh and its feeds are polled on time (for
    Docker HEALTHCHECK), else 1. With a config that does not load only the heartbeat counts."""
    db = state.database()
    report = read_status(db, None)
    ok, words = heartbeat_verdict(report, max_age)
    if not ok:
        click.echo(f"unhealthy: {words}", err=True)
        ctx.exit(1)
    cfg = state.config_or_none()
    late = overdue_feeds(db, cfg, overdue) if cfg is not None else []
    if late:
        click.echo(
            f"unhealthy: {len(late)} feed(s) overdue by more than {overdue:g} intervals: "
            + ", ".join(late),
            err=True,
        )
        ctx.exit(1)
    click.echo(f"healthy: {words}")


def overdue_feeds(db: DatabaseTarget, cfg: Config, overdue: float) -> list[str]:
    """Enabled feeds whose poll is late by more than ``overdue`` of their intervals, each as
    ``name (due TIME)``."""
    from monitor.daemon import STARTED_META
    from monitor.store import Store, from_iso

    store = Store.open(db, readonly=True)
    try:
        started = from_iso(store.get_meta(STARTED_META))
        states = {f.name: store.feed_state(f.name) for f in cfg.feeds if f.enabled}
    finally:
        store.close()
    now = datetime.now(UTC)
    late = []
    for feed in cfg.feeds:
        st = states.get(feed.name)
        if not feed.enabled or (st is not None and st.disabled_reason):
            continue
        # due: when the daemon planned the next poll (backoff included), else since it started
        due = (st.next_poll if st is not None else None) or started
        interval = cfg.feed_interval(feed)
        if due is not None and (now - due).total_seconds() > overdue * interval:
            late.append(f"{feed.name} (due {short_time(due.isoformat(timespec='seconds'))})")
    return late
