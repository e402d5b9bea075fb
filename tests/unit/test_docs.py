"""The README documents every CLI command and every config key (docs that match the code)."""

from __future__ import annotations

import re

import click
from pydantic import BaseModel

from monitor.cli import cli
from monitor.config import Config
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


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
    missing = [c for c in _commands(cli) if f"`{c}" not in README]
    assert not missing, f"commands missing from README: {missing}"


def test_every_config_key_is_documented():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", README, re.M))
    sections = {"storage", "fetch", "extract", "claims", "feeds", "watches", "alerts"}
    missing = sorted(_keys(Config) - documented - sections)
    assert not missing, f"config keys missing from README tables: {missing}"
