"""The two storage backends behind one small connection interface.

Every domain module writes plain SQL with ``?`` placeholders and talks to a
:class:`Connection`: ``execute`` (rows as tuples), ``executemany``, ``query`` (rows as
dicts), ``atomic`` (a transaction, savepoints when nested), ``insert`` (the new row's id)
and ``table_names``. Two classes implement it:

- :class:`SqliteConnection`: SQLite through sqlite-utils (the default, one file, WAL);
- :class:`PostgresConnection`: PostgreSQL through psycopg 3, selected by
  ``[storage] url = "postgresql://…"``.

The SQL is written once, in the dialect both engines accept (``INSERT … ON CONFLICT``
instead of ``INSERT OR REPLACE/IGNORE``, ``COUNT(CASE …)`` instead of summing booleans).
What differs is here and in :class:`Dialect`, in one place:

- placeholders: ``?`` becomes psycopg's ``%s`` (outside quoted text; cached per statement);
- the id of an inserted row: ``cursor.lastrowid`` / ``INSERT … RETURNING id``;
- two-argument ``MIN``/``MAX`` (``LEAST``/``GREATEST``) and ``GROUP_CONCAT``
  (``string_agg``): :class:`Dialect`;
- Python booleans are stored as integers (the columns are integers in both);
- the schema (``BIGINT`` identity keys, ``BYTEA``, ``DOUBLE PRECISION``, ``COLLATE "C"`` so
  text sorts as in SQLite, a ``rowid`` column where SQLite's implicit one is read) and
  full-text search (SQLite FTS5, PostgreSQL a GIN index over a ``tsvector`` expression):
  :mod:`monitor.store.schema` and :mod:`monitor.store.articles`.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlite_utils


@dataclass(frozen=True)
class Dialect:
    """The few SQL spellings that differ between the engines."""

    name: str  # "sqlite" | "postgresql"
    least: str  # the smaller of two values
    greatest: str

    def group_concat_distinct(self, expr: str) -> str:
        """The distinct values of ``expr``, comma-separated (order unspecified)."""
        if self.name == "postgresql":
            return f"string_agg(DISTINCT {expr}, ',')"
        return f"GROUP_CONCAT(DISTINCT {expr})"


SQLITE = Dialect("sqlite", least="MIN", greatest="MAX")
POSTGRESQL = Dialect("postgresql", least="LEAST", greatest="GREATEST")


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store's domain modules use of a database connection."""

    dialect: Dialect
    conn: Any  # the driver's connection (sqlite3 / psycopg)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]: ...
    def atomic(self) -> AbstractContextManager[Any]: ...
    def insert(self, table: str, record: dict[str, Any]) -> int: ...
    def table_names(self) -> list[str]: ...
    def close(self) -> None: ...


def insert_sql(table: str, record: dict[str, Any]) -> str:
    """``INSERT INTO table (columns) VALUES (?, …)`` for a record's keys."""
    return f"INSERT INTO {table} ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})"


class SqliteConnection:
    """SQLite through sqlite-utils (``atomic()``: BEGIN … COMMIT, savepoints when nested)."""

    dialect = SQLITE

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, list(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        return self.db.query(sql, list(params))

    def atomic(self) -> AbstractContextManager[Any]:
        return self.db.atomic()

    def insert(self, table: str, record: dict[str, Any]) -> int:
        cur = self.conn.execute(insert_sql(table, record), list(record.values()))
        return int(cur.lastrowid or 0)

    def table_names(self) -> list[str]:
        return self.db.table_names()

    def close(self) -> None:
        self.conn.close()


_QUOTED = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")")


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` as ``%%``), leaving
    quoted strings and names alone."""
    parts = _QUOTED.split(sql)
    for i in range(0, len(parts), 2):  # the even parts are outside quotes
        parts[i] = parts[i].replace("%", "%%").replace("?", "%s")
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace("%", "%%")
    return "".join(parts)


def _param(v: Any) -> Any:
    return int(v) if isinstance(v, bool) else v


class PostgresConnection:
    """PostgreSQL through psycopg 3, in autocommit mode: a statement outside
    :meth:`atomic` commits on its own (as with sqlite-utils), ``atomic()`` is
    ``connection.transaction()`` (BEGIN … COMMIT, savepoints when nested).

    A connection the server dropped (a restart, a failover, an idle timeout) fails the
    statement that finds it broken, and the transaction it was in; the next statement
    outside a transaction connects again (``reconnect``), so a long-running daemon
    recovers without a restart."""

    dialect = POSTGRESQL

    def __init__(self, conn: Any, reconnect: Callable[[], Any] | None = None) -> None:
        self.conn = conn  # psycopg.Connection, autocommit
        self._reconnect = reconnect
        self._depth = 0  # atomic() blocks open

    def _live(self) -> Any:
        if self.conn.broken and self._depth == 0 and self._reconnect is not None:
            self.conn.close()
            self.conn = self._reconnect()
        return self.conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        conn = self._live()
        if not params:  # psycopg reads no placeholders in a statement without parameters
            return conn.execute(sql)
        return conn.execute(to_pyformat(sql), [_param(p) for p in params])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._live().cursor() as cur:
            cur.executemany(to_pyformat(sql), [[_param(p) for p in r] for r in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self._live().cursor(row_factory=dict_row) as cur:
            cur.execute(to_pyformat(sql), [_param(p) for p in params])
            rows = cur.fetchall()
        return iter(rows)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        conn = self._live()
        self._depth += 1
        try:
            with conn.transaction():
                yield
        finally:
            self._depth -= 1

    def insert(self, table: str, record: dict[str, Any]) -> int:
        sql = insert_sql(table, record) + " RETURNING id"
        return int(self.execute(sql, list(record.values())).fetchone()[0])

    def table_names(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() ORDER BY table_name"
        )
        return [r[0] for r in rows]

    def close(self) -> None:
        self.conn.close()
