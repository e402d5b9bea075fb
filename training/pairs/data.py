"""Training pairs for the pair model, built from the story split in ``splits.json``.

Labels: 0 confirms, 1 contradicts, 2 neither (the order of ``monitor.claims.pairs.LABELS``).

* Emergent (claim vs. headline): for → confirms, against → contradicts, observing → neither.
* FNC-1 (headline vs. one body sentence; bodies are long, the model reads one sentence):
  - agree: the body sentence most similar to the headline → confirms, only if it shares at
    least half of the headline's content words (an agreeing body's best sentence restates it);
  - disagree: among the 3 most similar sentences, the most similar one that carries a
    refuting word (deny, false, hoax, not, no evidence, ...) → contradicts; bodies whose top
    sentences carry none are skipped (their single best sentence often only restates the
    rumour: weak labels);
  - discuss: the most similar sentence → neither; unrelated: a random sentence → neither
    (sub-sampled).
* Augmentations generated from *training* claims only (Emergent training claims and FNC-1
  training headlines): the claim against itself (confirms, also in Title Case and lower
  case), against its negation, a subject's denial, "... is a hoax", "no evidence that ...",
  a debunk quoting the rumour first, a correction (contradicts), against a restatement with
  an unrelated negated clause (confirms), and against a question or a rumour report (neither).
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from make_splits import headline_key, read_csv

from monitor.claims.pairs import content_words, most_similar, split_text

CONFIRMS, CONTRADICTS, NEITHER = 0, 1, 2
EMERGENT = {"for": CONFIRMS, "against": CONTRADICTS, "observing": NEITHER}
FNC = {"agree": CONFIRMS, "disagree": CONTRADICTS, "discuss": NEITHER, "unrelated": NEITHER}

REFUTING = re.compile(
    r"\b(den(y|ies|ied|ial)|false|fake|hoax|untrue|not true|no evidence|debunk\w*|myth|"
    r"rumou?rs? (is|are|was) (false|untrue)|satir\w+|not|n't|never|no|refut\w+|dismiss\w*|"
    r"reject\w*|baseless|nonsense|ludicrous|fabricat\w+|misleading|doubt\w*)\b",
    re.I,
)


@dataclass(frozen=True)
class Example:
    claim: str
    text: str
    label: int
    source: str  # emergent / fnc1 / augment
    group: str  # story key (emergent claim_id, fnc1 headline key)


def load_splits(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def emergent_examples(data: Path, claim_ids: set[str]) -> list[Example]:
    rows = read_csv(data / "emergent" / "train.csv")
    return [
        Example(r["claim"], r["headline"], EMERGENT[r["stance"]], "emergent", r["claim_id"])
        for r in rows
        if r["claim_id"] in claim_ids
    ]


def fnc_bodies(data: Path) -> dict[int, list[str]]:
    rows = read_csv(data / "fnc1" / "train_bodies.csv")
    return {int(r["Body ID"]): split_text(r["articleBody"]) for r in rows}


def fnc_pairs(data: Path, split: dict) -> list[tuple[str, int, str]]:
    """(headline, body id, stance) of the split: headline in the split, and for training
    the body too (a training headline against a held-out body is dropped)."""
    hs = set(split["headline_sha1"])
    bs = set(split["body_ids"])
    out = []
    for r in read_csv(data / "fnc1" / "train_stances.csv"):
        if headline_key(r["Headline"]) in hs and int(r["Body ID"]) in bs:
            out.append((r["Headline"], int(r["Body ID"]), r["Stance"]))
    return out


def fnc_examples(
    pairs: list[tuple[str, int, str]],
    bodies: dict[int, list[str]],
    rng: random.Random,
    unrelated_per_related: float = 0.3,
) -> list[Example]:
    out: list[Example] = []
    seen: set[tuple[str, int]] = set()
    n_related = sum(s != "unrelated" for _, _, s in pairs)
    p_unrel = unrelated_per_related * n_related / max(1, len(pairs) - n_related)
    for head, body, stance in pairs:
        if (head, body) in seen:
            continue
        seen.add((head, body))
        sents = [s for s in bodies[body] if 20 <= len(s) <= 400]
        if not sents:
            continue
        key = headline_key(head)
        if stance == "unrelated":
            if rng.random() < p_unrel:
                out.append(Example(head, rng.choice(sents), NEITHER, "fnc1", key))
            continue
        top = most_similar(head, sents, 3)
        if not top:
            continue
        if stance == "agree":
            hw, sw = content_words(head), content_words(sents[top[0]])
            if len(hw & sw) >= 0.5 * len(hw):
                out.append(Example(head, sents[top[0]], CONFIRMS, "fnc1", key))
        elif stance == "disagree":
            hit = next((i for i in top if REFUTING.search(sents[i])), None)
            if hit is not None:
                out.append(Example(head, sents[hit], CONTRADICTS, "fnc1", key))
        else:
            out.append(Example(head, sents[top[0]], NEITHER, "fnc1", key))
    return out


# ---------------------------------------------------------------------------------------
# Augmentation from training claims

_AUX = re.compile(
    r"\b(will|would|is|are|was|were|has|have|had|can|could|should|may|might|must)\b", re.I
)
_PLAN = re.compile(r"\b(plans|intends|wants|is going|are going|agreed|decided) to\b", re.I)
_SUBJECT_VERB = re.compile(r"^(?P<subj>(?:[A-Z][\w'.-]*\s?){1,4})\s(?P<rest>[a-z].*)$")
_DENIERS = ("officials", "a spokesman", "the company", "police", "the government", "his office")
_DISTRACTORS = (
    "but officials did not say when",
    "though no one has been charged",
    "and police have not released names",
    "but the company would not comment further",
    "although details are not yet clear",
)


_COMMON_FIRST = frozenset(
    "the a an one two three four five some many all this these there it its his her".split()
)
_NEGATED = re.compile(r"\b(not|no|never|n't|deny|denies|denied|hoax|fake|false)\b", re.I)


def _lc_first(s: str) -> str:
    """Lower-case the first word only when it is a common word (names keep their case)."""
    first = s.split(" ", 1)[0]
    return s[:1].lower() + s[1:] if first.lower() in _COMMON_FIRST else s


def _strip_end(s: str) -> str:
    return s.rstrip(" .!?")


def negate(claim: str) -> str | None:
    """A plain negation of the claim's first auxiliary or plan verb, or None."""
    if _NEGATED.search(claim):
        return None
    m = _PLAN.search(claim)
    if m:
        return claim[: m.start()] + re.sub(r"^\w+", "has no plans", m.group(0)) + claim[m.end() :]
    m = _AUX.search(claim)
    if m and m.start() > 0:
        return claim[: m.end()] + " not" + claim[m.end() :]
    return None


def augment(claims: list[tuple[str, str]], rng: random.Random) -> list[Example]:
    """Generated pairs for (claim, group) of training stories."""
    out: list[Example] = []
    for claim, group in claims:
        c = _strip_end(claim)
        lc = _lc_first(c)

        def add(a: str, b: str, label: int, group: str = group) -> None:
            out.append(Example(a, b, label, "augment", group))

        add(c, rng.choice([c, c.title(), c.upper(), c.lower()]), CONFIRMS)
        add(c, f"{c}, {rng.choice(_DISTRACTORS)}", CONFIRMS)
        contra = [
            f"{rng.choice(_DENIERS).capitalize()} denied that {lc}",
            f"Reports that {lc} are false",
            f"Claim that {lc} is a hoax",
            f"There is no evidence that {lc}",
            f"'{c}'? Not true, says {rng.choice(_DENIERS)}",
            f"{c}? No, the story is fake",
            f"Debunked: {lc}",
            f"It is not true that {lc}",
        ]
        m = _SUBJECT_VERB.match(c)
        if m:
            contra.append(f"{m['subj']} denies reports that {m['subj'].strip()} {m['rest']}")
        neg = negate(c)
        if neg:
            contra.extend([neg, neg])
        for text in rng.sample(contra, 2):
            add(c, text, CONTRADICTS)
        if neg and rng.random() < 0.3:
            add(neg, c, CONTRADICTS)  # the other direction
        neither = [
            f"Is it true that {lc}?",
            f"{c}?",
            f"Rumours spread online that {lc}",
            f"Unconfirmed reports claim {lc}",
        ]
        add(c, rng.choice(neither), NEITHER)
    return out


def build(data: Path, splits_path: Path, seed: int = 0) -> dict[str, list[Example]]:
    """Examples per split: 'train' (with augmentation), 'val' and 'test' (no augmentation)."""
    rng = random.Random(seed)
    splits = load_splits(splits_path)
    bodies = fnc_bodies(data)
    out: dict[str, list[Example]] = {}
    for name in ("train", "val", "test"):
        em = emergent_examples(data, set(splits["emergent"][name]))
        fnc = fnc_examples(fnc_pairs(data, splits["fnc1"][name]), bodies, rng)
        exs = em + fnc
        if name == "train":
            # FNC-1 'neither' pairs dominate: keep a sample, and weight Emergent (the target
            # kind of pair: short claim vs. headline) twice
            fnc_neither = [e for e in fnc if e.label == NEITHER]
            keep = set(map(id, rng.sample(fnc_neither, min(len(fnc_neither), 3000))))
            fnc = [e for e in fnc if e.label != NEITHER or id(e) in keep]
            exs = em + em + fnc
            claims: dict[str, str] = {}
            for e in em:
                claims.setdefault(e.claim, e.group)
            for e in fnc:
                claims.setdefault(e.claim, e.group)
            exs += augment(sorted(claims.items()), rng)
        out[name] = exs
    return out


def summary(exs: list[Example]) -> dict[str, dict[int, int]]:
    c: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for e in exs:
        c[e.source][e.label] += 1
    return {k: dict(sorted(v.items())) for k, v in c.items()}


if __name__ == "__main__":
    here = Path(__file__).parent
    built = build(Path("/work/shared/data"), here / "splits.json")
    for k, v in built.items():
        print(k, len(v), summary(v))
    rng = random.Random(1)
    for e in rng.sample([e for e in built["train"] if e.source != "emergent"], 25):
        print(e.label, "|", e.claim[:80], "||", e.text[:120])
