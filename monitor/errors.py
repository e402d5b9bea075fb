"""One exception tree for the whole package.

::

    MonitorError                 anything the user can fix; the CLI prints it, no traceback
    ├── ConfigError              config file problems, each naming file and key path
    ├── RuleError                a watch rule that does not parse (monitor.rules re-exports it
    │                            as a subclass of ValueError too)
    ├── StoreError               the database cannot be opened or is from a newer version
    └── FeedParseError           fetched bytes that hold no feed at all (the pipeline stores
                                 its message as the feed's last error)

Failures while running (a feed that times out, a webhook that answers 500) are not
exceptions: they are values stored with the feed or the alert and shown by
``monitor status`` and ``monitor alerts``.
"""

from __future__ import annotations


class MonitorError(Exception):
    """An error the user can act on; its message is meant to be printed as is."""


class ConfigError(MonitorError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self._format())

    def _format(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        lines = [f"{self.source}: {len(self.problems)} problems"]
        lines += [f"  {self.source}: {p}" for p in self.problems]
        return "\n".join(lines)


class StoreError(MonitorError):
    pass


class FeedParseError(MonitorError):
    pass
