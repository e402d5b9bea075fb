"""Claim records from sentences, and relating them: our own sentences, no network."""

from __future__ import annotations

import pytest

from monitor.claims.extract import ClaimRecord, read_sentence, read_statement
from monitor.claims.relate import (
    StoredClaim,
    is_copy,
    name_similarity,
    proposition_match,
    relate,
)
from monitor.text import tokenize

NAMES = frozenset({"putin", "trump", "peskov", "kremlin", "verstka", "vyorstka", "afp", "macron"})


def rec(sentence: str, *prefixes: str) -> ClaimRecord:
    """Read a sentence the way the pipeline does, focused on the rule's hit words."""
    prefixes = prefixes or ("putin", "congratul")
    focus = [(t.start, t.end) for t in tokenize(sentence) if t.norm.startswith(prefixes)]
    r = read_sentence(sentence, focus, proper=NAMES)
    assert r is not None, sentence
    return r


def stored(r: ClaimRecord, cid: int = 1, sources: tuple[str, ...] = ()) -> StoredClaim:
    return StoredClaim(
        id=cid,
        watch="w",
        origin="article",
        statement=r.statement,
        proposition=r.proposition,
        polarity=r.polarity,
        modality=r.modality,
        source_keys=list(sources),
    )


BASE = "Putin congratulated Trump on his election win."

SAME_ASSERTED = [
    "Putin congratulated Trump.",
    "Putin congratulates Trump on his victory.",
    "Putin is congratulating Trump.",
    "Vladimir Putin extended his congratulations to Donald Trump.",
    "Russian President Vladimir Putin sent his congratulations to Trump by telegram.",
    "Trump was congratulated by Putin on Wednesday.",
    "Putin has congratulated Trump, the Kremlin said.",
]


@pytest.mark.parametrize("sentence", SAME_ASSERTED)
def test_paraphrases_and_inflections_state_the_same_proposition(sentence: str) -> None:
    base, r = rec(BASE), rec(sentence)
    assert r.proposition.subject_key == "putin" and r.proposition.object_key == "trump"
    assert proposition_match(base.proposition, r.proposition) >= 0.9
    assert r.polarity == "asserted"
    assert relate(r, stored(base)).kind == "confirms"


DENIALS = [
    ("Putin has not congratulated Trump.", "stated"),
    ("Putin hasn't congratulated Trump yet.", "stated"),
    ("Putin never congratulated Trump.", "stated"),
    ("The Kremlin said Putin had no plans to congratulate Trump.", "planned"),
    ("Peskov said he was not aware of any plans for Putin to congratulate Trump.", "planned"),
    ("Peskov denied reports that Putin had congratulated Trump.", "stated"),
    ("Putin has yet to congratulate Trump.", "stated"),
    ("Reports that Putin congratulated Trump are false, Peskov said.", "stated"),
    ("Putin refused to congratulate Trump.", "stated"),
]


@pytest.mark.parametrize(("sentence", "modality"), DENIALS)
def test_negations_and_denials_are_denied(sentence: str, modality: str) -> None:
    r = rec(sentence)
    assert r.polarity == "denied", r.cues
    assert r.modality == modality
    assert r.assertive
    rel = relate(r, stored(rec(BASE)))
    assert rel.kind == "contradicts" and rel.confidence >= 0.5


def test_double_negation_asserts() -> None:
    r = rec("Peskov did not deny that Putin had congratulated Trump.")
    assert r.polarity == "asserted" and sorted(r.cues) == ["deny", "not"]


def test_negation_in_an_aside_or_another_clause_does_not_count() -> None:
    assert rec("Putin, who did not attend, congratulated Trump.").polarity == "asserted"
    r = rec("Putin congratulated Trump, but Medvedev did not.")
    assert r.polarity == "asserted"


HEDGED = [
    ("Putin reportedly congratulated Trump.", None),
    ("Putin allegedly congratulated Trump through intermediaries.", None),
    ("Verstka, citing two sources, reported that Putin had congratulated Trump.", "Verstka"),
    ("Putin congratulated Trump, according to AFP.", "AFP"),
    (
        "Putin congratulated Trump via acquaintances, the news site Vyorstka reported,"
        " quoting people familiar with the matter.",
        "Vyorstka",
    ),
]


@pytest.mark.parametrize(("sentence", "source"), HEDGED)
def test_hedged_reports_are_reported_assertions(sentence: str, source: str | None) -> None:
    r = rec(sentence)
    assert r.polarity == "asserted" and r.modality == "reported" and r.assertive
    if source:
        assert r.attribution is not None and r.attribution.source == source
    rel = relate(r, stored(rec(BASE)))
    # a report citing unnamed sources confirms, but less surely than a plain statement
    assert rel.kind == "confirms" and 0.5 <= rel.confidence < 1.0


def test_attribution_names_the_speaker_and_the_organisation() -> None:
    r = rec(
        "Kremlin spokesman Dmitry Peskov told reporters that Putin had no plans to congratulate Trump."
    )
    assert r.attribution is not None
    assert r.attribution.source == "Dmitry Peskov"
    assert r.attribution.text == "Kremlin spokesman Dmitry Peskov"
    assert set(r.attribution.keys) == {"peskov", "kremlin"}
    assert r.statement.startswith("Kremlin spokesman") and r.proposition.subject_key == "putin"
    post = rec("Putin will congratulate Trump on Friday, the Kremlin said.")
    assert post.modality == "planned" and post.attribution and post.attribution.source == "Kremlin"
    head = read_sentence(
        "Kremlin: Putin has no plans to congratulate Trump",
        [(31, 43)],
        proper=NAMES,
        title=True,
    )
    assert head and head.attribution and head.attribution.source == "Kremlin"
    assert head.polarity == "denied"


MENTIONS = [
    ("The question of whether Putin would congratulate Trump remains open.", "question"),
    ("Asked if Putin would congratulate Trump, Peskov declined to comment.", "question"),
    ("Will Putin congratulate Trump?", "question"),
    ("Putin might congratulate Trump later this week.", "conditional"),
    ("If the result holds, Putin could congratulate Trump.", "conditional"),
    ("Reporters asked whether Putin had congratulated Trump.", "question"),
]


@pytest.mark.parametrize(("sentence", "modality"), MENTIONS)
def test_mentions_without_the_claim_are_not_assertions(sentence: str, modality: str) -> None:
    r = rec(sentence)
    assert r.modality == modality and not r.assertive
    assert relate(r, stored(rec(BASE))).kind == "discusses"


def test_different_people_or_acts_are_different_propositions() -> None:
    base = rec(BASE)
    for other in [
        "Trump congratulated Putin.",  # roles swapped
        "Putin congratulated Macron on his victory.",  # another object
        "Zelensky congratulated Trump.",  # another subject
    ]:
        assert proposition_match(base.proposition, rec(other, "congratul").proposition) == 0
    assert relate(rec("Putin criticised Trump.", "putin", "critic"), stored(base)).kind == (
        "unrelated"
    )


def test_a_description_in_place_of_a_name_is_the_same_with_less_confidence() -> None:
    base = rec(BASE)
    r = rec("Peskov said he knew of no plans for Putin to congratulate the president-elect.")
    assert r.proposition.subject_key == "putin" and not r.proposition.object_named
    m = proposition_match(base.proposition, r.proposition)
    assert 0.5 <= m < 0.9


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Verstka", "Vyorstka"),
        ("Zelenskyy", "Zelensky"),
        ("Zelenskiy", "Zelensky"),
        ("Navalny", "Navalnyy"),
    ],
)
def test_name_variants_match(a: str, b: str) -> None:
    assert name_similarity(a.lower(), b.lower()) >= 0.8


@pytest.mark.parametrize(
    ("a", "b"), [("Putin", "Trump"), ("Peskov", "Lavrov"), ("Biden", "Bidenko")]
)
def test_different_names_do_not_match(a: str, b: str) -> None:
    assert name_similarity(a.lower(), b.lower()) == 0.0


def test_name_variants_make_the_same_proposition() -> None:
    a = rec("Zelenskyy congratulated Trump.", "zelensk", "congratul")
    b = rec("Zelensky has congratulated Donald Trump.", "zelensk", "congratul")
    assert proposition_match(a.proposition, b.proposition) >= 0.8


def test_a_declared_claim_reads_like_a_headline() -> None:
    r = read_statement("Putin congratulated Trump on his election win")
    assert r is not None
    p = r.proposition
    assert (p.subject_key, p.predicate, p.object_key) == ("putin", "congratulate", "trump")
    assert r.polarity == "asserted" and r.modality == "stated" and r.attribution is None
    neg = read_statement("Putin did not congratulate Trump")
    assert neg is not None and neg.polarity == "denied"


def test_copies_are_recognised_and_rewordings_are_not() -> None:
    a = "The independent outlet Verstka, citing two sources, reported that Putin had congratulated Trump."
    assert is_copy("MOSCOW — " + a, [a]) is False or is_copy(a, [a])
    assert is_copy(a, ["something else", a])
    b = "Putin extended his congratulations to Trump via acquaintances, Vyorstka reported."
    assert not is_copy(b, [a])
