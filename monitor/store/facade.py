"""The :class:`Store` facade: one class made of one part per domain."""

from __future__ import annotations

from monitor.store.articles import ArticlesRepo
from monitor.store.claims import ClaimsRepo
from monitor.store.dedup_index import DedupIndexRepo
from monitor.store.feeds import FeedsRepo
from monitor.store.outbox import OutboxRepo
from monitor.store.stories import StoriesRepo
from monitor.store.workers import WorkersRepo


class Store(
    FeedsRepo, ArticlesRepo, DedupIndexRepo, StoriesRepo, OutboxRepo, ClaimsRepo, WorkersRepo
):
    """The database. Open with :meth:`open`; one instance per writer."""
