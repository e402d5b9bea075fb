from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.models import Article
from monitor.store import Store


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store.open(tmp_path / "unit.db")
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
