"""The claims stage on the pair model, through the real pipeline: our own sentences about a
made-up town, served as feeds by a loopback corpus server, alerts received by a webhook
receiver and a real SMTP server. Each case is a sequence of reports; what must (and must
not) be alerted after each."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitor.alerts.schemas import validate as validate_payload
from monitor.claims import pairs
from monitor.claims.track import claim_content, confidence_note
from monitor.config import load_config
from monitor.pipeline import open_pipeline
from monitor.store import Store
from tests.conftest import basic_config
from tests.servers import SMTPReceiver

RULE = "Kovac AND bridge"
WATCH = "putin-congratulates"  # the name basic_config gives its watch


@dataclass(frozen=True)
class Report:
    title: str
    text: str
    outlet: str = "The Daily Tide"


@dataclass(frozen=True)
class Expect:
    """What the claim alerts after one report must show (empty: none)."""

    types: tuple[str, ...] = ()
    claim: str = ""  # a piece of the alerted claim's text
    evidence: str = ""  # a piece of the evidence quote
    attribution: str = ""  # a piece of the evidence's attribution


@dataclass(frozen=True)
class Case:
    name: str
    reports: tuple[tuple[Report, Expect], ...]
    declared: tuple[str, ...] = ()
    never: tuple[str, ...] = field(default=())  # alert types that must never appear
    stories: int = 0  # how many dedup stories the reports make (0: not checked)


PLAN = Report(
    "Mayor Kovac to close Harbour Bridge for repairs",
    "Mayor Ana Kovac will close the Harbour Bridge for two years of repairs, the city's "
    "transport office said on Monday. Traffic will be sent over the old ferry road while the "
    "Harbour Bridge is shut, and buses will run every ten minutes.",
)
DENIAL = Report(
    "Kovac denies plan to close Harbour Bridge",
    "Mayor Ana Kovac denied on Tuesday that she would close the Harbour Bridge for repairs. "
    "The Harbour Bridge will stay open to traffic, Kovac told reporters at city hall, and "
    "repairs will be done at night.",
    "Harbour Radio",
)
ATTRIBUTED = Report(
    "Harbour Bridge to shut for two years of repairs",
    "Mayor Ana Kovac will close the Harbour Bridge for two years of repairs, her spokesman "
    "Ivo Maric said on Monday. Traffic will go over the old ferry road while the Harbour "
    "Bridge is shut.",
    "Harbour Radio",
)


def after_plan(name: str, report: Report, expect: Expect, never: tuple[str, ...], **kw) -> Case:
    """A case: the plan reported by The Daily Tide, then ``report``."""
    return Case(name, ((PLAN, Expect()), (report, expect)), never=never, **kw)


CASES = [
    after_plan(
        "same story: a report, then the subject's denial, contradicts",
        DENIAL,
        Expect(("claim.contradicted",), "lose", "denie"),
        never=("claim.confirmed",),
    ),
    after_plan(
        "a debunk that quotes the rumour before refuting it never confirms",
        Report(
            "City hall: Harbour Bridge will not close",
            "Reports on Monday said Mayor Ana Kovac would close the Harbour Bridge for two "
            "years of repairs. City hall said on Tuesday that the reports were false and that "
            "Kovac had no plans to close the Harbour Bridge.",
            "Harbour Radio",
        ),
        Expect(("claim.contradicted",), "close", "not close"),
        never=("claim.confirmed",),
    ),
    after_plan(
        "'has no plans to' contradicts what was reported as done",
        Report(
            "Kovac has no plans to close Harbour Bridge",
            "Mayor Ana Kovac has no plans to close the Harbour Bridge, her office said on "
            "Tuesday, and repairs will be done at night while traffic keeps moving over the "
            "Harbour Bridge.",
            "Harbour Radio",
        ),
        Expect(("claim.contradicted",), "close", "no plans"),
        never=("claim.confirmed",),
    ),
    after_plan(
        "an attributed statement from another outlet confirms, naming who says it",
        ATTRIBUTED,
        Expect(("claim.confirmed",), "close", "Harbour Bridge", "Maric"),
        never=("claim.contradicted",),
    ),
    Case(
        "a declared claim in Title Case is contradicted by the subject's denial",
        ((DENIAL, Expect(("claim.contradicted",), "Close", "denie")),),
        declared=("Mayor Kovac Will Close The Harbour Bridge",),
        never=("claim.confirmed",),
    ),
    after_plan(
        "claims of unrelated stories never relate",
        Report(
            "Kovac scores twice in the derby",
            "Striker Luka Kovac scored twice on Saturday as the Rovers beat City three goals "
            "to one in front of a sold-out crowd. The winger, who crossed the bridge from the "
            "youth team last season, was substituted late with a knee knock, the coach said.",
            "Harbour Sport",
        ),
        Expect(),
        never=("claim.confirmed", "claim.contradicted"),
        stories=2,
    ),
]


def feed_xml(base: str, reports: list[Report]) -> str:
    items = "".join(
        f"<item><guid>r{i}</guid><title>{escape(r.title)}</title>"
        f"<link>{base}/none/{abs(hash(r.title))}.html</link>"
        f"<pubDate>Mon, 0{4 + i} Mar 2030 09:00:00 GMT</pubDate>"
        f"<description>{escape(r.text)}</description></item>"
        for i, r in enumerate(reports)
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{items}</channel></rss>"
    )


def run_reports(
    tmp_path: Path, corpus, receiver, case: Case, *, extra: str = "", channel: str = ""
) -> list[list[dict]]:
    """Publish the reports one at a time, each in its outlet's feed; the claim alerts the
    webhook got after each. ``extra``: more config (a channel named ``channel`` the watch
    alerts too)."""
    outlets = list(dict.fromkeys(r.outlet for r, _ in case.reports))
    paths = {o: f"/feed{i}.xml" for i, o in enumerate(outlets)}
    for p in paths.values():
        corpus.set_file(p, feed_xml(corpus.base_url, []))
    path = basic_config(
        tmp_path,
        [corpus.base_url + paths[o] for o in outlets],
        webhook_url=receiver.url,
        rule=RULE,
        extra=extra,
    )
    text = path.read_text()
    for i, o in enumerate(outlets):  # the feed's name is the outlet the alerts name
        text = text.replace(f'name = "feed{i}"', f"name = {json.dumps(o)}", 1)
    path.write_text(text)
    declared = "".join(f'\n[[watches.claims]]\ntext = "{d}"\n' for d in case.declared)
    also = f', "{channel}"' if channel else ""
    text = path.read_text().replace(
        'alerts = ["console", "hook"]\n',
        f'alerts = ["console", "hook"{also}]\ntrack_claims = true\n' + declared,
        1,
    )
    path.write_text(text)
    cfg = load_config(path)
    published: dict[str, list[Report]] = {o: [] for o in outlets}

    async def go() -> list[list[dict]]:
        out = []
        async with open_pipeline(cfg) as pipeline:
            for report, _ in case.reports:
                published[report.outlet].append(report)
                corpus.set_file(
                    paths[report.outlet], feed_xml(corpus.base_url, published[report.outlet])
                )
                before = len(receiver.payloads())
                rep = await pipeline.run_cycle()
                assert not rep.errors, [f.error for f in rep.errors]
                new = receiver.payloads()[before:]
                out.append([p for p in new if p["type"].startswith("claim.")])
        return out

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "s3cret")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_claim_alerts_on_our_sentences(tmp_path, corpus, receiver, case: Case) -> None:
    got = run_reports(tmp_path, corpus, receiver, case)
    for (report, want), alerts in zip(case.reports, got, strict=True):
        assert tuple(sorted(p["type"] for p in alerts)) == want.types, (report.title, alerts)
        for p in alerts:
            validate_payload(p)
            assert p["type"] not in case.never
            assert want.claim in p["claim"]["text"]
            assert want.evidence in p["evidence"]["quote"]
            assert want.attribution in (p["evidence"]["attribution"] or "")
            assert p["evidence"]["outlet"] == report.outlet
            # what the confidence means comes first (the measured precision), then the
            # model's own score
            note = p["confidence_note"]
            assert re.match(r"On held-out news, alerts like this were right about \d+ times", note)
            pct = re.search(r"the model scores (\d+) %", note)
            assert pct and abs(int(pct[1]) - 100 * p["confidence"]) <= 1, note
            if p["type"] == "claim.contradicted":
                claim_neg = p["claim"]["polarity"] == "negative"
                assert p["evidence"]["polarity"] == ("positive" if claim_neg else "negative")
    if case.stories:
        store = Store.open(tmp_path / "monitor.db", readonly=True)
        try:
            assert len(store.stories()) == case.stories
        finally:
            store.close()


def test_a_contradiction_names_who_first_claimed_it_and_who_contradicts_it(
    tmp_path, corpus, receiver
) -> None:
    (first, (contra,)) = run_reports(tmp_path, corpus, receiver, CASES[0])
    assert first == []
    assert contra["claim"]["first_seen"]["outlet"] == "The Daily Tide"
    assert "transport office" in contra["claim"]["first_seen"]["source"]
    assert "Kovac" in contra["evidence"]["attribution"]
    assert contra["evidence"]["outlet"] == contra["article"]["source"] == "Harbour Radio"
    assert contra["story"]["id"]  # the story the claim belongs to (email threading)


def test_claim_email_is_threaded_with_its_story(tmp_path, corpus, receiver) -> None:
    smtp = SMTPReceiver().start()
    try:
        extra = (
            f'\n[alerts.mail]\ntype = "email"\nhost = "127.0.0.1"\nport = {smtp.port}\n'
            'tls = "none"\nfrom = "monitor@example.org"\nto = ["desk@example.org"]\n'
        )
        got = run_reports(tmp_path, corpus, receiver, CASES[0], extra=extra, channel="mail")
        assert [p["type"] for p in got[1]] == ["claim.contradicted"]
    finally:
        smtp.stop()
    by_subject = {m["Subject"]: m for m in smtp.messages}
    matched = next(m for s, m in by_subject.items() if "Mayor Kovac to close" in s)
    claim = next(m for s, m in by_subject.items() if "Contradicted" in s)
    root = matched["References"].split()[0]
    assert root.startswith("<story.")
    assert claim["In-Reply-To"] == matched["In-Reply-To"] == root
    assert claim["References"].split()[0] == root
    body = claim.get_body(("plain",)).get_content()
    assert "First claimed by" in body and "The Daily Tide" in body
    assert "Contradicted by" in body and "Harbour Radio" in body
    assert "times in 10" in body


def test_without_the_model_files_nothing_alerts_and_one_warning_names_the_file(
    tmp_path, corpus, receiver, monkeypatch, caplog
) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    for f in ("meta.json", "thresholds.json", "tokenizer.json"):
        (broken / f).write_bytes((pairs.MODEL_DIR / f).read_bytes())
    monkeypatch.setattr(pairs, "MODEL_DIR", broken)  # no model.onnx
    pairs._load_packaged.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="monitor"):
            got = run_reports(tmp_path, corpus, receiver, CASES[0])
    finally:
        monkeypatch.undo()
        pairs._load_packaged.cache_clear()
    assert got == [[], []]
    warnings = [r for r in caplog.records if "claim alerts are off" in r.getMessage()]
    assert len(warnings) == 1 and str(broken / "model.onnx") in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    # the articles were still matched, alerted and their claims stored
    assert sum(p["type"] == "article.matched" for p in receiver.payloads()) >= 1
    store = Store.open(tmp_path / "monitor.db", readonly=True)
    try:
        assert store.claims(WATCH)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("statement", "content"),
    [
        ("Kremlin says Putin has no plans to congratulate Trump", "Putin has no plans"),
        ("The outlet Verstka, citing two sources, reported that Putin had won", "Putin had won"),
        ("According to AFP, the mayor will close the bridge", "The mayor will close"),
        ("The mayor will close the bridge, officials said.", "The mayor will close the bridge"),
        ("Peskov denied that Putin congratulated Trump", "Peskov denied that"),
    ],
)
def test_the_model_reads_a_claims_content_not_its_frame(statement: str, content: str) -> None:
    assert claim_content(statement).startswith(content)


def test_confidence_note_in_plain_words() -> None:
    note = confidence_note("contradicts", 0.912, 0.86)
    assert note == (
        "On held-out news, alerts like this were right about 9 times in 10 "
        "(the model scores 91 % that this report contradicts the claim)."
    )
    # a passage-route alert: a low raw score, a measured precision that says what it means
    assert confidence_note("confirms", 0.3, 0.6).startswith(
        "On held-out news, alerts like this were right about 6 times in 10"
    )
    assert confidence_note("confirms", 0.5, None) == (
        "The model scores 50 % that this report confirms the claim; alerts of this kind "
        "have not been measured on held-out news."
    )


def test_every_rendering_says_who_claimed_who_answers_and_how_sure() -> None:
    from datetime import UTC, datetime

    from monitor.alerts import events
    from monitor.alerts.channels import format_line
    from monitor.alerts.chat import discord_message, ntfy_request, slack_message
    from monitor.alerts.email import html_body
    from monitor.alerts.render import plain_text
    from monitor.models import Article

    art = Article(
        url="https://radio.example/kovac",
        title=DENIAL.title,
        text=DENIAL.text,
        text_source="feed",
        feed_name="Harbour Radio",
        guid="g",
    )
    note = confidence_note("contradicts", 0.93, 0.86)
    (ev,) = events.claim_related(
        "contradicts",
        art,
        events.ClaimRef(
            1,
            "Mayor Kovac to close Harbour Bridge for repairs",
            first_outlet="The Daily Tide",
            first_published=datetime(2030, 3, 4, tzinfo=UTC),
            first_source="the city's transport office",
        ),
        events.Evidence(DENIAL.title, "Mayor Ana Kovac", "negative"),
        0.93,
        WATCH,
        ["mail"],
        story={"id": 7, "title": "Harbour Bridge"},
        note=note,
    )
    validate_payload(ev.payload)
    assert ev.payload["confidence_note"] == note
    first = "First claimed by the city's transport office in The Daily Tide (2030-03-04)"
    answer = "Contradicted by Mayor Ana Kovac in Harbour Radio"
    slack = json.dumps(slack_message(ev.payload))
    discord = json.dumps(discord_message(ev.payload))
    ntfy = ntfy_request(ev.payload)[0].decode()
    for text in (plain_text(ev.payload), html_body(ev.payload), ntfy, format_line(ev)):
        assert first in text.replace("&#x27;", "'") and answer in text and "9 times in 10" in text
    for text in (slack, discord):
        assert "transport office" in text and "Mayor Ana Kovac in Harbour Radio" in text
        assert "9 times in 10" in text


def test_article_confirmations_need_the_stance_engine_to_agree(
    tmp_path, corpus, receiver, monkeypatch, caplog
) -> None:
    """Precision first: without the second reader (its files missing), a confirmation the
    pair model reads in a whole article is stored but not alerted; contradictions still go
    out, and the pipeline says why once."""
    from monitor.claims import stance

    monkeypatch.setattr(stance, "MODEL_DIR", tmp_path / "no-stance-model")
    case = Case(
        "plan, attributed confirmation, denial",
        (
            (PLAN, Expect()),
            (ATTRIBUTED, Expect()),
            (DENIAL, Expect(("claim.contradicted",), "lose", "denie")),
        ),
    )
    with caplog.at_level(logging.WARNING, logger="monitor"):
        got = run_reports(tmp_path, corpus, receiver, case)
    assert [sorted(p["type"] for p in alerts) for alerts in got] == [
        [],
        [],
        ["claim.contradicted"],
    ]
    warned = [r for r in caplog.records if "article-level confirmations are off" in r.getMessage()]
    assert len(warned) == 1 and not any(r.exc_info for r in caplog.records)
    # the confirming report is on file, read as confirming, just not alerted
    store = Store.open(tmp_path / "monitor.db", readonly=True)
    try:
        rows = store.claim_evidence([c.id for c in store.claims(WATCH)])
        assert any(
            e.outlet == "Harbour Radio" and e.role == "confirms" and not e.alerted for e in rows
        )
    finally:
        store.close()
