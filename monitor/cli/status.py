"""`monitor status` and `monitor health`: what the daemon has been doing, read from the store.

`read_status` gathers the figures, `render_status` prints them; the commands only wire them up.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
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
    page_errors: int = 0  # article pages that could not be fetched (too large, timeout, ...)
    last_page_error: str | None = None


@dataclass
class StatusReport:
    """Everything `monitor status` shows."""

    feeds: list[FeedLine]
    alerts: dict[str, int]
    channels: list[ChannelHealthRow]
    claims_judge: dict[str, Any] | None
    heartbeat: str | None
    config_error: str | None = None  # the daemon's last rejected config change


def read_status(cfg: Config) -> StatusReport:
    """Per-feed health (marked with whether the config still has the feed), alert counts,
    channel health, the claims judge's state and the daemon's heartbeat."""
    from monitor.claims.judge import JUDGE_META
    from monitor.daemon import RELOAD_ERROR_META
    from monitor.store import Store

    store = Store.open(cfg.database_path(), readonly=True)
    try:
        feeds = store.feed_status()
        page_errors = store.page_errors()
        alerts = store.alert_counts()
        channels = store.channel_health()
        heartbeat = store.get_meta("heartbeat")
        config_error = store.get_meta(RELOAD_ERROR_META) or None
        judge_meta = store.get_meta(JUDGE_META) if cfg.claims.judge else None
    finally:
        store.close()
    configured = {f.name: f for f in cfg.feeds}
    lines = [
        FeedLine(
            **asdict(f),
            in_config=f.name in configured,
            enabled=configured[f.name].enabled if f.name in configured else False,
            page_errors=page_errors[f.name].count if f.name in page_errors else 0,
            last_page_error=page_errors[f.name].last_error if f.name in page_errors else None,
        )
        for f in feeds
    ]
    judge = json.loads(judge_meta) if judge_meta else None
    return StatusReport(lines, alerts, channels, judge, heartbeat, config_error)


def render_status(report: StatusReport, console: Console) -> None:
    """The feeds table, then alert counts, troubled channels, the judge and the heartbeat."""
    from rich.table import Table

    table = Table(title="feeds", show_lines=False)
    for col in (
        "feed",
        "last poll",
        "status",
        "failures",
        "next poll",
        "articles",
        "page errors",
        "error",
    ):
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
            str(f.page_errors),
            f.disabled_reason
            or f.last_error
            or (f"last page error: {f.last_page_error}" if f.last_page_error else ""),
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
    if report.config_error:
        console.print(
            f"config change rejected at {report.config_error}", markup=False, highlight=False
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """Per-feed health: last poll, status, error, failures, next poll, articles."""
    report = read_status(state.config())
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    from rich.console import Console

    render_status(report, Console(width=None if sys.stdout.isatty() else 160))


@click.command()
@click.option("--max-age", default=180, show_default=True, help="Seconds a heartbeat stays fresh.")
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
    Docker HEALTHCHECK), else 1."""
    from monitor.daemon import STARTED_META
    from monitor.store import Store, from_iso

    cfg = state.config()
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        beat = from_iso(store.get_meta("heartbeat"))
        started = from_iso(store.get_meta(STARTED_META))
        states = {f.name: store.feed_state(f.name) for f in cfg.feeds if f.enabled}
    finally:
        store.close()
    if beat is None:
        click.echo("unhealthy: no heartbeat yet", err=True)
        ctx.exit(1)
    now = datetime.now(UTC)
    age = (now - beat).total_seconds()
    if age > max_age:
        click.echo(f"unhealthy: last heartbeat {age:.0f}s ago", err=True)
        ctx.exit(1)
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
    if late:
        click.echo(
            f"unhealthy: {len(late)} feed(s) overdue by more than {overdue:g} intervals: "
            + ", ".join(late),
            err=True,
        )
        ctx.exit(1)
    click.echo(f"healthy: last heartbeat {age:.0f}s ago")
