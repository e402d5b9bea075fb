"""docs/ documents every CLI command and every config key (docs that match the code).

Commands: docs/cli.md, generated from the click tree and checked equal to the generator's
output. Config keys: the tables of docs/config.md.
"""

from __future__ import annotations

import re

import click
from pydantic import BaseModel

from monitor.cli import cli
from monitor.cli.reference import render
from monitor.config import Config
from tests.conftest import ROOT

CLI_MD = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
CONFIG_MD = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "monitor") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        out.append(f"{prefix} {name}")
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix} {name}")
    return out


def _keys(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    seen = seen or set()
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        ann = field.annotation
        for t in (ann, *getattr(ann, "__args__", ())):
            if isinstance(t, type) and issubclass(t, BaseModel) and t not in seen:
                seen.add(t)
                keys |= _keys(t, seen)
    return keys


def test_every_cli_command_is_documented():
    missing = [c for c in _commands(cli) if f"## `{c}`" not in CLI_MD]
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_cli_reference_is_current():
    assert render() == CLI_MD, (
        "docs/cli.md is stale: run `python -m monitor.cli.reference > docs/cli.md`"
    )


def test_every_config_key_is_documented():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", CONFIG_MD, re.M))
    sections = {
        "storage",
        "distributed",
        "fetch",
        "extract",
        "claims",
        "feeds",
        "watches",
        "alerts",
        "web",
    }
    missing = sorted(_keys(Config) - documented - sections)
    assert not missing, f"config keys missing from docs/config.md tables: {missing}"
