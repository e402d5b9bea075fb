"""SQLite storage (one file, WAL) through sqlite-utils.

:class:`Store` is the facade the rest of the program holds: one class made of one part per
domain, each in its own module —

- :mod:`~monitor.store.db`: opening, transactions, ``meta``, the schema check;
- :mod:`~monitor.store.schema`: the baseline schema and the upgrades of older files;
- :mod:`~monitor.store.feeds`, :mod:`~monitor.store.articles`,
  :mod:`~monitor.store.dedup_index`, :mod:`~monitor.store.stories`,
  :mod:`~monitor.store.outbox`, :mod:`~monitor.store.claims`: the queries of each domain.

Every read returns the typed rows of :mod:`monitor.store.rows`, never dicts.
"""

from __future__ import annotations

from monitor.store.articles import ArticlesRepo
from monitor.store.claims import ClaimsRepo
from monitor.store.db import utcnow
from monitor.store.dedup_index import DedupIndexRepo
from monitor.store.feeds import FeedsRepo
from monitor.store.outbox import OutboxRepo
from monitor.store.rows import StoredAlert, from_iso, iso
from monitor.store.schema import SCHEMA_VERSION, Backfill
from monitor.store.stories import StoriesRepo


class Store(FeedsRepo, ArticlesRepo, DedupIndexRepo, StoriesRepo, OutboxRepo, ClaimsRepo):
    """The database. Open with :meth:`open`; one instance per writer."""


__all__ = ["SCHEMA_VERSION", "Backfill", "Store", "StoredAlert", "from_iso", "iso", "utcnow"]
