"""The claims stage: extract claim records from a matched article, relate them to the
watch's stored claims, and hand back what to store and the events to alert.

The pipeline calls :meth:`ClaimTracker.decide` for each (article, match) of a watch
with ``track_claims = true`` before the article's transaction; it only reads the store.
The :class:`ClaimDecision` it returns (new claims, evidence, relations, events) is
written by ``monitor.apply`` in the transaction that stores the article, so the claims,
their evidence and the alert rows commit together. Claims the decision creates carry
provisional ids (:func:`is_provisional`) until then. This module never imports another
stage.

Rules that decide what is alerted (each relation once):

* A record with the same proposition and polarity as a stored claim is *evidence* for
  it. It alerts ``claim.confirmed`` when it comes from an outlet that has not reported
  the claim yet and is not a verbatim re-run of an earlier report (a syndicated copy).
* A record that matches no stored claim becomes a new claim. Every stored claim with
  the same proposition and the opposite polarity is then *contradicted*: the pair is
  recorded and alerted once, ever (``claim.contradicted``), whichever article brings it.
* An article quoting both sides yields two claims and one contradiction between them;
  it never confirms or contradicts a claim it created itself.
* Questions and conditionals ("whether Putin would congratulate ...") are stored as
  discussion of a claim they match, and never alert.
* Declared claims (``[[watches.claims]]``) are stored at config sync and relate like
  any other; the stance engine also judges the whole article against them, which
  catches paraphrases the sentence reader misses and weighs the confidence of what it
  found.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from monitor.claims.extract import (
    ClaimRecord,
    PreparedArticle,
    Proposition,
    extract_claims,
    prepare_article,
    read_sentence,
    read_statement,
)
from monitor.claims.relate import (
    Relation,
    StoredClaim,
    best_match,
    is_copy,
    relate,
)
from monitor.models import Article, Match
from monitor.store.rows import ClaimEvidenceRow, ClaimRow, NewClaim, NewEvidence
from monitor.text import get_stemmer, tokenize

log = logging.getLogger("monitor.claims")

MIN_CONFIRM = 0.5  # confidence a confirmation needs to alert
DEFAULT_CONTRADICTS = 0.5  # confidence a contradiction needs, unless [claims] sets one


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
    def claim_evidence(self, claim_ids: Iterable[int]) -> list[ClaimEvidenceRow]: ...
    def has_claim_relation(self, a: int, b: int) -> bool: ...


class WatchLike(Protocol):
    name: str
    language: str
    track_claims: bool


@dataclass(frozen=True)
class ClaimEvent:
    """One relation to alert: ``relation`` is "confirms" or "contradicts"."""

    relation: Literal["confirms", "contradicts"]
    watch: str
    claim: StoredClaim  # the stored claim confirmed or contradicted
    record: ClaimRecord  # the new evidence
    evidence_claim_id: int  # the claim the new evidence belongs to
    confidence: float
    same_source: bool = False  # the evidence repeats a source already behind the claim

    @property
    def type(self) -> str:
        return "claim.confirmed" if self.relation == "confirms" else "claim.contradicted"


@dataclass(frozen=True)
class NewRelation:
    older: int
    newer: int
    relation: str
    confidence: float


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
    # (claim id, relation the sentence reader found, what the [claims.judge] model read)
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


def _outlet(article: Article) -> str:
    return article.site_name or article.feed_name


def load_claims(
    store: ClaimStore, watch: str, predicate_keys: Iterable[str] | None = None
) -> list[StoredClaim]:
    """A watch's stored claims with what is known of their evidence."""
    rows = store.claims_of_watch(watch, predicate_keys)
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
    return StoredClaim(
        id=r.id,
        watch=r.watch,
        origin=r.origin,
        statement=r.statement,
        proposition=Proposition.from_dict(json.loads(r.proposition)),
        polarity=r.polarity,
        modality=r.modality,
        first_source=r.first_source,
        first_outlet=r.first_outlet,
        first_url=r.first_url,
        first_title=r.first_title,
        first_published=r.first_published,
        first_article_id=r.first_article_id,
    )


class ClaimTracker:
    """The claims stage. One per pipeline; holds the (lazily loaded) stance engine."""

    def __init__(
        self,
        contradicts_threshold: float | None = None,
        *,
        use_engine: bool = True,
        engine: Any = None,
    ) -> None:
        self.contradicts_threshold = (
            contradicts_threshold if contradicts_threshold is not None else DEFAULT_CONTRADICTS
        )
        self._engine_threshold = contradicts_threshold
        self._engine = engine
        self._engine_tried = engine is not None or not use_engine

    # -- the stance engine (optional) ---------------------------------------------------------
    def engine(self) -> Any:
        if not self._engine_tried:
            self._engine_tried = True
            try:
                from monitor.claims.stance import load_engine

                self._engine = load_engine(self._engine_threshold)
            except Exception as e:  # no model files, or the engine is broken: go on without
                log.warning("stance engine unavailable (%s); declared claims use sentences only", e)
                self._engine = None
        return self._engine

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
    def decide(
        self,
        store: ClaimStore,
        article: Article,
        article_id: int | None,
        match: Match,
        watch: WatchLike,
        *,
        prepared: PreparedArticle | None = None,
        judged: Mapping[int, Any] | None = None,
    ) -> ClaimDecision:
        """Extract and relate the claims of one matched article; what to store and alert.

        ``article_id``: the stored article (a revision), None for an article not stored
        yet. The store is only read.

        ``judged``: what the ``[claims.judge]`` model read in this article about stored
        claims (claim id → ``JudgeVerdict``, see :meth:`judge_candidates`). A confirmation
        or contradiction of a claim on file alerts only if the model read the same; claims
        it was not asked about keep the built-in verdict.
        """
        prep = prepared or prepare_article(article, watch.language)
        records = extract_claims(article, match, watch.language, prep)
        run = _ArticleRun(self, store, article, article_id, watch.name, prep)
        run.judged = judged or {}
        run.outcome.watch = watch.name
        run.outcome.records = records
        keys = {r.proposition.predicate_key for r in records}
        run.claims = load_claims(store, watch.name, keys)
        if not records and not any(c.origin == "config" for c in run.claims):
            return run.outcome
        run.judge_declared()
        text_records = [r for r in records if r.field == "text" and r.assertive]
        known = [q for c in run.claims for q in c.quotes]
        run.copy = bool(text_records) and all(is_copy(r.quote, known) for r in text_records)
        run.outcome.copy = run.copy
        for rec in records:
            run.place(rec)
        run.declared_by_engine()
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
        claims = load_claims(store, watch.name, keys)
        if not records:
            claims = [c for c in claims if c.origin == "config"]
        claims.sort(key=lambda c: (c.origin != "config", -c.id))
        return {c.id: c.statement for c in claims[:limit]}


class _ArticleRun:
    """The decisions for one article of one watch."""

    def __init__(
        self,
        tracker: ClaimTracker,
        store: ClaimStore,
        article: Article,
        article_id: int | None,
        watch: str,
        prep: PreparedArticle,
    ) -> None:
        self.t = tracker
        self.store = store
        self.article = article
        self.article_id = article_id
        self.watch = watch
        self.prep = prep
        self.claims: list[StoredClaim] = []
        self.copy = False
        self.outcome = ClaimDecision()
        self.pairs: set[tuple[int, int]] = set()  # relations this decision records
        # claims a report of this (not yet stored) article went to
        self.new_article_reported: set[int] = set()
        self.created: dict[int, ClaimRecord] = {}  # claims this article created → first record
        self.confirmed: set[int] = set()  # claims this article already confirmed (alerted)
        self.touched: set[int] = set()  # claims this article reported on
        self.verdicts: dict[int, Any] = {}  # declared claim id → StanceVerdict
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

    def judge_declared(self) -> None:
        declared = [c for c in self.claims if c.origin == "config"]
        if not declared:
            return
        engine = self.t.engine()
        if engine is None:
            return
        try:
            body = engine.prepare(f"{self.article.title}\n\n{self.article.text}")
            verdicts = engine.judge_many([c.statement for c in declared], body)
        except Exception as e:  # the engine must never stop the pipeline
            log.warning("stance engine failed on %s: %s", self.article.url, e)
            return
        self.verdicts = {c.id: v for c, v in zip(declared, verdicts, strict=True)}

    def _weigh(self, claim: StoredClaim, rel: Relation) -> float:
        """Let the stance engine's article-level verdict weigh a relation to a declared claim."""
        v = self.verdicts.get(claim.id)
        if v is None or rel.kind not in ("confirms", "contradicts"):
            return rel.confidence
        p = float(v.probabilities.get(rel.kind, 0.0))
        return round(min(1.0, rel.confidence * (0.8 + 0.4 * p)), 4)

    # -- placing one record
    def place(self, rec: ClaimRecord, confidence: float | None = None) -> None:
        if not rec.assertive:
            self._discussion(rec)
            return
        hit = best_match(rec, self.claims, "confirms")
        if hit is not None:
            claim, rel = hit
            conf = confidence if confidence is not None else self._weigh(claim, rel)
            self._confirm(claim, rec, rel, conf)
        elif self.copy:
            return  # a re-run that says something new is not our business to invent
        else:
            claim = self._create(rec)
        self._contradictions(claim, rec, confidence)

    def _discussion(self, rec: ClaimRecord) -> None:
        hit = best_match(rec, self.claims, "discusses")
        if hit is not None:
            self._evidence(hit[0], rec, "discusses", hit[1].confidence, alerted=False)

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
        if role != "discusses":
            self.touched.add(claim.id)
            if attr:
                claim.source_keys.extend(k for k in attr.keys if k not in claim.source_keys)
            if _outlet(a) not in claim.outlets:
                claim.outlets.append(_outlet(a))
            claim.quotes.append(rec.quote)
            if self.article_id is not None:
                claim.articles.append(self.article_id)
            else:
                self.new_article_reported.add(claim.id)

    def _confirm(self, claim: StoredClaim, rec: ClaimRecord, rel: Relation, conf: float) -> None:
        fresh_outlet = _outlet(self.article) not in claim.outlets
        alert = (
            not self.copy
            and claim.id not in self.created
            and claim.id not in self.confirmed
            and self.article_id not in claim.articles
            and claim.id not in self.new_article_reported
            and fresh_outlet
            and not is_copy(rec.quote, claim.quotes)
            and conf >= MIN_CONFIRM
        )
        if alert and not self._judge_allows(claim, "confirms"):
            self._evidence(claim, rec, "discusses", conf, alerted=False)
            return
        self._evidence(claim, rec, "confirms", conf, alerted=alert)
        if alert:
            self.confirmed.add(claim.id)
            self.outcome.events.append(
                ClaimEvent("confirms", self.watch, claim, rec, claim.id, conf, rel.same_source)
            )

    def _create(self, rec: ClaimRecord) -> StoredClaim:
        a = self.article
        attr = rec.attribution
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
        claim = StoredClaim(
            id=cid,
            watch=self.watch,
            origin="article",
            statement=rec.statement,
            proposition=prop,
            polarity=rec.polarity,
            modality=rec.modality,
            first_source=new.first_source,
            first_outlet=new.first_outlet,
            first_url=a.url,
            first_title=a.title,
            first_published=a.published.isoformat() if a.published else None,
            first_article_id=self.article_id,
        )
        self.claims.append(claim)
        self.created[cid] = rec
        self._evidence(claim, rec, "origin", 1.0, alerted=False)
        return claim

    def _contradictions(
        self, claim: StoredClaim, rec: ClaimRecord, confidence: float | None
    ) -> None:
        """Record (and alert once) each stored claim of the opposite polarity this one meets."""
        for other in list(self.claims):
            if other.id == claim.id or other.polarity == claim.polarity:
                continue
            rel = relate(rec, other)
            if rel.kind != "contradicts":
                continue
            conf = confidence if confidence is not None else self._weigh(other, rel)
            if conf < self.t.contradicts_threshold:
                continue
            if self.judged and not self._has_relation(other.id, claim.id):
                # a new pair involving a claim on file: the judge must read it too
                on_file = other if other.id not in self.created else claim
                if not self._judge_allows(on_file, "contradicts"):
                    continue
            if self._has_relation(other.id, claim.id):
                continue
            self.pairs.add((min(other.id, claim.id), max(other.id, claim.id)))
            self.outcome.relations.append(NewRelation(other.id, claim.id, "contradicts", conf))
            if self.copy:
                continue  # recorded, but a syndicated re-run does not alert
            # name the older claim as the stored one, the newer one's report as the evidence
            if other.id < claim.id:
                stored, evidence, ev_claim = other, rec, claim.id
            else:
                stored, evidence, ev_claim = claim, self.created.get(other.id, rec), other.id
            self.outcome.events.append(
                ClaimEvent("contradicts", self.watch, stored, evidence, ev_claim, conf, False)
            )

    def _has_relation(self, a: int, b: int) -> bool:
        """Recorded already: by this decision, or on file (pairs of stored claims only)."""
        if (min(a, b), max(a, b)) in self.pairs:
            return True
        if is_provisional(a) or is_provisional(b):
            return False
        return self.store.has_claim_relation(a, b)

    # -- the engine's verdicts on declared claims that no sentence reached
    def declared_by_engine(self) -> None:
        for claim in [c for c in self.claims if c.origin == "config"]:
            v = self.verdicts.get(claim.id)
            if v is None or v.stance not in ("confirms", "contradicts") or not v.evidence:
                continue
            if claim.id in self.touched or any(
                c.id in self.touched and c.polarity != claim.polarity and relate_props(c, claim)
                for c in self.claims
            ):
                continue  # the sentence reader already placed this article's reports
            sentence = v.evidence[0]
            stem = get_stemmer(self.prep.language).stem
            focus = [
                (t.start, t.end)
                for t in tokenize(sentence)
                if stem(t.norm) == claim.proposition.predicate_key
            ]
            r = read_sentence(sentence, focus, proper=self.prep.proper, language=self.prep.language)
            if r is not None and not r.assertive:
                continue
            polarity = claim.polarity
            if v.stance == "contradicts":
                polarity = "denied" if claim.polarity == "asserted" else "asserted"
            rec = ClaimRecord(
                proposition=claim.proposition,
                polarity=polarity,  # type: ignore[arg-type]
                modality=r.modality if r else "stated",
                attribution=r.attribution if r else None,
                quote=sentence,
                statement=r.statement if r else sentence,
                field="text",
                cues=(f"stance:{v.stance}",),
            )
            self.outcome.records.append(rec)
            self.place(rec, confidence=float(v.score))


def relate_props(a: StoredClaim, b: StoredClaim) -> bool:
    from monitor.claims.relate import proposition_match

    return proposition_match(a.proposition, b.proposition) > 0


# -- reading back: `monitor claims` --------------------------------------------------------------
def claims_overview(store: Any, watch: str | None = None) -> list[dict[str, Any]]:
    """Tracked claims with counts and sources of confirming and contradicting reports."""
    rows: list[ClaimRow] = store.claims(watch)
    ids = [r.id for r in rows]
    evidence: list[ClaimEvidenceRow] = store.claim_evidence(ids)
    by_claim: dict[int, list[ClaimEvidenceRow]] = {}
    for e in evidence:
        by_claim.setdefault(e.claim_id, []).append(e)
    opposed: dict[int, set[int]] = {i: set() for i in ids}
    for rel in store.claim_relations(ids):
        if rel.relation == "contradicts":
            opposed.setdefault(rel.claim_a, set()).add(rel.claim_b)
            opposed.setdefault(rel.claim_b, set()).add(rel.claim_a)
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
    overview = [c for c in claims_overview(store, None) if c["id"] == claim_id]
    if not overview:
        return None
    claim = overview[0]
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
    "ClaimTracker",
    "claim_timeline",
    "claims_overview",
    "format_overview",
    "format_timeline",
    "load_claims",
    "polarity_word",
]
