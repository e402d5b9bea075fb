"""SQLite storage (one file, WAL) through sqlite-utils.

:class:`Store` (:mod:`~monitor.store.facade`) is what the rest of the program holds: one
class made of one part per domain, each in its own module —

- :mod:`~monitor.store.db`: opening, transactions, ``meta``, the schema check;
- :mod:`~monitor.store.schema`: the baseline schema and the upgrades of older files;
- :mod:`~monitor.store.feeds`, :mod:`~monitor.store.articles`,
  :mod:`~monitor.store.dedup_index`, :mod:`~monitor.store.stories`,
  :mod:`~monitor.store.outbox`, :mod:`~monitor.store.claims`, :mod:`~monitor.store.workers`
  (the distributed roles' leases and heartbeats): the queries of each domain.

Every read returns the typed rows of :mod:`monitor.store.rows`, never dicts. The rows
import nothing heavy; ``Store`` and the schema (sqlite-utils, which pulls in numpy) load
on first use, so a module that only names rows keeps ``monitor --help`` fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from monitor.store.rows import StoredAlert, from_iso, iso, utcnow

if TYPE_CHECKING:
    from monitor.store.facade import Store
    from monitor.store.schema import SCHEMA_VERSION, Backfill

_LAZY = {
    "Store": "monitor.store.facade",
    "SCHEMA_VERSION": "monitor.store.schema",
    "Backfill": "monitor.store.schema",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'monitor.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["SCHEMA_VERSION", "Backfill", "Store", "StoredAlert", "from_iso", "iso", "utcnow"]
