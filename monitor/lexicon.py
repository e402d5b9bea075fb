"""Every English word list the monitor reads language with, in one place.

Stages never keep word lists of their own: stop words (:mod:`monitor.text`, dedup, rules),
the claim reader (:mod:`monitor.claims.extract`) and the stance features
(:mod:`monitor.claims.stance_features`) all take theirs from here. Where two readers need
slightly different sets, the difference is written as set arithmetic on a shared base, so
that a word added to the base reaches both. All words are folded (lower case, straight
apostrophes), as :func:`monitor.text.tokenize` gives them.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- function words ----------------------------------------------------------------------------
#: English function words (negations included): no topic of their own. Stages that need more
#: (dedup's multilingual and news filler words) extend this set rather than copy it.
STOPWORDS_EN = _words(
    """
    a about above after again against all also am an and any are as
    at be because been before being below between both but by can
    could did do does doing done down dr during each few for from
    further get got had has have having he her here hers herself him
    himself his how i if in into is it its itself just like may
    me might more most mr mrs ms must my myself never new no nor
    not now of off on once one only or other our ours ourselves out
    over own s said same say saying says shall she should so some
    such t tell than that the their theirs them themselves then there
    these they this those through to told too two under until up upon
    us very via was we were what when where which while who whom
    why will with would year years you your yours yourself yourselves
    """
)
#: Abbreviations a full stop does not end a sentence after ("Mr.", "Gen.", "Sept.").
ABBREVIATIONS = _words(
    """
    adm al approx apr aug ave blvd capt cmdr co col corp dec dept dr est etc feb fig gen
    gov hon inc jan jr jul jun lt ltd mar mr mrs ms mt no nos nov oct pres prof rep rev
    sen sep sept sgt sr st univ vol vs
    """
)
#: The claim reader's function words: words that are never a name, a predicate or a slot.
#: Stop words, less the verbs of saying, titles and particles the reader looks at itself,
#: plus quantifiers and connectives.
FUNCTION_WORDS = (
    STOPWORDS_EN
    - _words(
        "above below done down dr further get got hers herself himself itself like mr mrs ms "
        "myself new now off once ours ourselves out s said say saying says t tell theirs "
        "themselves told up upon year years yours yourself yourselves"
    )
) | _words(
    "already although among another either even every it's least less many much neither "
    "onto since still though unless whether whose yet"
)
PRONOUNS = _words("he her him his i it its me she their them they us we you")
DETERMINERS = _words("a an her his its media such the their these those")
COPULAS = _words("are be been being is was were")
RELATIVE_OPENERS = _words("where which who whom whose")
#: Words that open a new clause; a negation before one does not reach past it.
CLAUSE_WORDS = _words("although but however though whereas")
#: The stance features' clause breaks: the clause words and a few more.
CLAUSE_BREAKS = CLAUSE_WORDS | _words("instead while yet")
#: Words after a predicate that end its object ("congratulated Trump on his win").
OBJECT_STOPS = _words(
    "about after and as at because before but by during for from in on or over since that "
    "through via when which while who with"
)

# -- negation and denial -----------------------------------------------------------------------
NEGATORS = _words("cannot neither never no nobody none nor not nothing nowhere without")
#: Negations as the stance features count them (colloquial ones too).
NEGATIONS = NEGATORS | {"nope"}
#: Verbs (and nouns) by which a subject denies or rejects a statement.
DENY_WORDS = _words(
    "debunk debunked denial denials denied denies deny denying dismiss dismissed dismisses "
    "dismissing dispute disputed disputes disputing rebut rebuts rebutted refute refuted "
    "refutes refuting reject rejected rejecting rejects"
)
DENY_WORD_RE = re.compile(
    r"^(?:den(?:y|ies|ied|ying|ials?)|dismiss\w*|reject\w*|refut\w*|rebut\w*|debunk\w*"
    r"|disput\w*|contradict\w*|retract\w*|untrue|false\w*|fake\w*|hoax\w*|baseless"
    r"|unfounded|fabricat\w*|nonsense|rubbish|bogus|myths?|misleading|incorrect"
    r"|inaccurate|wrong\w*|lies|lied|lying|fictio\w*|satir\w*|prank\w*|scam\w*)$"
)
#: Only the denial verbs, every form.
DENY_VERB_RE = re.compile(
    r"^(?:den(?:y|ies|ied|ying)|dismiss(?:ed|es|ing)?|reject(?:ed|s|ing)?|refut(?:e|ed|es|ing)"
    r"|rebut(?:s|ted|ting)?|debunk(?:ed|s|ing)?|disput(?:e|ed|es|ing)|contradict(?:ed|s|ing)?"
    r"|retract(?:ed|s|ing)?)$"
)
#: Verbs by which a subject does not do something ("refused to", "failed to").
FAIL_VERBS = _words("decline declined declines fail failed fails refuse refused refuses")
# Refutation: adjectives that deny a proposition stated before them ("reports that ... are
# false"). The claim reader and the stance features each add a few of their own.
_FALSE_WORDS = _words(
    "baseless bogus fabricated fake false fiction inaccurate incorrect nonsense rubbish "
    "unfounded untrue wrong"
)
DENY_AFTER = _FALSE_WORDS | {"groundless"}
REFUTED_AFTER = _FALSE_WORDS | {"hoax", "myth"}
#: Words and word pairs typical of debunking articles (FNC-1's "disagree" bodies).
DEBUNK_WORDS = _words(
    "baseless bogus debunk debunked debunks doctored fabricated fake faked false hoax hoaxes "
    "misattributed myth parody photoshopped prank satire satirical snopes spoof unfounded "
    "untrue"
)
DEBUNK_PAIRS = frozenset(
    [
        ("not", "true"),
        ("no", "evidence"),
        ("no", "truth"),
        ("no", "proof"),
        ("not", "real"),
        ("isn't", "real"),
        ("never", "happened"),
        ("made", "up"),
        ("turned", "out"),
        ("turns", "out"),
        ("in", "fact"),
        ("april", "fools"),
        ("fake", "news"),
        ("too", "good"),
        ("no", "such"),
        ("not", "genuine"),
    ]
)
#: Nouns for a report of something, which a denial verb governs ("denied reports that").
REPORT_NOUNS = _words(
    "allegations claim claims report reports rumor rumors rumour rumours speculation stories "
    "story suggestions that"
)
#: Verbs of saying, knowing or doing that a negation may scope over instead of the claim.
NONCOMMITTAL = _words(
    "comment confirm disclose elaborate immediately know need provide reveal say specify "
    "use verify want"
)

# -- doubt, contrast, confirmation ---------------------------------------------------------------
DOUBT_RE = re.compile(
    r"^(?:doubt\w*|sceptic\w*|skeptic\w*|questioned|questioning|questionable|unlikely"
    r"|implausibl\w*|improbabl\w*|dubious|suspicious|mystery|mysterious|puzzl\w*|unverified"
    r"|unconfirmed|unsubstantiated|unproven|misleading|debunk\w*|exaggerat\w*|premature"
    r"|inconclusive|contested|disputed|uncertain\w*)$"
)
DOUBT_NEG = _words(
    "can't cannot couldn't didn't hasn't haven't isn't lack little never no not nothing "
    "unable wasn't without"
)
DOUBT_OBJECT_RE = re.compile(
    r"^(?:evidence|proof|confirm\w*|verif\w*|sign|signs|trace|link|connection|basis"
    r"|indication|record|reason)$"
)
DOUBT_PAIRS = frozenset(
    [
        ("ruled", "out"),
        ("some", "other"),
        ("other", "cause"),
        ("not", "clear"),
        ("nothing", "to"),
        ("may", "not"),
        ("might", "not"),
        ("no", "one"),
        ("too", "early"),
        ("not", "yet"),
    ]
)
CONTRAST = _words("actually although but contrary despite however instead nevertheless though yet")
CONTRAST_PAIRS = frozenset([("in", "fact"), ("turns", "out"), ("turned", "out")])
CONFIRM_RE = re.compile(
    r"^(?:confirm\w*|announc\w*|official\w*|verified|proved?|proven|admit\w*|acknowledg\w*"
    r"|revealed?|indeed|true|genuine|authentic)$"
)

# -- hedges, plans, questions, conditions -------------------------------------------------------
#: Words that make a statement second-hand or unconfirmed (claim reader).
HEDGES = _words(
    "alleged allegedly apparently citing purportedly quoting reportedly rumored rumors "
    "rumoured rumours sources supposedly unconfirmed unverified"
)
#: Hedging words as the stance features count them (wide).
HEDGE_RE = re.compile(
    r"^(?:reportedly|alleg\w*|purport\w*|apparent\w*|supposed\w*|rumou?r\w*|unconfirmed"
    r"|unverified|unclear|according|citing|cites?|sources?|claim\w*|reports?|speculat\w*"
    r"|may|might|could|possibl\w*|perhaps|believed|seem\w*|appear\w*|suggest\w*|if"
    r"|whether|likely|unlikely|expected)$"
)
#: A narrower set for the stance rule layer: words that attribute or qualify a statement.
STRONG_HEDGE_RE = re.compile(
    r"^(?:reportedly|alleged|allegedly|purportedly|apparently|supposedly|rumou?r(?:s|ed)?"
    r"|unconfirmed|unverified|according|citing|sources?|claimed|claims|reports|reported)$"
)
SPECULATIVE = _words("could may maybe might perhaps possibly")
_INTENTION = _words("intend intended intends intention intentions plan planned plans")
#: Words that make a statement a plan ("plans to", "is expected to", "will").
PLAN_WORDS = _INTENTION | _words(
    "due expect expected expects going intending planning set shall will"
)
#: Nouns and adjectives a negation makes a denial of intent or evidence ("no plans to",
#: "not aware of", "no evidence that").
NO_PLAN_WORDS = _INTENTION | _words("aware basis evidence question reason sign signs truth")
QUESTION_CUES = _words("whether")
#: Words after which a negation denies the clause that follows ("it is not true that").
TRUTH_WORDS = _words("case correct so the true right accurate")
QUESTION_OPENERS = _words("asked if whether")
ASK_WORDS = _words("ask asked asking asks question questions unclear wonder wondered")
CONDITION_CUES = _words("if unless")

# -- reporting -----------------------------------------------------------------------------------
#: Verbs of saying: a name before or after one is the statement's source.
SPEECH_VERBS = _words(
    "acknowledge acknowledged add added adds admit admits admitted allege alleged alleges "
    "announce announced announces assert asserted asserts claim claimed claims confirm "
    "confirmed confirms explain explained explains insist insisted insists maintain "
    "maintained maintains note noted notes post posted quote quoted quotes report reported "
    "reports reveal revealed reveals said say saying says state stated states tell tells told "
    "tweet tweeted write writes wrote"
)
#: Verbs that make a statement a report of someone else's word.
REPORT_VERBS = _words("alleged alleges claim claimed claims report reported reports")
#: Words that make a claim an attributed or hedged one (stance features).
ATTRIBUTION_WORDS = _words(
    "according alleged allegedly apparently believes claim claimed claims could insists may "
    "maybe might possibly report reported reportedly reports rumor rumors rumour rumours said "
    "say says source sources suggests tells told warns"
)
#: Verbs that defer to their noun ("extended his congratulations").
LIGHT_VERBS = _words(
    "convey conveyed conveying conveys deliver delivered delivers express expressed expresses "
    "expressing extend extended extending extends gave give given gives giving had has have "
    "held hold holds made make makes making offer offered offering offers paid pass passed "
    "passes pay paying pays send sending sends sent take takes took"
)
#: Nouns of a role that speaks for someone ("Kremlin spokesman", "a ministry official").
ROLE_NOUNS = _words(
    "adviser advisor aide aides ambassador chief envoy head leader minister ministry office "
    "official officials president press representative secretary spokesman spokesperson "
    "spokeswoman"
)
#: Titles before a name ("President", "Dr").
TITLE_WORDS = _words(
    "chancellor dr gen general gov governor king mayor minister mr mrs ms pope president "
    "prime prince queen sen senator sir spokesman spokeswoman"
)
#: Plain nouns that speak for themselves after a verb of saying ("..., said officials").
SOURCE_NOUNS = ROLE_NOUNS | _words(
    "analyst analysts authorities campaigners critics doctors expert experts friends "
    "investigators journalist lawmakers neighbours officers police prosecutors reporter "
    "researchers residents scientists source sources witness witnesses"
)
#: Capitalised words that are never the source of a statement: dates, weekdays, months,
#: diseases and events ("the Black Death, say officials" is said by officials).
NOT_SOURCES = _words(
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow "
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec christmas easter "
    "aids cancer cholera covid death ebola flu hiv influenza malaria measles mers plague "
    "polio sars smallpox virus zika"
)
#: Words that open a comma-enclosed aside after a name ("X, head of Y, said").
APPOSITIVE_OPENERS = _words("a an the of head chief director citing quoting who which whose")
#: Conjunctions a speaker phrase does not start with ("..., and police said").
LEADING_CONJUNCTIONS = _words("and or but so then")

# -- claim-worthiness ----------------------------------------------------------------------------
#: Lines that are page furniture, not reporting: captions, credits, navigation, boilerplate.
BOILERPLATE_RE = re.compile(
    r"^\W*(?:photo|image|picture|video|caption|credit|source|file photo|pictured|above|below"
    r"|watch|listen|related|read more|see also|more from|click here|scroll down|sign up"
    r"|subscribe|follow us|share this|share on|advertisement|sponsored|copyright|all rights"
    r"|getty images|reuters/|ap photo|afp/|(?:©|\(c\))|skip to|home\b|menu\b|comments?\b"
    r"|posted by|published|updated|last modified)(?:\b|:|\s)",
    re.I,
)
#: First-person opinion openers ("I think", "in my view"): the writer's view, not a report.
OPINION_RE = re.compile(
    r"^(?:personally,?\s+)?(?:i|we)\s+(?:think|believe|feel|suspect|guess|reckon|hope"
    r"|doubt|suppose|am sure|'m sure|am convinced|'m convinced)\b"
    r"|^in\s+(?:my|our)\s+(?:view|opinion|mind)\b|^(?:imo|imho)\b",
    re.I,
)

# Words left out when ranking a text's sentences by the content words they share with a
# claim (monitor.claims.pairs.content_words): function words and verbs of saying.
RETRIEVAL_STOPWORDS = frozenset(
    "a an the of to in on at for by with from and or but as is are was were be been being "
    "it its this that these those he she they them his her their we our you your i me my "
    "has have had do does did will would can could should may might must not no than then "
    "there here what which who whom whose when where why how all any some such into over "
    "about after before up down out off again so very just also said says say".split()
)
