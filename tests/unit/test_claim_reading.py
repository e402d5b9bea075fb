"""Claim reading, table-driven, on sentences written for these tests (no real news).

Covers issue 11's reading cases: attribution from reporting structures (and what is never a
source), claim-worthiness (questions, headings, captions, boilerplate, opinion, headlines
glued to the first sentence), declared claims in any letter case, and negation scope.
"""

from __future__ import annotations

import re

import pytest

from monitor import lexicon
from monitor.claims.extract import (
    extract_claims,
    not_claim_worthy,
    prepare_article,
    read_sentence,
    read_statement,
    sentence_case,
)
from monitor.models import Article, Hit, Match
from monitor.text import split_lines, split_sentences


def read(sentence: str, focus: str):
    m = re.search(rf"\b{re.escape(focus)}\b", sentence)
    assert m, f"{focus!r} not in {sentence!r}"
    rec = read_sentence(sentence, [(m.start(), m.end())])
    assert rec is not None, sentence
    return rec


# -- attribution ---------------------------------------------------------------------------------
# (sentence, the watch's hit word, expected source or None for "no source")
ATTRIBUTION = [
    # "X said"
    ("Harbour director Olga Brandt said the ferry would stop in May.", "ferry", "Olga Brandt"),
    # "told"
    ("Brandt told the Valley Courier that the ferry would stop.", "ferry", "Brandt"),
    # "according to X"
    ("The ferry will stop in May, according to the Valley Courier.", "ferry", "Valley Courier"),
    # "X reported that"
    ("The Valley Courier reported that the ferry would stop.", "ferry", "Valley Courier"),
    # "a spokesman for Y"
    ("A spokesman for Northport Ferries said the ferry would stop.", "ferry", "Northport Ferries"),
    # "X, said officials" / "say officials": the noun after the verb speaks, not the name before
    ("The ferry will stop because of the Winter Fever, say officials.", "ferry", "officials"),
    ("The ferry was halted by the Grey Plague, said officials.", "ferry", "officials"),
    # the speaker after a closing quote, both orders
    ('"The ferry will stop," said Olga Brandt, the harbour director.', "ferry", "Olga Brandt"),
    ('"The ferry will stop," Brandt said.', "ferry", "Brandt"),
    # an aside between the name and the verb
    (
        "Olga Brandt, head of the Northport Harbour Board, said the ferry would stop.",
        "ferry",
        "Olga Brandt",
    ),
    # "citing X": a second-hand source
    (
        "The Valley Courier, citing two dockworkers, reported the ferry would stop.",
        "ferry",
        "Valley Courier",
    ),
    # a sentence-final speaker wins over a verb inside the statement
    (
        "The ferry, much like the Northport Post reported last year, will stop, Brandt said.",
        "ferry",
        "Brandt",
    ),
    # titled and hyphenated names
    ('"The ferry will stop," said Mr. Brandt.', "ferry", "Brandt"),
    ("Harbour pilot Anna-Lena Brandt said the ferry would stop.", "ferry", "Anna-Lena Brandt"),
    # a noun phrase with a modifier that is a name
    ('"The ferry will stop," said a Northport dockworker source.', "ferry", None),
    ('"The ferry will stop," said a Northport reporter.', "ferry", "a Northport reporter"),
    # never a date, weekday or month
    ("On Tuesday, the ferry stopped, the harbour board said.", "ferry", "the harbour board"),
    ("The ferry stopped in March, Brandt said.", "ferry", "Brandt"),
    ("Brandt told the Valley Courier on Wednesday that the ferry would stop.", "ferry", "Brandt"),
    ("A dockworker told Courier Wednesday that the ferry would stop.", "ferry", "A dockworker"),
    # only a pronoun speaks: no named source
    ('"The ferry will stop," he said.', "ferry", None),
    # "Post" in a name is not a verb of saying
    ("The ferry will stop, the Northport Post said.", "ferry", "Northport Post"),
]


@pytest.mark.parametrize(("sentence", "focus", "source"), ATTRIBUTION)
def test_attribution_from_reporting_structures(sentence, focus, source):
    attr = read(sentence, focus).attribution
    got = attr.source if attr else None
    if source is None:
        assert got is None or got.lower() in ("he", "she", "they") or "source" in got
    else:
        assert got == source, (sentence, attr)


NEVER_SOURCES = [
    "The ferry stopped on Tuesday, officials said.",
    "The ferry stopped after the Grey Plague, say officials.",
    "The ferry stopped in January, said residents.",
]


@pytest.mark.parametrize("sentence", NEVER_SOURCES)
def test_a_date_or_disease_is_never_the_source(sentence):
    attr = read(sentence, "ferry").attribution
    assert attr is not None
    for word in attr.source.lower().split():
        assert word not in lexicon.NOT_SOURCES, attr


# -- claim-worthiness ----------------------------------------------------------------------------
WORTHINESS = [
    ("Photo: the ferry at the quay in Northport", True, "boilerplate"),
    ("Scroll down for video", True, "boilerplate"),
    ("Click here to read more about the ferry", True, "boilerplate"),
    ("Sign up for our newsletter", True, "boilerplate"),
    ("Advertisement", True, "boilerplate"),
    ("I think the ferry should never have stopped.", False, "opinion"),
    ("In my view the ferry stop is a mistake.", False, "opinion"),
    ("We believe the harbour board got it wrong.", False, "opinion"),
    ("Ferry Stops For Winter", True, "heading"),
    ("What the ferry stop means for commuters", True, "heading"),
    ("The ferry stopped on Monday.", True, ""),
    ("The harbour board said the ferry would stop in May.", False, ""),
    # a quoted opinion is someone's statement, reported: kept
    ('"I think the ferry will stop," Brandt said.', False, ""),
]


@pytest.mark.parametrize(("sentence", "own_line", "reason"), WORTHINESS)
def test_claim_worthiness(sentence, own_line, reason):
    assert not_claim_worthy(sentence, own_line=own_line) == reason


def test_questions_are_read_as_questions_never_as_assertions():
    rec = read("Will the harbour board stop the ferry?", "ferry")
    assert rec.modality == "question"
    assert not rec.assertive
    rec = read("Reporters asked whether the board would stop the ferry.", "ferry")
    assert rec.modality == "question"


def test_sentences_are_split_at_line_breaks():
    text = "Ferry Stops For Winter\nThe harbour board stopped the ferry on Monday. It said so."
    spans = split_lines(text, split_sentences(text))
    assert [text[a:b] for a, b in spans] == [
        "Ferry Stops For Winter",
        "The harbour board stopped the ferry on Monday.",
        "It said so.",
    ]


def _match(article: Article, terms: list[str]) -> Match:
    hits = []
    for term in terms:
        for fname in ("title", "text"):
            for m in re.finditer(term, getattr(article, fname)):
                hits.append(Hit(term, m.group(0), fname, m.start(), m.end()))
    return Match(watch="ferry", terms=tuple(terms), hits=tuple(hits))


def test_extracted_claims_skip_headings_captions_and_glued_headlines():
    text = (
        "Ferry Stop Ferry Board\n"
        "Photo: the ferry board at the quay\n"
        "I think the ferry board is wrong about the ferry.\n"
        "The ferry board stopped the ferry on Monday, Brandt said."
    )
    article = Article(
        url="http://127.0.0.1/x",
        title="Ferry news",
        text=text,
        text_source="page",
        feed_name="wire",
        guid="x",
    )
    recs = extract_claims(
        article, _match(article, ["ferry", "board"]), "en", prepare_article(article)
    )
    quotes = [r.quote for r in recs]
    assert quotes == ["The ferry board stopped the ferry on Monday, Brandt said."]
    assert recs[0].attribution is not None and recs[0].attribution.source == "Brandt"


# -- any letter case -----------------------------------------------------------------------------
CASES = [
    "Mayor Lind denies plan to close the Harbour Bridge",
    "Mayor Lind Denies Plan To Close The Harbour Bridge",
    "MAYOR LIND DENIES PLAN TO CLOSE THE HARBOUR BRIDGE",
    "mayor Lind denies plan to close the harbour bridge",
]


@pytest.mark.parametrize("text", CASES)
def test_declared_claims_read_the_same_in_any_letter_case(text):
    rec = read_statement(text)
    assert rec is not None, text
    p = rec.proposition
    assert p.predicate == "close"
    assert p.subject_key == "lind"
    assert p.object_key == "bridge"
    assert rec.polarity == "denied"
    assert rec.statement == text  # shown as the user wrote it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ferry Board Halts NASA Trial", "Ferry board halts NASA trial"),
        ("FERRY BOARD HALTS TRIAL", "Ferry board halts trial"),
        ("Brandt halts the ferry trial", "Brandt halts the ferry trial"),  # unchanged
    ],
)
def test_sentence_case(text, expected):
    assert sentence_case(text) == expected


# -- negation scope ------------------------------------------------------------------------------
NEGATION = [
    ("Lind denied that the board closed the bridge.", "closed", "denied"),
    ("Lind did not deny that the board closed the bridge.", "closed", "asserted"),
    ("It is not true that the board closed the bridge.", "closed", "denied"),
    ("The board closed the bridge, which no one expected.", "closed", "asserted"),
    ("Nobody expected that the board would close the bridge.", "close", "asserted"),
    ("Lind did not say that the board closed the bridge.", "closed", "asserted"),
    ("The board, which never explains itself, closed the bridge.", "closed", "asserted"),
    ("The board did not close the bridge.", "close", "denied"),
    ("The board has no plans to close the bridge.", "close", "denied"),
    ("Reports that the board closed the bridge are false.", "closed", "denied"),
    ("Lind dismissed reports that the board closed the bridge.", "closed", "denied"),
    ("Lind said the board would not close the bridge.", "close", "denied"),
]


@pytest.mark.parametrize(("sentence", "focus", "polarity"), NEGATION)
def test_negation_scoped_to_the_right_clause(sentence, focus, polarity):
    rec = read(sentence, focus)
    assert rec.polarity == polarity, (sentence, rec.cues)


@pytest.mark.parametrize("module", ["claims/extract.py", "claims/stance_features.py", "text.py"])
def test_word_lists_live_in_the_lexicon(module):
    from pathlib import Path

    import monitor

    src = (Path(monitor.__file__).parent / module).read_text(encoding="utf-8")
    own = re.findall(r"^_?[A-Z][A-Z_]* = (?:frozenset\(|re\.compile\(r?\"\^\(\?:)", src, re.M)
    own = [o for o in own if not o.startswith("_BLOCK_TAGS")]  # HTML tags, not words
    assert own == [], f"{module} keeps word lists of its own: {own}"
    from monitor.claims import extract, stance_features

    assert extract.NEGATORS is lexicon.NEGATORS
    assert stance_features.NEGATIONS is lexicon.NEGATIONS
    assert lexicon.NEGATORS <= lexicon.NEGATIONS
    assert lexicon.FUNCTION_WORDS & lexicon.STOPWORDS_EN  # one built from the other
