"""Store, claims domain: claims, their evidence, and relations between claims."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.store.rows import ClaimEvidenceRow, ClaimRelationRow, ClaimRow, NewClaim, NewEvidence
from tests.unit.conftest import article


def new_claim(watch: str, key: str, **kw: object) -> NewClaim:
    fields: dict[str, object] = {
        "watch": watch,
        "origin": "article",
        "statement": f"Putin {key} Trump",
        "proposition": "{}",
        "predicate_key": key,
        "polarity": "asserted",
        "modality": "stated",
    }
    fields.update(kw)
    return NewClaim(**fields)  # type: ignore[arg-type]


def evidence(claim_id: int, article_id: int | None, **kw: object) -> NewEvidence:
    fields: dict[str, object] = {
        "claim_id": claim_id,
        "article_id": article_id,
        "role": "origin",
        "quote": "Putin congratulated Trump.",
        "statement": None,
        "field": "text",
        "attribution": "Kremlin",
        "source_keys": ("kremlin",),
        "outlet": "The Ledger",
        "url": "https://ledger.example/1",
        "title": "T",
        "published": datetime(2024, 11, 6, 10, tzinfo=UTC),
        "polarity": "asserted",
        "modality": "reported",
        "confidence": 0.8,
    }
    fields.update(kw)
    return NewEvidence(**fields)  # type: ignore[arg-type]


def test_claims_evidence_and_relations(store):
    first = datetime(2024, 11, 6, 9, tzinfo=UTC)
    with store.transaction():
        aid = store.insert_article(article(1), "h1")
        declared = store.insert_claim(
            new_claim("w", "congratul", origin="config", config_text="Putin congratulated Trump")
        )
        c1 = store.insert_claim(
            new_claim("w", "congratul", first_article_id=aid, first_published=first)
        )
        c2 = store.insert_claim(new_claim("w", "hail"))
        other = store.insert_claim(new_claim("v", "congratul"))
        store.add_claim_evidence(evidence(c1, aid))
        store.add_claim_evidence(
            evidence(c1, None, role="confirms", published=datetime(2024, 11, 5, tzinfo=UTC), copy=1)
        )
    assert store.declared_claim_id("w", "Putin congratulated Trump") == declared
    assert store.declared_claim_id("v", "Putin congratulated Trump") is None
    row = next(r for r in store.claims("w") if r.id == c1)
    assert isinstance(row, ClaimRow)
    assert (row.first_article_id, row.first_published, row.origin) == (
        aid,
        first.isoformat(),
        "article",
    )
    assert [r.id for r in store.claims()] == [other, declared, c1, c2]  # by watch, then id
    # a watch's claims with these predicates, and its declared claims always
    assert [r.id for r in store.claims_of_watch("w", ["hail"])] == [declared, c2]
    assert [r.id for r in store.claims_of_watch("w", [])] == [declared]
    assert [r.id for r in store.claims_of_watch("w")] == [declared, c1, c2]

    ev = store.claim_evidence([c1, c1])
    assert [type(e) for e in ev] == [ClaimEvidenceRow, ClaimEvidenceRow]
    assert [e.role for e in ev] == ["confirms", "origin"]  # oldest report first
    assert ev[1].source_keys == ("kremlin",) and ev[1].article_id == aid and ev[0].copy == 1
    assert store.claim_evidence([]) == []

    assert store.add_claim_relation(c2, c1, "contradicts", 0.9, None)
    assert not store.add_claim_relation(c1, c2, "contradicts", 0.7, None)  # either order
    assert store.has_claim_relation(c2, c1) and not store.has_claim_relation(c1, declared)
    (rel,) = store.claim_relations([c2])
    assert rel == ClaimRelationRow(c1, c2, "contradicts", 0.9, None, rel.created_at)
    assert store.claim_relations([other]) == [] and len(store.claim_relations()) == 1
