"""`monitor scheduler`, `monitor worker`, `monitor deliver`: the distributed roles
(docs/distributed.md). Each needs a PostgreSQL store and Redis (``[distributed]``)."""

from __future__ import annotations

import asyncio
import logging

import click

from monitor.cli.base import CliState, pass_state, setup_logging


def _role_command(role: str, help_text: str) -> click.Command:
    @click.command(name=role, help=help_text)
    @pass_state
    @click.pass_context
    def command(ctx: click.Context, state: CliState) -> None:
        from monitor.distributed import ROLES

        cfg = state.config()
        setup_logging(logging.DEBUG if state.verbose else logging.INFO)
        ctx.exit(asyncio.run(ROLES[role](cfg).run()))

    return command


scheduler_cmd = _role_command(
    "scheduler",
    "Enqueue due feeds for the workers (one per database; needs [storage] url and Redis).",
)
worker_cmd = _role_command(
    "worker",
    "Poll, extract, match and store the feeds the scheduler enqueues (run any number).",
)
deliver_cmd = _role_command(
    "deliver", "Deliver the alert outbox (one per database; each channel keeps its order)."
)
