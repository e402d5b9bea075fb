"""The alert-folding policy (monitor.alerts.folding): pure, over a match history."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from monitor.alerts.folding import match_alerts, story_ref
from monitor.config import WatchConfig
from monitor.models import Match
from monitor.store.rows import StoryRow
from tests.unit.conftest import article

CHANNELS = {"hook": SimpleNamespace(type="webhook"), "log": SimpleNamespace(type="log")}
STORY = {"id": 7, "title": "T"}


@dataclass
class History:
    """What the watch matched before (the store answers this in the pipeline)."""

    story: bool = False
    copy: bool = False

    def watch_matched_story(self, watch: str, story_id: int, besides: int) -> bool:
        return self.story and story_id == 7

    def watch_matched_copy(self, watch: str, original: int, besides: int) -> bool:
        return self.copy


@dataclass
class Placed:
    kind: str = "story"
    duplicate_of: int | None = None
    new_outlet: bool = True


def alerts(mode: str, history: History, placed: Placed) -> list[tuple[str, str]]:
    watch = WatchConfig(name="w", rule="x", alerts=["hook", "log"], dedup=mode)  # type: ignore[arg-type]
    got = match_alerts(history, article(2), 2, Match("w", ("x",)), watch, placed, STORY, CHANNELS)
    return [(e.type, e.channel) for e in got]


MATCHED = [("article.matched", "hook"), ("article.matched", "log")]


@pytest.mark.parametrize(
    ("mode", "history", "placed", "expected"),
    [
        # first report of the story: alerted on every channel
        ("story", History(), Placed(), MATCHED),
        # a later report with a new outlet: story.updated, webhooks only
        ("story", History(story=True), Placed(), [("story.updated", "hook")]),
        # ... from an outlet the story has: nothing
        ("story", History(story=True), Placed(new_outlet=False), []),
        # "article": another report of the story is a new article; a copy folds
        ("article", History(story=True), Placed(), MATCHED),
        (
            "article",
            History(copy=True),
            Placed("near-duplicate", duplicate_of=1),
            [("story.updated", "hook")],
        ),
        # "off": every stored article alerts
        ("off", History(story=True, copy=True), Placed("near-duplicate", 1), MATCHED),
    ],
)
def test_folding(mode, history, placed, expected):
    assert alerts(mode, history, placed) == expected


def test_copy_relation_and_story_ref():
    watch = WatchConfig(name="w", rule="x", alerts=["hook"], dedup="article")
    (e,) = match_alerts(
        History(copy=True),
        article(2),
        2,
        Match("w", ("x",)),
        watch,
        Placed("near-duplicate", duplicate_of=1),
        STORY,
        CHANNELS,
    )
    assert e.payload["relation"] == "copy" and e.payload["story"]["id"] == 7
    assert story_ref(3, None) == {"id": 3}
    row = StoryRow(3, "Title", 1, 2, "2024-11-06", "2024-11-07", "c", "u", outlets=("A", "B"))
    assert story_ref(3, row) == {
        "id": 3,
        "title": "Title",
        "articles": 2,
        "outlets": ["A", "B"],
        "first_seen": "2024-11-06",
    }
