"""One exception tree for the whole package.

::

    MonitorError                 anything the user can fix; the CLI prints it, no traceback
    ├── ConfigError              config file problems, each naming file and key path
    ├── RuleError                a watch rule that cannot be used, with the column (also a
    │                            ValueError; monitor.rules re-exports it)
    ├── StoreError               the database cannot be opened or is from a newer version
    ├── FeedParseError           fetched bytes that hold no feed at all (the pipeline stores
    │                            its message as the feed's last error)
    ├── ModelError               the stance model files are missing or unreadable (also a
    │                            RuntimeError; raised by monitor.claims.stance)
    └── JudgeError               the language-model judge failed or answered something
                                 unreadable (monitor.claims.judge catches it: the built-in
                                 verdict stands)

Failures while running (a feed that times out, a webhook that answers 500) are not
exceptions: they are values stored with the feed or the alert and shown by
``monitor status`` and ``monitor alerts``.
"""

from __future__ import annotations

import re


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


class RuleError(MonitorError, ValueError):
    """A watch rule that cannot be used, with the column of the trouble.

    ``str(e)`` is the message, then the rule, then a caret under the column::

        unbalanced parenthesis: this '(' is never closed
          (Putin OR Kremlin AND congratulat*
          ^
    """

    def __init__(self, message: str, rule: str, column: int, expected: str = "") -> None:
        self.message = message
        self.rule = rule
        self.column = max(1, column)  # 1-based
        self.expected = expected
        shown = re.sub(r"\s", " ", rule)
        super().__init__(f"{message}\n  {shown}\n  {' ' * (self.column - 1)}^")

    def to_dict(self) -> dict[str, object]:
        return {
            "error": self.message,
            "rule": self.rule,
            "column": self.column,
            "expected": self.expected,
        }


class StoreError(MonitorError):
    pass


class FeedParseError(MonitorError):
    pass


class ModelError(MonitorError, RuntimeError):
    """The stance model files are missing or unreadable."""


class JudgeError(MonitorError):
    """The endpoint failed or answered something we cannot read (the message says which)."""
