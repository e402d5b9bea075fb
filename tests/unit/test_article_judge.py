"""The article judge (monitor/claims/article_judge.py): its packaged files, its features,
and the rules by which its verdicts and their evidence are made. Our own sentences only."""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from monitor.claims.article_judge import (
    FEATURE_NAMES,
    JUDGE_DIR,
    XFIT_FEATURE_NAMES,
    ArticleJudge,
    ArticleJudgeError,
    EngineReading,
    body_cues,
    features,
    load_passage_model,
    passage_probabilities,
)
from monitor.claims.pairs import Readings, Verdict, is_short, judge_short

SENTS = [
    "Reports said the mayor would close the harbour bridge next spring.",
    "The mayor's office said the reports were false.",
    "Ferries will run as usual, the harbour authority said.",
]
CLAIM = "The mayor will close the harbour bridge"


def engine(stance: str = "discusses") -> EngineReading:
    probs = {"confirms": 0.1, "contradicts": 0.1, "discusses": 0.7, "unrelated": 0.1}
    probs[stance] = 0.9
    return EngineReading(stance, probs, "model", (SENTS[1],))


def readings(*rows: list[float]) -> Readings:
    spans = [(0, 1), (0, 2), (1, 2)][: len(rows)]
    return Readings(spans, [" ".join(SENTS[a:b]) for a, b in spans], np.array(rows))


@pytest.fixture()
def pass_through() -> ArticleJudge:
    """The packaged judge made to never decide by itself, with its gate open: what is left
    are the rules around it (the pair model's verdict, the engine, the evidence)."""
    j = ArticleJudge(JUDGE_DIR)
    j.thresholds = {
        "confirms": 1.0,
        "contradicts": 1.0,
        "gate": 0.0,
        "passage_confirms": 1.0,
        "passage_contradicts": 1.0,
        "cross_contradicts": 1.0,
        "cross_gate": 0.0,
    }
    return j


def test_packaged_judge_loads_with_calibrated_thresholds() -> None:
    j = ArticleJudge.load()
    assert set(j.thresholds) == {
        "confirms",
        "contradicts",
        "gate",
        "passage_confirms",
        "passage_contradicts",
        "cross_contradicts",
        "cross_gate",
    }
    assert all(0.0 <= t <= 1.0 for t in j.thresholds.values())
    for rel in ("confirms", "contradicts"):
        p = j.precision(rel)
        assert p is not None and 0.0 < p <= 1.0
    meta = json.loads((JUDGE_DIR / "meta.json").read_text())
    assert meta["feature_names"] == list(FEATURE_NAMES) and "validation" in meta["trained_on"]
    x = np.array([features(CLAIM, SENTS, readings([0.1, 0.8, 0.1]), engine(), body_cues(SENTS))])
    p = j.probabilities(x)
    assert p.shape == (1, 3) and abs(p.sum() - 1) < 1e-9
    q = j.cross_probabilities(x)
    assert q.shape == (1, 3) and abs(q.sum() - 1) < 1e-9
    cross = json.loads((JUDGE_DIR / "cross.json").read_text())
    assert cross["feature_names"] == list(XFIT_FEATURE_NAMES) and "train+val" in cross["trained_on"]


def test_cross_judge_reads_no_pair_model_feature() -> None:
    """The cross judge was trained on stories whose sentences the pair model was trained
    on: its inputs must not change when only the pair model's probabilities do."""
    j = ArticleJudge.load()
    body = body_cues(SENTS)
    a = features(CLAIM, SENTS, readings([0.9, 0.05, 0.05], [0.8, 0.1, 0.1]), engine(), body)
    b = features(CLAIM, SENTS, readings([0.05, 0.9, 0.05], [0.1, 0.8, 0.1]), engine(), body)
    assert a != b
    np.testing.assert_array_equal(
        j.cross_probabilities(np.array([a, b]))[0], j.cross_probabilities(np.array([a, b]))[1]
    )
    assert set(XFIT_FEATURE_NAMES) < set(FEATURE_NAMES)
    assert not any(n.startswith(("max_", "mean_", "top_c", "top_w")) for n in XFIT_FEATURE_NAMES)


def test_features_are_one_row_per_name_and_missing_without_readings() -> None:
    row = features(CLAIM, SENTS, readings([0.2, 0.7, 0.1], [0.1, 0.8, 0.1]), engine(), [0.0] * 5)
    assert len(row) == len(FEATURE_NAMES)
    named = dict(zip(FEATURE_NAMES, row, strict=True))
    assert named["readings"] == 2 and named["max_contradicts"] == pytest.approx(0.8)
    assert named["top_window_contradicts"] == pytest.approx(0.8)
    assert named["engine_discusses"] == pytest.approx(0.9) and named["engine_source_model"] == 1
    # the window (sentences 1-2) reads "the reports were false"
    assert named["read_deny"] == 1 and named["read_debunk"] == 1
    assert named["read_hedge"] >= 1  # "Reports said"
    alone = features(CLAIM, SENTS, readings([0.2, 0.7, 0.1]), engine(), [0.0] * 5)
    assert dict(zip(FEATURE_NAMES, alone, strict=True))["read_deny"] == 0
    none = Readings([], [], np.zeros((0, 3)))
    named = dict(zip(FEATURE_NAMES, features(CLAIM, SENTS, none, None, [0.0] * 5), strict=True))
    assert named["readings"] == 0 and math.isnan(named["max_confirms"])
    assert math.isnan(named["engine_confirms"])


def test_passage_model_reads_a_claim_with_its_closest_sentences() -> None:
    other = "Lunch is served at noon in the canteen"
    p = passage_probabilities(load_passage_model(), [CLAIM, other], SENTS)
    assert p.shape == (2, 3) and abs(p[0].sum() - 1) < 1e-5
    assert np.isnan(p[1]).all()  # no sentence close enough: not read
    # the time budget: only the claims closest to the article are read
    q = passage_probabilities(load_passage_model(), [other, CLAIM], SENTS, max_passages=0)
    assert np.isnan(q).all()


@pytest.mark.parametrize(
    ("q", "stance", "want"),
    [
        ([0.1, 0.8, 0.1], "discusses", "contradicts"),
        ([0.8, 0.1, 0.1], "confirms", "confirms"),
        ([0.8, 0.1, 0.1], "discusses", "neither"),  # a confirmation needs the engine too
        ([0.2, 0.1, 0.7], "confirms", "neither"),
        ([math.nan, math.nan, math.nan], "confirms", "neither"),  # no passage read
    ],
)
def test_passage_route(q: list[float], stance: str, want: str) -> None:
    j = ArticleJudge(JUDGE_DIR)
    j.thresholds |= {"passage_confirms": 0.5, "passage_contradicts": 0.5}
    assert j.passage_decide(q, engine(stance)) == want


@pytest.mark.parametrize(
    ("before", "p", "want"),
    [
        # where the rules before it found nothing, the cross judge's own contradiction
        ("neither", [0.1, 0.8, 0.1], "contradicts"),
        ("neither", [0.1, 0.55, 0.35], "neither"),  # below its threshold
        ("neither", [0.7, 0.65, 0.1], "neither"),  # confirms reads higher
        ("neither", [0.8, 0.1, 0.1], "neither"),  # it never adds a confirmation
        # a contradiction of the rules before it needs the gate, or the engine's reading
        ("contradicts", [0.1, 0.3, 0.6], "contradicts"),
        ("contradicts", [0.3, 0.1, 0.6], "neither"),
        # confirmations pass unchanged
        ("confirms", [0.05, 0.05, 0.9], "confirms"),
        ("confirms", [0.1, 0.8, 0.1], "confirms"),
    ],
)
def test_cross_route(before: str, p: list[float], want: str) -> None:
    j = ArticleJudge(JUDGE_DIR)
    j.thresholds |= {"cross_contradicts": 0.6, "cross_gate": 0.2}
    assert j.cross_decide(before, p, engine("discusses")) == want
    if before == "contradicts":  # the engine reads the contradiction too: it stands
        assert j.cross_decide(before, p, engine("contradicts")) == "contradicts"


def test_body_cues_count_refutation_per_100_words() -> None:
    cues = dict(zip(("deny", "debunk", "doubt", "hedge", "negator"), body_cues(SENTS), strict=True))
    assert cues["deny"] > 0 and cues["debunk"] > 0  # "false"
    assert body_cues(["Ferries run as usual."])[:2] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("probs", "pair", "stance", "want"),
    [
        # the pair model reads a contradiction in a sentence that leans that way: it stands
        ([0.05, 0.9, 0.05], "contradicts", "discusses", "contradicts"),
        # ... but a contradiction whose best sentence leans the other way has no evidence
        ([0.6, 0.35, 0.05], "contradicts", "contradicts", "neither"),
        # a confirmation needs the engine to read it too
        ([0.9, 0.05, 0.05], "confirms", "confirms", "confirms"),
        ([0.9, 0.05, 0.05], "confirms", "discusses", "neither"),
        ([0.1, 0.1, 0.8], "neither", "confirms", "neither"),
    ],
)
def test_rules_around_the_judge(pass_through, probs, pair, stance, want) -> None:
    r = readings(probs)
    v = Verdict(pair, 0.9, r.texts[0] if pair != "neither" else "", None)
    [got], _ = pass_through.read([CLAIM], SENTS, [r], [engine(stance)], [v])
    assert got.relation == want
    if want != "neither":
        assert got.evidence == SENTS[0] and got.score is not None
    else:
        assert got.evidence == ""


def test_missing_or_foreign_files_name_the_problem(tmp_path: Path) -> None:
    d = tmp_path / "judge"
    shutil.copytree(JUDGE_DIR, d)
    (d / "trees.npz").unlink()
    with pytest.raises(ArticleJudgeError, match="trees.npz"):
        ArticleJudge(d)
    shutil.copy(JUDGE_DIR / "trees.npz", d / "trees.npz")
    meta = json.loads((d / "meta.json").read_text())
    meta["feature_names"] = meta["feature_names"][:-1]
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArticleJudgeError, match="other features"):
        ArticleJudge(d)
    with pytest.raises(ArticleJudgeError, match="meta.json"):
        ArticleJudge(JUDGE_DIR, passage_dir=tmp_path / "no-passage-model")
    shutil.copy(JUDGE_DIR / "meta.json", d / "meta.json")
    (d / "xtrees.npz").unlink()
    with pytest.raises(ArticleJudgeError, match="xtrees.npz"):
        ArticleJudge(d)
    shutil.copy(JUDGE_DIR / "xtrees.npz", d / "xtrees.npz")
    cross = json.loads((d / "cross.json").read_text())
    cross["feature_names"] = cross["feature_names"][1:]
    (d / "cross.json").write_text(json.dumps(cross))
    with pytest.raises(ArticleJudgeError, match="cross.json.*other features"):
        ArticleJudge(d)


def test_claims_stage_imports_no_training_library() -> None:
    code = (
        "import sys, monitor.claims.track, monitor.claims.article_judge\n"
        "print(sorted(m for m in ('lightgbm', 'torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("Singer Anna Voss dead? Hoax goes viral on social media", True),
        ("Mayor denies plan to close harbour bridge", True),
        ("One. Two. Three.", False),
        (" ".join(["word"] * 41), False),
        ("", False),
    ],
)
def test_short_texts_are_headlines_and_summaries(text: str, short: bool) -> None:
    assert is_short(text) is short


def test_a_two_sentence_headline_is_read_whole() -> None:
    from monitor.claims.stance import run_jsonl

    text = "Singer Anna Voss dead? Report of her death is a hoax"
    v = judge_short("Singer Anna Voss has died", text)
    assert v.evidence == text and v.score is not None
    assert (
        judge_short("Singer Anna Voss has died", "Heavy rain expected this weekend").score is None
    )
    out = io.StringIO()
    run_jsonl(
        io.StringIO(json.dumps({"id": 1, "claim": "Singer Anna Voss has died", "text": text})), out
    )
    rec = json.loads(out.getvalue())
    assert rec["evidence"] == [text] and rec["stance"] in ("contradicts", "discusses", "confirms")
