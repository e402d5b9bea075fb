"""`monitor stories` and `monitor claims`: reading the stories and claims the daemon stored."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.base import CliState, check_watch, echo_result, pass_state, read_store

if TYPE_CHECKING:
    from monitor.store import Store


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

    def read(store: Store) -> list[dict[str, Any]]:
        check_watch(state, store, watch)
        return claims_overview(store, watch)

    echo_result(read_store(state, read), as_json, format_overview, "")


@claims_cmd.command("show")
@click.argument("claim_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def claims_show(state: CliState, claim_id: int, as_json: bool) -> None:
    """The timeline of evidence on one claim (and on the claims that contradict it)."""
    from monitor.claims.track import claim_timeline, format_timeline

    claim = read_store(state, lambda store: claim_timeline(store, claim_id))
    echo_result(
        claim, as_json, format_timeline, f"no claim #{claim_id} (list them with 'monitor claims')"
    )


@click.group("stories", invoke_without_command=True)
@click.option("--watch", "watch", default=None, help="Only stories this watch matched.")
@click.option("--limit", default=50, show_default=True, help="At most this many stories.")
@click.option("--all", "show_all", is_flag=True, help="Every story, also those no watch matched.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@click.pass_context
def stories_cmd(
    ctx: click.Context,
    state: CliState,
    watch: str | None,
    limit: int,
    show_all: bool,
    as_json: bool,
) -> None:
    """Stories a watch matched (--all: every story), latest activity first."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.dedup import format_stories, stories_overview

    def read(store: Store) -> list[dict[str, Any]]:
        check_watch(state, store, watch)
        return stories_overview(store, watch, limit, matched=not show_all)

    rows = read_store(state, read)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows and not show_all:
        click.echo("no story matched a watch yet (`monitor stories --all` lists every story)")
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
    echo_result(
        story, as_json, format_story, f"no story #{story_id} (list them with 'monitor stories')"
    )
