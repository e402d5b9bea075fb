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
        from monitor.lock import writer_lock

        setup_logging(logging.INFO if state.verbose else logging.WARNING)
        # a running daemon polls and delivers from this database itself: refuse rather than
        # deliver its alerts a second time (and a daemon started meanwhile refuses in turn)
        with writer_lock(cfg.database(), "run --once"):
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
                report = await pipeline.run_cycle(
                    on_feed_done=lambda r: bar.advance(task), deliver=False
                )
        else:
            report = await pipeline.run_cycle(deliver=False)
        # --once drains the outbox: everything that can go now goes, however many
        report.delivery = await pipeline.outbox.drain()
        waiting = pipeline.outbox.still_waiting()
    for f in report.feeds:
        if f.status in ("error", "warning"):
            click.echo(f"feed {f.name}: {f.status}: {f.error}", err=True)
    delivered = len(report.delivery.delivered) if report.delivery else 0
    click.echo(
        f"{len(report.feeds)} feeds polled, {sum(f.articles for f in report.feeds)} new articles, "
        f"{report.matches} matches, {delivered} alerts delivered, {len(report.errors)} feed errors,"
        f" {len(report.warnings)} feed warnings",
        err=True,
    )
    for line in suppressed_lines(report.suppressed()):
        click.echo(line, err=True)
    for w in waiting:
        click.echo(
            f"{w.count} alert{'s' if w.count != 1 else ''} still waiting on channel"
            f" {w.channel}: {w.reason}",
            err=True,
        )
    return 1 if feeds and len(report.errors) == len(feeds) else 0


def suppressed_lines(suppressed: dict[str, int]) -> list[str]:
    """'N alerts suppressed (baseline)' and the like, for the run summary."""
    hints = {
        "baseline": "the first poll of a feed stores its entries silently; set baseline = false"
        " to alert on them",
        "too old": "published before ignore_older_than",
    }
    return [
        f"{n} alert{'s' if n != 1 else ''} suppressed ({why}): {hints[why]}"
        for why, n in sorted(suppressed.items())
        if n
    ]
