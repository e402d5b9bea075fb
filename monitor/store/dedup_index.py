"""The dedup index: URL identities, similarity sketches, LSH bands and key terms.

Reads used by :class:`monitor.dedup.Deduplicator` (its ``DedupState`` protocol) and the
writes that apply a ``DedupDecision`` (inside the article's transaction).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.store.db import Database
from monitor.store.rows import KnownArticle, SketchRecord, SketchRow


class DedupIndexRepo(Database):
    def dedup_known(self, url_hashes: Sequence[int]) -> KnownArticle | None:
        """The stored article one of these URL identity hashes belongs to."""
        if not url_hashes:
            return None
        marks = ",".join("?" * len(url_hashes))
        rows = list(
            self.db.query(
                "SELECT a.id AS article_id, a.content_hash, a.text_source, a.revision,"
                " a.story_id, s.site FROM article_urls u JOIN articles a ON a.id = u.article_id"
                f" LEFT JOIN dedup_sketches s ON s.article_id = a.id WHERE u.key IN ({marks})"
                " ORDER BY a.id LIMIT 1",
                list(url_hashes),
            )
        )
        return _known(rows[0]) if rows else None

    def dedup_by_hash(self, content_hash: str) -> list[KnownArticle]:
        """Recent articles (within the fingerprint window) with exactly this text."""
        return [
            _known(r)
            for r in self.db.query(
                "SELECT s.article_id, s.content_hash, a.text_source, a.revision, s.story_id,"
                " s.site FROM dedup_sketches s JOIN articles a ON a.id = s.article_id"
                " WHERE s.content_hash = ? ORDER BY s.article_id LIMIT 20",
                [content_hash],
            )
        ]

    def dedup_band_candidates(self, bands: Sequence[int], limit: int) -> list[int]:
        """Articles sharing at least one LSH band, most shared bands first."""
        if not bands:
            return []
        marks = ",".join("?" * len(bands))
        return [
            r[0]
            for r in self.db.execute(
                f"SELECT article_id FROM dedup_bands WHERE key IN ({marks})"
                " GROUP BY article_id ORDER BY COUNT(*) DESC, article_id LIMIT ?",
                [*bands, limit],
            )
        ]

    def dedup_term_candidates(
        self, keys: Sequence[int], start: int, end: int, per_key: int
    ) -> list[int]:
        """Articles of the time range sharing key terms; an id once per shared term.

        At most ``per_key`` (the latest) per term, so a frequent term costs no more than
        a rare one.
        """
        if not keys:
            return []
        sub = (
            "SELECT article_id FROM (SELECT article_id FROM dedup_terms WHERE key = ?"
            " AND t BETWEEN ? AND ? ORDER BY t DESC LIMIT ?) AS k"
        )
        args: list[Any] = []
        for k in keys:
            args += [k, start, end, per_key]
        sql = " UNION ALL ".join([sub] * len(keys))
        return [r[0] for r in self.db.execute(sql, args)]

    def dedup_sketches(self, article_ids: Sequence[int]) -> list[SketchRow]:
        if not article_ids:
            return []
        marks = ",".join("?" * len(article_ids))
        cols = ("article_id", "story_id", "duplicate_of", "site", "t", "minhash", "terms")
        cur = self.db.execute(
            f"SELECT {', '.join(cols)} FROM dedup_sketches WHERE article_id IN ({marks})",
            list(article_ids),
        )
        return [SketchRow(*r) for r in cur]

    def story_sites(self, story_id: int) -> set[str]:
        """The outlets (hosts) whose articles are in a story (within the window)."""
        return {
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT site FROM dedup_sketches WHERE story_id = ?", [story_id]
            )
        }

    def dedup_record(
        self,
        sketch: SketchRecord,
        url_hashes: Sequence[int],
        bands: Sequence[int],
        term_keys: Sequence[int],
    ) -> None:
        """Store an article's sketch, URL identities, LSH bands and key terms."""
        aid = sketch.article_id
        self.dedup_forget(aid)
        row = {
            **dataclasses.asdict(sketch),
            "bands": struct.pack(f"<{len(bands)}q", *bands),
            "keys": struct.pack(f"<{len(term_keys)}q", *term_keys),
        }
        cols = ", ".join(row)
        self.db.execute(
            f"INSERT INTO dedup_sketches ({cols}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        self.dedup_add_urls(aid, url_hashes)
        self.db.execute(
            "UPDATE articles SET content_hash = ? WHERE id = ? AND content_hash != ?",
            [sketch.content_hash, aid, sketch.content_hash],
        )
        self.db.executemany(
            "INSERT INTO dedup_bands (key, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(b, aid) for b in bands],
        )
        self.db.executemany(
            "INSERT INTO dedup_terms (key, t, article_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(k, sketch.t, aid) for k in term_keys],
        )

    def dedup_add_urls(self, article_id: int, url_hashes: Sequence[int]) -> None:
        self.db.executemany(
            "INSERT INTO article_urls (key, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(h, article_id) for h in url_hashes],
        )

    def dedup_forget(self, article_id: int) -> bool:
        """Drop an article's sketch, bands and key terms (its URL identities stay)."""
        row = self.db.execute(
            "SELECT bands, keys, t FROM dedup_sketches WHERE article_id = ?", [article_id]
        ).fetchone()
        if row is None:
            return False
        bands = struct.unpack(f"<{len(row[0]) // 8}q", row[0])
        keys = struct.unpack(f"<{len(row[1]) // 8}q", row[1])
        self.db.executemany(
            "DELETE FROM dedup_bands WHERE key = ? AND article_id = ?",
            [(b, article_id) for b in bands],
        )
        self.db.executemany(
            "DELETE FROM dedup_terms WHERE key = ? AND t = ? AND article_id = ?",
            [(k, row[2], article_id) for k in keys],
        )
        self.db.execute("DELETE FROM dedup_sketches WHERE article_id = ?", [article_id])
        return True

    def prune_fingerprints(self, before: datetime, limit: int = 20_000) -> int:
        """Forget the sketches of articles fetched before a time (at most ``limit``)."""
        ids = [
            r[0]
            for r in self.db.execute(
                "SELECT article_id FROM dedup_sketches WHERE seen < ? ORDER BY seen LIMIT ?",
                [int(before.timestamp()), limit],
            )
        ]
        with self.db.atomic():
            for aid in ids:
                self.dedup_forget(aid)
        return len(ids)


def _known(row: dict[str, Any]) -> KnownArticle:
    return KnownArticle(
        article_id=int(row["article_id"]),
        content_hash=row["content_hash"],
        text_source=row["text_source"],
        revision=int(row["revision"] or 1),
        story_id=row["story_id"],
        site=row["site"] or "",
    )
