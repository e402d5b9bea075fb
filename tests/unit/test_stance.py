"""The stance engine: packaged model, our own attributed-claim sentences, JSONL, training."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.claims.stance import (
    STANCES,
    PreparedText,
    StanceVerdict,
    load_engine,
    run_jsonl,
)

ROOT = Path(__file__).resolve().parents[2]
FNC = ROOT / ".." / "shared" / "data" / "fnc1"

CLAIM = "Putin congratulated Trump"
LEAD = "Russian officials spoke to reporters in Moscow on Wednesday after the US election. "
TAIL = " The Kremlin also commented on the state of relations between the two countries."


@pytest.fixture(scope="module")
def engine():
    return load_engine()


def _text(middle: str) -> str:
    return LEAD + middle + TAIL


def test_packaged_model_loads_offline_and_judges(engine):
    text = _text("Putin congratulated Trump on his election victory in a telegram.")
    v = engine.judge(CLAIM, text)
    assert isinstance(v, StanceVerdict)
    assert v.stance in STANCES
    assert set(v.probabilities) == set(STANCES)
    assert math.isclose(sum(v.probabilities.values()), 1.0, abs_tol=1e-3)
    assert 0.0 <= v.score <= 1.0
    assert all(s in text for s in v.evidence)
    files = {p.name for p in (ROOT / "monitor" / "claims" / "stance_model").iterdir()}
    assert {"vocab.json", "meta.json", "model.npz"} <= files
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)


def test_load_engine_is_cached_per_threshold():
    assert load_engine() is load_engine()
    assert load_engine(0.5) is load_engine(0.5)
    assert load_engine(0.5).contradicts_threshold == 0.5


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, float("nan"), "high", True])
def test_bad_threshold_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="contradicts_threshold"):
        load_engine(bad)


PLAIN = "Putin congratulated Trump on his election victory in a telegram, the Kremlin said."
HEDGED = (
    "Putin reportedly congratulated Trump on his election victory, the newspaper said, "
    "citing a source close to the Kremlin."
)

DENIALS = {
    "no plans": "Kremlin spokesman Dmitry Peskov said Putin has no plans to congratulate Trump.",
    "not aware": "Peskov told reporters he was not aware of any plans for Putin to congratulate "
    "Trump.",
    "dismissed reports": "The Kremlin dismissed reports that Putin had congratulated Trump.",
    "denied that": "Peskov denied that Putin congratulated Trump during a phone call.",
    "did not": "Putin did not congratulate Trump, the Kremlin said.",
    "quoted": '"Putin has not congratulated Trump and does not intend to," Peskov said.',
    "asked whether": "Asked whether Putin would congratulate Trump, Peskov said he was not aware "
    "of any such plans.",
    "reports false": "Reports that Putin congratulated Trump are false, Peskov told journalists.",
}


def test_plain_statement_confirms(engine):
    v = engine.judge(CLAIM, _text(PLAIN))
    assert v.stance == "confirms"
    assert any("telegram" in e for e in v.evidence)


@pytest.mark.parametrize("case", sorted(DENIALS))
def test_denial_contradicts(engine, case):
    sentence = DENIALS[case]
    v = engine.judge(CLAIM, _text(sentence))
    assert v.stance == "contradicts", (case, v)
    assert sentence in v.evidence
    assert v.score >= 0.5


def test_hedged_report_confirms_with_lower_confidence(engine):
    hedged = engine.judge(CLAIM, _text(HEDGED))
    plain = engine.judge(CLAIM, _text(PLAIN))
    assert hedged.stance == "confirms"
    assert hedged.score < plain.score
    assert HEDGED in hedged.evidence


def test_unrelated_text_sharing_names(engine):
    text = (
        "Putin opened a new motorway bridge in Crimea on Tuesday and drove a truck across it. "
        "Engineers said the bridge cost more than three billion dollars to build. "
        "Trump, asked about sanctions on the peninsula at a rally in Ohio, said they would stay. "
        "Ukraine called the bridge illegal."
    )
    v = engine.judge(CLAIM, text)
    assert v.stance not in ("confirms", "contradicts"), v
    far = engine.judge(CLAIM, "Heavy rain flooded the harbour of Valparaiso and closed schools.")
    assert far.stance == "unrelated"
    assert far.evidence == ()


def test_denial_of_a_different_predicate_is_not_a_contradiction(engine):
    text = _text(
        "Putin congratulated Trump on his victory. Peskov denied that Putin would attend the "
        "inauguration in Washington."
    )
    assert engine.judge(CLAIM, text).stance == "confirms"


def test_threshold_trades_contradictions_for_precision():
    text = _text(DENIALS["dismissed reports"])
    assert load_engine().judge(CLAIM, text).stance == "contradicts"
    strict = load_engine(0.99).judge(CLAIM, text)
    assert strict.stance != "contradicts"
    assert strict.probabilities["contradicts"] < 0.5


def test_judge_many_matches_judge_and_reuses_prepared_text(engine):
    text = _text(DENIALS["no plans"] + " " + PLAIN)
    prepared = engine.prepare(text)
    assert isinstance(prepared, PreparedText)
    claims = [CLAIM, "Putin attended the inauguration", "Heavy rain flooded Valparaiso"]
    many = engine.judge_many(claims, prepared)
    assert [engine.judge(c, text) for c in claims] == many
    assert engine.judge_many([], prepared) == []
    with pytest.raises(TypeError):
        engine.judge_many("one string", prepared)


def test_run_jsonl_round_trip_with_bad_lines(engine):
    lines = [
        {"id": 1, "claim": CLAIM, "text": _text(PLAIN)},
        {"id": "two", "claim": CLAIM, "text": _text(DENIALS["denied that"])},
        "this is not json",
        {"id": 4, "claim": "", "text": "x"},
        {"id": 5, "claim": CLAIM, "text": 42},
        [1, 2],
        {"id": 7, "claim": CLAIM, "text": _text(DENIALS["denied that"])},
    ]
    raw = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n"
    out = io.StringIO()
    n = run_jsonl(io.StringIO(raw), out, engine)
    recs = [json.loads(x) for x in out.getvalue().splitlines()]
    assert n == len(recs) == 7
    assert [r.get("id") for r in recs] == [1, "two", None, 4, 5, None, 7]
    assert recs[0]["stance"] == "confirms" and set(recs[0]) == {
        "id",
        "stance",
        "score",
        "evidence",
    }
    assert recs[1]["stance"] == "contradicts"
    assert recs[1]["evidence"] == [DENIALS["denied that"]]
    assert recs[6] == recs[1] | {"id": 7}
    assert "not valid JSON" in recs[2]["error"] and "line 3" in recs[2]["error"]
    assert "claim" in recs[3]["error"]
    assert "text" in recs[4]["error"]
    assert "object" in recs[5]["error"]


@pytest.mark.slow
@pytest.mark.skipif(not FNC.is_dir(), reason="FNC-1 data not present at ../shared/data/fnc1")
def test_training_script_on_a_sample(tmp_path):
    out = tmp_path / "model"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.stance",
            "--data",
            str(FNC),
            "--sample",
            "600",
            "--split",
            "story",
            "--rounds",
            "20",
            "--out",
            str(out),
            "--json",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "FNC" in proc.stdout and "baseline" in proc.stdout
    results = json.loads((tmp_path / "r.json").read_text())
    row = results["splits"][0]["rows"]["+ denial & hedge rules"]
    assert 0.3 < row["fnc"] <= 1.0
    assert sum(map(sum, row["confusion"])) == results["splits"][0]["test_pairs"]
    eng = load_engine(model_dir=out)
    assert eng.judge(CLAIM, _text(PLAIN)).stance in STANCES


def test_training_script_reports_missing_data(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "training.stance", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exclude_splits_drops_pairs_touching_the_test_side(tmp_path):
    from training.pairs.make_splits import headline_key
    from training.stance.train import DataError, Pair, exclude_held_out

    pairs = [
        Pair("Mayor closes the harbour bridge", 1, "confirms"),  # test headline
        Pair("Council opens a new library", 2, "discusses"),  # test body
        Pair("Council opens a new library", 3, "confirms"),  # both on other sides
        Pair("Storm floods the old town", 3, "unrelated"),
        Pair("Storm floods the old town", 4, "contradicts"),  # val body: kept
    ]
    side = {"body_ids": [2], "headline_sha1": [headline_key("Mayor closes the harbour bridge")]}
    other = {"body_ids": [4], "headline_sha1": []}
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"fnc1": {"test": side, "val": other}}))
    kept, dropped = exclude_held_out(pairs, splits)
    assert dropped == 2
    assert kept == pairs[2:]
    splits.write_text(json.dumps({"fnc1": {"val": other}}))
    with pytest.raises(DataError, match="splits.json"):
        exclude_held_out(pairs, splits)
    proc = subprocess.run(
        [sys.executable, "-m", "training.stance", "--data", str(tmp_path), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert "--exclude-splits" in proc.stdout


def test_debunking_cues_are_features_of_the_sentences_like_the_claim(engine):
    from monitor.claims.stance_features import (
        FEATURE_NAMES,
        claim_attributed,
        debunk_count,
        pair_features,
        prepare_claims,
    )

    assert (
        debunk_count(
            ["the", "story", "is", "not", "true", "and", "the", "photo", "was", "doctored"]
        )
        == 2
    )
    assert debunk_count(["the", "minister", "opened", "a", "bridge"]) == 0
    claim = "Pumpkin spice condoms go on sale"
    debunk = (
        "A photo of pumpkin spice condoms going on sale spread online this week. "
        "The pumpkin spice condoms story is a hoax and the photo is fake, the maker said. "
        "Shops reported strong sales of coffee."
    )
    plain = (
        "A photo of pumpkin spice condoms going on sale spread online this week. "
        "The pumpkin spice condoms went on sale in shops across the country, the maker said. "
        "Shops reported strong sales of coffee."
    )
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    rows = {}
    for name, text in (("debunk", debunk), ("plain", plain)):
        body = engine.prepare(text)
        X, _, _ = pair_features(prepare_claims([claim], engine.vocab), body, engine.vocab)
        rows[name] = X[0]
    assert rows["debunk"][col["sim_debunk_sent"]] > 0.3
    assert rows["plain"][col["sim_debunk_sent"]] == 0.0
    assert rows["debunk"][col["top3_debunk"]] >= 2
    assert rows["debunk"][col["near_refute"]] > rows["plain"][col["near_refute"]]
    assert claim_attributed("Congressman: ten fighters caught at border", [])
    assert claim_attributed("Putin may congratulate Trump", ["putin", "may", "congratulate"])
    assert not claim_attributed(CLAIM, ["putin", "congratulated", "trump"])


def test_cue_layer_overrides_only_in_the_sentences_most_like_the_claim():
    import numpy as np

    from monitor.claims.stance import decide
    from monitor.claims.stance_features import PropositionReading

    reading = PropositionReading(("putin", "trump"), ("congratul",), contra=[5])
    p2 = np.array([0.3, 0.01, 0.69])
    # the denial is in sentence 5, the claim's closest sentences are 1 and 2: no override
    assert decide(0.9, p2, reading, [1, 2], 0.25).stance == "discusses"
    assert decide(0.9, p2, reading, [5, 2], 0.25).stance == "contradicts"
    assert decide(0.9, p2, reading, [1, 2], 0.25, gate=False).stance == "contradicts"
    attributed = PropositionReading(
        ("putin", "trump"), ("congratul",), contra=[5], claim_attributed=True
    )
    assert decide(0.9, p2, attributed, [5, 2], 0.25).stance == "discusses"


METEOR_CLAIM = "Meteorite makes crater in Managua"
METEOR_LEAD = "A loud blast was heard near the airport of Managua late on Saturday night. "
METEOR_TAIL = " Residents said the explosion shook windows across the neighbourhood."


def _meteor_features(engine, claims, middle):
    from monitor.claims.stance_features import FEATURE_NAMES, pair_features, prepare_claims

    body = engine.prepare(METEOR_LEAD + middle + METEOR_TAIL)
    X, _, _ = pair_features(prepare_claims(claims, engine.vocab), body, engine.vocab)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    return [{n: float(row[col[n]]) for n in col} for row in X]


def test_doubt_is_a_cue_of_its_own_distinct_from_denial(engine):
    from monitor.claims.stance_features import contrast_count, doubt_count

    def ws(s: str) -> list[str]:
        return s.lower().replace(",", "").replace(".", "").split()

    assert doubt_count(ws("Scientists doubt that the crater was made by a meteorite")) == 1
    assert doubt_count(ws("There is no evidence of a fireball")) >= 1
    assert doubt_count(ws("Officials could not confirm the report")) == 1
    assert doubt_count(ws("Experts are sceptical and say an impact is unlikely")) == 2
    assert doubt_count(ws("A meteorite made a crater near the airport")) == 0
    # a plain denial is a denial cue, not doubt
    assert doubt_count(ws("The ministry denied that a meteorite hit the city")) == 0
    assert contrast_count(ws("However the crater was in fact caused by a gas leak")) == 2

    doubt = _meteor_features(
        engine,
        [METEOR_CLAIM],
        "Scientists doubt that the crater in Managua was made by a meteorite, and say "
        "there is no evidence of a fireball.",
    )[0]
    plain = _meteor_features(
        engine,
        [METEOR_CLAIM],
        "A small meteorite made a crater in Managua, the government said.",
    )[0]
    assert doubt["top1_doubt"] >= 2 and plain["top1_doubt"] == 0
    assert doubt["rel_doubt_sent"] > 0.5 and plain["rel_doubt_sent"] == 0.0
    assert doubt["refute_plain"] > plain["refute_plain"] == 0.0
    assert doubt["claim_doubt"] == 0.0


def test_attributed_or_refuting_claims_cross_the_body_refutation_cues(engine):
    middle = (
        "Officials denied that a meteorite made the crater in Managua and said the reports "
        "were false."
    )
    own, said, denying = _meteor_features(
        engine,
        [
            METEOR_CLAIM,
            "Minister: meteorite makes crater in Managua",
            "Officials deny meteorite made crater in Managua",
        ],
        middle,
    )
    assert own["claim_attributed"] == 0.0 and own["claim_refuting"] == 0.0
    assert said["claim_attributed"] == 1.0 and said["claim_colon"] == 1.0
    assert denying["claim_refuting"] == 1.0
    # the same refutation cues of the body, read against who states the claim
    assert own["refute_plain"] > 0 and own["refute_x_attributed"] == 0.0
    assert said["refute_x_attributed"] > 0 and said["refute_plain"] == 0.0
    assert denying["refute_x_refuting"] > 0 and denying["refute_plain"] == 0.0


def test_doubt_about_the_claim_is_not_read_as_a_confirmation(engine):
    text = (
        METEOR_LEAD
        + "Scientists doubt that the crater in Managua was made by a meteorite. "
        + "Experts are sceptical: there is no evidence of a fireball, and an impact is "
        + "unlikely, they said."
        + METEOR_TAIL
    )
    v = engine.judge(METEOR_CLAIM, text)
    assert v.stance in ("contradicts", "discusses")
    assert v.probabilities["confirms"] < 0.5
    assert v.probabilities["contradicts"] > v.probabilities["confirms"]


def test_attributed_claims_need_a_surer_contradiction(engine):
    import numpy as np

    from monitor.claims.stance import decide
    from monitor.claims.stance_features import PropositionReading

    p2 = np.array([0.2, 0.4, 0.4])
    # the text states the claim's predicate, with no cue the rule layer acts on
    own = PropositionReading(("hunter",), ("caught",), predicate_found=True)
    said = PropositionReading(("hunter",), ("caught",), predicate_found=True, claim_attributed=True)
    assert decide(0.9, p2, own, [0], 0.35, attributed_factor=1.5).stance == "contradicts"
    assert decide(0.9, p2, said, [0], 0.35, attributed_factor=1.5).stance == "discusses"
    assert decide(0.9, p2, said, [0], 0.35).stance == "contradicts"
    # never above the cap, whatever the configured threshold
    assert decide(0.9, np.array([0.0, 1.0, 0.0]), said, [0], 0.9, attributed_factor=2.0).stance == (
        "contradicts"
    )
    assert engine.attributed_factor == engine.meta.get("attributed_threshold_factor", 1.0)
    assert engine.attributed_factor >= 1.0


def test_doubt_rule_reads_strong_doubt_as_a_contradiction_of_an_own_voice_claim():
    import numpy as np

    from monitor.claims.stance import DOUBT_RULE_MIN, decide
    from monitor.claims.stance_features import PropositionReading

    def reading(**kw):
        return PropositionReading(("managua",), ("meteorit", "crater"), predicate_found=True, **kw)

    discuss = np.array([0.2, 0.05, 0.75])
    doubted = reading(doubt_near=DOUBT_RULE_MIN)
    d = decide(0.9, discuss, doubted, [1, 2], 0.3)
    assert (d.stance, d.source, d.evidence) == ("contradicts", "rule:doubt", (1,))
    # one or two doubt words are not enough; neither is doubt about an attributed claim
    # ("Minister: ...") or a claim that itself doubts or denies ("Scientists doubt ...")
    assert decide(0.9, discuss, reading(doubt_near=2.0), [1], 0.3).stance == "discusses"
    said = reading(doubt_near=4.0, claim_attributed=True)
    assert decide(0.9, discuss, said, [1], 0.3).stance == "discusses"
    refuting = reading(doubt_near=4.0, claim_refuting=True)
    assert decide(0.9, discuss, refuting, [1], 0.3).stance == "discusses"
    # the model reading a confirmation, or an unrelated text, wins
    assert decide(0.9, np.array([0.7, 0.05, 0.25]), doubted, [1], 0.3).stance == "confirms"
    assert decide(0.2, discuss, doubted, [1], 0.3).stance == "unrelated"
    # the model alone (FNC-comparable rows) ignores it
    assert decide(0.9, discuss, doubted, [1], 0.3, rules="none").stance == "discusses"
