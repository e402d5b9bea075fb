"""`monitor status` and `monitor health`: what the daemon has been doing, read from the store.

`read_status` gathers the figures, `render_status` prints them; the commands only wire them up.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.base import CliState, pass_state, short_time
from monitor.store.rows import ChannelHealthRow, FeedStatusRow

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.config import Config


@dataclass(frozen=True)
class FeedLine(FeedStatusRow):
    """A feed's stored health, and whether the config still has (and enables) it."""

    in_config: bool = False
    enabled: bool = False


@dataclass
class StatusReport:
    """Everything `monitor status` shows."""

    feeds: list[FeedLine]
    alerts: dict[str, int]
    channels: list[ChannelHealthRow]
    claims_judge: dict[str, Any] | None
    heartbeat: str | None


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
        heartbeat = store.get_meta("heartbeat")
        judge_meta = store.get_meta(JUDGE_META) if cfg is None or cfg.claims.judge else None
    finally:
        store.close()
    configured = {f.name: f.enabled for f in cfg.feeds} if cfg else {f.name: True for f in feeds}
    lines = [
        FeedLine(**asdict(f), in_config=f.name in configured, enabled=configured.get(f.name, False))
        for f in feeds
    ]
    judge = json.loads(judge_meta) if judge_meta else None
    return StatusReport(lines, alerts, channels, judge, heartbeat)


def render_status(report: StatusReport, console: Console) -> None:
    """The feeds table, then alert counts, troubled channels, the judge and the heartbeat."""
    from rich.table import Table

    table = Table(title="feeds", show_lines=False)
    for col in ("feed", "last poll", "status", "failures", "next poll", "articles", "error"):
        table.add_column(col)
    for f in report.feeds:
        state = "disabled" if f.disabled_reason else str(f.last_status or "-")
        table.add_row(
            f.name + ("" if f.in_config else " (not in config)"),
            short_time(f.last_poll),
            state,
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
        console.print(f"daemon heartbeat: {report.heartbeat}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """Per-feed health: last poll, status, error, failures, next poll, articles."""
    report = read_status(state.database(), state.config_or_none())
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    from rich.console import Console

    render_status(report, Console(width=None if sys.stdout.isatty() else 160))


@click.command()
@click.option("--max-age", default=180, show_default=True, help="Seconds a heartbeat stays fresh.")
@pass_state
@click.pass_context
def health(ctx: click.Context, state: CliState, max_age: int) -> None:
    """Exit 0 when the daemon's heartbeat is fresh (for Docker HEALTHCHECK), else 1."""
    from monitor.store import Store, from_iso

    store = Store.open(state.database(), readonly=True)
    try:
        beat = from_iso(store.get_meta("heartbeat"))
    finally:
        store.close()
    if beat is None:
        click.echo("unhealthy: no heartbeat yet", err=True)
        ctx.exit(1)
    age = (datetime.now(UTC) - beat).total_seconds()
    if age > max_age:
        click.echo(f"unhealthy: last heartbeat {age:.0f}s ago", err=True)
        ctx.exit(1)
    click.echo(f"healthy: last heartbeat {age:.0f}s ago")
