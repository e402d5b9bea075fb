"""Human-readable views of event payloads, shared by the chat and email channels.

Everything here treats the payload as untrusted text from the web: links are kept only
when they are plain http(s) URLs, and each channel escapes for its own markup.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

_HIT_RE = re.compile(r"\[\[(.+?)\]\]")
_SPACE_RE = re.compile(r"\s+")

HEADLINE_PREFIX = {
    "story.updated": "Story updated",
    "claim.confirmed": "Confirmed",
    "claim.contradicted": "Contradicted",
}


# Bidirectional controls (embeddings, overrides, isolates, marks): a title with U+202E
# would show a subject or chat line reversed from that point, so they are dropped.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
)


def one_line(text: Any, limit: int = 300) -> str:
    """Collapse whitespace, drop control characters (CR/LF included) and bidirectional
    controls; cut at ``limit``."""
    s = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in str(text or "").translate(_BIDI_CONTROLS)
    )
    s = _SPACE_RE.sub(" ", s).strip()
    return s if len(s) <= limit else s[: max(0, limit - 1)].rstrip() + "…"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def safe_url(url: Any) -> str | None:
    """The URL if it is a plain http(s) URL, with characters that could break markup
    (spaces, quotes, angle brackets, pipes, parentheses) percent-encoded; else None."""
    if not isinstance(url, str):
        return None
    u = url.strip()
    if any(unicodedata.category(c) == "Cc" for c in u):
        return None
    try:
        parts = urlsplit(u)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(u, safe="/:?#[]@!$&'*+,;=%~-._")


def hits_plain(snippet: str) -> str:
    """A snippet with its ``[[hit]]`` markers removed."""
    return _HIT_RE.sub(r"\1", snippet)


def split_hits(snippet: str) -> list[tuple[str, bool]]:
    """``[[hit]]`` markers → [(text, is_hit)], for markup that bolds the hits."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _HIT_RE.finditer(snippet):
        if m.start() > pos:
            out.append((snippet[pos : m.start()], False))
        out.append((m.group(1), True))
        pos = m.end()
    if pos < len(snippet):
        out.append((snippet[pos:], False))
    return out


@dataclass(frozen=True)
class View:
    """What a person needs to see of one event."""

    type: str
    watch: str
    headline: str  # one line: the article title, or "Contradicted: <claim>"
    title: str  # the article's title
    url: str | None  # safe link to the article
    source: str
    published: str | None  # YYYY-MM-DD
    detail: str  # snippet (with [[hit]] markers) or quote
    attribution: str | None
    confidence: float | None
    terms: tuple[str, ...]
    story_key: str  # groups events about the same story
    story_title: str
    claim: str | None
    # claim events: who first made the claim, who now confirms or contradicts it and in
    # which outlet, and what the confidence means (plain lines, see :func:`claim_lines`)
    context: tuple[str, ...] = ()


def thread_key(payload: dict[str, Any]) -> str:
    """A stable key for the story an event is about: the dedup stage's story id, else the
    article's URL (hashed)."""
    story = payload.get("story")
    if isinstance(story, dict) and story.get("id") not in (None, ""):
        sid = re.sub(r"[^A-Za-z0-9._-]", "", str(story["id"]))[:64]
        if sid:
            return f"story.{sid}"
    art = payload.get("article") or {}
    url = str(art.get("url") or payload.get("id") or "")
    return "article." + hashlib.sha256(url.encode()).hexdigest()[:24]


def claim_lines(payload: dict[str, Any]) -> tuple[str, ...]:
    """A claim event's attribution and confidence in plain words: "First claimed by
    Kremlin in The Northern Ledger (2024-11-06)", "Contradicted by Verstka in Harbour
    Street Journal", and the confidence note."""
    claim = payload.get("claim") or {}
    evidence = payload.get("evidence") or {}
    etype = str(payload.get("type", ""))
    if not etype.startswith("claim.") or not isinstance(claim, dict):
        return ()
    first = claim.get("first_seen") if isinstance(claim.get("first_seen"), dict) else {}
    lines = []
    who = one_line(first.get("source"), 200)
    if claim.get("origin") == "config" or who == "declared in the config":
        lines.append("Claim declared in the watch's config")
    else:
        line = f"First claimed by {who or 'an unnamed source'}"
        if first.get("outlet"):
            line += f" in {one_line(first['outlet'], 200)}"
        if first.get("published"):
            line += f" ({str(first['published'])[:10]})"
        lines.append(line)
    verb = "Confirmed" if etype == "claim.confirmed" else "Contradicted"
    by = one_line(evidence.get("attribution"), 200) or "the report"
    line = f"{verb} by {by}"
    if evidence.get("outlet"):
        line += f" in {one_line(evidence['outlet'], 200)}"
    lines.append(line)
    note = one_line(payload.get("confidence_note"), 400)
    if note:
        lines.append(note)
    return tuple(lines)


def view(payload: dict[str, Any]) -> View:
    etype = str(payload.get("type", ""))
    art = payload.get("article") or {}
    story = payload.get("story") if isinstance(payload.get("story"), dict) else {}
    title = one_line(art.get("title") or story.get("title") or "(untitled)", 500)
    claim = payload.get("claim") or {}
    evidence = payload.get("evidence") or {}
    claim_text = one_line(claim.get("text"), 500) if claim else None
    if etype.startswith("claim."):
        headline = f"{HEADLINE_PREFIX.get(etype, etype)}: {claim_text}"
        detail = str(evidence.get("quote") or "")
    elif etype == "story.updated":
        headline = f"{HEADLINE_PREFIX[etype]}: {one_line(story.get('title') or title, 500)}"
        detail = str(payload.get("snippet") or payload.get("summary") or "")
    else:
        headline = title
        detail = str(payload.get("snippet") or "")
    published = art.get("published")
    conf = payload.get("confidence")
    return View(
        type=etype,
        watch=str(payload.get("watch", "")),
        headline=one_line(headline, 500),
        title=title,
        url=safe_url(art.get("url")),
        source=one_line(art.get("source") or art.get("feed") or "", 200),
        published=str(published)[:10] if published else None,
        detail=one_line(detail, 1000),
        attribution=one_line(evidence.get("attribution"), 200) or None,
        confidence=float(conf) if isinstance(conf, int | float) else None,
        terms=tuple(one_line(t, 80) for t in payload.get("matched_terms") or ()),
        story_key=thread_key(payload),
        story_title=one_line(story.get("title") or title, 500),
        claim=claim_text,
        context=claim_lines(payload),
    )


def grouped(payloads: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, list[View]]]]]:
    """Views grouped by watch, then by story, in order of first appearance:
    [(watch, [(story title, [views])])]."""
    watches: dict[str, dict[str, list[View]]] = {}
    titles: dict[str, str] = {}
    for p in payloads:
        v = view(p)
        watches.setdefault(v.watch, {}).setdefault(v.story_key, []).append(v)
        titles.setdefault(v.story_key, v.story_title)
    return [(w, [(titles[k], vs) for k, vs in stories.items()]) for w, stories in watches.items()]


def meta_line(v: View) -> str:
    """'Outlet · 2024-11-06 · confidence 0.87' (plain text)."""
    parts = [v.source] if v.source else []
    if v.published:
        parts.append(v.published)
    if v.attribution:
        parts.append(f"attributed to {v.attribution}")
    if v.confidence is not None:
        parts.append(f"confidence {v.confidence:.2f}")
    return " · ".join(parts)


def plain_text(payload: dict[str, Any]) -> str:
    """A plain-text body for one event."""
    v = view(payload)
    lines = [v.headline]
    if v.claim:
        lines.append(f"Report: {v.title}")
    meta = meta_line(v)
    if meta:
        lines.append(meta)
    lines += v.context
    if v.detail:
        lines += ["", f"“{hits_plain(v.detail)}”"]
    if v.url:
        lines += ["", v.url]
    tail = f"Watch: {v.watch}"
    if v.terms:
        tail += f" · matched: {', '.join(v.terms)}"
    lines += ["", tail]
    return "\n".join(lines)


def digest_plain_text(payload: dict[str, Any]) -> str:
    """A plain-text body for a digest: grouped by watch, then story."""
    events = payload.get("events") or []
    lines = [f"{len(events)} alert{'s' if len(events) != 1 else ''}"]
    for watch, stories in grouped(events):
        lines += ["", f"== {watch} =="]
        for story_title, views in stories:
            lines.append(f"* {story_title}")
            for v in views:
                lines.append(f"  - {v.headline}" + (f" ({v.source})" if v.source else ""))
                if v.url:
                    lines.append(f"    {v.url}")
    return "\n".join(lines)


def summary_title(payload: dict[str, Any], limit: int = 250) -> str:
    """A short title for one event or a digest."""
    if payload.get("type") == "digest":
        n = len(payload.get("events") or [])
        watches = ", ".join(one_line(w, 60) for w in payload.get("watches") or [])
        return clip(f"{n} alert{'s' if n != 1 else ''}: {watches}", limit)
    v = view(payload)
    return clip(f"[{one_line(v.watch, 60)}] {v.headline}", limit)
