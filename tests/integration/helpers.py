"""Helpers the integration tests share: the CLI as a subprocess, the daemon in the
background, waiting for a condition, a small RSS document."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def monitor(*args: str, **kw: Any) -> subprocess.CompletedProcess:
    """``python -m monitor ARGS`` as a user runs it, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start_daemon(
    config: Path, log: Path, command: str = "run", secret: str = "k"
) -> subprocess.Popen:
    """``monitor COMMAND`` (the daemon, or a distributed role) in the background, its
    output in ``log``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TEST_WEBHOOK_SECRET": secret}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), command],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=config.parent,
    )


def small_rss(base: str, items: list[tuple[str, str, str]]) -> str:
    """An RSS document of (guid, title, description) items linking ``base``/p/GUID.html."""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>{base}/p/{g}.html</link>"
        f"<description>{d}</description></item>"
        for g, t, d in items
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Small</title>{body}</channel></rss>"
