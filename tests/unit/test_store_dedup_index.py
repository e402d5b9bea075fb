"""Store, dedup index: URL identities, sketches, LSH bands, key terms, pruning."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.store.rows import KnownArticle, SketchRecord, SketchRow
from tests.unit.conftest import article


def sketch(aid: int, *, seen: int, t: int, story: int | None, chash: str) -> SketchRecord:
    return SketchRecord(
        article_id=aid,
        seen=seen,
        t=t,
        story_id=story,
        duplicate_of=None,
        site="news.example",
        content_hash=chash,
        minhash=b"\x01\x02",
        terms=b"\x03",
    )


def test_record_find_and_forget(store):
    with store.transaction():
        a = store.insert_article(article(1), "h1")
        b = store.insert_article(article(2), "h2")
        store.dedup_record(sketch(a, seen=100, t=1000, story=5, chash="h1"), [11, 12], [1, 2], [7])
        store.dedup_record(sketch(b, seen=200, t=2000, story=5, chash="h1"), [13], [2, 3], [7, 8])
    known = store.dedup_known([99, 12])
    assert known == KnownArticle(a, "h1", "page", 1, None, "news.example")
    assert store.dedup_known([]) is None and store.dedup_known([404]) is None
    # the sketch's content hash is the article's from now on
    assert store.get_article(b).content_hash == "h1"  # type: ignore[union-attr]
    assert [k.article_id for k in store.dedup_by_hash("h1")] == [a, b]
    assert store.dedup_band_candidates([2, 3], limit=10) == [b, a]  # b shares two bands
    assert sorted(store.dedup_term_candidates([7, 8], 0, 5000, per_key=5)) == [a, b, b]
    assert store.dedup_term_candidates([7], 1500, 5000, per_key=5) == [b]  # time range
    (row,) = store.dedup_sketches([a])
    assert row == SketchRow(a, 5, None, "news.example", 1000, b"\x01\x02", b"\x03")
    assert store.story_sites(5) == {"news.example"}

    assert store.dedup_forget(a) and not store.dedup_forget(a)
    assert store.dedup_sketches([a]) == [] and store.dedup_band_candidates([1], 10) == []
    assert store.dedup_known([11]).article_id == a  # type: ignore[union-attr]  # URLs stay


def test_prune_forgets_sketches_fetched_before(store):
    with store.transaction():
        ids = [store.insert_article(article(n), f"h{n}") for n in (1, 2, 3)]
        for aid, seen in zip(ids, (100, 200, 300), strict=True):
            store.dedup_record(
                sketch(aid, seen=seen, t=seen, story=None, chash=f"h{aid}"), [], [aid], []
            )
    assert store.prune_fingerprints(datetime.fromtimestamp(250, UTC)) == 2
    assert [r.article_id for r in store.dedup_sketches(ids)] == [ids[2]]
    assert store.prune_fingerprints(datetime.fromtimestamp(250, UTC)) == 0


def test_articles_without_urls(store):
    with store.transaction():
        a = store.insert_article(article(1), "h1")
        b = store.insert_article(article(2), "h2")
        store.dedup_add_urls(a, [1, 2])
        store.dedup_add_urls(a, [2])  # again: no error
    assert store.articles_without_urls() == [b]
