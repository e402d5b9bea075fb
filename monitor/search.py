"""Searching what is stored: full-text (SQLite FTS5) and "try a rule" (a watch rule run over
stored articles, with the explanations of `monitor test-rule`).

Used by `monitor search` and by the web view's search page and API; reads through a store
handle (read-only is enough) and returns typed results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from monitor.errors import MonitorError, StoreError

if TYPE_CHECKING:
    from monitor.rules import Document, Explanation
    from monitor.store import Store
    from monitor.store.rows import ArticleRow, SearchHitRow

SCAN_DEFAULT = 5000  # stored articles a rule is tried on (newest first)


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """A ``since`` filter: a duration back from now ("2h", "1d") or a date/time
    ("2026-11-20"); ``ValueError`` saying how to write it otherwise."""
    if value is None or not value.strip():
        return None
    from monitor.config import parse_duration

    value = value.strip()
    try:
        return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r}: give a duration back from now ('2h', '1d') or a date ('2026-11-20')"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def search_text(
    store: Store, query: str, since: str | None = None, limit: int = 50
) -> list[SearchHitRow]:
    """Articles matching a full-text query (FTS5 syntax: words, "phrases", OR, NOT,
    prefix*). Text FTS5 cannot parse is searched as plain words."""
    query = query.strip()
    if not query:
        return []
    try:
        return store.search_articles(query, since, limit)
    except StoreError:
        words = re.findall(r"\w+", query)
        if not words:
            return []
        return store.search_articles(" ".join(f'"{w}"' for w in words), since, limit)


@dataclass(frozen=True)
class RuleHit:
    """A stored article the rule matched, and why."""

    article: ArticleRow
    explanation: Explanation


@dataclass(frozen=True)
class RuleSearch:
    rule: str
    scanned: int  # stored articles the rule was tried on
    hits: tuple[RuleHit, ...]


def article_document(a: ArticleRow) -> Document:
    """The rule's view of a stored article (as the pipeline's ``document_from_article``)."""
    from monitor.rules.document import document_of

    return document_of(
        title=a.title, text=a.text, author=a.author, url=a.url, site_name=a.site_name
    )


def try_rule(
    store: Store,
    rule: str,
    *,
    since: str | None = None,
    limit: int = 50,
    scan: int = SCAN_DEFAULT,
    language: str = "en",
) -> RuleSearch:
    """Run a watch rule over the newest ``scan`` stored articles (fetched since ``since``);
    the first ``limit`` matches with their explanations. A bad rule is a
    :class:`~monitor.errors.RuleError` with a caret under the problem."""
    from monitor.rules import compile_rule, explain

    try:
        compiled = compile_rule(rule, language=language)
    except ValueError as e:  # RuleError is a ValueError; so is an unknown language
        if isinstance(e, MonitorError):
            raise
        raise MonitorError(str(e)) from None
    articles = store.latest_articles(since, scan)
    hits = []
    for a in articles:
        result = explain(compiled, article_document(a))
        if result.matched:
            hits.append(RuleHit(a, result))
            if len(hits) >= limit:
                break
    return RuleSearch(rule, len(articles), tuple(hits))
