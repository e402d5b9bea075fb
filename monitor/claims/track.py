"""The claims stage: extract claim records from a matched article, relate them to the
watch's stored claims, and hand back what to store and the events to alert.

For each (article, match) of a watch with ``track_claims = true`` the decision is made in
three steps, before the article's transaction:

1. :meth:`ClaimTracker.extract`, pure: the claim records of the article and its
   sentences (an :class:`ArticleClaims`);
2. :meth:`ClaimTracker.inputs`, the only step that reads the store: the stored claims
   the records are judged against and the relations on file between them (a
   :class:`ClaimInputs`);
3. :meth:`ClaimTracker.decide_inputs`, pure over those inputs (and the model files):
   grouping, the pair, passage and article-judge models, the decisions.

The pipeline runs 1 and 3 in a worker thread, off the event loop (they take the CPU:
seconds per article with thousands of claim-tracking watches), and 2 on the loop, whose
thread owns the store's connection; :meth:`ClaimTracker.decide` runs the three in a row.
The :class:`ClaimDecision` it returns (new claims, evidence, relations, events) is
written by ``monitor.apply`` in the transaction that stores the article, so the claims,
their evidence and the alert rows commit together. Claims the decision creates carry
provisional ids (:func:`is_provisional`) until then. This module never imports another
stage.

Which claims an article is read against: the watch's declared claims, the claims of the
article's dedup story, and claims of other stories only when the article says nearly the
same words (:func:`strong_match`) and the model is very sure
(:data:`CROSS_STORY_PROBABILITY`). Never across unrelated stories.

Grouping (what is stored): a record with the same proposition and polarity as one of
those claims is stored as a report on it; any other assertive record becomes a new claim;
questions and conditionals are stored as discussion. Grouping never alerts by itself.

What alerts (each relation once) is decided by the pair model (:mod:`.pairs`) and, for a
whole article, the article judge (:mod:`.article_judge`): every candidate claim, and every
claim the article created, is read against the article's sentences in one batched call;
a text of one sentence is decided at the pair model's calibrated thresholds, a whole
article by the judge over those readings and the stance engine's
(:meth:`ClaimTracker.read`).
The alert's confidence is that probability, its evidence the sentence(s) the model read.

* ``claim.confirmed``: from an outlet that has not reported the claim yet, not a
  verbatim re-run (a syndicated copy), never of a claim the article created.
* ``claim.contradicted``: the pair (claim, the claim the contradicting report stands
  for) is recorded and alerted once, ever. An article quoting both sides yields two
  claims and at most one contradiction between them. A contradiction wins over a
  confirmation in one article (a debunk quotes the rumour before refuting it); a report
  grouped as confirming the claim is then stored as discussion.
* A debunk quotes the rumour to refute it (:data:`SELF_REFUTED`): the article judge reads
  the article as refuting a claim it created. The debunk's side is stored as a claim (the
  other polarity, its most refuting sentence), without an alert; a later report of the
  story confirming the rumour (:data:`REFUTED_CONFIRMS`) contradicts that side, once.
* If the model files cannot be loaded, one warning names the file and nothing alerts.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np

from monitor.claims.article_judge import ArticleJudge, ArticleJudgeError, engine_readings
from monitor.claims.extract import (
    Attribution,
    ClaimRecord,
    PreparedArticle,
    Proposition,
    extract_claims,
    prepare_article,
    read_sentence,
    read_statement,
)
from monitor.claims.pairs import (
    MODEL_DIR,
    PairModel,
    PairModelError,
    Readings,
    Verdict,
    content_words,
    read_many,
    split_text,
    verdict,
)
from monitor.claims.relate import (
    StoredClaim,
    best_match,
    is_copy,
    proposition_match,
    sources_overlap,
)
from monitor.models import Article, Match
from monitor.store.rows import (
    ClaimEvidenceRow,
    ClaimRelationRow,
    ClaimRow,
    NewClaim,
    NewEvidence,
)

log = logging.getLogger("monitor.claims")

# A claim of another dedup story is read against an article only when the article says
# nearly the same thing: a sentence shares this share of the claim's content words and
# the article names every name of the claim ...
CROSS_STORY_OVERLAP = 0.6
# ... and the model must be this sure (besides its calibrated threshold) to alert.
CROSS_STORY_PROBABILITY = 0.95
# At most this many claims of other stories are read per article (the time budget).
CROSS_STORY_LIMIT = 20
# ... and the claim must have at least this many content words (a name and a verb are
# not a claim another story can be matched on).
CROSS_STORY_WORDS = 4

# A debunk quotes the rumour before refuting it, and the claim reader stores the rumour as a
# claim of the debunk. When the article judge reads the debunk's whole text as contradicting
# a claim the debunk created (its own probability at least this, and above confirms), the
# article quoted the claim to refute it: the debunk's side is stored as a claim of its own
# (the rumour's proposition, the other polarity, its most refuting sentence) ...
SELF_REFUTED = 0.5
# ... and a later report of the story that the judge reads as confirming the rumour (its
# probability at least this, and above contradicts) contradicts that side.
# Both chosen on the story pairs of the validation stories (benchmarks/eval_claims.py
# pairs --side val; docs/claims-evaluation.md, "Story pairs").
REFUTED_CONFIRMS = 0.4
# What such an alert's confidence means: on those validation story pairs, 4 of the route's
# 5 alerts were between a report and its refutation, 1 between two debunks of one hoax
# (5 of 5 once limited to asserted rumours; a small sample, rounded down).
REFUTED_PRECISION = 0.8

# Claims a decision creates are numbered from here until the apply step stores them: above
# every stored id, in the order they were made, as their stored ids will be.
PROVISIONAL = 1 << 62


def is_provisional(claim_id: int) -> bool:
    return claim_id >= PROVISIONAL


class ClaimStore(Protocol):
    """What the stage reads of the store (monitor.store.Store provides it)."""

    def declared_claim_id(self, watch: str, config_text: str) -> int | None: ...
    def claims_of_watch(
        self, watch: str, predicate_keys: Iterable[str] | None = None
    ) -> list[ClaimRow]: ...
    def claims_of_story(self, watch: str, story_id: int | None) -> list[ClaimRow]: ...
    def claim_evidence(self, claim_ids: Iterable[int]) -> list[ClaimEvidenceRow]: ...
    def claim_relations(self, claim_ids: Iterable[int] | None = None) -> list[ClaimRelationRow]: ...


class WatchLike(Protocol):
    name: str
    language: str
    track_claims: bool


@dataclass(frozen=True)
class ClaimEvent:
    """One relation to alert: ``relation`` is "confirms" or "contradicts".

    ``confidence``: the pair model's probability of the relation; ``note``: what that
    means in plain words, from the model's calibration (:func:`confidence_note`).
    """

    relation: Literal["confirms", "contradicts"]
    watch: str
    claim: StoredClaim  # the stored claim confirmed or contradicted
    record: ClaimRecord  # the new evidence
    evidence_claim_id: int  # the claim the new evidence belongs to
    confidence: float
    same_source: bool = False  # the evidence repeats a source already behind the claim
    note: str | None = None

    @property
    def type(self) -> str:
        return "claim.confirmed" if self.relation == "confirms" else "claim.contradicted"


@dataclass(frozen=True)
class ArticleReading:
    """Claims judged against one article (:meth:`ClaimTracker.read`): a verdict per claim,
    the level ("sentence" or "article"), and at article level the article judge's own
    (confirms, contradicts) probabilities per claim and the pair model's readings."""

    verdicts: list[Verdict]
    level: str
    judge: list[tuple[float, float]] | None = None
    readings: Sequence[Readings] = ()


@dataclass(frozen=True)
class NewRelation:
    older: int
    newer: int
    relation: str
    confidence: float


@dataclass(frozen=True)
class ArticleClaims:
    """What one matched article says for one watch, before the store is read (step 1,
    :meth:`ClaimTracker.extract`): its claim records and the sentences the models read."""

    watch: str
    prepared: PreparedArticle
    records: tuple[ClaimRecord, ...]
    sents: tuple[str, ...]


@dataclass(frozen=True)
class ClaimInputs:
    """Everything the decision for one (article, watch) depends on besides the model files
    (step 2, :meth:`ClaimTracker.inputs`): the article and its claims, the stored claims
    it is judged against (``claims``: declared and of its story; ``others``: of other
    stories, said nearly word for word) and the relations on file that touch them, as
    stored (claim_a, claim_b) pairs. :meth:`ClaimTracker.decide_inputs` reads nothing else.
    """

    article: Article
    article_id: int | None  # the stored article (a revision), None for a new one
    extracted: ArticleClaims
    claims: tuple[StoredClaim, ...]
    others: tuple[StoredClaim, ...]
    relations: frozenset[tuple[int, int]]
    judged: Mapping[int, Any] = field(default_factory=dict)  # claim id → JudgeVerdict


@dataclass
class ClaimDecision:
    """What the stage decided for one (article, watch): what to store, what to alert.

    Ids of claims it creates are provisional (see :func:`is_provisional`); an evidence's
    or new claim's article id None stands for the article being stored. The apply step
    writes it and returns a copy with the stored ids (:meth:`resolved`).
    """

    watch: str = ""
    records: list[ClaimRecord] = field(default_factory=list)
    new_claims: dict[int, NewClaim] = field(default_factory=dict)  # provisional id → claim
    evidence: list[NewEvidence] = field(default_factory=list)
    relations: list[NewRelation] = field(default_factory=list)
    events: list[ClaimEvent] = field(default_factory=list)
    copy: bool = False  # the article re-runs reports already on file
    # (claim id, relation the pair model found, what the [claims.judge] model read)
    overruled: list[tuple[int, str, str]] = field(default_factory=list)

    def resolved(self, ids: Mapping[int, int], article_id: int) -> ClaimDecision:
        """This decision with provisional claim ids (``ids``) and the article's id filled in."""

        def cid(i: int) -> int:
            return ids.get(i, i)

        def claim(c: StoredClaim) -> StoredClaim:
            first = c.first_article_id
            if c.id in ids and first is None:
                first = article_id
            return replace(c, id=cid(c.id), first_article_id=first)

        return replace(
            self,
            new_claims={
                cid(k): replace(v, first_article_id=v.first_article_id or article_id)
                for k, v in self.new_claims.items()
            },
            evidence=[
                replace(e, claim_id=cid(e.claim_id), article_id=e.article_id or article_id)
                for e in self.evidence
            ],
            relations=[replace(r, older=cid(r.older), newer=cid(r.newer)) for r in self.relations],
            events=[
                replace(e, claim=claim(e.claim), evidence_claim_id=cid(e.evidence_claim_id))
                for e in self.events
            ],
            overruled=[(cid(i), a, b) for i, a, b in self.overruled],
        )


def polarity_word(polarity: str) -> str:
    """The alert payload's word for a polarity ("positive" / "negative")."""
    return "negative" if polarity == "denied" else "positive"


def _opposite(polarity: str) -> str:
    return "asserted" if polarity == "denied" else "denied"


def _outlet(article: Article) -> str:
    return article.site_name or article.feed_name


def confidence_note(relation: str, probability: float, precision: float | None) -> str:
    """The alert's confidence in plain words. What it means comes first: how often alerts
    decided the same way were right on held-out news (``precision``: the validation
    precision of the rule that raised it, from the models' ``thresholds.json`` or the
    judge's ``cross.json``); the
    model's own score follows in brackets (a raw score, not a probability of being right:
    the passage route alerts from a score of 30 %)."""
    verb = "confirms" if relation == "confirms" else "contradicts"
    pct = min(99, max(1, round(100 * probability)))
    if precision is None:
        return (
            f"The model scores {pct} % that this report {verb} the claim; alerts of this"
            " kind have not been measured on held-out news."
        )
    tenths = min(10, max(0, round(10 * precision)))
    return (
        f"On held-out news, alerts like this were right about {tenths} times in 10"
        f" (the model scores {pct} % that this report {verb} the claim)."
    )


def load_claims(store: ClaimStore, rows: Iterable[ClaimRow]) -> list[StoredClaim]:
    """Stored claims (rows) with what is known of their evidence."""
    claims = {r.id: _stored(r) for r in rows}
    for e in store.claim_evidence(claims):
        c = claims[e.claim_id]
        if e.role == "discusses":
            continue
        c.source_keys.extend(k for k in e.source_keys if k not in c.source_keys)
        if e.outlet and e.outlet not in c.outlets:
            c.outlets.append(e.outlet)
        c.quotes.append(e.quote)
        if e.article_id is not None:
            c.articles.append(e.article_id)
    return list(claims.values())


def _stored(r: ClaimRow) -> StoredClaim:
    return _claim(r.id, r, Proposition.from_dict(json.loads(r.proposition)))


def _claim(cid: int, c: ClaimRow | NewClaim, proposition: Proposition) -> StoredClaim:
    """The relating step's view of a claim on file (a row) or just made (to store)."""
    published = c.first_published
    return StoredClaim(
        id=cid,
        watch=c.watch,
        origin=c.origin,
        statement=c.statement,
        proposition=proposition,
        polarity=c.polarity,
        modality=c.modality,
        first_source=c.first_source,
        first_outlet=c.first_outlet,
        first_url=c.first_url,
        first_title=c.first_title,
        first_published=published.isoformat() if isinstance(published, datetime) else published,
        first_article_id=c.first_article_id,
    )


# "Verstka reported that ...", "Peskov told reporters that ...", "According to AFP, ...":
# the frame of a reported claim (a verb of saying, not of denying), and "..., X said."
_FRAME = re.compile(
    r"^(?:.{0,160}?\b(?:reported|reports|said|says|told\s+[\w-]+(?:\s+[\w-]+)?|claimed|claims"
    r"|stated|announced|wrote|added)\s+that\s+|according\s+to\s+[^,]{1,80},\s+)(?=\S)",
    re.IGNORECASE,
)
_HEADLINE_FRAME = re.compile(r"^[^,]{1,60}?\b(?:says|said)\s+(?=[A-Z])")  # "Kremlin says Putin ..."
_TAIL = re.compile(r",\s+(?:[^,]{1,80}\s+)?(?:said|says|reported|reports|told\s+\w+)\.?$", re.I)


def claim_content(statement: str) -> str:
    """What a claim asserts, without the frame that says who asserts it ("Kremlin says
    Putin has no plans ..." → "Putin has no plans ..."): the model judges the content,
    the alert names the source (``first_source``). A frame of denial ("Peskov denied
    that ...") is kept: it is the content."""
    s = statement.strip()
    m = _FRAME.match(s) or _HEADLINE_FRAME.match(s)
    if m:
        s = s[m.end() :]
    s = _TAIL.sub("", s).strip()
    return s[:1].upper() + s[1:] if len(s.split()) >= 3 else statement.strip()


def _names(statement: str) -> set[str]:
    """The content words of a statement's names (capitalised words after the first), in the
    form :func:`content_words` gives them."""
    toks = statement.split()[1:]
    return content_words(" ".join(t for t in toks if t[:1].isupper()))


def strong_match(statement: str, sents: Sequence[str], sent_words: Sequence[set[str]]) -> bool:
    """Does an article say nearly what a claim of another story says? One sentence shares
    :data:`CROSS_STORY_OVERLAP` of the claim's content words (at least
    :data:`CROSS_STORY_WORDS` of them), and the article names every name and number of the
    claim."""
    cw = content_words(statement)
    if len(cw) < CROSS_STORY_WORDS:
        return False
    article_words = set().union(*sent_words) if sent_words else set()
    numbers = set(re.findall(r"\d+", statement))
    if not _names(statement) <= article_words or not numbers <= set(
        re.findall(r"\d+", " ".join(sents))
    ):
        return False
    return any(len(cw & sw) >= CROSS_STORY_OVERLAP * len(cw) for sw in sent_words)


class ClaimTracker:
    """The claims stage. One per pipeline; holds the (lazily loaded) pair model.

    ``contradicts_threshold``: a floor over the model's calibrated contradiction threshold
    (``[claims] contradicts_threshold``). ``model``: a loaded :class:`PairModel` (tests);
    None loads the packaged one on first use. If it cannot be loaded, one warning names
    the file and no claim alert is raised (claims are still stored).
    """

    def __init__(
        self, contradicts_threshold: float | None = None, *, model: PairModel | None = None
    ) -> None:
        self.contradicts_threshold = contradicts_threshold or 0.0
        self._model = model
        self._model_tried = model is not None
        self._engine: Any = None
        self._engine_tried = False
        self._judge: ArticleJudge | None = None
        self._judge_tried = False
        # the models load on first use, in whichever thread decides (the pipeline's claims
        # worker; the caller's thread for decide()): one load each, whatever the threads
        self._loading = threading.Lock()

    def model(self) -> PairModel | None:
        with self._loading:
            return self._load_model()

    def _load_model(self) -> PairModel | None:
        if not self._model_tried:
            self._model_tried = True
            try:
                self._model = PairModel.load()
            except PairModelError as e:
                log.warning("claim alerts are off: %s", e)
            except Exception as e:  # onnxruntime/tokenizers broken: no alerts, no traceback
                log.warning("claim alerts are off: the pair model in %s failed: %s", MODEL_DIR, e)
        return self._model

    def engine(self) -> Any:
        """The stance engine (monitor.claims.stance), whose reading of a whole body the
        article judge takes into account; None if it cannot be loaded."""
        with self._loading:
            return self._load_engine()

    def _load_engine(self) -> Any:
        if not self._engine_tried:
            self._engine_tried = True
            try:
                from monitor.claims.stance import load_engine

                self._engine = load_engine()
            except Exception as e:  # model files missing or broken: confirmations stay off
                log.warning("article-level confirmations are off: stance engine: %s", e)
        return self._engine

    def article_judge(self) -> ArticleJudge | None:
        """The article-level judge (:mod:`.article_judge`); None if it cannot be loaded."""
        with self._loading:
            return self._load_article_judge()

    def _load_article_judge(self) -> ArticleJudge | None:
        if not self._judge_tried:
            self._judge_tried = True
            try:
                self._judge = ArticleJudge.load()
            except ArticleJudgeError as e:
                log.warning("article judge off, confirmations in whole articles are off: %s", e)
        return self._judge

    def read(
        self,
        model: PairModel,
        claims: Sequence[str],
        sents: Sequence[str],
        article: Article,
        created: Sequence[bool] = (),
    ) -> ArticleReading:
        """Each claim (a statement) judged against an article's sentences, the level
        ("sentence" for a text of one sentence, else "article") and, at article level, the
        article judge's own probabilities of each claim (:meth:`ArticleJudge.read`).

        ``created``: per claim, whether this article made it. Such a claim is judged by
        the pair model alone: the article itself carries both sides, and a contradiction
        then also needs both to be reports the claim reader found (``_contradict``).

        One sentence: the pair model at its sentence thresholds. A whole article: the
        article judge over the pair model's readings and the stance engine's reading of
        the body. Without the judge or the engine (files missing), the pair model's
        article verdicts stand, except confirmations: precision first, those are off."""
        contents = [claim_content(c) for c in claims]
        readings = read_many(contents, sents, model=model)
        n = sum(1 for s in sents if s and s.strip())
        level = "sentence" if n == 1 else "article"
        if level == "sentence":
            return ArticleReading(
                [verdict(model, r.probs, r.texts, level) for r in readings], level
            )
        judge = self.article_judge()
        engine = self.engine()
        eng: list[Any] = []
        if judge is not None and engine is not None:
            try:
                eng = engine_readings(engine, claims, f"{article.title or ''}\n\n{article.text}")
            except Exception as e:  # the engine must never stop the pipeline
                log.warning("stance engine failed on %s: %s", article.url, e)
        pair = [verdict(model, r.probs, r.texts, level) for r in readings]
        if judge is None or len(eng) != len(claims):
            return ArticleReading(
                [replace(v, relation="neither") if v.relation == "confirms" else v for v in pair],
                level,
            )
        judged, probs = judge.read(contents, sents, readings, eng, pair)
        own = list(created) + [False] * (len(claims) - len(created))
        return ArticleReading(
            [p if c else j for p, j, c in zip(pair, judged, own, strict=True)],
            level,
            [(float(q[0]), float(q[1])) for q in probs],
            readings,
        )

    def precision(self, model: PairModel, level: str, relation: str) -> float | None:
        """Held-out precision of a verdict at its threshold (the alert's confidence note)."""
        judge = self._judge
        if level == "article" and judge is not None:
            return judge.precision(relation)
        return _precision(model, level, relation)

    # -- declared claims ------------------------------------------------------------------------
    def declared_claims(self, store: ClaimStore, watches: Sequence[Any]) -> list[NewClaim]:
        """The ``[[watches.claims]]`` of claim-tracking watches not stored yet (to store)."""
        new: list[NewClaim] = []
        seen: set[tuple[str, str]] = set()
        for w in watches:
            if not getattr(w, "track_claims", False):
                continue
            for c in getattr(w, "claims", ()):
                text = " ".join(c.text.split())
                if (w.name, text) in seen or store.declared_claim_id(w.name, text) is not None:
                    continue
                seen.add((w.name, text))
                rec = read_statement(text, getattr(w, "language", "en"))
                prop = rec.proposition if rec else Proposition("", "", "", "", "", "")
                new.append(
                    NewClaim(
                        watch=w.name,
                        origin="config",
                        statement=text,
                        proposition=json.dumps(prop.to_dict()),
                        predicate_key=prop.predicate_key,
                        polarity=rec.polarity if rec else "asserted",
                        modality=rec.modality if rec else "stated",
                        config_text=text,
                        first_source="declared in the config",
                    )
                )
        return new

    # -- one article --------------------------------------------------------------------------
    def candidates(
        self,
        store: ClaimStore,
        watch: str,
        story_id: int | None,
        records: Sequence[ClaimRecord],
        sents: Sequence[str],
    ) -> tuple[list[StoredClaim], list[StoredClaim]]:
        """The stored claims an article is read against: (the declared claims and those of
        its dedup story, claims of other stories that the article says nearly word for
        word — see :func:`strong_match`)."""
        own_rows = store.claims_of_story(watch, story_id)
        own = {r.id for r in own_rows}
        keys = {r.proposition.predicate_key for r in records if r.proposition.predicate_key}
        other_rows = (
            [r for r in store.claims_of_watch(watch, keys) if r.id not in own] if keys else []
        )
        if other_rows:
            sent_words = [content_words(s) for s in sents]
            other_rows = [
                r for r in other_rows if strong_match(claim_content(r.statement), sents, sent_words)
            ]
            other_rows = sorted(other_rows, key=lambda r: -r.id)[:CROSS_STORY_LIMIT]
        loaded = load_claims(store, [*own_rows, *other_rows])
        return [c for c in loaded if c.id in own], [c for c in loaded if c.id not in own]

    def decide(
        self,
        store: ClaimStore,
        article: Article,
        article_id: int | None,
        match: Match,
        watch: WatchLike,
        *,
        story_id: int | None = None,
        prepared: PreparedArticle | None = None,
        judged: Mapping[int, Any] | None = None,
    ) -> ClaimDecision:
        """Extract the claims of one matched article, group them with the claims of its
        story, and let the pair model decide what it confirms or contradicts: the three
        steps (:meth:`extract`, :meth:`inputs`, :meth:`decide_inputs`) in a row.

        ``article_id``: the stored article (a revision), None for an article not stored
        yet; ``story_id``: its dedup story (None: a new story). The store is only read.

        ``judged``: what the ``[claims.judge]`` model read in this article about stored
        claims (claim id → ``JudgeVerdict``, see :meth:`judge_candidates`). A confirmation
        or contradiction of a claim on file alerts only if that model read the same.
        """
        extracted = self.extract(article, match, watch, prepared)
        inputs = self.inputs(
            store, article, article_id, extracted, story_id=story_id, judged=judged
        )
        return self.decide_inputs(inputs)

    def extract(
        self,
        article: Article,
        match: Match,
        watch: WatchLike,
        prepared: PreparedArticle | None = None,
    ) -> ArticleClaims:
        """Step 1, pure: the article's claim records for this watch and its sentences.
        ``prepared``: :func:`prepare_article` of the article in the watch's language, if
        already done (it is the same for every watch of that language)."""
        prep = prepared or prepare_article(article, watch.language)
        records = extract_claims(article, match, watch.language, prep)
        sents = split_text(f"{article.title or ''}\n{article.text or ''}")
        return ArticleClaims(watch.name, prep, tuple(records), tuple(sents))

    def inputs(
        self,
        store: ClaimStore,
        article: Article,
        article_id: int | None,
        extracted: ArticleClaims,
        *,
        story_id: int | None = None,
        judged: Mapping[int, Any] | None = None,
    ) -> ClaimInputs:
        """Step 2, the store's part: the stored claims the extracted records are judged
        against and the relations on file touching them. Every pair of stored claims the
        decision asks about is among these claims (the others it meets are ones it
        creates), so the relations read here answer it as the store would."""
        claims, others = self.candidates(
            store, extracted.watch, story_id, extracted.records, extracted.sents
        )
        ids = [c.id for c in (*claims, *others)]
        relations = (
            frozenset((r.claim_a, r.claim_b) for r in store.claim_relations(ids))
            if ids
            else frozenset()
        )
        return ClaimInputs(
            article, article_id, extracted, tuple(claims), tuple(others), relations, judged or {}
        )

    def decide_inputs(self, inputs: ClaimInputs) -> ClaimDecision:
        """Step 3, pure over ``inputs`` (and the model files, loaded on first use): group
        the records with the stored claims, let the models decide what alerts."""
        extracted = inputs.extracted
        records = list(extracted.records)
        run = _ArticleRun(
            self,
            inputs.relations,
            inputs.article,
            inputs.article_id,
            extracted.watch,
            extracted.prepared,
        )
        run.judged = inputs.judged
        run.outcome.watch = extracted.watch
        run.outcome.records = records
        run.claims, run.others = list(inputs.claims), list(inputs.others)
        if not records and not run.claims and not run.others:
            return run.outcome
        text_records = [r for r in records if r.field == "text" and r.assertive]
        known = [q for c in run.claims for q in c.quotes]
        run.copy = bool(text_records) and all(is_copy(r.quote, known) for r in text_records)
        run.outcome.copy = run.copy
        for rec in records:
            run.place(rec)
        run.judge(list(extracted.sents))
        return run.outcome

    def judge_candidates(
        self,
        store: ClaimStore,
        article: Article,
        match: Match,
        watch: WatchLike,
        limit: int,
        *,
        prepared: PreparedArticle | None = None,
    ) -> dict[int, str]:
        """The stored claims this article could confirm or contradict (id → statement), for
        the ``[claims.judge]`` model to read before the article is stored: those sharing a
        predicate with a claim the article makes, and the declared ones; declared first,
        then the newest, at most ``limit``."""
        prep = prepared or prepare_article(article, watch.language)
        records = [r for r in extract_claims(article, match, watch.language, prep) if r.assertive]
        keys = {r.proposition.predicate_key for r in records}
        rows = store.claims_of_watch(watch.name, keys)
        if not records:
            rows = [r for r in rows if r.origin == "config"]
        rows.sort(key=lambda c: (c.origin != "config", -c.id))
        return {c.id: c.statement for c in rows[:limit]}


class _ArticleRun:
    """The decisions for one article of one watch."""

    def __init__(
        self,
        tracker: ClaimTracker,
        relations: frozenset[tuple[int, int]],
        article: Article,
        article_id: int | None,
        watch: str,
        prep: PreparedArticle,
    ) -> None:
        self.t = tracker
        self.on_file = relations  # relations on file between the stored claims judged
        self.article = article
        self.article_id = article_id
        self.watch = watch
        self.prep = prep
        self.claims: list[StoredClaim] = []  # declared, this story's, and created here
        self.others: list[StoredClaim] = []  # of other stories, said nearly word for word
        self.copy = False
        self.outcome = ClaimDecision()
        self.pairs: set[tuple[int, int]] = set()  # relations this decision records
        self.created: dict[int, ClaimRecord] = {}  # claims this article created → first record
        self.placed: list[tuple[ClaimRecord, StoredClaim]] = []  # records → their claims
        self.judged: Mapping[int, Any] = {}  # stored claim id → JudgeVerdict

    def _judge_allows(self, claim: StoredClaim, relation: str) -> bool:
        """False when the [claims.judge] model read this article differently about a claim
        on file (it is not asked about claims this article created)."""
        v = self.judged.get(claim.id)
        if v is None or claim.id in self.created or v.stance in (relation, "both"):
            return True
        log.info(
            "claims judge %s: %s does not %s claim %d (%r), it %s it; not alerted",
            v.model,
            self.article.url,
            relation.removesuffix("s"),
            claim.id,
            claim.statement[:80],
            v.stance,
        )
        self.outcome.overruled.append((claim.id, relation, v.stance))
        return False

    # -- grouping: each record joins the claim of its story it states, or makes a new one
    def place(self, rec: ClaimRecord) -> None:
        if not rec.assertive:
            hit = best_match(rec, self.claims, "discusses")
            if hit is not None:
                self._evidence(hit[0], rec, "discusses", hit[1].confidence, alerted=False)
            return
        hit = best_match(rec, self.claims, "confirms")
        if hit is not None:
            claim = hit[0]
            self._evidence(claim, rec, "confirms", hit[1].confidence, alerted=False)
        elif self.copy:
            return  # a re-run that says something new is not our business to invent
        else:
            claim = self._create(rec)
        self.placed.append((rec, claim))

    def _evidence(
        self, claim: StoredClaim, rec: ClaimRecord, role: str, conf: float, *, alerted: bool
    ) -> None:
        a = self.article
        attr = rec.attribution
        self.outcome.evidence.append(
            NewEvidence(
                claim_id=claim.id,
                article_id=self.article_id,
                role=role,
                quote=rec.quote,
                statement=rec.statement,
                field=rec.field,
                attribution=attr.text if attr else None,
                source_keys=tuple(attr.keys) if attr else (),
                outlet=_outlet(a),
                url=a.url,
                title=a.title,
                published=a.published,
                polarity=rec.polarity,
                modality=rec.modality,
                confidence=conf,
                copy=int(self.copy),
                alerted=int(alerted),
            )
        )

    def _source_of(
        self, attribution: Attribution | None, proposition: Proposition, polarity: str
    ) -> Attribution | None:
        """Who the article says makes a claim: the attribution of its sentence, else that of
        another of its reports of the same proposition ("Mayor to close bridge" in the
        headline, "..., the transport office said" in the text)."""
        if attribution is not None:
            return attribution
        return next(
            (
                r.attribution
                for r in self.outcome.records
                if r.attribution
                and r.polarity == polarity
                and proposition_match(r.proposition, proposition)
            ),
            None,
        )

    def _create(self, rec: ClaimRecord) -> StoredClaim:
        a = self.article
        attr = self._source_of(rec.attribution, rec.proposition, rec.polarity)
        prop = rec.proposition
        new = NewClaim(
            watch=self.watch,
            origin="article",
            statement=rec.statement,
            proposition=json.dumps(prop.to_dict()),
            predicate_key=prop.predicate_key,
            polarity=rec.polarity,
            modality=rec.modality,
            first_article_id=self.article_id,
            first_source=attr.text if attr else None,
            first_outlet=_outlet(a),
            first_url=a.url,
            first_title=a.title,
            first_published=a.published,
        )
        cid = PROVISIONAL + len(self.outcome.new_claims)
        self.outcome.new_claims[cid] = new
        claim = _claim(cid, new, prop)
        self.claims.append(claim)
        self.created[cid] = rec
        self._evidence(claim, rec, "origin", 1.0, alerted=False)
        return claim

    # -- the pair model (and at article level the article judge) decides what alerts
    def judge(self, sents: list[str]) -> None:
        model = self.t.model()
        if model is None or not sents:
            return
        judged = [*self.claims, *self.others]
        reading = self.t.read(
            model,
            [c.statement for c in judged],
            sents,
            self.article,
            [c.id in self.created for c in judged],
        )
        verdicts, level = reading.verdicts, reading.level
        by_claim = dict(zip((c.id for c in judged), verdicts, strict=True))
        sided = self._quoted_to_refute(judged, reading, model, level)
        # a contradiction only by a side already on file must not hide a confirmation:
        # read those claims again without the sentences of that side (rare: an article
        # carrying both known sides of a story)
        for c in [c for c in judged if self._known_side(c, by_claim[c.id])]:
            rest = [s for s in sents if not self._opposed_by(c, s)]
            again = self.t.read(
                model,
                [c.statement],
                rest,
                replace(self.article, text="\n".join(rest)),
                [c.id in self.created],
            )
            by_claim[c.id] = again.verdicts[0]
        others = {c.id for c in self.others}
        for c in judged:  # claims on file first (by id), then those this article created
            v = by_claim[c.id]
            if c.id in sided:
                continue  # this report contradicts the debunk that quoted the claim
            log.debug(
                "claims: %s %s claim %d %r (%.3f): %r",
                self.article.url,
                v.relation,
                c.id,
                c.statement[:80],
                v.probability,
                v.evidence[:120],
            )
            if v.relation == "neither" or not v.evidence:
                continue
            precision = self.t.precision(model, level, v.relation)
            note = confidence_note(v.relation, v.probability, precision)
            if c.id in others and v.probability < CROSS_STORY_PROBABILITY:
                continue
            if v.relation == "confirms":
                self._confirm(c, v, note)
            elif v.probability >= self.t.contradicts_threshold:
                self._contradict(c, v, note)

    # -- a debunk quotes the rumour to refute it (SELF_REFUTED, REFUTED_CONFIRMS)
    def _quoted_to_refute(
        self, judged: Sequence[StoredClaim], reading: ArticleReading, model: PairModel, level: str
    ) -> set[int]:
        """The debunk's side of claims this article quotes to refute, and contradictions of
        such sides on file by this article. Returns the claims on file whose debunk this
        article contradicts (they are not confirmed as well: a contradiction wins)."""
        if reading.judge is None or level != "article":
            return set()
        sided: set[int] = set()
        other_ids = {o.id for o in self.others}
        for c, (conf, contra), r in zip(judged, reading.judge, reading.readings, strict=True):
            probs = np.asarray(r.probs, dtype=float).reshape(-1, 3)
            if c.polarity != "asserted":
                continue  # a debunk refutes what was asserted; its own side is a denial
            if c.id in self.created:
                if contra >= SELF_REFUTED and contra > conf:
                    self._debunk_side(c, probs, r.texts, contra)
                continue
            if conf < REFUTED_CONFIRMS or conf <= contra or not len(probs):
                continue
            if self.copy or c.id in other_ids:
                continue  # a re-run does not alert; claims of other stories never here
            i = int(np.argmax(probs[:, 0]))
            if probs[i, 0] <= probs[i, 1]:
                continue  # no sentence of this article reads as confirming the claim
            for side in self._debunks_of(c):
                if self._contradict_side(side, c, r.texts[i], conf, model, level):
                    sided.add(c.id)
        return sided

    def _debunk_side(
        self, claim: StoredClaim, probs: np.ndarray, texts: Sequence[str], probability: float
    ) -> None:
        """Store the side of an article that quotes ``claim`` (created here) to refute it:
        the claim's proposition, the other polarity, the article's sentence most refuting
        it (which must read as refuting). No relation and no alert: one article is not two
        reports; a later report confirming the claim contradicts this side."""
        if not len(probs):
            return
        i = int(np.argmax(probs[:, 1]))
        if probs[i, 1] <= probs[i, 0] or self._debunks_of(claim):
            return
        polarity = _opposite(claim.polarity)
        rec = self._reading(claim, Verdict("contradicts", probability, texts[i], None), polarity)
        # not among ``placed``: the claim reader did not find this side as a report, so the
        # article's own two sides are never related nor alerted (``_contradict``)
        self._create(replace(rec, proposition=claim.proposition, cues=("quoted-to-refute",)))

    def _debunks_of(self, claim: StoredClaim) -> list[StoredClaim]:
        """Sides stored by the article that created ``claim`` (asserted) and quoted it to
        refute it (:meth:`_debunk_side`): its proposition, denied, the same first article."""
        if claim.polarity != "asserted":
            return []
        return [
            d
            for d in self.claims
            if d.id != claim.id
            and d.polarity == "denied"
            and d.proposition == claim.proposition
            and d.origin == "article"
            and (
                d.first_article_id == claim.first_article_id
                if d.first_article_id is not None
                else d.id in self.created and claim.id in self.created
            )
        ]

    def _contradict_side(
        self,
        side: StoredClaim,
        claim: StoredClaim,
        evidence: str,
        probability: float,
        model: PairModel,
        level: str,
    ) -> bool:
        """This article confirms ``claim``, which an earlier article quoted to refute it:
        it contradicts that article's side (recorded and alerted once, ever)."""
        if side.id in self.created or self._has_relation(side.id, claim.id):
            return False
        if self.judged and not self._judge_allows(side, "contradicts"):
            return False
        rec = self._reading(claim, Verdict("confirms", probability, evidence, None), claim.polarity)
        self._mark(claim, "confirms", probability, alerted=False, rec=rec)
        self.pairs.add((min(side.id, claim.id), max(side.id, claim.id)))
        self.outcome.relations.append(
            NewRelation(min(side.id, claim.id), max(side.id, claim.id), "contradicts", probability)
        )
        note = confidence_note("contradicts", probability, REFUTED_PRECISION)
        self.outcome.events.append(
            ClaimEvent("contradicts", self.watch, side, rec, claim.id, probability, False, note)
        )
        return True

    def _records_in(self, text: str) -> list[tuple[ClaimRecord, StoredClaim]]:
        return [(r, c) for r, c in self.placed if r.quote and (r.quote in text or text in r.quote)]

    def _opposed_by(self, claim: StoredClaim, sentence: str) -> bool:
        """Is this sentence a report of a claim on file as contradicting ``claim``?"""
        return any(
            c.polarity != claim.polarity and self._has_relation(c.id, claim.id)
            for _, c in self._records_in(sentence)
        )

    def _known_side(self, claim: StoredClaim, v: Verdict) -> bool:
        if v.relation != "contradicts":
            return False
        found = self._records_in(v.evidence)
        return bool(found) and all(
            c.polarity != claim.polarity and self._has_relation(c.id, claim.id) for _, c in found
        )

    def _reading(self, claim: StoredClaim, v: Verdict, polarity: str) -> ClaimRecord:
        """The evidence as a record: the model's sentence(s), attributed by the claim reader
        (the record of that sentence, else a fresh reading of it). A sentence that names no
        source (a headline) takes the source of this article's report of the same
        proposition, if it names one."""
        found = [r for r, c in self._records_in(v.evidence) if r.polarity == polarity]
        base = found[0] if found else None
        if base is None:
            first = split_text(v.evidence)[0] if v.evidence else ""
            base = read_sentence(first, proper=self.prep.proper, language=self.prep.language)
        prop = base.proposition if found and base else claim.proposition
        attribution = self._source_of(base.attribution if base else None, prop, polarity)
        return ClaimRecord(
            proposition=prop,
            polarity=polarity,  # type: ignore[arg-type]
            modality=base.modality if base and base.assertive else "stated",
            attribution=attribution,
            quote=v.evidence,
            statement=base.statement if found and base else v.evidence,
            field=base.field if found and base else "text",
            cues=("pair-model",),
        )

    def _confirm(self, claim: StoredClaim, v: Verdict, note: str) -> None:
        if claim.id in self.created:
            return  # an article never confirms a claim it created
        rec = self._reading(claim, v, claim.polarity)
        fresh_outlet = _outlet(self.article) not in claim.outlets
        alert = (
            not self.copy
            and (self.article_id is None or self.article_id not in claim.articles)
            and fresh_outlet
            and not is_copy(v.evidence, claim.quotes)
        )
        if alert and not self._judge_allows(claim, "confirms"):
            # kept, read the [claims.judge] model's way, never alerted
            self._mark(claim, "discusses", v.probability, alerted=False, rec=rec)
            return
        same = bool(rec.attribution) and sources_overlap(
            rec.attribution.keys if rec.attribution else (), claim.source_keys
        )
        self._mark(claim, "confirms", v.probability, alerted=alert, rec=rec)
        if alert:
            self.outcome.events.append(
                ClaimEvent("confirms", self.watch, claim, rec, claim.id, v.probability, same, note)
            )

    def _mark(
        self, claim: StoredClaim, role: str, conf: float, *, alerted: bool, rec: ClaimRecord
    ) -> None:
        """The evidence row of this article for the claim gets the model's word (one is
        added when the claim reader grouped no sentence of it there)."""
        for i, e in enumerate(self.outcome.evidence):
            if e.claim_id == claim.id and e.role in ("confirms", "discusses"):
                self.outcome.evidence[i] = replace(
                    e, role=role, confidence=conf, alerted=int(alerted)
                )
                return
        self._evidence(claim, rec, role, conf, alerted=alerted)

    def _contradict(self, claim: StoredClaim, v: Verdict, note: str) -> None:
        polarity = _opposite(claim.polarity)
        rec = self._reading(claim, v, polarity)
        # the claim the contradicting report stands for: the one its sentence was grouped
        # into, else a new one (the claim's proposition, the other polarity)
        sides = [c for r, c in self._records_in(v.evidence) if c.polarity == polarity]
        if claim.id in self.created:
            # both sides in one article: two reports the reader found, of one proposition
            sides = [c for c in sides if proposition_match(c.proposition, claim.proposition)]
        other = sides[0] if sides else None
        if other is None:
            if self.copy or claim.id in self.created:
                return  # (both sides of one article must be reports the reader found)
            other = self._create(replace(rec, proposition=claim.proposition))
            self.placed.append((rec, other))
        # a report of this article grouped as confirming the claim only quoted it (a debunk)
        self.outcome.evidence = [
            replace(e, role="discusses")
            if e.claim_id == claim.id and e.role == "confirms" and e.alerted == 0
            else e
            for e in self.outcome.evidence
        ]
        if self._has_relation(claim.id, other.id):
            return
        on_file = claim if claim.id not in self.created else other
        if self.judged and not self._judge_allows(on_file, "contradicts"):
            return
        self.pairs.add((min(claim.id, other.id), max(claim.id, other.id)))
        self.outcome.relations.append(
            NewRelation(
                min(claim.id, other.id), max(claim.id, other.id), "contradicts", v.probability
            )
        )
        if self.copy:
            return  # recorded, but a syndicated re-run does not alert
        self.outcome.events.append(
            ClaimEvent("contradicts", self.watch, claim, rec, other.id, v.probability, False, note)
        )

    def _has_relation(self, a: int, b: int) -> bool:
        """Recorded already: by this decision, or on file (pairs of stored claims only)."""
        if (min(a, b), max(a, b)) in self.pairs:
            return True
        if is_provisional(a) or is_provisional(b):
            return False
        return (min(a, b), max(a, b)) in self.on_file


def _precision(model: PairModel, level: str, relation: str) -> float | None:
    """Validation precision at the calibrated threshold (None if the model has none)."""
    try:
        return float(model.calibration[level][relation]["val_precision"])
    except (KeyError, TypeError, ValueError):
        return None


# -- reading back: `monitor claims` --------------------------------------------------------------
def claims_overview(
    store: Any, watch: str | None = None, rows: list[ClaimRow] | None = None
) -> list[dict[str, Any]]:
    """Tracked claims with counts and sources of confirming and contradicting reports: a
    watch's (every claim for None), or the given claim ``rows`` (a story's)."""
    if rows is None:
        rows = store.claims(watch)
    ids = [r.id for r in rows]
    opposed: dict[int, set[int]] = {i: set() for i in ids}
    for rel in store.claim_relations(ids):
        if rel.relation == "contradicts":
            opposed.setdefault(rel.claim_a, set()).add(rel.claim_b)
            opposed.setdefault(rel.claim_b, set()).add(rel.claim_a)
    # the evidence of these claims and of the claims contradicting them (which need not be
    # among the rows: a story's claims, one claim's timeline)
    wanted = dict.fromkeys([*ids, *(o for i in ids for o in sorted(opposed[i]))])
    evidence: list[ClaimEvidenceRow] = store.claim_evidence(wanted)
    by_claim: dict[int, list[ClaimEvidenceRow]] = {}
    for e in evidence:
        by_claim.setdefault(e.claim_id, []).append(e)
    out = []
    for r in rows:
        own = [e for e in by_claim.get(r.id, []) if e.role != "discusses"]
        against = [e for o in sorted(opposed.get(r.id, ())) for e in by_claim.get(o, [])]
        against = [e for e in against if e.role != "discusses"]
        out.append(
            {
                "id": r.id,
                "watch": r.watch,
                "origin": r.origin,
                "statement": r.statement,
                "proposition": Proposition.from_dict(json.loads(r.proposition)).text(),
                "polarity": r.polarity,
                "modality": r.modality,
                "first_seen": {
                    "source": r.first_source,
                    "outlet": r.first_outlet,
                    "url": r.first_url,
                    "published": r.first_published,
                },
                "confirming": _side(own),
                "contradicting": _side(against),
                "contradicted_by": sorted(opposed.get(r.id, ())),
                "discussing": sum(1 for e in by_claim.get(r.id, []) if e.role == "discusses"),
            }
        )
    return out


def _side(rows: list[ClaimEvidenceRow]) -> dict[str, Any]:
    articles = {e.article_id for e in rows}
    copies = {e.article_id for e in rows if e.copy}
    sources = list(dict.fromkeys(e.attribution for e in rows if e.attribution))
    outlets = list(dict.fromkeys(e.outlet for e in rows if e.outlet))
    return {
        "reports": len(articles - copies),
        "copies": len(copies - (articles - copies)),
        "sources": sources,
        "outlets": outlets,
    }


def claim_timeline(store: Any, claim_id: int) -> dict[str, Any] | None:
    """One claim with every report on it and on the claims that contradict it, by date."""
    rows = [r for r in store.claims() if r.id == claim_id]
    if not rows:
        return None
    (claim,) = claims_overview(store, rows=rows)
    ids = [claim_id, *claim["contradicted_by"]]
    events = []
    e: ClaimEvidenceRow
    for e in store.claim_evidence(ids):
        side = "for" if e.claim_id == claim_id else "against"
        if e.role == "discusses":
            side = "discusses"
        events.append(
            {
                "when": e.published or e.created_at,
                "side": side,
                "claim_id": e.claim_id,
                "role": e.role,
                "outlet": e.outlet,
                "attribution": e.attribution,
                "polarity": e.polarity,
                "modality": e.modality,
                "confidence": e.confidence,
                "copy": bool(e.copy),
                "alerted": bool(e.alerted),
                "quote": e.quote,
                "url": e.url,
                "title": e.title,
            }
        )
    events.sort(key=lambda x: x["when"] or "")
    claim["timeline"] = events
    return claim


def format_overview(claims: list[dict[str, Any]]) -> str:
    """Plain-text table for `monitor claims`."""
    if not claims:
        return "No tracked claims yet."
    lines = []
    for c in claims:
        pol = "DENIED" if c["polarity"] == "denied" else "asserted"
        first = c["first_seen"]
        where = (
            "declared in the config"
            if c["origin"] == "config"
            else f"first: {first['source'] or '?'} in {first['outlet']}"
            f" ({(first['published'] or '')[:10]})"
        )
        lines.append(f"#{c['id']} [{c['watch']}] {pol} ({c['modality']}): {c['statement']}")
        lines.append(f"    {c['proposition']} — {where}")
        for label, key in (("confirming", "confirming"), ("contradicting", "contradicting")):
            side = c[key]
            extra = f" (+{side['copies']} copies)" if side["copies"] else ""
            srcs = "; ".join(side["sources"]) or "-"
            outs = ", ".join(side["outlets"]) or "-"
            lines.append(
                f"    {label}: {side['reports']} report(s){extra} — sources: {srcs}"
                f" — outlets: {outs}"
            )
    return "\n".join(lines)


def format_timeline(claim: dict[str, Any]) -> str:
    """Plain-text timeline for `monitor claims show ID`."""
    pol = "DENIED" if claim["polarity"] == "denied" else "asserted"
    lines = [
        f"Claim #{claim['id']} [{claim['watch']}] {pol} ({claim['modality']})",
        f"  {claim['statement']}",
        f"  {claim['proposition']}",
        "",
    ]
    marks = {"for": "+", "against": "−", "discusses": "?"}
    for e in claim["timeline"]:
        when = (e["when"] or "")[:16].replace("T", " ")
        who = e["attribution"] or "unattributed"
        flags = [e["modality"]]
        if e["copy"]:
            flags.append("copy")
        if e["alerted"]:
            flags.append("alerted")
        lines.append(f"{marks[e['side']]} {when}  {e['outlet']} — {who} [{', '.join(flags)}]")
        lines.append(f"    “{e['quote']}”")
    if not claim["timeline"]:
        lines.append("  (no reports yet)")
    return "\n".join(lines)


__all__ = [
    "ClaimDecision",
    "ClaimEvent",
    "ClaimInputs",
    "ArticleClaims",
    "ClaimTracker",
    "claim_timeline",
    "claims_overview",
    "format_overview",
    "format_timeline",
    "load_claims",
    "polarity_word",
]
