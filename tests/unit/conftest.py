from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import PostgresURL
from monitor.models import Article
from monitor.store import Store


@pytest.fixture
def store(database: Path | PostgresURL) -> Iterator[Store]:
    """A new store, once on SQLite and once on PostgreSQL (``database`` is parametrized)."""
    s = Store.open(database)
    yield s
    s.close()


def article(n: int = 1, **changes: object) -> Article:
    a = Article(
        url=f"https://news.example/{n}",
        title=f"Title {n}",
        text=f"Body of article {n}.",
        text_source="page",
        feed_name="f",
        guid=f"g{n}",
        site_name="News",
    )
    return a.replace(**changes)
