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


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "condition",
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` s, or at once if ``proc``
    (the daemon under test) exits, with the tail of its ``log``."""

    def tail() -> str:
        return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""

    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process exited early ({proc.returncode}):\n{tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{tail()}")
        time.sleep(0.05)


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
