"""`monitor stories` and `monitor claims`: reading the stories and claims the daemon stored."""

from __future__ import annotations

import json

import click

from monitor.cli.base import CliState, pass_state, read_store
from monitor.errors import MonitorError


@click.group("claims", invoke_without_command=True)
@click.option("--watch", "watch", default=None, help="Only this watch's claims.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@click.pass_context
def claims_cmd(ctx: click.Context, state: CliState, watch: str | None, as_json: bool) -> None:
    """Tracked claims, with the reports and sources that confirm or contradict each."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.claims.track import claims_overview, format_overview

    rows = read_store(state, lambda store: claims_overview(store, watch))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        click.echo(format_overview(rows))


@claims_cmd.command("show")
@click.argument("claim_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def claims_show(state: CliState, claim_id: int, as_json: bool) -> None:
    """The timeline of evidence on one claim (and on the claims that contradict it)."""
    from monitor.claims.track import claim_timeline, format_timeline

    claim = read_store(state, lambda store: claim_timeline(store, claim_id))
    if claim is None:
        raise MonitorError(f"no claim #{claim_id} (list them with 'monitor claims')")
    if as_json:
        click.echo(json.dumps(claim, indent=2, ensure_ascii=False))
    else:
        click.echo(format_timeline(claim))


@click.group("stories", invoke_without_command=True)
@click.option("--watch", "watch", default=None, help="Only stories this watch matched.")
@click.option("--limit", default=50, show_default=True, help="At most this many stories.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@click.pass_context
def stories_cmd(
    ctx: click.Context, state: CliState, watch: str | None, limit: int, as_json: bool
) -> None:
    """Stories: the reports folded together, latest activity first."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.dedup import format_stories, stories_overview

    rows = read_store(state, lambda store: stories_overview(store, watch, limit))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        click.echo(format_stories(rows))


@stories_cmd.command("show")
@click.argument("story_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def stories_show(state: CliState, story_id: int, as_json: bool) -> None:
    """One story with every report in it (copies and revisions marked)."""
    from monitor.dedup import format_story, story_detail

    story = read_store(state, lambda store: story_detail(store, story_id))
    if story is None:
        raise MonitorError(f"no story #{story_id} (list them with 'monitor stories')")
    if as_json:
        click.echo(json.dumps(story, indent=2, ensure_ascii=False))
    else:
        click.echo(format_story(story))
