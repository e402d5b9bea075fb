"""Tracked claims, the reports (evidence) on each, and the relations between claims."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.store.backend import insert_sql
from monitor.store.db import Database
from monitor.store.rows import (
    ClaimEvidenceRow,
    ClaimRelationRow,
    ClaimRow,
    NewClaim,
    NewEvidence,
    iso,
    utcnow,
)


def _record(row: NewClaim | NewEvidence) -> dict[str, Any]:
    d = dataclasses.asdict(row)
    record = {k: iso(v) if isinstance(v, datetime) else v for k, v in d.items()}
    record["created_at"] = iso(utcnow())
    return record


class ClaimsRepo(Database):
    def insert_claim(self, claim: NewClaim) -> int:
        """Store a tracked claim (call inside :meth:`transaction`)."""
        return self._insert("claims", _record(claim))

    def insert_declared_claim(self, claim: NewClaim) -> int:
        """Store a claim declared in the config, unless it is stored already (processes
        starting together may both find it missing); its id either way."""
        record = _record(claim)
        self.db.execute(
            insert_sql("claims", record) + " ON CONFLICT (watch, config_text) DO NOTHING",
            list(record.values()),
        )
        found = self.declared_claim_id(claim.watch, claim.config_text or "")
        assert found is not None
        return found

    def declared_claim_id(self, watch: str, config_text: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM claims WHERE watch = ? AND config_text = ?", [watch, config_text]
        ).fetchone()
        return int(row[0]) if row else None

    def claims_of_watch(
        self, watch: str, predicate_keys: Iterable[str] | None = None
    ) -> list[ClaimRow]:
        """A watch's claims (all, or those with these predicate keys plus declared ones)."""
        sql, args = "SELECT * FROM claims WHERE watch = ?", [watch]
        if predicate_keys is not None:
            keys = list(dict.fromkeys(predicate_keys))
            marks = ",".join("?" * len(keys)) or "NULL"
            sql += f" AND (origin = 'config' OR predicate_key IN ({marks}))"
            args += keys
        return [ClaimRow.from_row(r) for r in self.db.query(sql + " ORDER BY id", args)]

    def claims_of_story(self, watch: str, story_id: int | None) -> list[ClaimRow]:
        """A watch's declared claims and the claims reported by articles of one dedup story
        (first made there, or with evidence from there); declared only for no story."""
        sql = "SELECT * FROM claims WHERE watch = ? AND (origin = 'config'"
        args: list[object] = [watch]
        if story_id is not None:
            sql += (
                " OR first_article_id IN (SELECT id FROM articles WHERE story_id = ?)"
                " OR id IN (SELECT e.claim_id FROM claim_evidence e"
                " JOIN articles a ON a.id = e.article_id WHERE a.story_id = ?)"
            )
            args += [story_id, story_id]
        return [ClaimRow.from_row(r) for r in self.db.query(sql + ") ORDER BY id", args)]

    def claims_in_story(self, story_id: int) -> list[ClaimRow]:
        """Every watch's claims first made, or reported, by an article of this story."""
        rows = self.db.query(
            "SELECT * FROM claims WHERE first_article_id IN"
            " (SELECT id FROM articles WHERE story_id = ?)"
            " OR id IN (SELECT e.claim_id FROM claim_evidence e"
            " JOIN articles a ON a.id = e.article_id WHERE a.story_id = ?) ORDER BY watch, id",
            [story_id, story_id],
        )
        return [ClaimRow.from_row(r) for r in rows]

    def claims(self, watch: str | None = None) -> list[ClaimRow]:
        sql, args = "SELECT * FROM claims", []
        if watch:
            sql += " WHERE watch = ?"
            args.append(watch)
        return [ClaimRow.from_row(r) for r in self.db.query(sql + " ORDER BY watch, id", args)]

    def add_claim_evidence(self, evidence: NewEvidence) -> int:
        """Record one report on a claim (call inside :meth:`transaction`)."""
        record = _record(evidence)
        record["source_keys"] = json.dumps(list(evidence.source_keys))
        return self._insert("claim_evidence", record)

    def claim_evidence(self, claim_ids: Iterable[int]) -> list[ClaimEvidenceRow]:
        """Evidence rows of these claims, oldest first."""
        ids = list(dict.fromkeys(claim_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.db.query(
            f"SELECT * FROM claim_evidence WHERE claim_id IN ({marks})"
            " ORDER BY COALESCE(published, created_at), id",
            ids,
        )
        return [ClaimEvidenceRow.from_row(r) for r in rows]

    def add_claim_relation(
        self, older: int, newer: int, relation: str, confidence: float, evidence_id: int | None
    ) -> bool:
        """Record that two claims relate; False if that pair was already recorded."""
        a, b = min(older, newer), max(older, newer)
        cur = self.db.execute(
            "INSERT INTO claim_relations (claim_a, claim_b, relation, confidence,"
            " evidence_id, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [a, b, relation, confidence, evidence_id, iso(utcnow())],
        )
        return cur.rowcount > 0

    def has_claim_relation(self, a: int, b: int) -> bool:
        """Whether a relation between two claims is on file (either order)."""
        lo, hi = min(a, b), max(a, b)
        return self._exists(
            "SELECT 1 FROM claim_relations WHERE claim_a = ? AND claim_b = ?", [lo, hi]
        )

    def claim_relations(self, claim_ids: Iterable[int] | None = None) -> list[ClaimRelationRow]:
        sql, args = "SELECT * FROM claim_relations", []
        if claim_ids is not None:
            ids = list(dict.fromkeys(claim_ids))
            marks = ",".join("?" * len(ids)) or "NULL"
            sql += f" WHERE claim_a IN ({marks}) OR claim_b IN ({marks})"
            args = ids + ids
        rows = self.db.query(sql + " ORDER BY created_at", args)
        return [ClaimRelationRow(**r) for r in rows]
