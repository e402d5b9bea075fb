"""A debunk that quotes a rumour to refute it, then a report that asserts the rumour: the
second report contradicts the debunk (monitor/claims/track.py, ``SELF_REFUTED`` and
``REFUTED_CONFIRMS``), through the real pipeline, store and webhook receiver.

The route is a decision over what the models read, so the models' readings are scripted
here (``ClaimTracker.read``): the article judge's probabilities and the pair model's
readings of each claim, from our own sentences. What the packaged models read of real news
is measured by ``benchmarks/eval_claims.py pairs`` (docs/claims-evaluation.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from monitor.alerts.schemas import validate as validate_payload
from monitor.claims.pairs import Readings, Verdict
from monitor.claims.track import ArticleReading, ClaimTracker
from monitor.store import Store
from tests.integration.test_claims_model import PLAN, Case, Expect, Report, run_reports

RUMOUR = "will close the Harbour Bridge"  # in the rumour's claim and in the plan's report
REFUTING = "was a hoax"

DEBUNK = Report(
    "Harbour Bridge closure story is a hoax",
    "Mayor Ana Kovac will close the Harbour Bridge for two years of repairs, a website claimed "
    "on Monday. City hall said on Tuesday that the story was a hoax and the Harbour Bridge "
    "would stay open.",
    "Harbour Radio",
)
SECOND_DEBUNK = Report(
    "No, the Harbour Bridge is not closing",
    "Mayor Ana Kovac will close the Harbour Bridge for two years of repairs, a post shared "
    "online said. The mayor's office said the post was a hoax and the bridge stays open.",
    "Harbour Sound",
)


@dataclass(frozen=True)
class Script:
    """The judge's (confirms, contradicts) probabilities of the rumour's claim: read
    against the debunk itself, and against the plan's report."""

    in_debunk: tuple[float, float] = (0.10, 0.80)
    in_plan: tuple[float, float] = (0.60, 0.10)


def scripted(script: Script):
    def read(self, model, claims, sents, article, created=()) -> ArticleReading:
        sents = [s for s in sents if s and s.strip()]
        rumour_line = next((s for s in sents if RUMOUR in s), "")
        refuting = next((s for s in sents if REFUTING in s), "")
        verdicts, judge, readings = [], [], []
        for claim in claims:
            if RUMOUR not in claim or not rumour_line:
                verdicts.append(Verdict("neither", 0.9, "", None))
                judge.append((0.05, 0.05))
                readings.append(Readings([], [], np.zeros((0, 3))))
                continue
            if refuting:  # a debunk: it quotes the rumour, then refutes it
                texts = [rumour_line, refuting]
                probs = np.array([[0.90, 0.05, 0.05], [0.05, 0.90, 0.05]])
                verdicts.append(Verdict("neither", 0.5, "", None))
                judge.append(script.in_debunk)
            else:  # a report that asserts it
                texts = [rumour_line]
                probs = np.array([[0.90, 0.05, 0.05]])
                conf, _ = script.in_plan
                relation = "confirms" if conf >= 0.5 else "neither"
                verdicts.append(Verdict(relation, conf, rumour_line if conf >= 0.5 else "", None))
                judge.append(script.in_plan)
            readings.append(Readings([(i, i + 1) for i in range(len(texts))], texts, probs))
        return ArticleReading(verdicts, "article", judge, readings)

    return read


def run(tmp_path, corpus, receiver, monkeypatch, script: Script, *reports: Report):
    monkeypatch.setattr(ClaimTracker, "read", scripted(script), raising=False)
    case = Case("debunk", tuple((r, Expect()) for r in reports))
    return run_reports(tmp_path, corpus, receiver, case)


def test_a_report_confirming_a_rumour_contradicts_the_debunk_that_quoted_it(
    tmp_path, corpus, receiver, monkeypatch
) -> None:
    first, second = run(tmp_path, corpus, receiver, monkeypatch, Script(), DEBUNK, PLAN)
    assert first == []  # one article is not two reports: its own two sides never alert
    assert [p["type"] for p in second] == ["claim.contradicted"]  # no confirmation as well
    (p,) = second
    validate_payload(p)
    assert REFUTING in p["claim"]["text"]  # the debunk's side ...
    assert p["claim"]["polarity"] == "negative"
    assert p["claim"]["first_seen"]["outlet"] == "Harbour Radio"
    assert RUMOUR in p["evidence"]["quote"]  # ... opposed by the plan's sentence
    assert p["evidence"]["polarity"] == "positive"
    assert p["evidence"]["outlet"] == "The Daily Tide"
    assert re.match(
        r"On held-out news, alerts like this were right about 8 times in 10", (p["confidence_note"])
    )
    store = Store.open(tmp_path / "monitor.db", readonly=True)
    try:
        sides = [c for c in store.claims() if c.polarity == "denied" and REFUTING in c.statement]
        assert len(sides) == 1 and sides[0].first_outlet == "Harbour Radio"
        assert len(store.claim_relations([sides[0].id])) == 1  # recorded once, by the plan
    finally:
        store.close()


@pytest.mark.parametrize(
    "script",
    [
        Script(in_debunk=(0.10, 0.45)),  # the debunk does not surely refute what it quotes
        Script(in_debunk=(0.60, 0.55)),  # ... or reads more as confirming it
        Script(in_plan=(0.35, 0.10)),  # the later report does not surely confirm it
        Script(in_plan=(0.45, 0.50)),  # ... or reads more as contradicting it
    ],
    ids=["debunk unsure", "debunk confirms more", "plan unsure", "plan contradicts more"],
)
def test_below_the_thresholds_nothing_alerts(
    tmp_path, corpus, receiver, monkeypatch, script: Script
) -> None:
    got = run(tmp_path, corpus, receiver, monkeypatch, script, DEBUNK, PLAN)
    assert not any(p["type"] == "claim.contradicted" for alerts in got for p in alerts), got


def test_two_debunks_never_contradict_each_other(tmp_path, corpus, receiver, monkeypatch) -> None:
    got = run(tmp_path, corpus, receiver, monkeypatch, Script(), DEBUNK, SECOND_DEBUNK)
    assert got == [[], []]
