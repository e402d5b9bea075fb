"""`monitor web` (the web view) and `monitor search` (a watch rule over stored articles)."""

from __future__ import annotations

import contextlib
import json
import textwrap
from typing import TYPE_CHECKING

import click

from monitor.cli.base import CliState, pass_state, read_store, since_option
from monitor.search import SCAN_DEFAULT

if TYPE_CHECKING:
    from monitor.search import RuleSearch
    from monitor.store import Store


@click.command("web")
@click.option("--address", default=None, help="Listen on this address (default: [web] address).")
@click.option("--port", type=int, default=None, help="Listen on this port (default: [web] port).")
@pass_state
def web_cmd(state: CliState, address: str | None, port: int | None) -> None:
    """Serve the web view: overview, stories, claims, feeds, alerts, search, the JSON API and
    the Atom feed of alerts. Loopback unless [web] token_env gives a token."""
    from monitor.config import Config
    from monitor.web import web_settings
    from monitor.web.app import run

    cfg = state.config_or_none() if state.db_path is not None else state.config()
    settings = web_settings(cfg or Config(), state.database(), address, port)
    with contextlib.suppress(KeyboardInterrupt):
        run(settings)


@click.command("search")
@click.argument("rule")
@click.option("--since", default=None, help="Only articles fetched since: '2h', '7d' or a date.")
@click.option("--limit", default=50, show_default=True, help="At most this many matches.")
@click.option(
    "--scan",
    default=SCAN_DEFAULT,
    show_default=True,
    help="Try the rule on this many of the newest stored articles.",
)
@click.option("--language", default=None, help="The rule's language (default: en).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@click.pass_context
def search_cmd(
    ctx: click.Context,
    state: CliState,
    rule: str,
    since: str | None,
    limit: int,
    scan: int,
    language: str | None,
    as_json: bool,
) -> None:
    """Run a watch RULE over the stored articles and show the matches with their
    explanations (as `monitor test-rule`). Exit 0 with matches, 1 without, 2 bad rule."""
    from monitor.resources import rule_search_json
    from monitor.search import try_rule

    start = since_option(since)
    when = start.isoformat(timespec="seconds") if start else None

    def read(store: Store) -> RuleSearch:
        return try_rule(
            store, rule, since=when, limit=limit, scan=max(1, scan), language=language or "en"
        )

    from monitor.rules import RuleError

    try:
        result = read_store(state, read)
    except RuleError as e:
        click.echo(f"bad rule: {e}", err=True)
        ctx.exit(2)
    if as_json:
        click.echo(json.dumps(rule_search_json(result), indent=2, ensure_ascii=False))
    else:
        click.echo(format_rule_search(result))
    ctx.exit(0 if result.hits else 1)


def format_rule_search(result: RuleSearch) -> str:
    n = len(result.hits)
    lines = [
        f"{n} match{'es' if n != 1 else ''} of {result.rule!r} in {result.scanned} stored"
        f" article{'s' if result.scanned != 1 else ''}"
    ]
    for hit in result.hits:
        a = hit.article
        when = (a.published or a.fetched_at or "")[:10]
        story = f", story #{a.story_id}" if a.story_id else ""
        lines += ["", f"#{a.id} {a.title} ({a.site_name or a.url}, {when}{story})", f"  {a.url}"]
        lines.append(textwrap.indent(hit.explanation.format(), "  "))
    return "\n".join(lines)
