"""`monitor alerts` (list), `alerts retry` and `alerts test`: the outbox and the channels."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.base import CliState, pass_state
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.store import StoredAlert


@click.group(invoke_without_command=True)
@click.option("--failed", is_flag=True, help="Only alerts that gave up (dead letters).")
@click.option("--pending", is_flag=True, help="Only alerts waiting to be delivered.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
@pass_state
@click.pass_context
def alerts(
    ctx: click.Context, state: CliState, failed: bool, pending: bool, as_json: bool, limit: int
) -> None:
    """List alerts of the outbox; `alerts retry` sends failed ones again."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.alerts.channels import format_line
    from monitor.store import Store

    store = Store.open(state.database(), readonly=True)
    try:
        status_filter = "failed" if failed else "pending" if pending else None
        rows = store.alerts(status_filter, limit=100_000)[-limit:]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([_alert_json(a) for a in rows], indent=2, ensure_ascii=False))
        return
    for a in rows:
        extra = f" — {a.last_error}" if a.last_error and a.status != "delivered" else ""
        click.echo(f"{a.id} {a.status:9} {a.channel:10} {format_line(a.event())}{extra}")
    if not rows:
        click.echo("no alerts")


def _alert_json(a: StoredAlert) -> dict[str, Any]:
    return {
        "id": a.id,
        "type": a.type,
        "channel": a.channel,
        "watch": a.watch,
        "status": a.status,
        "attempts": a.attempts,
        "last_error": a.last_error,
        "created_at": a.created_at.isoformat(),
        "next_attempt": a.next_attempt and a.next_attempt.isoformat(),
        "delivered_at": a.delivered_at and a.delivered_at.isoformat(),
        "digest_id": a.digest_id,
        "payload": a.payload,
    }


@alerts.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Every failed alert.")
@pass_state
def alerts_retry(state: CliState, ids: tuple[str, ...], all_failed: bool) -> None:
    """Queue failed alerts again (the daemon or the next `run --once` sends them)."""
    from monitor.store import Store

    if not ids and not all_failed:
        raise click.UsageError("give alert ids or --all-failed")
    store = Store.open(state.database())
    try:
        unknown = [i for i in ids if store.alert(i) is None]
        if unknown:
            raise MonitorError(f"no alert with id {', '.join(unknown)} (see `monitor alerts`)")
        n = store.retry_alerts(None if all_failed else ids)
    finally:
        store.close()
    click.echo(f"{n} alerts queued again")


@alerts.command("test")
@click.argument("channel")
@pass_state
@click.pass_context
def alerts_test(ctx: click.Context, state: CliState, channel: str) -> None:
    """Send a sample alert to CHANNEL now (not through the outbox) and report the outcome."""
    from monitor.alerts.testing import send_sample

    cfg = state.config()
    if channel not in cfg.alerts:
        known = ", ".join(sorted(cfg.alerts)) or "none defined"
        raise MonitorError(f"no channel named '{channel}' (channels: {known})")
    result = asyncio.run(send_sample(cfg, channel))
    if result.ok:
        click.echo(f"channel {channel}: delivered")
        return
    kind = "temporary, would be retried" if result.retry else "permanent"
    click.echo(f"channel {channel}: failed ({kind}): {result.error}", err=True)
    ctx.exit(1)
