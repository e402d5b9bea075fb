"""Watch rules: every construct, the error messages, explanations and the indexed matcher."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.models import Article, Hit, Match
from monitor.rules import (
    Document,
    Explanation,
    RuleError,
    RuleSet,
    compile_rule,
    document_from_article,
    explain,
    parse,
    prepare,
    required_keys,
    to_text,
)
from monitor.rules.syntax import And, Near, Not, Or, Sent, Term, Word

PESKOV = (
    "Kremlin spokesman Dmitry Peskov said Putin has no plans to congratulate Trump. "
    "He did not elaborate."
)
ACQUAINTANCES = "Putin congratulated him through acquaintances, a source said."
FOOTBALL = (
    "Liverpool beat Chelsea 2-1 at Anfield on Sunday. The winning goal came in the 89th minute, "
    "and the manager praised his players after the match."
)


def doc(text: str = "", title: str = "", **kw: object) -> Document:
    return Document(title=title, text=text, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- scenario


def test_scenario_putin_and_congratulate() -> None:
    rule = compile_rule("Putin AND congratulat*")
    assert rule.matches(doc(PESKOV))
    assert rule.matches(doc(ACQUAINTANCES))
    assert not rule.matches(doc(FOOTBALL, title="Liverpool beat Chelsea"))
    rs = RuleSet({"putin-congrats": rule, "football": compile_rule("Liverpool Chelsea")})
    (m,) = rs.match(doc(PESKOV, title="Kremlin: no congratulations"))
    assert isinstance(m, Match)
    assert m.watch == "putin-congrats"
    assert m.terms == ("Putin", "congratulat*")
    assert Hit("Putin", "Putin", "text", 37, 42) in m.hits
    assert Hit("congratulat*", "congratulations", "title", 12, 27) in m.hits
    assert m.snippets == (
        "Kremlin spokesman Dmitry Peskov said [[Putin]] has no plans to [[congratulate]] Trump.",
    )
    assert [x.watch for x in rs.match(doc(FOOTBALL))] == ["football"]


# --------------------------------------------------------------------------- constructs

# (rule, text, title, expected)
CASES = [
    # case, accents, word boundaries
    ("Zelensky", "ZELENSKY speaks", "", True),
    ("ZELENSKY", "Zelensky speaks", "", True),
    ("Peña", "Enrique Pena Nieto", "", True),
    ("Pena", "Enrique Peña Nieto", "", True),
    ("Putin", "Putinka vodka", "", False),
    ("Putin", "Rasputin was a mystic", "", False),
    ("Putin", "Putin's plans", "", True),
    # stemming by default
    ("congratulate", "they congratulated him", "", True),
    ("congratulate", "he congratulates", "", True),
    ("congratulate", "congratulating the winner", "", True),
    ("congratulate", "warm congratulations", "", True),
    ("congratulations", "he will congratulate", "", True),
    ("plans", "no plan yet", "", True),
    # exact: quoted single word or =word
    ('"congratulate"', "they congratulated him", "", False),
    ('"congratulate"', "I congratulate you", "", True),
    ('"congratulate"', "I CONGRATULATE you", "", True),
    ("=plans", "no plan yet", "", False),
    ("=plans", "no plans yet", "", True),
    # prefix
    ("congratulat*", "congratulations all round", "", True),
    ("congratulat*", "congratulate", "", True),
    ("congratulat*", "congrats", "", False),
    # phrases, stemmed per word unless exact
    ('"no plans to congratulate"', PESKOV, "", True),
    ('"no plan to congratulate"', PESKOV, "", True),
    ('"no plans to congratulate"', "no plans, to congratulate", "", True),  # punctuation ignored
    ('"plans to no congratulate"', PESKOV, "", False),
    ('="no plan to congratulate"', PESKOV, "", False),
    ('="no plans to congratulate"', PESKOV, "", True),
    ('"no plans to congrat*"', PESKOV, "", True),
    ("COVID-19", "new covid 19 cases", "", True),
    ("COVID-19", "covid cases rose 19%", "", False),
    # boolean operators and precedence
    ("Putin AND Trump", PESKOV, "", True),
    ("Putin Trump", PESKOV, "", True),  # implicit AND
    ("Putin AND Biden", PESKOV, "", False),
    ("Biden OR Trump", PESKOV, "", True),
    ("Biden OR Obama", PESKOV, "", False),
    ("Putin NOT Trump", PESKOV, "", False),
    ("Putin NOT Biden", PESKOV, "", True),
    ("Putin -Trump", PESKOV, "", False),
    ("Putin -Biden", PESKOV, "", True),
    ("+Putin +Trump", PESKOV, "", True),
    ("+Putin +Biden", PESKOV, "", False),
    ("Biden OR Putin AND Trump", PESKOV, "", True),  # AND binds tighter than OR
    ("Biden OR Putin AND Obama", PESKOV, "", False),
    ("(Biden OR Putin) AND Trump", PESKOV, "", True),
    ("Obama OR Putin NOT Trump", PESKOV, "", False),  # Obama OR (Putin AND NOT Trump)
    ("Putin AND NOT (Biden OR Obama)", PESKOV, "", True),
    ("Putin AND NOT (Biden OR Trump)", PESKOV, "", False),
    ("Putin NOT NOT Trump", PESKOV, "", True),
    # lower-case words that are not and/or/not stay words
    ("Peskov sent", "Peskov sent a letter", "", True),
    ("Peskov near", "Peskov was near", "", True),
    # proximity
    ("Putin NEAR/5 congratulat*", PESKOV, "", True),  # 4 words between
    ("Putin NEAR/3 congratulat*", PESKOV, "", False),
    ("Putin NEAR/4 congratulat*", PESKOV, "", True),
    ("congratulat* NEAR/4 Putin", PESKOV, "", True),  # either order
    ("Putin ONEAR/4 congratulat*", PESKOV, "", True),
    ("congratulat* ONEAR/4 Putin", PESKOV, "", False),  # in order only
    ("Putin near/5 congratulat*", PESKOV, "", True),  # NEAR/n is unambiguous in any case
    ("Trump NEAR/0 congratulate", PESKOV, "", True),  # adjacent
    ('Peskov NEAR/3 "no plans"', PESKOV, "", True),
    ("(Biden OR Putin) NEAR/5 congratulat*", PESKOV, "", True),
    ("Putin NEAR/5 congratulat* NEAR/1 Trump", PESKOV, "", True),
    ("Putin NEAR/5 congratulat* NEAR/1 Peskov", PESKOV, "", True),  # "Peskov said Putin"
    ("Putin NEAR/5 congratulat* NEAR/0 Peskov", PESKOV, "", False),
    ("NOT Putin NEAR/3 congratulat* AND Peskov", PESKOV, "", True),
    # sentence scope
    ("Putin SENT Trump", PESKOV, "", True),
    ("Putin SENT elaborate", PESKOV, "", False),
    ("Putin AND elaborate", PESKOV, "", True),
    ("Peskov SENT Trump SENT Kremlin", PESKOV, "", True),
    ("Peskov SENT Trump SENT elaborate", PESKOV, "", False),
    ("Putin SENT Putin", "Putin spoke. Putin left.", "", False),  # two occurrences needed
    ("Putin SENT Putin", "Putin met Putin.", "", True),
    # fields: default is title + text
    ("Putin", "", "Putin speaks", True),
    ("title:Putin", PESKOV, "", False),
    ("title:Putin", "", "Putin speaks", True),
    ("text:Putin", "", "Putin speaks", False),
    ("title:(Putin OR Biden) Trump", "Trump", "Biden", True),
    ("title:Putin NEAR/2 congratulat*", "", "Putin will congratulate", True),
]


@pytest.mark.parametrize(("rule", "text", "title", "expected"), CASES)
def test_construct(rule: str, text: str, title: str, expected: bool) -> None:
    compiled = compile_rule(rule)
    d = doc(text, title=title)
    assert compiled.matches(d) is expected
    # the indexed matcher, the naive one and explain() agree with matches()
    rs = RuleSet({"w": compiled})
    assert bool(rs.match(d)) is expected
    assert bool(rs.match_naive(d)) is expected
    assert explain(compiled, d).matched is expected


FIELD_DOC = Document(
    title="Talks resume",
    text="Negotiators met again.",
    author="Jane Peña",
    source="Reuters www.reuters.com",
    url="https://www.reuters.com/world/europe/talks-resume-2024",
    feed="World news",
    tags=("Ukraine war", "diplomacy"),
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("author:Pena", True),
        ("author:Smith Talks", False),
        ("Pena", False),  # author is not in the default fields
        ("source:reuters", True),
        ("source:reuters.com", True),
        ("source:apnews.com", False),
        ("url:europe", True),
        ("url:https://www.reuters.com/world", True),
        ("url:asia", False),
        ('feed:"world news"', True),
        ("feed:sport", False),
        ("tag:diplomacy", True),
        ('tag:"Ukraine war"', True),
        ('tag:"war diplomacy"', False),  # a phrase never spans two tags
        ("tag:war NEAR/10 tag:diplomacy", False),
        ("tag:ukraine", True),
        ("Talks AND -tag:sport", True),
        ("Talks AND -tag:diplomacy", False),
    ],
)
def test_field_scopes(rule: str, expected: bool) -> None:
    assert compile_rule(rule).matches(FIELD_DOC) is expected


def test_document_from_article() -> None:
    art = Article(
        url="https://www.bbc.co.uk/news/world-123",
        title="Putin speaks",
        text="Body",
        text_source="page",
        feed_name="BBC World",
        guid="g1",
        author="A. Writer",
        published=datetime(2024, 11, 7, tzinfo=UTC),
        site_name="BBC News",
        feed_tags=("russia", "world"),
    )
    d = document_from_article(art)
    assert d == Document(
        title="Putin speaks",
        text="Body",
        author="A. Writer",
        source="BBC News www.bbc.co.uk",
        url="https://www.bbc.co.uk/news/world-123",
        feed="BBC World",
        tags=("russia", "world"),
    )
    assert compile_rule("source:bbc.co.uk AND tag:russia Putin").matches(d)
    assert compile_rule('feed:"BBC World" AND title:Putin').matches(d)


# --------------------------------------------------------------------------- scripts


@pytest.mark.parametrize(
    ("rule", "text", "expected", "language"),
    [
        ("Путин", "Президент ПУТИН поздравил", True, "en"),
        ("путин", "Владимир Путин", True, "en"),
        ("поздравил", "Путин поздравил Трампа", True, "en"),
        ("поздравить", "Путин поздравил Трампа", True, "ru"),  # Russian stemmer
        ("поздравить", "Путин поздравил Трампа", False, "en"),  # no English stem for Cyrillic
        ("поздрав*", "Путин поздравил Трампа", True, "en"),
        ("Αθήνα", "Η ΑΘΗΝΑ σήμερα", True, "en"),  # Greek accents and case
        ("αθηνα", "Η Αθήνα σήμερα", True, "en"),
        ("習近平", "国家主席習近平は述べた", True, "en"),  # CJK: a phrase of characters
        ("習近平", "習主席と近平", False, "en"),
        ("習近平 NEAR/3 述べ", "国家主席習近平は述べた", True, "en"),
        ("Müller", "Thomas MULLER scored", True, "de"),
        ("Mueller", "Thomas Müller scored", True, "de"),  # the German stemmer reads ue as ü
        ("Mueller", "Thomas Müller scored", False, "en"),  # folding only strips accents
        ("Straße", "die STRASSE ist lang", True, "de"),
    ],
)
def test_unicode(rule: str, text: str, expected: bool, language: str) -> None:
    assert compile_rule(rule, language=language).matches(doc(text)) is expected


def test_language_without_stemmer_matches_exactly() -> None:
    rule = compile_rule("congratulate", language="ja")
    assert rule.matches(doc("I congratulate you"))
    assert not rule.matches(doc("they congratulated him"))


# --------------------------------------------------------------------------- errors

# (rule, message fragment, column, expected fragment)
ERRORS = [
    ("(Putin OR Kremlin", "unbalanced parenthesis", 1, "')'"),
    ("Putin AND (Trump OR (Biden)", "unbalanced parenthesis", 11, "')'"),
    ("Putin)", "no '(' for this ')'", 6, "operator"),
    ('"no plans to', "unbalanced quote", 1, '"'),
    ('Putin "no plans', "unbalanced quote", 7, '"'),
    ("Putin AND", "dangling operator 'AND'", 7, "a word"),
    ("Putin OR", "dangling operator 'OR'", 7, "a word"),
    ("Putin NOT", "dangling operator 'NOT'", 7, "a word"),
    ("Putin -", "dangling operator '-'", 7, "a word"),
    ("Putin NEAR/3", "dangling operator 'NEAR/3'", 7, "a word"),
    ("AND Putin", "AND needs a term on its left", 1, "a word"),
    ("(OR Putin)", "OR needs a term on its left", 2, "a word"),
    ("Putin AND OR Trump", "OR cannot follow AND", 11, "a word"),
    ("(Putin AND) Trump", "dangling operator before ')'", 11, "a word"),
    ("foo:bar", "unknown field 'foo:'", 1, "title"),
    ("Putin Breaking:news", "unknown field 'Breaking:'", 7, "title"),
    ("()", "empty group", 1, "a term"),
    ("Putin AND ( )", "empty group", 11, "a term"),
    ("Putin NEAR congratulat*", "NEAR needs a distance", 7, "NEAR/<number>"),
    ("Putin ONEAR congratulat*", "ONEAR needs a distance", 7, "ONEAR/<number>"),
    ("Putin NEAR/x Trump", "NEAR needs a distance", 7, "NEAR/<number>"),
    ("Putin NEAR/900 Trump", "at most 500", 7, "0 to 500"),
    ("Putin NEAR/5 NOT Trump", "NOT is not allowed inside NEAR/5", 14, "a word"),
    ("Putin NEAR/5 (Trump AND Biden)", "AND is not allowed", 15, "OR group"),
    ("title:Putin NEAR/5 text:Trump", "different fields", 13, "same field"),
    ("title:(text:Putin)", "a term has one field", 1, "without its own field"),
    ("putin and trump", "'and' is ambiguous", 7, "AND"),
    ("putin or trump", "'or' is ambiguous", 7, "OR"),
    ("Putin Not Trump", "'Not' is ambiguous", 7, "NOT"),
    ("con*gratulate", "only works at the end of a word", 4, "letters before"),
    ("c*", "at least 2 letters", 2, "2 or more"),
    ("Putin !!!", "no letters or digits", 7, "letters or digits"),
    ("", "empty rule", 1, "a word"),
    ("   ", "empty rule", 1, "a word"),
    ("= Putin", "'=' must be followed by a word", 1, "after '='"),
    ("title:", "dangling field 'title:'", 1, "a word"),
    ("NOT Trump", "negation alone", 1, "must appear"),
    ("-Trump -Biden", "negation alone", 1, "must appear"),
    ("Putin OR NOT Trump", "negation alone", 10, "must appear"),
    ("Putin OR -Trump", "negation alone", 10, "must appear"),
    ("NOT (Putin AND Trump)", "negation alone", 1, "must appear"),
]


@pytest.mark.parametrize(("rule", "message", "column", "expected"), ERRORS)
def test_error_messages(rule: str, message: str, column: int, expected: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_rule(rule)
    e = info.value
    assert message in e.message
    assert e.column == column
    assert expected in e.expected
    assert e.rule == rule
    lines = str(e).split("\n")
    assert lines[0] == e.message
    assert lines[1] == "  " + rule
    assert lines[2] == "  " + " " * (column - 1) + "^"
    assert isinstance(e, ValueError)
    assert e.to_dict()["column"] == column


def test_error_caret_with_newlines_in_rule() -> None:
    with pytest.raises(RuleError) as info:
        compile_rule("Putin\nAND")
    assert str(info.value).split("\n")[1:] == ["  Putin AND", "        ^"]


def test_unknown_language_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match="unknown language"):
        compile_rule("Putin", language="english")


def test_double_negation_is_allowed() -> None:
    assert compile_rule("NOT NOT Putin").matches(doc("Putin"))


# --------------------------------------------------------------------------- tree and printing


@pytest.mark.parametrize(
    ("rule", "tree"),
    [
        ("Putin", Term((Word("putin"),))),
        ('"Putin"', Term((Word("putin"),), exact=True)),
        ("=Putin", Term((Word("putin"),), exact=True)),
        ("congrat*", Term((Word("congrat", prefix=True),))),
        ('"no plans"', Term((Word("no"), Word("plans")))),
        ("title:Putin", Term((Word("putin"),), field="title")),
        ("a b OR c", Or((And((Term((Word("a"),)), Term((Word("b"),)))), Term((Word("c"),))))),
        ("a OR b c", Or((Term((Word("a"),)), And((Term((Word("b"),)), Term((Word("c"),))))))),
        ("a AND (b AND c)", And(tuple(Term((Word(x),)) for x in "abc"))),
        ("-a b", And((Not(Term((Word("a"),))), Term((Word("b"),))))),
        ("NOT a NEAR/2 b", Not(Near(Term((Word("a"),)), Term((Word("b"),)), 2))),
        ("a ONEAR/1 b", Near(Term((Word("a"),)), Term((Word("b"),)), 1, ordered=True)),
        ("a SENT b", Sent(Term((Word("a"),)), Term((Word("b"),)))),
    ],
)
def test_parse_tree(rule: str, tree: object) -> None:
    assert parse(rule) == tree
    assert parse(to_text(parse(rule))) == tree


def test_canonical_text() -> None:
    rule = compile_rule("title:(Putin OR Kremlin) congratulat* -Trump")
    assert str(rule) == "(title:putin OR title:kremlin) AND congratulat* AND NOT trump"


# --------------------------------------------------------------------------- index


@pytest.mark.parametrize(
    ("rule", "keys"),
    [
        ("Putin", {("s", "en", "putin")}),
        ("Putin AND congratulat*", {("s", "en", "putin")}),  # the rarer side
        ("the AND Zelensky", {("s", "en", "zelenski")}),
        ("Putin OR Biden", {("s", "en", "putin"), ("s", "en", "biden")}),
        ("=Plans AND the", {("w", "plans")}),
        ("congratulat* NOT Putin", {("p", "congratulat")}),
        ('"the Kremlin said"', {("s", "en", "kremlin")}),
        ("source:reuters Kremlin", {("s", "en", "kremlin")}),  # site names are common
        ("NOT (NOT Putin OR NOT Trump)", {("s", "en", "putin")}),
    ],
)
def test_required_keys(rule: str, keys: set) -> None:
    r = compile_rule(rule)
    assert required_keys(r.tree, r.language) == keys


@pytest.mark.parametrize(
    ("rule", "second"),
    [
        ("Putin", None),
        ("Putin AND congratulat*", {("p", "congratulat")}),
        # an OR costs its sides together, so the single word is the first key
        ("(Putin OR Kremlin) AND sanctions", {("s", "en", "putin"), ("s", "en", "kremlin")}),
        ("Zelensky NEAR/5 (Putin OR Kremlin)", {("s", "en", "putin"), ("s", "en", "kremlin")}),
        ("Zelensky SENT Putin", {("s", "en", "putin")}),  # the longer name is the first
        ("Putin NOT Trump", None),  # a negated part is never required
        ("Putin OR (Biden AND Trump)", None),
    ],
)
def test_second_index_keys(rule: str, second: set | None) -> None:
    from monitor.rules.index import index_keys

    r = compile_rule(rule)
    first, got = index_keys(r.tree, r.language)
    assert first == required_keys(r.tree, r.language)
    assert got == (frozenset(second) if second is not None else None)


def test_candidates_need_both_required_parts() -> None:
    rs = RuleSet(
        {
            "both": compile_rule("Peskov AND Kremlin"),
            "second-missing": compile_rule("Peskov AND Liverpool"),
            "prefix-missing": compile_rule("Peskov AND footbal*"),
            "near": compile_rule("Peskov NEAR/30 congratulat*"),
        }
    )
    d = prepare(doc(PESKOV))
    assert [rs.names[i] for i in rs.candidates(d)] == ["both", "near"]
    assert rs.matching_names(d) == rs.matching_names(d, naive=True) == ["both", "near"]


def test_ruleset_evaluates_only_candidates() -> None:
    rules = {
        "putin": compile_rule("Putin AND congratulat*"),
        "biden": compile_rule("Biden"),
        "football": compile_rule("Liverpool OR Chelsea"),
        "trump-near": compile_rule("Trump NEAR/2 congratulate"),
    }
    rs = RuleSet(rules)
    d = prepare(doc(PESKOV))
    assert [rs.names[i] for i in rs.candidates(d)] == ["putin", "trump-near"]
    assert [m.watch for m in rs.match(d)] == ["putin", "trump-near"]
    assert rs.match(d) == rs.match_naive(d)
    assert rs.matching_names(d) == ["putin", "trump-near"]
    assert rs.match(doc("")) == []


def test_ruleset_mixed_languages() -> None:
    rs = RuleSet(
        {
            "de": compile_rule("Glückwunsch", language="de"),
            "en": compile_rule("congratulate", language="en"),
        }
    )
    d = doc("Putin schickte Glückwünsche; Trump was congratulated")
    assert [m.watch for m in rs.match(d)] == ["de", "en"]


# --------------------------------------------------------------------------- explain and snippets


def test_explain_match() -> None:
    rule = compile_rule("Putin AND congratulat* -Biden")
    e = explain(rule, doc(PESKOV, title="Putin and Trump"))
    assert isinstance(e, Explanation)
    assert e.matched
    by_term = {t.term: t for t in e.terms}
    assert by_term["Putin"].found == (("title", "Putin", 1), ("text", "Putin", 1))
    assert by_term["congratulat*"].found == (("text", "congratulate", 1),)
    assert by_term["Biden"].negated and not by_term["Biden"].present and by_term["Biden"].ok
    assert e.snippets == (
        "Kremlin spokesman Dmitry Peskov said [[Putin]] has no plans to [[congratulate]] Trump.",
    )
    data = e.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["matched"] is True
    assert data["tree"]["label"] == "AND"
    text = e.format()
    assert "MATCH" in text
    assert "✓ Putin" in text
    assert "congratulate" in text
    assert "✓ NOT Biden" in text


def test_explain_no_match_says_what_is_missing() -> None:
    rule = compile_rule("Putin AND congratulat*")
    e = explain(rule, doc(FOOTBALL))
    assert not e.matched
    assert e.snippets == ()
    assert all(not t.present for t in e.terms)
    text = e.format()
    assert "no match" in text
    assert "✗ Putin" in text and "not found in title, text" in text
    e2 = explain(compile_rule("Putin NEAR/2 congratulat*"), doc(PESKOV))
    assert not e2.matched
    assert all(t.present for t in e2.terms)  # both words are there, just too far apart
    assert "✗ NEAR/2" in e2.format()


def test_blocked_by_not_is_explained() -> None:
    e = explain(compile_rule("Putin NOT Trump"), doc(PESKOV))
    assert not e.matched
    (trump,) = [t for t in e.terms if t.term == "Trump"]
    assert trump.negated and trump.present and not trump.ok
    assert "✗ NOT Trump" in e.format()


def test_snippets_pick_sentences_with_most_terms() -> None:
    text = (
        "Putin was in Moscow. Nothing else happened here at all. "
        "Trump said Putin may congratulate him. Then Putin left. "
        "Later, congratulations came from Putin."
    )
    m = compile_rule("Putin congratulat* Trump").match(doc(text), "w")
    assert m is not None
    assert m.snippets == (
        "[[Trump]] said [[Putin]] may [[congratulate]] him.",
        "Later, [[congratulations]] came from [[Putin]].",
    )


def test_snippet_of_long_sentence_is_trimmed() -> None:
    text = "word " * 200 + "Putin congratulated Trump " + "word " * 200 + "end."
    m = compile_rule("Putin").match(doc(text), "w")
    assert m is not None
    (s,) = m.snippets
    assert s.startswith("…") and s.endswith("…")
    assert "[[Putin]] congratulated Trump" in s
    assert len(s) < 400


def test_title_only_hits_give_title_snippet() -> None:
    m = compile_rule("Putin").match(doc("nothing here", title="Putin wins"), "w")
    assert m is not None and m.snippets == ("[[Putin]] wins",)


def test_near_hits_are_the_words_that_are_near() -> None:
    text = "Putin spoke. Later a long unrelated sentence follows. Trump congratulated Putin."
    m = compile_rule("Putin NEAR/1 congratulat*").match(doc(text), "w")
    assert m is not None
    assert [h.start for h in m.hits if h.term == "Putin"] == [text.rindex("Putin")]


def test_phrase_hit_covers_the_phrase() -> None:
    m = compile_rule('"no plans to congratulate"').match(doc(PESKOV), "w")
    assert m is not None
    (h,) = m.hits
    assert h.word == "no plans to congratulate"
    assert PESKOV[h.start : h.end] == h.word


def test_hits_offsets_in_non_ascii_text() -> None:
    text = "«Путин» — “Peña” said: Zelensky’s plan"
    m = compile_rule("Peña Путин Zelensky").match(doc(text), "w")
    assert m is not None
    assert {h.word for h in m.hits} == {"Путин", "Peña", "Zelensky’s"}
    for h in m.hits:
        assert text[h.start : h.end] == h.word


# --------------------------------------------------------------------------- shared per-article work

ARTICLE = (
    "Kremlin spokesman Dmitry Peskov said Putin has no plans to congratulate Trump. "
    "Mr. Peskov added that Putin's schedule was full. Trump, asked about Putin, smiled. "
    "Sanctions on the Kremlin were discussed by ministers; sanctioned banks protested."
)
OVERLAPPING = {
    "putin": "Putin",
    "putin-trump": "Putin AND Trump",
    "near": "Putin NEAR/4 congratulat*",
    "sent": "Trump SENT Putin",
    "phrase": '"no plans to" Peskov',
    "prefix": "sanction* -Biden",
    "exact": "=Putin OR Kremlin",
    "title": "title:Putin",
}


def test_rules_sharing_terms_get_the_same_matches_as_alone() -> None:
    # one prepared article, its positions, hits and marked sentences shared by every rule
    rules = {name: compile_rule(r) for name, r in OVERLAPPING.items()}
    article = doc(ARTICLE, title="Putin and Trump")
    got = RuleSet(rules).match(article)
    alone = [
        m
        for name, r in rules.items()
        if (m := r.match(doc(ARTICLE, title="Putin and Trump"), name))
    ]
    assert got == alone
    assert [m.watch for m in got] == list(OVERLAPPING)
    sanction = next(m for m in got if m.watch == "prefix")
    assert [h.word for h in sanction.hits] == ["Sanctions", "sanctioned"]
    near = next(m for m in got if m.watch == "near")
    assert [h.word for h in near.hits] == ["Putin", "congratulate"]
    sent = next(m for m in got if m.watch == "sent")
    assert sent.snippets == (
        "Kremlin spokesman Dmitry Peskov said [[Putin]] has no plans to congratulate [[Trump]].",
        "[[Trump]], asked about [[Putin]], smiled.",
    )


def test_positions_in_tags_never_join_two_tags() -> None:
    d = Document(tags=("european union", "union budget"))
    assert compile_rule('tag:"european union"').matches(d)
    assert not compile_rule('tag:"union union"').matches(d)
    assert not compile_rule("tag:(union ONEAR/0 union)").matches(d)
    assert compile_rule("tag:(union NEAR/0 budget)").matches(d)
    (h,) = compile_rule('tag:"union budget"').match(d, "w").hits  # type: ignore[union-attr]
    assert "\n\n".join(d.tags)[h.start : h.end] == "union budget"


def test_a_word_that_folds_to_several_words_keeps_positions_right() -> None:
    # NFKD spells U+FDFA out as four Arabic words separated by spaces: still one word here
    text = "x \ufdfa y"
    assert compile_rule('"\ufdfa y"').matches(doc(text))
    assert not compile_rule("x NEAR/0 y").matches(doc(text))
    (m,) = RuleSet({"y": compile_rule("y")}).match(doc(text))
    assert [(h.start, h.end) for h in m.hits] == [(4, 5)]


def test_prepared_document_is_freed_without_the_cycle_collector() -> None:
    """An article's prepared structures go when the document is dropped, even with the
    garbage collector off: nothing in them points back at the document strongly."""
    import gc
    import weakref

    rs = RuleSet(
        {
            "a": compile_rule('"talks collapsed" Peskov'),
            "b": compile_rule("Peskov SENT talk*"),
            "c": compile_rule("=Peskov NEAR/3 collapse"),
        }
    )
    doc = Document(title="Talks", text="Peskov said talks collapsed. Mr. Peskov left.")
    was = gc.isenabled()
    gc.disable()
    try:
        d = rs.prepare(doc)
        assert [m.watch for m in rs.match(d)] == ["a", "b", "c"]
        ref = weakref.ref(d)
        del d
        assert ref() is None
    finally:
        if was:
            gc.enable()


def test_compiled_rules_are_reused_across_loads() -> None:
    """A config reload compiles only new or edited rules: the same text and language give
    the same compiled rule, another language or an edit a new one; bad rules fail every time."""
    a = compile_rule("Putin NEAR/5 congratulat*")
    assert compile_rule("Putin NEAR/5 congratulat*") is a
    assert compile_rule("Putin NEAR/5 congratulat*", language="de") is not a
    assert compile_rule("Putin NEAR/6 congratulat*") is not a
    for _ in range(2):
        with pytest.raises(RuleError):
            compile_rule("Putin AND (")
    rs1, rs2 = RuleSet({"w": a}), RuleSet({"w": a})
    assert rs1.keys == rs2.keys and rs1.keys[0] is rs2.keys[0]
