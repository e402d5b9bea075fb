"""The pages, the read API and the Atom feed: thin handlers over the store's rows.

Each handler reads through its own read-only connection (:func:`reading`) in a worker
thread; the resources it shows are the JSON shapes the CLI's ``--json`` prints
(:mod:`monitor.resources`, ``monitor.dedup.story_detail``,
``monitor.claims.track.claim_timeline``), so a page, its ``/api`` twin and the CLI agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from monitor.alerts.render import plain_text, split_hits, view
from monitor.errors import MonitorError, StoreError
from monitor.resources import (
    alert_json,
    feed_entry_json,
    feed_json,
    rule_search_json,
    search_hit_json,
    unknown_watch,
)
from monitor.store import Store, StoredAlert, from_iso
from monitor.store.articles import HIT_END, HIT_START
from monitor.store.db import HEARTBEAT_META, STOPPED_META
from monitor.store.rows import SearchHitRow
from monitor.web.access import CSRF_COOKIE, CSRF_FIELD, WebSettings, csrf_ok, csrf_token

FEED_FILTERS = {
    "failing": "in error, with a warning, or disabled",
    "never": "never brought an article",
    "backoff": "backing off after failures",
}
ALERT_STATUSES = ("pending", "delivered", "failed")
ALERT_ACTIONS = ("retry", "acknowledge")
HERE = Path(__file__).resolve().parent


# -- rendering ----------------------------------------------------------------------------
def _marked(snippet: str | None) -> Markup:
    """A rule explanation's snippet, escaped, its ``[[hits]]`` in <mark>."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(t) if hit else escape(t)
        for t, hit in split_hits(snippet or "")
    )


def _fts_marked(snippet: str | None) -> Markup:
    """A full-text snippet, escaped, its found words in <mark>."""
    out = Markup("")
    for i, part in enumerate((snippet or "").split(HIT_START)):
        if i == 0:
            out += escape(part)
            continue
        hit, _, rest = part.partition(HIT_END)
        out += Markup("<mark>{}</mark>").format(hit) + escape(rest)
    return out


_URL_RE = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s'\"<>]+)[^\s'\"<>]*", re.I)


def redact(text: str | None) -> str | None:
    """An error message with every URL cut to its scheme and host: a channel's URL can
    hold its secret (Slack, Discord and ntfy put the key in the path), so delivery
    errors never show more than where they went."""
    if not text:
        return text
    return _URL_RE.sub(lambda m: m.group(1) + "/…", text)


def _alert(a: StoredAlert) -> dict[str, Any]:
    """An alert as the web shows it: :func:`alert_json`, the error redacted."""
    d = alert_json(a)
    d["last_error"] = redact(d["last_error"])
    return d


def _when(value: Any) -> str:
    """'2024-11-06 09:30' from an ISO time (or a datetime); '' for none."""
    if value is None:
        return ""
    s = value.isoformat() if isinstance(value, datetime) else str(value)
    return s[:16].replace("T", " ")


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, the Atom feed too
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(marked=_marked, fts_marked=_fts_marked, when=_when, redact=redact)
    env.globals.update(view=view, plain_text=plain_text)
    return Jinja2Templates(env=env)


def _settings(request: Request) -> WebSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page: the template with the CSRF token and the navigation; sets the CSRF cookie
    when the browser has none yet."""
    token = csrf_token(request)
    response = request.app.state.templates.TemplateResponse(
        request,
        name,
        {"csrf_field": CSRF_FIELD, "csrf": token, "path": request.url.path, **context},
        status_code=status,
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


async def error_page(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "") or "error"
    if request.url.path.startswith("/api/") or request.url.path.endswith(".atom"):
        return JSONResponse({"error": detail}, status_code=status)
    return render(request, "error.html", {"status": status, "message": detail}, status)


@contextmanager
def reading(request: Request) -> Iterator[Store]:
    """A read-only connection for this request (a missing or outdated database is a 503
    that says what to do)."""
    try:
        store = Store.open(_settings(request).database, readonly=True)
    except StoreError as e:
        raise HTTPException(503, str(e)) from None
    try:
        yield store
    finally:
        store.close()


def _int(request: Request, name: str, default: int, most: int = 1000) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name}: {raw!r} is not a whole number") from None
    return max(1, min(value, most))


def _since(request: Request) -> str | None:
    from monitor.search import parse_since

    try:
        when = parse_since(request.query_params.get("since"))
    except ValueError as e:
        raise HTTPException(400, f"since: {e}") from None
    return when.astimezone(UTC).isoformat(timespec="seconds") if when else None


def _watch(request: Request, store: Store) -> str | None:
    """The ``watch`` parameter, checked: an unknown watch is a 404 naming the known ones."""
    watch = request.query_params.get("watch") or None
    if watch is None:
        return None
    error = unknown_watch(store, _settings(request).config, watch)
    if error:
        raise HTTPException(404, error)
    return watch


# -- what the pages and the API show ------------------------------------------------------
def overview(store: Store) -> dict[str, Any]:
    """The overview: counts, the daemon's heartbeat, recent alerts by watch, failing
    feeds, unacknowledged dead letters and the latest stories a watch matched."""
    from monitor.dedup import stories_overview

    by_watch: dict[str, list[dict[str, Any]]] = {}
    for a in store.latest_alerts(limit=60):
        by_watch.setdefault(a.watch, []).append(_alert(a))
    dead = [
        _alert(a)
        for a in store.latest_alerts(status="failed", limit=200)
        if a.acknowledged_at is None
    ]
    failing = [feed_json(f) for f in store.feed_status() if f.failing]
    heartbeat = store.get_meta(HEARTBEAT_META)
    beat = from_iso(heartbeat)
    return {
        "counts": store.table_counts(),
        "alert_counts": store.alert_counts(),
        "heartbeat": heartbeat,
        "heartbeat_age": round((datetime.now(UTC) - beat).total_seconds()) if beat else None,
        "daemon_stopped": store.get_meta(STOPPED_META),
        "recent_alerts": by_watch,
        "failing_feeds": failing,
        "dead_letters": dead,
        "stories": stories_overview(store, limit=10, matched=True),
    }


def _feeds(store: Store, which: str | None) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    errors = store.page_errors()
    out = []
    for f in store.feed_status():
        if which == "failing" and not f.failing:
            continue
        if which == "never" and (f.articles or f.health == "ok"):
            continue
        if which == "backoff" and not (f.failures and (f.next_poll or "") > now):
            continue
        pe = errors.get(f.name)
        out.append(
            feed_json(
                f,
                page_errors=pe.count if pe else 0,
                last_page_error=pe.last_error if pe else None,
                fallbacks=pe.fallbacks if pe else 0,
            )
        )
    return out


def _feed_filter(request: Request) -> str | None:
    which = request.query_params.get("filter") or None
    if which is not None and which not in FEED_FILTERS:
        raise HTTPException(400, f"filter: one of {', '.join(FEED_FILTERS)}")
    return which


def _feed(store: Store, name: str) -> dict[str, Any]:
    row = next((f for f in store.feed_status() if f.name == name), None)
    if row is None:
        raise HTTPException(404, f"no feed named '{name}'")
    return {
        "feed": feed_json(row),
        "entries": [feed_entry_json(e) for e in store.feed_entries(name)],
    }


def _alerts(request: Request, store: Store) -> list[dict[str, Any]]:
    status = request.query_params.get("status") or None
    if status is not None and status not in ALERT_STATUSES:
        raise HTTPException(400, f"status: one of {', '.join(ALERT_STATUSES)}")
    rows = store.latest_alerts(
        status=status,
        channel=request.query_params.get("channel") or None,
        watch=_watch(request, store),
        limit=_int(request, "limit", 100),
    )
    return [_alert(a) for a in rows]


def _story(store: Store, story_id: int) -> dict[str, Any]:
    from monitor.claims.track import claims_overview
    from monitor.dedup import story_detail

    story = story_detail(store, story_id)
    if story is None:
        raise HTTPException(404, f"no story #{story_id}")
    story["claims"] = claims_overview(store, rows=store.claims_in_story(story_id))
    return story


def _claim(store: Store, claim_id: int) -> dict[str, Any]:
    from monitor.claims.track import claim_timeline

    claim = claim_timeline(store, claim_id)
    if claim is None:
        raise HTTPException(404, f"no claim #{claim_id}")
    return claim


def _bounds(request: Request) -> tuple[str | None, int]:
    """A search's ``since`` and ``limit``, checked (a 400 for bad ones, with or without a
    query)."""
    return _since(request), _int(request, "limit", 50, 500)


def _text_hits(request: Request, store: Store, since: str | None, limit: int) -> list[SearchHitRow]:
    """The full-text hits of ``q`` (none without one)."""
    from monitor.search import search_text

    q = request.query_params.get("q", "").strip()
    return search_text(store, q, since, limit) if q else []


def _rule_search(
    request: Request, store: Store, since: str | None, limit: int
) -> tuple[dict[str, Any] | None, str | None]:
    """Try-a-rule results of ``rule`` (None without one), or the message for a bad rule."""
    from monitor.search import try_rule

    rule = request.query_params.get("rule", "").strip()
    if not rule:
        return None, None
    cfg = _settings(request).config
    language = request.query_params.get("language") or "en"
    if cfg is not None and not request.query_params.get("language"):
        language = next((w.language for w in cfg.watches if w.rule == rule), "en")
    try:
        found = try_rule(store, rule, since=since, limit=limit, language=language)
    except MonitorError as e:
        return None, str(e)
    return rule_search_json(found), None


def _search(request: Request, store: Store) -> dict[str, Any]:
    """The search page: full-text (``q``) and try-a-rule (``rule``) results; an error
    message for a bad rule."""
    since, limit = _bounds(request)
    rows = _text_hits(request, store, since, limit)
    rule_search, rule_error = _rule_search(request, store, since, limit)
    return {
        "q": request.query_params.get("q", "").strip(),
        "rule": request.query_params.get("rule", "").strip(),
        "since": request.query_params.get("since", ""),
        "hits": [search_hit_json(h) for h in rows],
        "marked": [_fts_marked(h.snippet) for h in rows],  # the page's snippets
        "rule_error": rule_error,
        "rule_search": rule_search,
    }


# -- pages ------------------------------------------------------------------------------------
def page_overview(request: Request) -> Response:
    with reading(request) as store:
        return render(request, "overview.html", {"o": overview(store)})


def page_stories(request: Request) -> Response:
    from monitor.dedup import stories_overview

    show_all = request.query_params.get("all") == "1"
    with reading(request) as store:
        watch = _watch(request, store)
        stories = stories_overview(store, watch, _int(request, "limit", 50), matched=not show_all)
    return render(
        request, "stories.html", {"stories": stories, "watch": watch, "show_all": show_all}
    )


def page_story(request: Request) -> Response:
    with reading(request) as store:
        story = _story(store, request.path_params["story_id"])
    return render(request, "story.html", {"s": story})


def page_claims(request: Request) -> Response:
    from monitor.claims.track import claims_overview

    with reading(request) as store:
        watch = _watch(request, store)
        claims = claims_overview(store, watch)
    return render(request, "claims.html", {"claims": claims, "watch": watch})


def page_claim(request: Request) -> Response:
    with reading(request) as store:
        claim = _claim(store, request.path_params["claim_id"])
    return render(request, "claim.html", {"c": claim})


def page_feeds(request: Request) -> Response:
    which = _feed_filter(request)
    with reading(request) as store:
        feeds = _feeds(store, which)
    return render(request, "feeds.html", {"feeds": feeds, "which": which, "filters": FEED_FILTERS})


def page_feed(request: Request) -> Response:
    with reading(request) as store:
        data = _feed(store, request.path_params["name"])
    return render(request, "feed.html", data)


def page_alerts(request: Request) -> Response:
    with reading(request) as store:
        rows = _alerts(request, store)
        channels = store.channel_health()
        counts = {c.channel: c for c in store.channel_counts()}
    return render(
        request,
        "alerts.html",
        {
            "alerts": rows,
            "channels": channels,
            "counts": counts,
            "statuses": ALERT_STATUSES,
            "status": request.query_params.get("status") or "",
            "done": request.query_params.get("done") or "",
        },
    )


def page_search(request: Request) -> Response:
    with reading(request) as store:
        result = _search(request, store)
    cfg = _settings(request).config
    watches = [(w.name, w.rule) for w in cfg.watches] if cfg is not None else []
    return render(request, "search.html", {"r": result, "watches": watches})


async def post_alerts(request: Request) -> Response:
    """Retry or acknowledge alerts (a form of the alerts page; CSRF-checked)."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not csrf_ok(request, token if isinstance(token, str) else None):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
    action = request.path_params["action"]
    if action not in ALERT_ACTIONS:
        raise HTTPException(404, f"no such action: {action}")
    ids = [str(i) for i in form.getlist("id") if i]
    if not ids:
        raise HTTPException(400, "no alert given")

    def write() -> int:
        store = Store.open(_settings(request).database)
        try:
            unknown = [i for i in ids if store.alert(i) is None]
            if unknown:
                raise HTTPException(404, f"no alert with id {', '.join(unknown)}")
            if action == "retry":
                return store.retry_alerts(ids)
            return store.acknowledge_alerts(ids)
        finally:
            store.close()

    from starlette.concurrency import run_in_threadpool

    n = await run_in_threadpool(write)
    done = f"{n} alert{'s' if n != 1 else ''} " + (
        "queued again" if action == "retry" else "acknowledged"
    )
    back = str(form.get("back") or "/alerts")
    if not back.startswith("/") or back.startswith("//"):
        back = "/alerts"
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}done={done.replace(' ', '+')}", status_code=303)


# -- the read API -----------------------------------------------------------------------------
def api(fn: Any) -> Any:
    def handler(request: Request) -> Response:
        with reading(request) as store:
            return JSONResponse(fn(request, store))

    return handler


def _api_stories(request: Request, store: Store) -> Any:
    from monitor.dedup import stories_overview

    matched = request.query_params.get("all") != "1"
    return stories_overview(
        store, _watch(request, store), _int(request, "limit", 50), matched=matched
    )


def _api_claims(request: Request, store: Store) -> Any:
    from monitor.claims.track import claims_overview

    return claims_overview(store, _watch(request, store))


def _api_search(request: Request, store: Store) -> Any:
    return [search_hit_json(h) for h in _text_hits(request, store, *_bounds(request))]


def _api_rule(request: Request, store: Store) -> Any:
    if not request.query_params.get("rule", "").strip():
        raise HTTPException(400, "rule: give a watch rule")
    result, error = _rule_search(request, store, *_bounds(request))
    if error:
        raise HTTPException(400, error)
    return result


API = {
    "/api/overview": lambda r, s: overview(s),
    "/api/stories": _api_stories,
    "/api/stories/{story_id:int}": lambda r, s: _story(s, r.path_params["story_id"]),
    "/api/claims": _api_claims,
    "/api/claims/{claim_id:int}": lambda r, s: _claim(s, r.path_params["claim_id"]),
    "/api/feeds": lambda r, s: _feeds(s, _feed_filter(r)),
    "/api/feeds/{name}": lambda r, s: _feed(s, r.path_params["name"]),
    "/api/alerts": _alerts,
    "/api/search": _api_search,
    "/api/search/rule": _api_rule,
}


# -- the Atom feed of alerts ------------------------------------------------------------------
def atom_alerts(request: Request) -> Response:
    """The latest alerts (of one watch with ``?watch=``), one entry per event: the copies
    of an event sent to several channels are one entry."""
    with reading(request) as store:
        watch = _watch(request, store)
        limit = _int(request, "limit", 50, 500)
        rows = store.latest_alerts(watch=watch, limit=limit * 4)
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    for a in rows:
        v = view(a.payload)
        key = (a.type, v.headline, a.created_at.isoformat())
        entry = entries.setdefault(key, {"alert": a, "view": v, "ids": []})
        entry["ids"].append(a.id)
    items = list(entries.values())[:limit]
    for item in items:
        item["id"] = min(item["ids"])
    updated = items[0]["alert"].created_at if items else datetime.now(UTC)
    response = request.app.state.templates.TemplateResponse(
        request,
        "alerts.atom.xml",
        {"items": items, "watch": watch, "updated": updated, "self_url": str(request.url)},
        media_type="application/atom+xml; charset=utf-8",
    )
    return response  # type: ignore[no-any-return]


def routes() -> list[Route | Mount]:
    pages = [
        Route("/", page_overview, name="overview"),
        Route("/stories", page_stories, name="stories"),
        Route("/stories/{story_id:int}", page_story, name="story"),
        Route("/claims", page_claims, name="claims"),
        Route("/claims/{claim_id:int}", page_claim, name="claim"),
        Route("/feeds/alerts.atom", atom_alerts, name="atom"),
        Route("/feeds", page_feeds, name="feeds"),
        Route("/feeds/{name}", page_feed, name="feed"),
        Route("/alerts", page_alerts, name="alerts"),
        Route("/alerts/{action:str}", post_alerts, methods=["POST"]),
        Route("/search", page_search, name="search"),
    ]
    apis = [Route(path, api(fn)) for path, fn in API.items()]
    static = Mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return [*pages, *apis, static]
