"""`monitor stance`: the stance engine over JSON lines, for scripts and evaluation."""

from __future__ import annotations

import sys

import click

from monitor.cli.base import CliState, pass_state
from monitor.errors import MonitorError


@click.command()
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Contradicts threshold (default: the config's, else the model's).",
)
@pass_state
def stance(state: CliState, threshold: float | None) -> None:
    """Judge claims against texts: JSON lines {id, claim, text} in, {id, stance, score, evidence} out."""
    from monitor.claims.stance import load_engine, run_jsonl

    if threshold is None and state.config_path.exists():
        try:
            threshold = state.config().claims.contradicts_threshold
        except MonitorError:
            threshold = None
    run_jsonl(sys.stdin, sys.stdout, load_engine(threshold))
