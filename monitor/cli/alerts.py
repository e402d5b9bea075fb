"""`monitor alerts` (list), `alerts retry` and `alerts test`: the outbox and the channels."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import click

from monitor.cli.base import CliState, check_watch, pass_state, short_time, since_option
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.store import StoredAlert


ALERT_TYPES = ("article.matched", "story.updated", "claim.confirmed", "claim.contradicted")


def _type_filter(value: str | None) -> str | None:
    if value is None or value in ALERT_TYPES or value in {t.split(".")[0] for t in ALERT_TYPES}:
        return value
    raise click.BadParameter(
        f"{value!r}: one of {', '.join(ALERT_TYPES)} (or article, story, claim)",
        param_hint="--type",
    )


@click.group(invoke_without_command=True)
@click.option("--failed", is_flag=True, help="Only alerts that gave up (dead letters).")
@click.option("--pending", is_flag=True, help="Only alerts waiting to be delivered.")
@click.option("--since", default=None, help="Only alerts since: a duration ('2h', '1d') or a date.")
@click.option("--watch", default=None, help="Only this watch's alerts.")
@click.option(
    "--type",
    "event_type",
    default=None,
    help="Only this type: article.matched, story.updated, claim.confirmed, "
    "claim.contradicted (or article, story, claim).",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
@pass_state
@click.pass_context
def alerts(
    ctx: click.Context,
    state: CliState,
    failed: bool,
    pending: bool,
    since: str | None,
    watch: str | None,
    event_type: str | None,
    as_json: bool,
    limit: int,
) -> None:
    """List alerts of the outbox (time, watch, type, title, status); `alerts retry` sends
    failed ones again."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.store import Store

    start, kind = since_option(since), _type_filter(event_type)
    store = Store.open(state.database(), readonly=True)
    try:
        check_watch(state, store, watch)
        status_filter = "failed" if failed else "pending" if pending else None
        rows = [
            a
            for a in store.alerts(status_filter, limit=100_000)
            if (start is None or a.created_at >= start)
            and (watch is None or a.watch == watch)
            and (kind is None or a.type == kind or a.type.split(".")[0] == kind)
        ][-limit:]
    finally:
        store.close()
    if as_json:
        from monitor.resources import alert_json

        click.echo(json.dumps([alert_json(a) for a in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no alerts" + (" (with these filters)" if since or watch or kind else ""))
        return
    click.echo(format_alert_table(rows))


def alert_title(a: StoredAlert) -> str:
    """What an alert is about, in a few words: the article's title, or the claim."""
    p = a.payload
    claim = p.get("claim") or {}
    if a.type.startswith("claim.") and claim.get("text"):
        return f"“{claim['text']}” — {(p.get('article') or {}).get('source') or ''}".strip(" —")
    return str((p.get("article") or {}).get("title") or (p.get("story") or {}).get("title") or "")


def format_alert_table(rows: list[StoredAlert], title_width: int = 70) -> str:
    """The alerts in columns: time, status, channel, watch, type, title, id (and the last
    error of an undelivered one)."""
    from monitor.alerts.render import one_line

    table = [("TIME", "STATUS", "CHANNEL", "WATCH", "TYPE", "TITLE", "ID")]
    errors: dict[int, str] = {}
    for a in rows:
        title = one_line(alert_title(a), title_width)
        when = short_time(a.created_at.isoformat())
        table.append((when, a.status, a.channel, a.watch, a.type, title, a.id))
        if a.last_error and a.status != "delivered":
            errors[len(table) - 1] = a.last_error
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    lines = []
    for n, r in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
        if n in errors:
            lines.append(" " * (widths[0] + 2) + f"last error: {errors[n]}")
    return "\n".join(line.rstrip() for line in lines)


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
    from monitor.alerts.channels import format_line

    event, result = asyncio.run(send_sample(cfg, channel))
    click.echo(f"sent to {channel} ({cfg.alerts[channel].type}): {event.type} {event.id}")
    click.echo(f"  {format_line(event)}")
    if result.ok:
        click.echo(f"channel {channel}: delivered")
        return
    kind = "temporary, would be retried" if result.retry else "permanent"
    click.echo(f"channel {channel}: failed ({kind}): {result.error}", err=True)
    ctx.exit(1)
