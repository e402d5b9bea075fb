"""`monitor check-config` and `monitor import-opml`: the config file."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.base import CliState, pass_state


@click.command("check-config")
@pass_state
def check_config(state: CliState) -> None:
    """Validate the config file (rules included) and summarise it."""
    cfg = state.config()
    enabled = sum(1 for f in cfg.feeds if f.enabled)
    click.echo(
        f"{cfg.path}: OK — {len(cfg.feeds)} feeds ({enabled} enabled), {len(cfg.watches)} watches,"
        f" {len(cfg.alerts)} alert channels; database {cfg.database()}"
    )
    from monitor.alerts import channel_problems

    for problem in channel_problems(cfg.alerts):
        click.echo(f"warning: {problem}", err=True)


@click.command("import-opml")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def import_opml_cmd(state: CliState, file: Path) -> None:
    """Add the feeds of an OPML export to the config file (comments kept)."""
    from monitor.feeds.opml import import_opml

    result = import_opml(file, state.config_path)
    for f in result.added:
        click.echo(f"added {f.name} <{f.url}>")
    click.echo(f"{len(result.added)} feeds added, {len(result.skipped)} already present")
    if result.problems:
        click.echo(
            f"warning: {state.config_path} has {len(result.problems)} problem(s) of its own"
            " (the import did not cause them; fix them before `monitor run`):",
            err=True,
        )
        for problem in result.problems:
            click.echo(f"  {problem}", err=True)


@click.command("export-opml")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@pass_state
def export_opml_cmd(state: CliState, file: Path | None) -> None:
    """Write the config's feeds as OPML (to FILE, or stdout); tags become folders."""
    from monitor.feeds.opml import OpmlFeed, export_opml

    feeds = [OpmlFeed(f.url, f.name, tuple(f.tags)) for f in state.config().feeds]
    data = export_opml(feeds)
    if file is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    file.write_bytes(data)
    click.echo(f"{len(feeds)} feeds written to {file}", err=True)
