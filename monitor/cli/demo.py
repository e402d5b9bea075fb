"""`monitor demo`: the whole pipeline, offline, on the bundled corpus."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.base import setup_logging

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.pipeline import CycleReport


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo config and database in this folder.",
)
def demo(keep: Path | None) -> None:
    """Run the whole pipeline offline on a bundled corpus and print the alerts."""
    import tempfile

    from monitor.config import load_config
    from monitor.demo import demo_config_toml
    from monitor.demo.server import CorpusServer

    setup_logging(logging.WARNING, alerts=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        with CorpusServer() as server:
            cfg_path = folder / "demo-config.toml"
            cfg_path.write_text(
                demo_config_toml(server.base_url, str(folder / "demo.db")), encoding="utf-8"
            )
            cfg = load_config(cfg_path)
            click.echo(f"serving the demo corpus at {server.base_url} ({len(cfg.feeds)} feeds)")
            report = asyncio.run(_demo_cycle(cfg))
        _print_demo(report, cfg)
        if keep:
            click.echo(f"\ndemo config and database kept in {folder}")


async def _demo_cycle(cfg: Config) -> CycleReport:
    from monitor.pipeline import open_pipeline

    async with open_pipeline(cfg) as pipeline:
        return await pipeline.run_cycle()


def _print_demo(report: CycleReport, cfg: Config) -> None:
    from monitor.alerts.channels import format_line

    for f in report.feeds:
        click.echo(f"  polled {f.name}: {f.articles} articles, {f.matches} matches")
    delivered = report.delivery.delivered if report.delivery else []
    click.echo(f"\n{len(delivered)} alerts\n")
    for a in delivered:
        p = a.payload
        art = p.get("article")
        if a.type == "article.matched" and art:
            when = (art.get("published") or "")[:10]
            click.echo(f"• [{a.watch}] {art['title']}")
            click.echo(f"    {art.get('source')} · {when} · {art.get('url')}")
            click.echo(f"    matched: {', '.join(p.get('matched_terms', []))}")
            if p.get("snippet"):
                click.echo(f'    "{p["snippet"]}"')
        else:
            click.echo(f"• {format_line(a.event())}")
        click.echo("")
    _print_demo_stories(cfg)


def _print_demo_stories(cfg: Config) -> None:
    """The stories the watches matched that fold several reports (dedup's work)."""
    from monitor.dedup import format_story, stories_overview
    from monitor.store import Store

    store = Store.open(cfg.database_path(), readonly=True)
    try:
        folded = [s for s in stories_overview(store, min_articles=2) if s["watches"]]
    finally:
        store.close()
    if folded:
        click.echo("stories (one alert each; the other reports joined them):\n")
        for s in folded:
            click.echo(format_story(s) + "\n")
