"""The labelled article pairs of the dedup stage: writes tests/data/dedup_pairs.json.

Pairs come from the demo corpus (monitor/demo/corpus: a syndicated copy of the Ledger
article on the Courier site, a second Harbour report of the same event, unrelated stories)
and from short reports written for this file: two reports of one event from two outlets,
and a report of a *different* event on the same topic (the hard negatives). Variants are
made by fixed, seeded edits: tracking parameters, other boilerplate, a changed headline,
a dropped or added paragraph, reworded sentences.

Each pair: ``{"id", "kind", "a": ARTICLE, "b": ARTICLE, "same_article", "duplicate",
"same_story"}`` with ARTICLE = ``{"url", "title", "text", "site", "published"}``.

- ``same_article``: one article (same page, maybe re-fetched or updated);
- ``duplicate``: the same text, give or take boilerplate and light edits (the same article
  or another outlet's copy);
- ``same_story``: reports of the same event.

    python tests/data/dedup_pairs.py      # rewrite the JSON (deterministic)
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OUT = Path(__file__).with_suffix(".json")

# Reports written for this set: (key, site, published, title, text). Same "event" letter =
# same story; "x" keys are other events on the same topic.
WRITTEN = [
    (
        "port-a1",
        "The Northern Ledger",
        "2024-11-12T06:10:00+00:00",
        "Dockworkers walk out at Vellmar port over automation plan",
        "Container traffic at the port of Vellmar came to a halt on Tuesday after about 2,000 "
        "dockworkers walked out in protest at plans to automate two of the port's five "
        "terminals. The Vellmar Dockers' Union said the strike would last 48 hours and warned "
        "of further action if the port authority pressed ahead with the project, which it "
        "says would cut around 600 jobs by 2027. Ships queued outside the harbour entrance "
        "and freight forwarders began diverting cargo to Ostrand, 80 kilometres up the coast. "
        "The port authority said automation was needed to compete with larger hubs and that "
        "no worker would be dismissed, offering retraining instead. Talks are due to resume "
        "on Thursday under a government mediator.",
    ),
    (
        "port-a2",
        "Harbour Street Journal",
        "2024-11-12T09:30:00+00:00",
        "Vellmar strike strands ships as union fights robot cranes",
        "Dozens of vessels were waiting off Vellmar on Tuesday as a two-day strike by "
        "dockworkers shut the port's container terminals. The walkout, called by the Vellmar "
        "Dockers' Union, targets a plan by the port authority to introduce automated cranes "
        "and driverless vehicles at two terminals. Union leader Marta Kessel told a rally "
        "outside the gates that the project would destroy hundreds of jobs and that members "
        "were ready for a longer stoppage. The authority insists the changes are essential "
        "and has promised retraining for affected staff. Logistics firms said they were "
        "rerouting containers to Ostrand. A government-appointed mediator will chair new "
        "talks on Thursday.",
    ),
    (
        "port-x",
        "The Lakeshore Courier",
        "2024-11-13T14:00:00+00:00",
        "Ostrand port workers accept pay deal, ending overtime ban",
        "Workers at the port of Ostrand voted on Wednesday to accept a three-year pay deal, "
        "ending an overtime ban that had slowed the handling of bulk cargo since September. "
        "The agreement gives staff a 4.5 percent rise this year and 3 percent in each of the "
        "next two, the Ostrand Harbour Workers' Association said. Grain and coal exporters "
        "had complained of weeks of delays at the bulk terminal. The port company said it was "
        "pleased that normal working would resume on Monday and that it expected the backlog "
        "of ships at anchor to be cleared within a fortnight.",
    ),
    (
        "fire-b1",
        "The Lakeshore Courier",
        "2024-11-14T18:20:00+00:00",
        "Thousands evacuated as wildfire spreads near Carrow Ridge",
        "Authorities ordered the evacuation of about 6,000 residents from Carrow Ridge and two "
        "neighbouring villages on Thursday as a wildfire driven by strong winds spread across "
        "dry scrubland. The regional fire service said more than 300 firefighters and four "
        "water-bombing aircraft were fighting the blaze, which had burned some 2,400 hectares "
        "by the evening. Emergency shelters were opened in schools in Harwick. Police closed "
        "the main road through the valley. No injuries had been reported, but officials said "
        "several farm buildings had been destroyed. Forecasters expect the wind to ease on "
        "Saturday.",
    ),
    (
        "fire-b2",
        "The Northern Ledger",
        "2024-11-15T07:05:00+00:00",
        "Carrow Ridge fire: residents spend night in shelters as blaze grows",
        "Families forced from their homes by the wildfire around Carrow Ridge spent the night "
        "in school halls in Harwick, as the fire grew to more than 3,000 hectares overnight. "
        "Fire chief Owen Dray said crews had saved most houses on the edge of the village but "
        "that gusts were still pushing the flames east. Some 6,000 people have been told to "
        "leave, and the valley road remains closed. Four aircraft will resume water drops at "
        "first light. Farmers reported losing barns and livestock. The wind is forecast to "
        "drop by the weekend, giving firefighters a chance to contain the fire.",
    ),
    (
        "fire-x",
        "Harbour Street Journal",
        "2024-11-16T11:40:00+00:00",
        "Crews contain forest fire in Lindqvist national park",
        "Firefighters said on Saturday they had contained a forest fire that burned about 150 "
        "hectares of pine woodland in Lindqvist national park. The fire, which started near a "
        "campsite on Friday afternoon, forced the closure of hiking trails and the evacuation "
        "of around 200 campers, park rangers said. Nobody was hurt. Investigators are looking "
        "into whether a barbecue caused the blaze, and the park will stay closed until "
        "Tuesday while crews damp down hot spots.",
    ),
    (
        "tech-c1",
        "Harbour Street Journal",
        "2024-11-18T13:00:00+00:00",
        "Quillon to cut 1,200 jobs as cloud growth slows",
        "Software maker Quillon said on Monday it would cut about 1,200 jobs, or 8 percent of "
        "its workforce, after growth in its cloud business slowed for a third straight "
        "quarter. Chief executive Dana Holt told staff in a memo that the company needed to "
        "focus on artificial-intelligence products and reduce layers of management. The cuts "
        "will mostly affect sales and support teams in Europe and North America. Quillon "
        "shares rose 5 percent in early trading. The company expects restructuring charges "
        "of around 90 million dollars in the current quarter.",
    ),
    (
        "tech-c2",
        "The Northern Ledger",
        "2024-11-18T16:45:00+00:00",
        "Quillon layoffs: software group sheds 8% of staff to fund AI push",
        "Quillon is laying off roughly 1,200 employees as it redirects spending towards "
        "artificial intelligence, the software group announced on Monday. In a message to "
        "employees, chief executive Dana Holt said slower demand for Quillon's cloud services "
        "meant the company had to become leaner. Sales and customer-support roles in Europe "
        "and North America will bear most of the cuts. Investors welcomed the move, sending "
        "the shares up about 5 percent. Quillon will book a charge of some 90 million dollars "
        "for severance and other costs.",
    ),
    (
        "tech-x",
        "The Lakeshore Courier",
        "2024-11-19T10:15:00+00:00",
        "Brightfold hires 500 engineers for new AI research centre",
        "Chip designer Brightfold said on Tuesday it would hire 500 engineers over the next "
        "two years for a new artificial-intelligence research centre in Harwick. The company "
        "said the centre would develop processors for training large models and would work "
        "with the local university on a graduate programme. Regional officials said the "
        "investment, worth about 200 million dollars, was the largest in the area's "
        "technology sector in a decade. Recruitment starts in January.",
    ),
]

BOILERPLATE_TOP = [
    "Advertisement",
    "Sign up for our morning briefing and get the day's top stories in your inbox.",
    "Listen to this article · 4 min",
]
BOILERPLATE_BOTTOM = [
    "This story was first published by {src} and is republished with permission.",
    "Copyright {year} {site}. All rights reserved. Read more: our newsletters.",
    "Reporting by staff; editing by the news desk. Follow us for more world news.",
]
TRACKERS = [
    "?utm_source=rss&utm_medium=feed&utm_campaign=world",
    "?fbclid=IwAR0abc123",
    "?gclid=CjwKCAabc&mc_cid=9f2&mc_eid=77aa",
    "#comments",
    "/?utm_source=twitter",
]
SYNONYMS = {
    "said": "stated",
    "told": "informed",
    "about": "around",
    "on Wednesday": "on Wednesday local time",
    "reported": "said",
    "plans": "intention",
    "strong": "firm",
    "more than": "over",
    "expected": "anticipated",
}


def _corpus_articles() -> dict[str, dict[str, str]]:
    from monitor.demo import corpus_root, demo_articles
    from monitor.feeds.extract import extract_page

    out = {}
    for a in demo_articles():
        path = corpus_root() / a["path"].lstrip("/")
        if not path.exists():
            continue
        url = "https://news.example" + a["path"]
        page = extract_page(path.read_bytes().replace(b"{base}", b"https://news.example"), url)
        assert page is not None, a["key"]
        out[a["key"]] = {
            "url": url,
            "title": a["title"],
            "text": page.text,
            "site": a["site"],
            "published": a["published"],
        }
    return out


def _written() -> dict[str, dict[str, str]]:
    return {
        key: {
            "url": f"https://{re.sub(r'[^a-z]', '', site.lower())}.example/{key}",
            "title": title,
            "text": text,
            "site": site,
            "published": published,
        }
        for key, site, published, title, text in WRITTEN
    }


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def syndicate(a: dict[str, str], rnd: random.Random, site: str, how: str) -> dict[str, str]:
    """Another outlet's copy: its own boilerplate, and edits by ``how``."""
    text = a["text"]
    title = a["title"]
    paras = _paragraphs(text)
    if "drop" in how and len(paras) > 3:
        del paras[rnd.randrange(1, len(paras) - 1)]
    if "reword" in how:
        out = []
        for p in paras:
            sents = _sentences(p)
            for i in range(len(sents)):
                if rnd.random() < 0.3:
                    for k, v in SYNONYMS.items():
                        if k in sents[i]:
                            sents[i] = sents[i].replace(k, v, 1)
                            break
            out.append(" ".join(sents))
        paras = out
    if "boiler" in how:
        paras = [rnd.choice(BOILERPLATE_TOP), *paras]
        paras.append(rnd.choice(BOILERPLATE_BOTTOM).format(src=a["site"], year=2024, site=site))
    if "retitle" in how:
        title = title.replace(" says ", ": ").replace(" to ", " will ", 1) + " - " + site
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
    host = re.sub(r"[^a-z]", "", site.lower())
    return {
        "url": f"https://{host}.example/news/{slug}",
        "title": title,
        "text": "\n".join(paras),
        "site": site,
        "published": a["published"],
    }


def update(a: dict[str, str], rnd: random.Random, how: str) -> dict[str, str]:
    """The same article, updated in place (same URL)."""
    paras = _paragraphs(a["text"])
    if how == "append":
        paras.append(
            "Update: officials confirmed the details in a statement issued later in the day."
        )
    elif how == "edit":
        i = rnd.randrange(len(paras))
        paras[i] = paras[i].replace(".", ", officials said.", 1)
    title = a["title"] if how != "retitle" else a["title"] + " (updated)"
    return {**a, "title": title, "text": "\n".join(paras)}


def build() -> list[dict[str, object]]:
    rnd = random.Random(20241106)
    corpus = _corpus_articles()
    written = _written()
    arts = {**corpus, **written}
    pairs: list[dict[str, object]] = []

    def add(kind: str, a: dict, b: dict, same_article: bool, duplicate: bool, story: bool):
        pairs.append(
            {
                "id": f"{kind}-{len(pairs):03d}",
                "kind": kind,
                "a": a,
                "b": b,
                "same_article": same_article,
                "duplicate": duplicate,
                "same_story": story,
            }
        )

    keys = sorted(arts)
    # exact copies (another feed, another guid) and tracking-parameter variants
    for k in keys:
        add("exact", arts[k], dict(arts[k]), True, True, True)
    for i, k in enumerate(keys):
        a = arts[k]
        variant = a["url"].replace("https://", "http://www." if i % 2 else "HTTPS://")
        add("tracking", a, {**a, "url": variant + TRACKERS[i % len(TRACKERS)]}, True, True, True)
    # updates of the same article (same URL, changed text)
    for i, k in enumerate(keys):
        how = ["append", "edit", "retitle"][i % 3]
        add("update", arts[k], update(arts[k], rnd, how), True, True, True)
    # syndicated copies by other outlets
    ways = ["boiler", "boiler+retitle", "boiler+drop", "boiler+reword", "boiler+retitle+reword"]
    for i, k in enumerate(keys):
        site = "Metro Wire" if arts[k]["site"] != "Metro Wire" else "Valley Times"
        b = syndicate(arts[k], rnd, site, ways[i % len(ways)])
        add("syndicated", arts[k], b, False, True, True)
    # the corpus' own syndicated copy
    add("syndicated", corpus["ledger-kremlin"], corpus["courier-kremlin-copy"], False, True, True)
    # different reports of one event
    add(
        "same-story", corpus["ledger-kremlin"], corpus["harbour-moscow-signals"], False, False, True
    )
    add(
        "same-story",
        corpus["courier-kremlin-copy"],
        corpus["harbour-moscow-signals"],
        False,
        False,
        True,
    )
    for ev in ("port-a", "fire-b", "tech-c"):
        add("same-story", written[ev + "1"], written[ev + "2"], False, False, True)
    # a syndicated copy of one report against the other report of the event
    for ev in ("port-a", "fire-b", "tech-c"):
        copy = syndicate(written[ev + "1"], rnd, "Metro Wire", "boiler+retitle")
        add("same-story", copy, written[ev + "2"], False, False, True)
    # other events on the same topic (hard negatives)
    for ev, x in (("port-a", "port-x"), ("fire-b", "fire-x"), ("tech-c", "tech-x")):
        for n in "12":
            add("related", written[ev + n], written[x], False, False, False)
    add("related", corpus["ledger-kremlin"], corpus["ledger-gas"], False, False, False)
    add("related", corpus["harbour-moscow-signals"], corpus["ledger-gas"], False, False, False)

    # unrelated articles: a seeded sample of the pairs of different topics
    def topic(k: str) -> str:
        if k in ("ledger-kremlin", "courier-kremlin-copy", "harbour-moscow-signals", "ledger-gas"):
            return "russia"
        return k.split("-")[0] if k in written else k

    for i, k in enumerate(keys):
        for k2 in keys[i + 1 :]:
            if topic(k) != topic(k2) and rnd.random() < 0.4:
                add("unrelated", arts[k], arts[k2], False, False, False)
    return pairs


def main() -> None:
    pairs = build()
    OUT.write_text(json.dumps(pairs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    kinds: dict[str, int] = {}
    for p in pairs:
        kinds[str(p["kind"])] = kinds.get(str(p["kind"]), 0) + 1
    print(f"{len(pairs)} pairs -> {OUT.relative_to(ROOT)}: {kinds}")


if __name__ == "__main__":
    main()
