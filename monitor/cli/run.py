"""`monitor run`: the daemon, or one polling cycle with ``--once``."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

import click

from monitor.cli.base import CliState, pass_state, setup_logging

if TYPE_CHECKING:
    from monitor.config import Config


@click.command()
@click.option("--once", is_flag=True, help="Poll every enabled feed once, deliver, and exit.")
@pass_state
@click.pass_context
def run(ctx: click.Context, state: CliState, once: bool) -> None:
    """Run the daemon (or a single cycle with --once)."""
    cfg = state.config()
    if once:
        from monitor.lock import DatabaseLock

        setup_logging(logging.INFO if state.verbose else logging.WARNING)
        # a running daemon polls and delivers from this database itself: refuse rather than
        # deliver its alerts a second time (and a daemon started meanwhile refuses in turn)
        with DatabaseLock(cfg.database_path(), "run --once"):
            code = asyncio.run(_run_once(cfg, progress=sys.stderr.isatty()))
        ctx.exit(code)
    from monitor.daemon import Daemon

    setup_logging(logging.DEBUG if state.verbose else logging.INFO)
    for name in ("monitor.pipeline",):
        logging.getLogger(name).setLevel(logging.INFO)
    ctx.exit(asyncio.run(Daemon(cfg, state.config_path).run()))


async def _run_once(cfg: Config, progress: bool) -> int:
    from monitor.pipeline import open_pipeline

    feeds = [f for f in cfg.feeds if f.enabled]
    async with open_pipeline(cfg) as pipeline:
        if progress and feeds:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("polling feeds", total=len(feeds))
                report = await pipeline.run_cycle(on_feed_done=lambda r: bar.advance(task))
        else:
            report = await pipeline.run_cycle()
    for f in report.feeds:
        if f.status == "error":
            click.echo(f"feed {f.name}: {f.error}", err=True)
    delivered = len(report.delivery.delivered) if report.delivery else 0
    click.echo(
        f"{len(report.feeds)} feeds polled, {sum(f.articles for f in report.feeds)} new articles, "
        f"{report.matches} matches, {delivered} alerts delivered, {len(report.errors)} feed errors",
        err=True,
    )
    return 1 if feeds and len(report.errors) == len(feeds) else 0
