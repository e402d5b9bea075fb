"""Stories: the groups dedup folds articles into, with their reports and outlets."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.store.db import Database
from monitor.store.rows import StoryArticleRow, StoryRow, iso, utcnow


class StoriesRepo(Database):
    def create_story(self, title: str, article_id: int, when: datetime) -> int:
        now = iso(utcnow())
        sid = self._insert(
            "stories",
            {
                "title": title,
                "first_article_id": article_id,
                "articles": 1,
                "first_seen": iso(when),
                "last_seen": iso(when),
                "created_at": now,
                "updated_at": now,
            },
        )
        self.db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [sid, article_id])
        return sid

    def join_story(
        self, story_id: int, article_id: int, when: datetime, duplicate_of: int | None = None
    ) -> None:
        self.db.execute(
            "UPDATE articles SET story_id = ?, duplicate_of = ? WHERE id = ?",
            [story_id, duplicate_of, article_id],
        )
        w = iso(when)
        least, greatest = self.db.dialect.least, self.db.dialect.greatest
        self.db.execute(
            "UPDATE stories SET articles = articles + 1, updated_at = ?,"
            f" first_seen = {least}(first_seen, ?), last_seen = {greatest}(last_seen, ?)"
            " WHERE id = ?",
            [iso(utcnow()), w, w, story_id],
        )

    def stories(
        self, limit: int = 50, watch: str | None = None, *, matched: bool = False
    ) -> list[StoryRow]:
        """Stories, latest activity first, with their outlets and the watches they matched.

        ``watch``: only stories that watch matched; ``matched``: only stories any watch matched.
        """
        where, args = "", []
        if watch or matched:
            where = (
                " WHERE s.id IN (SELECT a.story_id FROM matches m JOIN articles a"
                " ON a.id = m.article_id" + (" WHERE m.watch = ?)" if watch else ")")
            )
            args += [watch] if watch else []
        rows = self.db.query(
            f"SELECT s.* FROM stories s{where} ORDER BY s.updated_at DESC, s.id DESC LIMIT ?",
            [*args, limit],
        )
        return [self._story(r) for r in list(rows)]

    def story(self, story_id: int) -> StoryRow | None:
        rows = list(self.db.query("SELECT * FROM stories WHERE id = ?", [story_id]))
        return self._story(rows[0]) if rows else None

    def _story(self, r: dict[str, Any]) -> StoryRow:
        story_id = r["id"]
        feed_names = self.db.dialect.group_concat_distinct("f.name")
        arts = list(
            self.db.query(
                "SELECT a.id, a.title, a.url, a.site_name, a.published, a.fetched_at,"
                f" a.duplicate_of, a.revision, (SELECT {feed_names}"
                " FROM feed_entries e JOIN feeds f ON f.id = e.feed_id"
                " WHERE e.article_id = a.id) AS feeds"
                " FROM articles a WHERE a.story_id = ? ORDER BY a.id",
                [story_id],
            )
        )
        members = []
        for a in arts:  # the outlet: the page's site name, else the feed's name, else the host
            feeds = tuple(sorted(a["feeds"].split(","))) if a["feeds"] else ()
            outlet = a["site_name"] or (feeds[0] if feeds else _host(a["url"]))
            members.append(StoryArticleRow(**{**a, "feeds": feeds, "outlet": outlet}))
        watches = tuple(
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT m.watch FROM matches m JOIN articles a ON a.id = m.article_id"
                " WHERE a.story_id = ? ORDER BY m.watch",
                [story_id],
            )
        )
        return StoryRow(
            **r,
            article_list=tuple(members),
            outlets=tuple(dict.fromkeys(a.outlet for a in members)),
            watches=watches,
        )


def _host(url: str | None) -> str:
    return urlsplit(url or "").netloc.removeprefix("www.")
