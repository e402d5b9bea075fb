"""The root `monitor` command group and what every command shares: logging, the typed
context object (config path, verbosity, the loaded `Config`), read-only store access."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.store import Store

T = TypeVar("T")

QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "courlan")


def setup_logging(level: int = logging.INFO, alerts: bool = True) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.getLogger("monitor.alert").setLevel(logging.INFO if alerts else logging.WARNING)


@dataclass
class CliState:
    """The root group's options, handed to every command as ``ctx.obj``."""

    config_path: Path
    verbose: bool = False
    _config: Config | None = field(default=None, repr=False)

    def config(self) -> Config:
        """The config file, loaded (and validated) once."""
        if self._config is None:
            from monitor.config import load_config

            self._config = load_config(self.config_path)
        return self._config


class MonitorGroup(click.Group):
    """Prints user errors as one clear message (exit 2) instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=MonitorGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="MONITOR_CONFIG",
    default="config.toml",
    show_default=True,
    help="Config file (or set MONITOR_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.version_option(package_name="news-monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, verbose: bool) -> None:
    """news-monitor: watch news feeds, match rules, track claims, send alerts."""
    ctx.obj = CliState(config_path=config_path, verbose=verbose)


pass_state = click.make_pass_decorator(CliState)


def read_store(state: CliState, fn: Callable[[Store], T]) -> T:
    """Run ``fn(store)`` on a read-only store (opening checks the schema: a missing or
    outdated database is a clear error, see :mod:`monitor.store.db`)."""
    from monitor.store import Store

    store = Store.open(state.config().database_path(), readonly=True)
    try:
        return fn(store)
    finally:
        store.close()


def short_time(s: str | None) -> str:
    """'05:57:54' for today (UTC), '11-22 05:57' otherwise."""
    if not s:
        return "-"
    today = datetime.now(UTC).date().isoformat()
    return s[11:19] if s[:10] == today else s[5:16].replace("T", " ")
