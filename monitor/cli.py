"""The `monitor` command: thin shells over the pipeline, the store and the daemon."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor.errors import MonitorError

QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "courlan")


def setup_logging(level: int = logging.INFO, alerts: bool = True) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.getLogger("monitor.alert").setLevel(logging.INFO if alerts else logging.WARNING)


class MonitorGroup(click.Group):
    """Prints user errors as one clear message (exit 2) instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=MonitorGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="MONITOR_CONFIG",
    default="config.toml",
    show_default=True,
    help="Config file (or set MONITOR_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.version_option(package_name="news-monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, verbose: bool) -> None:
    """news-monitor: watch news feeds, match rules, track claims, send alerts."""
    ctx.obj = {"config_path": config_path, "verbose": verbose}


def _config(ctx: click.Context):  # type: ignore[no-untyped-def]
    from monitor.config import load_config

    return load_config(ctx.obj["config_path"])


# -- run ------------------------------------------------------------------------------
@cli.command()
@click.option("--once", is_flag=True, help="Poll every enabled feed once, deliver, and exit.")
@click.pass_context
def run(ctx: click.Context, once: bool) -> None:
    """Run the daemon (or a single cycle with --once)."""
    cfg = _config(ctx)
    verbose = ctx.obj["verbose"]
    if once:
        setup_logging(logging.INFO if verbose else logging.WARNING)
        code = asyncio.run(_run_once(cfg, progress=sys.stderr.isatty()))
        ctx.exit(code)
    from monitor.scheduler import Daemon

    setup_logging(logging.DEBUG if verbose else logging.INFO)
    for name in ("monitor.pipeline",):
        logging.getLogger(name).setLevel(logging.INFO)
    ctx.exit(asyncio.run(Daemon(cfg, ctx.obj["config_path"]).run()))


async def _run_once(cfg: Any, progress: bool) -> int:
    from monitor.pipeline import Pipeline
    from monitor.store import Store

    store = Store.open(cfg.database_path())
    pipeline = Pipeline(cfg, store)
    feeds = [f for f in cfg.feeds if f.enabled]
    try:
        if progress and feeds:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("polling feeds", total=len(feeds))
                report = await pipeline.run_cycle(on_feed_done=lambda r: bar.advance(task))
        else:
            report = await pipeline.run_cycle()
    finally:
        await pipeline.aclose()
        store.close()
    for f in report.feeds:
        if f.status == "error":
            click.echo(f"feed {f.name}: {f.error}", err=True)
    delivered = len(report.delivery.delivered) if report.delivery else 0
    click.echo(
        f"{len(report.feeds)} feeds polled, {sum(f.articles for f in report.feeds)} new articles, "
        f"{report.matches} matches, {delivered} alerts delivered, {len(report.errors)} feed errors",
        err=True,
    )
    return 1 if feeds and len(report.errors) == len(feeds) else 0


# -- check-config ----------------------------------------------------------------------
@cli.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the config file (rules included) and summarise it."""
    cfg = _config(ctx)
    enabled = sum(1 for f in cfg.feeds if f.enabled)
    click.echo(
        f"{cfg.path}: OK — {len(cfg.feeds)} feeds ({enabled} enabled), {len(cfg.watches)} watches,"
        f" {len(cfg.alerts)} alert channels; database {cfg.database_path()}"
    )
    from monitor.alerts import channel_problems

    for problem in channel_problems(cfg.alerts):
        click.echo(f"warning: {problem}", err=True)


# -- status -----------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per-feed health: last poll, status, error, failures, next poll, articles."""
    from monitor.store import Store

    cfg = _config(ctx)
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        feeds = store.feed_status()
        alerts = store.alert_counts()
        channels = store.channel_health()
        heartbeat = store.get_meta("heartbeat")
        judge_meta = store.get_meta("claims_judge") if cfg.claims.judge else None
    finally:
        store.close()
    judge = json.loads(judge_meta) if judge_meta else None
    configured = {f.name: f for f in cfg.feeds}
    for f in feeds:
        f["in_config"] = f["name"] in configured
        f["enabled"] = configured[f["name"]].enabled if f["name"] in configured else False
    if as_json:
        click.echo(
            json.dumps(
                {
                    "feeds": feeds,
                    "alerts": alerts,
                    "channels": channels,
                    "claims_judge": judge,
                    "heartbeat": heartbeat,
                },
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="feeds", show_lines=False)
    for col in ("feed", "last poll", "status", "failures", "next poll", "articles", "error"):
        table.add_column(col)
    for f in feeds:
        state = "disabled" if f["disabled_reason"] else str(f["last_status"] or "-")
        table.add_row(
            f["name"] + ("" if f["in_config"] else " (not in config)"),
            _short_time(f["last_poll"]),
            state,
            str(f["failures"]),
            _short_time(f["next_poll"]),
            str(f["articles"]),
            f["disabled_reason"] or f["last_error"] or "",
        )
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    console.print(
        "alerts: " + ", ".join(f"{k} {v}" for k, v in alerts.items()) if alerts else "alerts: none"
    )
    for ch in channels:
        if ch["state"] == "ok" and not ch["pending"] and not ch["failed"]:
            continue
        state = ch["state"] + (f" since {_short_time(ch['since'])}" if ch["since"] else "")
        line = f"channel {ch['channel']}: {state}, {ch['pending']} pending, {ch['failed']} failed"
        if ch["state"] != "ok" and ch["last_error"]:
            line += f", last error: {ch['last_error']}"
        console.print(line, markup=False, highlight=False)
    if judge:
        line = (
            f"claims judge {judge['model']}: {judge['state']} since {_short_time(judge['since'])}"
        )
        if judge["state"] != "ok" and judge["error"]:
            line += f", last error: {judge['error']} (the built-in verdicts stand)"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if heartbeat:
        console.print(f"daemon heartbeat: {heartbeat}")


@cli.command()
@click.option("--max-age", default=180, show_default=True, help="Seconds a heartbeat stays fresh.")
@click.pass_context
def health(ctx: click.Context, max_age: int) -> None:
    """Exit 0 when the daemon's heartbeat is fresh (for Docker HEALTHCHECK), else 1."""
    from monitor.store import Store, from_iso

    cfg = _config(ctx)
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        beat = from_iso(store.get_meta("heartbeat"))
    finally:
        store.close()
    if beat is None:
        click.echo("unhealthy: no heartbeat yet", err=True)
        ctx.exit(1)
    age = (datetime.now(UTC) - beat).total_seconds()
    if age > max_age:
        click.echo(f"unhealthy: last heartbeat {age:.0f}s ago", err=True)
        ctx.exit(1)
    click.echo(f"healthy: last heartbeat {age:.0f}s ago")


def _short_time(s: str | None) -> str:
    """'05:57:54' for today (UTC), '11-22 05:57' otherwise."""
    if not s:
        return "-"
    today = datetime.now(UTC).date().isoformat()
    return s[11:19] if s[:10] == today else s[5:16].replace("T", " ")


# -- import-opml ----------------------------------------------------------------------------
@cli.command("import-opml")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_opml_cmd(ctx: click.Context, file: Path) -> None:
    """Add the feeds of an OPML export to the config file (comments kept)."""
    from monitor.opml import import_opml

    added, skipped = import_opml(file, ctx.obj["config_path"])
    for f in added:
        click.echo(f"added {f.name} <{f.url}>")
    click.echo(f"{len(added)} feeds added, {len(skipped)} already present")


# -- demo ------------------------------------------------------------------------------------
@cli.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo config and database in this folder.",
)
def demo(keep: Path | None) -> None:
    """Run the whole pipeline offline on a bundled corpus and print the alerts."""
    import tempfile

    from monitor.config import load_config
    from monitor.demo import demo_config_toml
    from monitor.demo.server import CorpusServer

    setup_logging(logging.WARNING, alerts=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        with CorpusServer() as server:
            cfg_path = folder / "demo-config.toml"
            cfg_path.write_text(
                demo_config_toml(server.base_url, str(folder / "demo.db")), encoding="utf-8"
            )
            cfg = load_config(cfg_path)
            click.echo(f"serving the demo corpus at {server.base_url} ({len(cfg.feeds)} feeds)")
            report = asyncio.run(_demo_cycle(cfg))
        _print_demo(report, cfg)
        if keep:
            click.echo(f"\ndemo config and database kept in {folder}")


async def _demo_cycle(cfg: Any) -> Any:
    from monitor.pipeline import Pipeline
    from monitor.store import Store

    store = Store.open(cfg.database_path())
    pipeline = Pipeline(cfg, store)
    try:
        return await pipeline.run_cycle()
    finally:
        await pipeline.aclose()
        store.close()


def _print_demo(report: Any, cfg: Any) -> None:
    from monitor.alerts.channels import format_line

    for f in report.feeds:
        click.echo(f"  polled {f.name}: {f.articles} articles, {f.matches} matches")
    delivered = report.delivery.delivered if report.delivery else []
    click.echo(f"\n{len(delivered)} alerts\n")
    for a in delivered:
        p = a.payload
        art = p.get("article")
        if a.type == "article.matched" and art:
            when = (art.get("published") or "")[:10]
            click.echo(f"• [{a.watch}] {art['title']}")
            click.echo(f"    {art.get('source')} · {when} · {art.get('url')}")
            click.echo(f"    matched: {', '.join(p.get('matched_terms', []))}")
            if p.get("snippet"):
                click.echo(f'    "{p["snippet"]}"')
        else:
            click.echo(f"• {format_line(a.event())}")
        click.echo("")
    _print_demo_stories(cfg)


def _print_demo_stories(cfg: Any) -> None:
    """The stories the watches matched that fold several reports (dedup's work)."""
    from monitor.dedup import format_story, stories_overview
    from monitor.store import Store

    store = Store.open(cfg.database_path(), readonly=True)
    try:
        folded = [s for s in stories_overview(store, min_articles=2) if s["watches"]]
    finally:
        store.close()
    if folded:
        click.echo("stories (one alert each; the other reports joined them):\n")
        for s in folded:
            click.echo(format_story(s) + "\n")


# -- test-rule -------------------------------------------------------------------------------
@cli.command("test-rule")
@click.argument("rule")
@click.option("--text", "text", default=None, help="Test against this text.")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Test against a text or HTML file.",
)
@click.option("--url", "url", default=None, help="Fetch a page and test against its main text.")
@click.option("--title", default="", help="A title to match along with the text.")
@click.option("--language", default="en", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def test_rule(
    ctx: click.Context,
    rule: str,
    text: str | None,
    file: Path | None,
    url: str | None,
    title: str,
    language: str,
    as_json: bool,
) -> None:
    """Show whether RULE matches a text and why. Exit 0 match, 1 no match, 2 bad rule."""
    from monitor.rules import Document, RuleError, compile_rule, explain

    if sum(x is not None for x in (text, file, url)) != 1:
        raise click.UsageError("give exactly one of --text, --file or --url")
    try:
        compiled = compile_rule(rule, language=language)
    except RuleError as e:
        click.echo(f"bad rule: {e}", err=True)
        ctx.exit(2)
    except ValueError as e:
        click.echo(f"error: {e}", err=True)
        ctx.exit(2)
    doc = Document(title=title, text=text or "")
    if file is not None:
        raw = file.read_bytes()
        if file.suffix.lower() in (".html", ".htm") or raw.lstrip()[:1] == b"<":
            doc = _document_from_html(raw, str(file), title)
        else:
            doc = Document(title=title, text=raw.decode("utf-8", errors="replace"))
    elif url is not None:
        doc = asyncio.run(_document_from_url(url, title))
    result = explain(compiled, doc)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(result.format())
    ctx.exit(0 if result.matched else 1)


def _document_from_html(raw: bytes, url: str, title: str) -> Any:
    from monitor.extract import extract_page
    from monitor.rules import Document

    page = extract_page(raw, url)
    if page is None:
        raise MonitorError(f"{url}: no article text could be extracted")
    return Document(
        title=title or page.title or "",
        text=page.text,
        author=page.author or "",
        source=page.site_name or "",
        url=url,
    )


async def _document_from_url(url: str, title: str) -> Any:
    from monitor.config import FetchConfig
    from monitor.fetch import PAGE_ACCEPT, Fetcher

    async with Fetcher(FetchConfig()) as f:
        r = await f.fetch(url, accept=PAGE_ACCEPT)
    if not r.ok:
        raise MonitorError(f"{url}: {r.error}")
    return _document_from_html(r.content, r.url, title)


# -- stance ------------------------------------------------------------------------------------
@cli.command()
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Contradicts threshold (default: the config's, else the model's).",
)
@click.pass_context
def stance(ctx: click.Context, threshold: float | None) -> None:
    """Judge claims against texts: JSON lines {id, claim, text} in, {id, stance, score, evidence} out."""
    from monitor.claims.stance import load_engine, run_jsonl

    if threshold is None and Path(ctx.obj["config_path"]).exists():
        try:
            threshold = _config(ctx).claims.contradicts_threshold
        except MonitorError:
            threshold = None
    run_jsonl(sys.stdin, sys.stdout, load_engine(threshold))


# -- alerts ------------------------------------------------------------------------------------
@cli.group(invoke_without_command=True)
@click.option("--failed", is_flag=True, help="Only alerts that gave up (dead letters).")
@click.option("--pending", is_flag=True, help="Only alerts waiting to be delivered.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def alerts(ctx: click.Context, failed: bool, pending: bool, as_json: bool, limit: int) -> None:
    """List alerts of the outbox; `alerts retry` sends failed ones again."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.alerts.channels import format_line
    from monitor.store import Store

    cfg = _config(ctx)
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        status_filter = "failed" if failed else "pending" if pending else None
        rows = store.alerts(status_filter, limit=100_000)[-limit:]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([_alert_json(a) for a in rows], indent=2, ensure_ascii=False))
        return
    for a in rows:
        extra = f" — {a.last_error}" if a.last_error and a.status != "delivered" else ""
        click.echo(f"{a.id} {a.status:9} {a.channel:10} {format_line(a.event())}{extra}")
    if not rows:
        click.echo("no alerts")


def _alert_json(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "type": a.type,
        "channel": a.channel,
        "watch": a.watch,
        "status": a.status,
        "attempts": a.attempts,
        "last_error": a.last_error,
        "created_at": a.created_at.isoformat(),
        "next_attempt": a.next_attempt and a.next_attempt.isoformat(),
        "delivered_at": a.delivered_at and a.delivered_at.isoformat(),
        "digest_id": a.digest_id,
        "payload": a.payload,
    }


@alerts.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Every failed alert.")
@click.pass_context
def alerts_retry(ctx: click.Context, ids: tuple[str, ...], all_failed: bool) -> None:
    """Queue failed alerts again (the daemon or the next `run --once` sends them)."""
    from monitor.store import Store

    if not ids and not all_failed:
        raise click.UsageError("give alert ids or --all-failed")
    cfg = _config(ctx)
    store = Store.open(cfg.database_path())
    try:
        unknown = [i for i in ids if store.alert(i) is None]
        if unknown:
            raise MonitorError(f"no alert with id {', '.join(unknown)} (see `monitor alerts`)")
        n = store.retry_alerts(None if all_failed else ids)
    finally:
        store.close()
    click.echo(f"{n} alerts queued again")


@alerts.command("test")
@click.argument("channel")
@click.pass_context
def alerts_test(ctx: click.Context, channel: str) -> None:
    """Send a sample alert to CHANNEL now (not through the outbox) and report the outcome."""
    from monitor.alerts.testing import send_sample

    cfg = _config(ctx)
    if channel not in cfg.alerts:
        known = ", ".join(sorted(cfg.alerts)) or "none defined"
        raise MonitorError(f"no channel named '{channel}' (channels: {known})")
    result = asyncio.run(send_sample(cfg, channel))
    if result.ok:
        click.echo(f"channel {channel}: delivered")
        return
    kind = "temporary, would be retried" if result.retry else "permanent"
    click.echo(f"channel {channel}: failed ({kind}): {result.error}", err=True)
    ctx.exit(1)


# -- claims ------------------------------------------------------------------------------------
def _read_store(ctx: click.Context, fn: Any, empty: str) -> Any:
    """Run ``fn(store)`` on a read-only store; ``empty`` explains a database without the tables."""
    import sqlite3

    from monitor.store import Store

    cfg = _config(ctx)
    store = Store.open(cfg.database_path(), readonly=True)
    try:
        return fn(store)
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            raise MonitorError(empty) from None
        raise
    finally:
        store.close()


_NO_CLAIMS = (
    "this database has no claims yet (run 'monitor run --once' with a watch that"
    " has track_claims = true)"
)
_NO_STORIES = "this database has no stories yet (run 'monitor run --once')"


@cli.group("claims", invoke_without_command=True)
@click.option("--watch", "watch", default=None, help="Only this watch's claims.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def claims_cmd(ctx: click.Context, watch: str | None, as_json: bool) -> None:
    """Tracked claims, with the reports and sources that confirm or contradict each."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.claims.track import claims_overview, format_overview

    rows = _read_store(ctx, lambda store: claims_overview(store, watch), _NO_CLAIMS)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        click.echo(format_overview(rows))


@claims_cmd.command("show")
@click.argument("claim_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def claims_show(ctx: click.Context, claim_id: int, as_json: bool) -> None:
    """The timeline of evidence on one claim (and on the claims that contradict it)."""
    from monitor.claims.track import claim_timeline, format_timeline

    claim = _read_store(ctx, lambda store: claim_timeline(store, claim_id), _NO_CLAIMS)
    if claim is None:
        raise MonitorError(f"no claim #{claim_id} (list them with 'monitor claims')")
    if as_json:
        click.echo(json.dumps(claim, indent=2, ensure_ascii=False))
    else:
        click.echo(format_timeline(claim))


# -- stories (dedup) ---------------------------------------------------------------------------
@cli.group("stories", invoke_without_command=True)
@click.option("--watch", "watch", default=None, help="Only stories this watch matched.")
@click.option("--limit", default=50, show_default=True, help="At most this many stories.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stories_cmd(ctx: click.Context, watch: str | None, limit: int, as_json: bool) -> None:
    """Stories: the reports folded together, latest activity first."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.dedup import format_stories, stories_overview

    rows = _read_store(ctx, lambda store: stories_overview(store, watch, limit), _NO_STORIES)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        click.echo(format_stories(rows))


@stories_cmd.command("show")
@click.argument("story_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stories_show(ctx: click.Context, story_id: int, as_json: bool) -> None:
    """One story with every report in it (copies and revisions marked)."""
    from monitor.dedup import format_story, story_detail

    story = _read_store(ctx, lambda store: story_detail(store, story_id), _NO_STORIES)
    if story is None:
        raise MonitorError(f"no story #{story_id} (list them with 'monitor stories')")
    if as_json:
        click.echo(json.dumps(story, indent=2, ensure_ascii=False))
    else:
        click.echo(format_story(story))


def main() -> None:
    cli(prog_name="monitor")


if __name__ == "__main__":
    main()
