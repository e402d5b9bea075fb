"""`monitor status` and `monitor health`: what the daemon has been doing, read from the store.

`read_status` gathers the figures, `render_status` prints them; the commands only wire them up.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.base import CliState, pass_state, short_time
from monitor.store.db import HEARTBEAT_META, STOPPED_META
from monitor.store.rows import ChannelHealthRow, FeedStatusRow

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.config import Config


@dataclass(frozen=True)
class FeedLine(FeedStatusRow):
    """A feed's stored health, and whether the config still has (and enables) it."""

    in_config: bool = False
    enabled: bool = False
    state: str = "ok"  # FeedStatusRow.health: ok, warning, error, disabled, new


@dataclass
class StatusReport:
    """Everything `monitor status` shows."""

    feeds: list[FeedLine]
    alerts: dict[str, int]
    channels: list[ChannelHealthRow]
    claims_judge: dict[str, Any] | None
    heartbeat: str | None
    daemon_stopped: str | None = None

    def failing_only(self) -> StatusReport:
        """Only what needs a look: feeds in error, warning or disabled; troubled channels."""
        return dataclasses.replace(
            self,
            feeds=[f for f in self.feeds if f.state in ("error", "warning", "disabled")],
            channels=[c for c in self.channels if c.state != "ok" or c.pending or c.failed],
        )


def read_status(db: Path, cfg: Config | None) -> StatusReport:
    """Per-feed health (marked with whether the config still has the feed), alert counts,
    channel health, the claims judge's state and the daemon's heartbeat.

    ``cfg`` None: the config does not load; every stored feed counts as configured."""
    from monitor.claims.judge import JUDGE_META
    from monitor.store import Store

    store = Store.open(db, readonly=True)
    try:
        feeds = store.feed_status()
        alerts = store.alert_counts()
        channels = store.channel_health()
        heartbeat = store.get_meta(HEARTBEAT_META)
        stopped = store.get_meta(STOPPED_META)
        judge_meta = store.get_meta(JUDGE_META) if cfg is None or cfg.claims.judge else None
    finally:
        store.close()
    configured = {f.name: f.enabled for f in cfg.feeds} if cfg else {f.name: True for f in feeds}
    lines = [
        FeedLine(
            **asdict(f),
            in_config=f.name in configured,
            enabled=configured.get(f.name, False),
            state=f.health,
        )
        for f in feeds
    ]
    judge = json.loads(judge_meta) if judge_meta else None
    return StatusReport(lines, alerts, channels, judge, heartbeat, stopped)


def render_status(report: StatusReport, console: Console) -> None:
    """The feeds table, then alert counts, troubled channels, the judge and the heartbeat."""
    from rich.table import Table

    table = Table(title="feeds", show_lines=False)
    columns = ("feed", "state", "last poll", "http", "failures", "next poll", "articles", "error")
    for col in columns:
        table.add_column(col)
    for f in report.feeds:
        table.add_row(
            f.name + ("" if f.in_config else " (not in config)"),
            f.state,
            short_time(f.last_poll),
            str(f.last_status or "-"),
            str(f.failures),
            short_time(f.next_poll),
            str(f.articles),
            f.disabled_reason or f.last_error or "",
        )
    console.print(table)
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
    if report.heartbeat:
        console.print(f"daemon heartbeat: {report.heartbeat} ({heartbeat_verdict(report)[1]})")


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
@pass_state
def status(state: CliState, as_json: bool, failing: bool) -> None:
    """Per-feed health: state, last poll, HTTP status, error, failures, next poll, articles."""
    report = read_status(state.database(), state.config_or_none())
    if failing:
        report = report.failing_only()
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    from rich.console import Console

    render_status(report, Console(width=None if sys.stdout.isatty() else 160))


@click.command()
@click.option(
    "--max-age", default=HEALTH_MAX_AGE, show_default=True, help="Seconds a heartbeat stays fresh."
)
@pass_state
@click.pass_context
def health(ctx: click.Context, state: CliState, max_age: int) -> None:
    """Exit 0 when the daemon's heartbeat is fresh (for Docker HEALTHCHECK), else 1."""
    report = read_status(state.database(), None)
    ok, words = heartbeat_verdict(report, max_age)
    if not ok:
        click.echo(f"unhealthy: {words}", err=True)
        ctx.exit(1)
    click.echo(f"healthy: {words}")
