"""OPML in and out: import the feeds of an OPML export into config.toml, keeping the file's
comments, and export the config's feeds as OPML (``monitor export-opml``).

Every feed reader exports OPML; outlines with an ``xmlUrl`` are feeds, and the titles
of the folders around them become tags. tomlkit edits the document in place, so the
user's comments and layout survive; the edited config is validated before it is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from lxml import etree

from monitor.config import parse_config
from monitor.errors import ConfigError, MonitorError


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    name: str
    tags: tuple[str, ...]


def read_opml(data: bytes, source: str = "OPML") -> list[OpmlFeed]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise MonitorError(f"{source}: not readable XML: {e}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise MonitorError(f"{source}: not an OPML document (no <opml><body>)")
    feeds: list[OpmlFeed] = []

    def walk(el: etree._Element, folders: tuple[str, ...]) -> None:
        for child in el.findall("outline"):
            url = (child.get("xmlUrl") or "").strip()
            title = (child.get("title") or child.get("text") or "").strip()
            if url:
                feeds.append(OpmlFeed(url=url, name=title or url, tags=folders))
            else:
                walk(child, (*folders, title) if title else folders)

    walk(body, ())
    return feeds


@dataclass(frozen=True)
class OpmlImport:
    added: list[OpmlFeed]
    skipped: list[OpmlFeed]  # already present
    problems: list[str]  # the config's own problems, left as they were


def import_opml(opml_path: Path, config_path: Path) -> OpmlImport:
    """Add the OPML's feeds to the config file (unless that makes the config invalid)."""
    try:
        data = opml_path.read_bytes()
    except OSError as e:
        raise MonitorError(f"{opml_path}: cannot read: {e.strerror}") from None
    found = read_opml(data, str(opml_path))
    text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as e:
        raise ConfigError(str(config_path), [f"TOML syntax error: {e}"]) from None
    feeds = doc.get("feeds")
    if feeds is None:
        feeds = tomlkit.aot()
        doc["feeds"] = feeds
    urls = {str(f.get("url")) for f in feeds}
    names = {str(f.get("name")) for f in feeds}
    added, skipped = [], []
    for f in found:
        if f.url in urls:
            skipped.append(f)
            continue
        name, n = f.name, 2
        while name in names:
            name, n = f"{f.name} ({n})", n + 1
        table = tomlkit.table()
        table["name"] = name
        table["url"] = f.url
        if f.tags:
            table["tags"] = list(f.tags)
        feeds.append(table)
        urls.add(f.url)
        names.add(name)
        added.append(OpmlFeed(f.url, name, f.tags))
    # refuse to write a config the import breaks; problems the file already had (a watch's
    # tag filter, say) are not the import's business: they are reported, not blocking
    before = set(config_problems(tomlkit.parse(text).unwrap(), str(config_path)))
    after = config_problems(doc.unwrap(), str(config_path))
    caused = [p for p in after if p not in before]
    if caused:
        raise ConfigError(str(config_path), caused)
    config_path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return OpmlImport(added, skipped, after)


def config_problems(data: dict[str, Any], source: str) -> list[str]:
    """The problems of a config document (none when it is valid)."""
    try:
        parse_config(data, source)
    except ConfigError as e:
        return e.problems
    return []


def export_opml(feeds: list[OpmlFeed], title: str = "news-monitor feeds") -> bytes:
    """The feeds as an OPML 2.0 document; tags become nested folders (the first tag the
    outermost), so :func:`read_opml` gives the same names, URLs and tags back."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    folders: dict[tuple[str, ...], etree._Element] = {(): body}

    def folder(path: tuple[str, ...]) -> etree._Element:
        if path not in folders:
            folders[path] = etree.SubElement(
                folder(path[:-1]), "outline", text=path[-1], title=path[-1]
            )
        return folders[path]

    for f in feeds:
        etree.SubElement(
            folder(f.tags), "outline", type="rss", text=f.name, title=f.name, xmlUrl=f.url
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
