"""The root `monitor` command group and what every command shares: logging, the typed
context object (config path, verbosity, the loaded `Config`), read-only store access."""

from __future__ import annotations

import json
import logging
import os
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.config import Config, DatabaseTarget
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


def _state_file() -> Path:
    """Where the CLI remembers each config's database (XDG state directory)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "news-monitor" / "databases.json"


def _remembered() -> dict[str, str]:
    try:
        data = json.loads(_state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember_database(config: Config) -> None:
    """Note the database of a valid config, for reading commands to find when a later edit
    breaks the file (best effort: an unwritable state directory is not an error)."""
    if config.path is None:
        return
    known = _remembered()
    key, value = str(config.path), _remembered_value(config.database())
    if known.get(key) == value:
        return
    known[key] = value
    target = _state_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
        tmp.replace(target)
    except OSError:
        pass


def _remembered_value(database: DatabaseTarget) -> str:
    """A database as the state file keeps it: the SQLite path, or the PostgreSQL URL with
    its password variable (``URL password_env``; neither holds a space)."""
    if isinstance(database, Path):
        return str(database)
    return f"{database.url} {database.password_env or ''}".strip()


def last_good_database(config_path: Path) -> DatabaseTarget | None:
    """The database of this config file when it last loaded; else the ``[storage] path``
    the broken file still names, when it parses as TOML; else None."""
    known = _remembered().get(str(config_path.resolve()))
    if known and known.startswith(("postgresql://", "postgres://")):
        from monitor.config import PostgresURL

        url, _, password_env = known.partition(" ")
        return PostgresURL(url, password_env or None)
    if known:
        return Path(known)
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = data.get("storage", {}).get("path", "monitor.db") if isinstance(data, dict) else None
    if not isinstance(path, str):
        return None
    p = Path(os.path.expanduser(path))
    p = p if p.is_absolute() else config_path.resolve().parent / p
    return p if p.exists() else None


@dataclass
class CliState:
    """The root group's options, handed to every command as ``ctx.obj``."""

    config_path: Path
    verbose: bool = False
    db_path: Path | None = None  # --db: read this database whatever the config says
    _config: Config | None = field(default=None, repr=False)
    _config_error: ConfigError | None = field(default=None, repr=False)

    def config(self) -> Config:
        """The config file, loaded (and validated) once."""
        if self._config is None:
            from monitor.config import load_config

            self._config = load_config(self.config_path)
            remember_database(self._config)
        return self._config

    def config_or_none(self) -> Config | None:
        """The config, or None (with a warning, once) when it does not load: for reading
        commands, which work from the database whatever state the config file is in."""
        if self._config_error is not None:
            return None
        try:
            return self.config()
        except ConfigError as e:
            self._config_error = e
            click.echo(
                f"warning: the config does not load (reading the database anyway): {e}", err=True
            )
            return None

    def database(self) -> DatabaseTarget:
        """The database reading commands open: --db, else the config's; when the config is
        broken, the database of its last good version (a warning says so)."""
        if self.db_path is not None:
            return self.db_path
        try:
            return self.config().database()
        except ConfigError as e:
            fallback = last_good_database(self.config_path)
            if fallback is None:
                raise MonitorError(
                    f"{e}\n(no database known for this config: fix it, or give --db PATH)"
                ) from None
            self.config_or_none()  # the warning about the config
            click.echo(f"warning: reading {fallback} (the last good config's database)", err=True)
            return fallback


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
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="MONITOR_DB",
    default=None,
    help="Database for the reading commands (status, health, alerts, stories, claims), "
    "whatever the config says (or set MONITOR_DB).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.version_option(package_name="news-monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, db_path: Path | None, verbose: bool) -> None:
    """news-monitor: watch news feeds, match rules, track claims, send alerts."""
    ctx.obj = CliState(config_path=config_path, verbose=verbose, db_path=db_path)


pass_state = click.make_pass_decorator(CliState)


def read_store(state: CliState, fn: Callable[[Store], T]) -> T:
    """Run ``fn(store)`` on a read-only store (opening checks the schema: a missing or
    outdated database is a clear error, see :mod:`monitor.store.db`)."""
    from monitor.store import Store

    store = Store.open(state.database(), readonly=True)
    try:
        return fn(store)
    finally:
        store.close()


def echo_result(result: Any, as_json: bool, fmt: Callable[[Any], str], missing: str) -> None:
    """Print what a read command found: JSON with ``--json``, else ``fmt(result)``; a
    ``None`` result is the error ``missing`` (e.g. "no story #7 (list them with ...)")."""
    if result is None:
        raise MonitorError(missing)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(fmt(result))


def check_watch(state: CliState, store: Store, watch: str | None) -> None:
    """An unknown watch name is an error that says so (not an empty list): known are the
    config's watches and every watch the database has matches of."""
    if watch is None:
        return
    from monitor.resources import unknown_watch

    error = unknown_watch(store, state.config_or_none(), watch)
    if error:
        raise MonitorError(error)


def since_option(value: str | None) -> datetime | None:
    """--since: a duration back from now ("2h", "1d") or a date/time ("2026-11-20")."""
    from monitor.search import parse_since

    try:
        return parse_since(value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--since") from None


def short_time(s: str | None) -> str:
    """'05:57:54' for today (UTC), '11-22 05:57' otherwise."""
    if not s:
        return "-"
    today = datetime.now(UTC).date().isoformat()
    return s[11:19] if s[:10] == today else s[5:16].replace("T", " ")
