"""Store, articles domain: articles, revisions, matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.errors import StoreError
from monitor.models import Hit, Match
from monitor.store.rows import ArticleRevisionRow, ArticleRow
from tests.unit.conftest import article


def test_insert_and_read_back_typed(store):
    published = datetime(2024, 11, 6, 9, 30, tzinfo=UTC)
    a = article(1, author="E. Marsh", published=published, canonical_url="https://c.example/1")
    with store.transaction():
        aid = store.insert_article(a, "hash-1")
    row = store.get_article(aid)
    assert isinstance(row, ArticleRow)
    assert (row.url, row.title, row.author, row.published) == (
        a.url,
        a.title,
        "E. Marsh",
        "2024-11-06T09:30:00+00:00",
    )
    assert (row.content_hash, row.revision, row.story_id, row.duplicate_of) == (
        "hash-1",
        1,
        None,
        None,
    )
    assert store.get_article(aid + 1) is None
    assert store.article_count() == 1
    assert store.article_id_for_url(None, "https://c.example/1") == aid  # canonical URL
    assert store.article_id_for_url("https://nowhere.example/") is None


def test_revision_archives_the_old_text(store):
    with store.transaction():
        aid = store.insert_article(article(1), "h1")
        assert store.revise_article(aid, article(1, text="New text.", author="B"), "h2") == 2
    row = store.get_article(aid)
    assert row is not None and (row.text, row.revision, row.author) == ("New text.", 2, "B")
    assert row.updated_at is not None
    old = store.article_revision(aid, 1)
    assert old == ArticleRevisionRow(aid, 1, "Title 1", "Body of article 1.", "h1", old.fetched_at)
    assert store.article_revision(aid, 2) is None  # the current text lives in articles
    with pytest.raises(StoreError, match="article 99 does not exist"):
        store.revise_article(99, article(2), "h")


def test_matches_once_per_watch_and_article(store):
    m = Match("w", ("Putin",), (Hit("Putin", "Putin", "text", 0, 5),), ("[[Putin]] said",))
    with store.transaction():
        a = store.insert_article(article(1), "h1")
        b = store.insert_article(article(2), "h2")
        store.db.execute("UPDATE articles SET story_id = 7 WHERE id IN (?, ?)", [a, b])
        store.db.execute("UPDATE articles SET duplicate_of = ? WHERE id = ?", [a, b])
        assert store.insert_match(a, m)
        assert not store.insert_match(a, m)
        assert store.insert_match(a, Match("other", ("x",)))
    assert store.watch_matched("w", a) and not store.watch_matched("w", b)
    # b's story and b's original were matched by w, through a
    assert store.watch_matched_story("w", 7, besides=b)
    assert not store.watch_matched_story("w", 7, besides=a)
    assert store.watch_matched_copy("w", a, besides=b)
    assert not store.watch_matched_copy("nobody", a, besides=b)


def test_full_text_index_follows_every_article_write(store):
    """The FTS5 index is written by triggers in the article write's own transaction:
    inserts and revisions are searchable at once, a rolled-back write leaves nothing."""
    with store.transaction():
        a1 = store.insert_article(
            article(1, title="Harbour reopens", text="The Zanzibar harbour reopened today."), "h1"
        )
        store.insert_article(article(2, text="Nothing about ports."), "h2")
    (hit,) = store.search_articles("zanzibar")
    assert hit.id == a1 and hit.title == "Harbour reopens"
    assert "\ue000Zanzibar\ue001" in hit.snippet
    assert [h.id for h in store.search_articles("harbour")] == [a1]  # title and text
    # a revision replaces the indexed text
    with store.transaction():
        store.revise_article(
            a1, article(1, title="Harbour shut", text="Closed by the storm."), "h3"
        )
    assert store.search_articles("zanzibar") == []
    assert [h.id for h in store.search_articles("storm")] == [a1]
    # a write that rolls back is not searchable
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_article(article(3, text="Kilimanjaro expedition."), "h4")
        raise RuntimeError("crash before the commit")
    assert store.search_articles("kilimanjaro") == []
    # since: fetched at or after
    assert store.search_articles("storm", since="2999-01-01T00:00:00+00:00") == []
    with pytest.raises(StoreError, match="search"):
        store.search_articles('AND ("')


def test_latest_articles_newest_first(store):
    with store.transaction():
        ids = [store.insert_article(article(n), f"h{n}") for n in range(1, 5)]
    assert [a.id for a in store.latest_articles(limit=2)] == ids[::-1][:2]
    assert isinstance(store.latest_articles()[0], ArticleRow)


def test_search_query_syntax_is_the_same_on_both_backends(store):
    """FTS5's query syntax (PostgreSQL: translated to a tsquery), diacritics folded, the
    title weighing more than the text, and queries neither can parse refused alike."""
    with store.transaction():
        ids = [
            store.insert_article(article(n, title=title, text=text), f"h{n}")
            for n, (title, text) in enumerate(
                [
                    ("Storm over the harbour", "The harbour of Zanzibar closed."),
                    ("Markets", "A storm of selling hit the market; the harbour was calm."),
                    ("Café reopens", "The café on the harbour reopened after the storm."),
                    ("Congress", "Congratulations poured in for the new speaker."),
                ],
                start=1,
            )
        ]
    a1, a2, a3, a4 = ids

    def found(query: str) -> list[int]:
        return [h.id for h in store.search_articles(query)]

    assert found("storm")[0] == a1  # in the title: first
    assert sorted(found("storm")) == [a1, a2, a3]
    assert found('"harbour of Zanzibar"') == [a1]  # a phrase
    assert found('"Zanzibar harbour"') == []  # ... in its order
    assert sorted(found("zanzibar OR selling")) == [a1, a2]
    assert sorted(found("harbour NOT storm")) == []
    assert sorted(found("harbour NOT zanzibar")) == [a2, a3]
    assert sorted(found("harbour AND (calm OR reopened)")) == [a2, a3]
    assert found("harbour zanzibar") == [a1]  # adjacent words: AND
    assert found("congrat*") == [a4]  # a prefix
    assert found("cafe") == [a3] and found("CAFÉ") == [a3]  # case and diacritics folded
    for bad in ['AND ("', '"unclosed', "storm AND", "(storm", "NOT storm", "storm-harbour"]:
        with pytest.raises(StoreError, match="search"):
            store.search_articles(bad)
