"""Connecting to PostgreSQL (``[storage] url``) with psycopg 3; every failure a
:class:`~monitor.errors.StoreError` naming the URL (without password) and what to do."""

from __future__ import annotations

import os

from monitor.config import PostgresURL
from monitor.errors import StoreError
from monitor.store.backend import PostgresConnection

CONNECT_TIMEOUT = 10  # seconds


def connect(
    target: PostgresURL, *, readonly: bool = False, application_name: str = "news-monitor"
) -> PostgresConnection:
    """An autocommit connection (read-only transactions for a reader)."""
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            f"{target.url}: storing in PostgreSQL needs the psycopg driver: "
            "pip install 'news-monitor[postgres]'"
        ) from None
    kwargs: dict[str, object] = {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT,
        "application_name": application_name,
    }
    if target.password_env:
        password = os.environ.get(target.password_env)
        if not password:
            raise StoreError(
                f"{target.url}: environment variable {target.password_env} "
                "([storage] password_env, the database password) is not set"
            )
        kwargs["password"] = password
    if readonly:
        kwargs["options"] = "-c default_transaction_read_only=on"

    def connection() -> psycopg.Connection:
        try:
            return psycopg.connect(target.url, **kwargs)  # type: ignore[arg-type]
        except psycopg.Error as e:
            raise StoreError(
                f"{target.url}: cannot connect to PostgreSQL: {_first_line(e)}"
            ) from None

    return PostgresConnection(connection(), reconnect=connection)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
