"""The `monitor` command: thin shells over the pipeline, the store and the daemon.

One module per command group; `base` holds the root group, the typed context object
(`CliState`) and what the commands share. Heavy modules are imported inside the commands so
`monitor --help` stays fast.
"""

from __future__ import annotations

from monitor.cli.alerts import alerts
from monitor.cli.base import cli, setup_logging
from monitor.cli.configure import check_config, export_opml_cmd, import_opml_cmd
from monitor.cli.demo import demo
from monitor.cli.distributed import deliver_cmd, scheduler_cmd, worker_cmd
from monitor.cli.rules import test_rule
from monitor.cli.run import run
from monitor.cli.stance import stance
from monitor.cli.status import health, status
from monitor.cli.stories import claims_cmd, stories_cmd
from monitor.cli.web import search_cmd, web_cmd

for _command in (
    run,
    scheduler_cmd,
    worker_cmd,
    deliver_cmd,
    check_config,
    status,
    health,
    import_opml_cmd,
    export_opml_cmd,
    demo,
    test_rule,
    stance,
    alerts,
    claims_cmd,
    stories_cmd,
    web_cmd,
    search_cmd,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="monitor")


__all__ = ["cli", "main", "setup_logging"]


if __name__ == "__main__":
    main()
