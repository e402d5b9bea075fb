"""Articles, their earlier revisions, and the watches' matches on them."""

from __future__ import annotations

import json
import re
import sqlite3

from monitor.errors import StoreError
from monitor.models import Article, Match
from monitor.store.db import Database
from monitor.store.rows import ArticleRevisionRow, ArticleRow, SearchHitRow, iso, utcnow

HIT_START, HIT_END = "\ue000", "\ue001"  # the marks around found words in a snippet
# ts_headline's options: FTS5's snippet of up to 24 words around the hits
_PG_HEADLINE = (
    f"StartSel={HIT_START}, StopSel={HIT_END}, MaxWords=24, MinWords=12, ShortWord=0,"
    ' MaxFragments=1, FragmentDelimiter=" … "'
)
_FTS5_TOKEN = re.compile(r'"([^"]*)"|(\w+)(\*?)|(\()|(\))|(\S)')
_FTS5_OPERATORS = {"AND": "&", "OR": "|", "NOT": "& !"}


def fts5_to_tsquery(query: str) -> str:
    """An FTS5 query (words, "phrases", AND, OR, NOT, prefix*, parentheses; adjacent
    terms mean AND) in PostgreSQL's ``to_tsquery`` syntax, so both backends read the same
    queries. What FTS5 would refuse (a stray quote or sign, a dangling operator, an
    unbalanced parenthesis) is a :class:`StoreError`, here or from PostgreSQL's parser."""
    out: list[str] = []
    operand = False  # the previous token ends an operand (an AND goes before the next)
    for m in _FTS5_TOKEN.finditer(query):
        phrase, word, star, opening, closing, other = m.groups()
        if other is not None:
            raise StoreError(f"search {query!r}: syntax error near {other!r}")
        if word in _FTS5_OPERATORS and not star:
            out.append(_FTS5_OPERATORS[word])
            operand = False
            continue
        if closing:
            out.append(")")
            operand = True
            continue
        if operand:
            out.append("&")
        if opening:
            out.append("(")
            operand = False
            continue
        if phrase is not None:
            words = re.findall(r"\w+", phrase)
            if not words:
                raise StoreError(f"search {query!r}: an empty phrase")
            out.append("(" + " <-> ".join(f"'{w}'" for w in words) + ")")
        else:
            out.append(f"'{word}'" + (":*" if star else ""))
        operand = True
    return " ".join(out)


class ArticlesRepo(Database):
    def article_id_for_url(self, *urls: str | None) -> int | None:
        for u in urls:
            if not u:
                continue
            row = self.db.execute(
                "SELECT id FROM articles WHERE url = ? OR canonical_url = ? LIMIT 1", [u, u]
            ).fetchone()
            if row:
                return int(row[0])
        return None

    def get_article(self, article_id: int) -> ArticleRow | None:
        rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return ArticleRow.from_row(rows[0]) if rows else None

    def article_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def search_articles(
        self, query: str, since: str | None = None, limit: int = 50
    ) -> list[SearchHitRow]:
        """Articles whose title or text match a full-text query, best first (the title
        weighing more); ``since``: fetched at or after this ISO time. The query is in FTS5's
        syntax on both backends (words, "phrases", AND, OR, NOT, prefix*, parentheses); a
        query that cannot be parsed is an error naming it (:class:`StoreError`)."""
        if self.db.dialect.name == "postgresql":
            return self._search_postgres(query, since, limit)
        sql = (
            "SELECT a.id, a.title, a.url, a.site_name, a.published, a.fetched_at, a.story_id,"
            " snippet(articles_fts, 1, ?, ?, ' … ', 24) AS snippet"
            " FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid"
            " WHERE articles_fts MATCH ?"
        )
        args: list[object] = [HIT_START, HIT_END, query]
        if since:
            sql += " AND a.fetched_at >= ?"
            args.append(since)
        sql += " ORDER BY bm25(articles_fts, 4.0, 1.0) LIMIT ?"
        try:
            rows = list(self.db.query(sql, [*args, limit]))
        except sqlite3.OperationalError as e:
            raise StoreError(f"search {query!r}: {e}") from None
        return [SearchHitRow.from_row(r) for r in rows]

    def _search_postgres(self, query: str, since: str | None, limit: int) -> list[SearchHitRow]:
        """The same search on PostgreSQL: the query translated to a ``tsquery``, matched
        against the GIN-indexed vectors of ``articles_fts`` (:mod:`~monitor.store.schema`),
        ranked by ``ts_rank`` with the title weighing 4 times the text (bm25's weights
        above); ``ts_headline`` makes the snippets of the best only."""
        import psycopg

        best = (
            "SELECT f.id, q, ts_rank('{0.1, 0.2, 0.25, 1.0}', f.vector, q) AS rank"
            " FROM to_tsquery('monitor_fts', ?) q, articles_fts f"
        )
        args: list[object] = [fts5_to_tsquery(query)]
        if since:
            best += " JOIN articles s ON s.id = f.id WHERE f.vector @@ q AND s.fetched_at >= ?"
            args.append(since)
        else:
            best += " WHERE f.vector @@ q"
        sql = (
            "SELECT a.id, a.title, a.url, a.site_name, a.published, a.fetched_at, a.story_id,"
            " ts_headline('monitor_fts', a.text, b.q, ?) AS snippet"
            f" FROM ({best} ORDER BY rank DESC, f.id LIMIT ?) b JOIN articles a ON a.id = b.id"
            " ORDER BY b.rank DESC, b.id"
        )
        try:
            rows = list(self.db.query(sql, [_PG_HEADLINE, *args, limit]))
        except psycopg.errors.SyntaxError as e:
            raise StoreError(f"search {query!r}: {str(e).splitlines()[0]}") from None
        return [SearchHitRow.from_row(r) for r in rows]

    def latest_articles(self, since: str | None = None, limit: int = 1000) -> list[ArticleRow]:
        """The most recently stored articles (newest first), fetched at or after ``since``."""
        sql, args = "SELECT * FROM articles", []
        if since:
            sql += " WHERE fetched_at >= ?"
            args.append(since)
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [ArticleRow.from_row(r) for r in rows]

    def articles_without_urls(self) -> list[int]:
        """Articles with no URL identity in the dedup index (stored before dedup existed)."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM articles a WHERE NOT EXISTS"
                " (SELECT 1 FROM article_urls u WHERE u.article_id = a.id) ORDER BY a.id"
            )
        ]

    def insert_article(self, article: Article, content_hash: str) -> int:
        """Insert an article row (call inside :meth:`transaction`)."""
        return self._insert(
            "articles",
            {
                "url": article.url,
                "canonical_url": article.canonical_url,
                "title": article.title,
                "author": article.author,
                "published": iso(article.published),
                "site_name": article.site_name,
                "fetched_at": iso(article.fetched_at or utcnow()),
                "text": article.text,
                "text_source": article.text_source,
                "content_hash": content_hash,
                "revision": 1,
            },
        )

    def revise_article(self, article_id: int, article: Article, content_hash: str) -> int:
        """Archive the stored text and put the new one in its place; the new revision."""
        old = self.get_article(article_id)
        if old is None:
            raise StoreError(f"article {article_id} does not exist")
        self.db.execute(
            "INSERT INTO article_revisions (article_id, revision, title, text,"
            " content_hash, fetched_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (article_id, revision) DO UPDATE SET title = excluded.title,"
            " text = excluded.text, content_hash = excluded.content_hash,"
            " fetched_at = excluded.fetched_at",
            [article_id, old.revision, old.title, old.text, old.content_hash, old.fetched_at],
        )
        revision = int(old.revision) + 1
        self.db.execute(
            "UPDATE articles SET title = ?, text = ?, text_source = ?, content_hash = ?,"
            " author = COALESCE(?, author), revision = ?, updated_at = ? WHERE id = ?",
            [
                article.title,
                article.text,
                article.text_source,
                content_hash,
                article.author,
                revision,
                iso(article.fetched_at or utcnow()),
                article_id,
            ],
        )
        return revision

    def article_revision(self, article_id: int, revision: int) -> ArticleRevisionRow | None:
        """An earlier text of a revised article (the current one is in ``articles``)."""
        rows = list(
            self.db.query(
                "SELECT * FROM article_revisions WHERE article_id = ? AND revision = ?",
                [article_id, revision],
            )
        )
        return ArticleRevisionRow(**rows[0]) if rows else None

    # -- matches ----------------------------------------------------------------------------
    def insert_match(self, article_id: int, match: Match) -> bool:
        """Store a match; False if this watch already matched this article."""
        cur = self.db.execute(
            "INSERT INTO matches (watch, article_id, terms, hits, snippets, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                match.watch,
                article_id,
                json.dumps(list(match.terms)),
                json.dumps([h.__dict__ for h in match.hits][:200]),
                json.dumps(list(match.snippets)),
                iso(utcnow()),
            ],
        )
        return cur.rowcount > 0

    def matched_watches(self) -> list[str]:
        """The names of every watch that has matched something (config or not)."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT watch FROM matches ORDER BY 1")]

    def watch_matched(self, watch: str, article_id: int) -> bool:
        """Has the watch matched this article already (an earlier revision of it)?"""
        return self._exists(
            "SELECT 1 FROM matches WHERE watch = ? AND article_id = ?", [watch, article_id]
        )

    def watch_matched_story(self, watch: str, story_id: int, besides: int) -> bool:
        """Has the watch matched another article of the story already?"""
        return self._exists(
            "SELECT 1 FROM matches m JOIN articles a ON a.id = m.article_id"
            " WHERE m.watch = ? AND a.story_id = ? AND a.id != ? LIMIT 1",
            [watch, story_id, besides],
        )

    def watch_matched_copy(self, watch: str, original: int, besides: int) -> bool:
        """Has the watch matched the original or another copy of it?"""
        return self._exists(
            "SELECT 1 FROM matches m JOIN articles a ON a.id = m.article_id"
            " WHERE m.watch = ? AND (a.id = ? OR a.duplicate_of = ?) AND a.id != ? LIMIT 1",
            [watch, original, original, besides],
        )
