"""`monitor test-rule`: whether a watch rule matches a text, a file or a page, and why."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.base import CliState, pass_state
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.config import FetchConfig
    from monitor.rules import Document


@click.command("test-rule")
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
@pass_state
@click.pass_context
def test_rule(
    ctx: click.Context,
    state: CliState,
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
        doc = asyncio.run(_document_from_url(url, title, _fetch_config(state)))
    result = explain(compiled, doc)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(result.format())
    ctx.exit(0 if result.matched else 1)


def _document_from_html(raw: bytes, url: str, title: str) -> Document:
    from monitor.feeds.extract import extract_page
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


def _fetch_config(state: CliState) -> FetchConfig:
    """The config's [fetch] settings (timeouts, user agent, private networks); the defaults
    when there is no config file, or (with a warning) when it does not load."""
    from monitor.config import FetchConfig

    if not state.config_path.exists():
        return FetchConfig()
    cfg = state.config_or_none()
    return cfg.fetch if cfg is not None else FetchConfig()


async def _document_from_url(url: str, title: str, fetch: FetchConfig) -> Document:
    from monitor.feeds.fetch import PAGE_ACCEPT, Fetcher

    async with Fetcher(fetch) as f:
        r = await f.fetch(url, accept=PAGE_ACCEPT)
    if not r.ok:
        raise MonitorError(f"{url}: {r.error}")
    return _document_from_html(r.content, r.url, title)
