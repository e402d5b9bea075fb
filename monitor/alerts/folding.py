"""Alert folding: which alert a watch's match sends, given how dedup placed the article.

A watch's ``dedup`` setting says how reports of one story fold:

- ``"story"`` (default): one ``article.matched`` per story;
- ``"article"``: one per distinct article (copies of one fold);
- ``"off"``: one per stored article.

A folded article sends ``story.updated`` to the watch's webhook channels only, and only
when it brings a new outlet to the story. The policy reads what the watch matched before
through :class:`MatchHistory` (the store provides it) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from monitor.alerts.events import article_matched, story_updated
from monitor.models import AlertEvent, Article, Match
from monitor.store.rows import StoryRow


class MatchHistory(Protocol):
    def watch_matched_story(self, watch: str, story_id: int, besides: int) -> bool: ...

    def watch_matched_copy(self, watch: str, original: int, besides: int) -> bool: ...


class WatchLike(Protocol):
    name: str
    dedup: str
    alerts: list[str]


class DedupLike(Protocol):
    kind: str
    duplicate_of: int | None
    new_outlet: bool


def story_ref(story_id: int, story: StoryRow | None) -> dict[str, object]:
    """The story as alert payloads carry it."""
    if story is None:
        return {"id": story_id}
    return {
        "id": story_id,
        "title": story.title,
        "articles": story.articles,
        "outlets": list(story.outlets),
        "first_seen": story.first_seen,
    }


def match_alerts(
    history: MatchHistory,
    article: Article,
    article_id: int,
    match: Match,
    watch: WatchLike,
    decision: DedupLike,
    story: dict[str, object],
    channels: Mapping[str, Any],
) -> list[AlertEvent]:
    """``article.matched``, or ``story.updated`` when the watch's dedup folds this article.

    ``channels``: the ``[alerts]`` config (a folded article goes to webhooks only).
    """
    if watch.dedup == "off":
        fold = False
    elif watch.dedup == "article":
        fold = decision.duplicate_of is not None and history.watch_matched_copy(
            watch.name, decision.duplicate_of, article_id
        )
    else:
        sid = story.get("id")
        fold = isinstance(sid, int) and history.watch_matched_story(watch.name, sid, article_id)
    if not fold:
        return article_matched(article, match, watch.alerts, story=story)
    if not decision.new_outlet:
        return []
    hooks = [c for c in watch.alerts if c in channels and channels[c].type == "webhook"]
    relation = "copy" if decision.kind == "near-duplicate" else "report"
    return story_updated(article, match, story, hooks, relation=relation)
