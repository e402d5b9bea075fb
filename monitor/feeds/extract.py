"""Article pages → main text and metadata (trafilatura), off the event loop.

Extraction is CPU-bound, so it runs in a process pool (``[extract] workers``; 0 runs
it in a thread instead, which is handy for tests and tiny installs). When a page
cannot be fetched or yields too little text, :func:`build_article` falls back to the
feed entry's content or summary and records where the text came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.models import Article, Entry, TextSource

log = logging.getLogger("monitor.feeds.extract")

# A page text shorter than this, when the feed carries more, loses to the feed's text.
MIN_PAGE_TEXT = 200


@dataclass(frozen=True)
class ExtractedPage:
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None


def _glued(text: str, title: str | None) -> bool:
    """Does the text start with the page's headline run into the first sentence? That is
    trafilatura's last-resort reading of a short page (its main extraction found less than
    ``MIN_EXTRACTED_SIZE``, 250 characters): all text of the page joined by spaces, the
    headline and byline glued to the first sentence, which the claim reader would then take
    for one statement."""
    return bool(title) and text.startswith(f"{title} ") and len(text) > len(title) + 1


@functools.cache
def _short_page_config() -> object:
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    return config


def extract_page(html: bytes | str, url: str) -> ExtractedPage | None:
    """Main text and metadata of an HTML page, or None when nothing usable is found.

    A short page whose headline came out glued to its first sentence (:func:`_glued`) is
    read again with trafilatura's main extraction accepted at any length, which keeps the
    paragraphs on their own lines and leaves the headline and byline out."""
    import trafilatura  # imported here: worker processes pay for it once

    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    options = {"url": url, "with_metadata": True, "include_comments": False}
    try:
        doc = trafilatura.bare_extraction(html, include_tables=False, **options)
        if doc is not None and doc.text and _glued(doc.text, doc.title):
            again = trafilatura.bare_extraction(
                html, include_tables=False, config=_short_page_config(), **options
            )
            if again is not None and again.text and not _glued(again.text, again.title):
                # the headline on its own first line: dropped, as from a longer page's text
                again.text = again.text.removeprefix(f"{again.title}\n")
                doc = again
    except Exception:  # trafilatura can fail on hostile markup; the feed text is the fallback
        return None
    if doc is None or not getattr(doc, "text", None):
        return None
    return ExtractedPage(
        text=doc.text.strip(),
        title=doc.title or None,
        author=doc.author or None,
        date=doc.date or None,
        site_name=doc.sitename or None,
        canonical_url=doc.url if doc.url and doc.url != url else None,
    )


PR_SET_PDEATHSIG = 1


def _load() -> None:
    import trafilatura  # noqa: F401  (the import is the point: a warm worker)


def die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the process that started the pool dies, SIGKILL
    included (orphaned workers would otherwise live on). On Linux the kernel sends SIGKILL
    (``prctl(PR_SET_PDEATHSIG)``); everywhere a watchdog thread checks the parent pid."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl: the watchdog alone
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(0)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class Extractor:
    """Runs :func:`extract_page` in a worker pool with a time limit per page.

    At most one page per worker is handed to the pool, so a page starts as soon as it is
    handed over and its time limit counts from its start, not from a queue. A page over the
    limit has its worker stopped (it would otherwise keep the worker busy, and the next
    page would wait behind it).
    """

    def __init__(self, workers: int = 1, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._workers = workers
        self._pool: Executor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._warming: asyncio.Future[list[None]] | None = None  # the pool's start-up

    @property
    def slots(self) -> int:
        """How many pages are extracted at once."""
        return max(1, self._workers)

    def _executor(self) -> Executor:
        if self._pool is None:
            if self._workers <= 0:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
            else:
                # spawn: forking a process that runs an event loop and threads is unsafe
                ctx = multiprocessing.get_context("spawn")
                try:
                    self._pool = ProcessPoolExecutor(
                        max_workers=self._workers,
                        mp_context=ctx,
                        initializer=die_with_parent,
                        initargs=(os.getpid(),),
                    )
                except OSError as e:  # e.g. a container without a writable /dev/shm
                    log.warning(
                        "cannot start extraction worker processes (%s); extracting in a thread",
                        e,
                    )
                    self._workers = 0
                    return self._executor()
        return self._pool

    async def extract(self, html: bytes, url: str) -> ExtractedPage | None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.slots)
        async with self._slots:  # a worker is free: the page starts now
            return await self._extract(html, url)

    async def _warm(self) -> None:
        """Start a new pool's workers and load trafilatura before any page's clock runs
        (worker start-up is not the page's time)."""
        if self._workers <= 0:
            return
        if self._pool is None or self._warming is None:
            pool = self._executor()
            loop = asyncio.get_running_loop()
            self._warming = asyncio.gather(
                *(loop.run_in_executor(pool, _load) for _ in range(self._workers))
            )
        await self._warming

    async def _extract(self, html: bytes, url: str) -> ExtractedPage | None:
        loop = asyncio.get_running_loop()
        try:
            await self._warm()
            fut = loop.run_in_executor(self._executor(), extract_page, html, url)
            return await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            log.warning("extracting %s took over %gs; using the feed's text", url, self.timeout)
            self._stop_workers()
        except Exception as e:  # a broken worker pool must be visible, not silently degrade
            log.warning(
                "extracting %s failed (%s: %s); using the feed's text", url, type(e).__name__, e
            )
            if isinstance(e, BrokenProcessPool):
                self.close()  # the next article gets a fresh pool
        return None

    def _stop_workers(self) -> None:
        """Stop a process pool whose worker is stuck on a page (the next page gets a fresh
        pool); a thread cannot be stopped, so with ``workers = 0`` it runs to its end."""
        pool = self._pool
        if isinstance(pool, ProcessPoolExecutor):
            # the standard library has no public way to stop a busy worker before 3.14
            for proc in list(getattr(pool, "_processes", {}).values()):
                with contextlib.suppress(OSError):
                    proc.kill()
            self.close()

    def close(self) -> None:
        self._warming = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _untitled(text: str, url: str, feed_name: str) -> str:
    """A title for an entry that has none: its opening words, else its http(s) address;
    never the internal guid (a hash)."""
    words = text.split()
    if words:
        return " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    if url.startswith(("http://", "https://")):
        return url
    return f"(untitled entry of {feed_name})"


def build_article(
    entry: Entry,
    *,
    feed_name: str,
    feed_tags: tuple[str, ...] = (),
    page_url: str | None = None,
    page: ExtractedPage | None = None,
    fetched_at: datetime | None = None,
) -> Article:
    """Compose the article from the extracted page, falling back to the feed's own text."""
    feed_text = entry.content or entry.summary or ""
    source: TextSource
    if page and (len(page.text) >= MIN_PAGE_TEXT or len(page.text) >= len(feed_text)):
        text, source = page.text, "page"
    elif entry.content:
        text, source = entry.content, "feed-content"
    elif entry.summary:
        text, source = entry.summary, "feed-summary"
    else:
        text, source = "", "title"
    published = entry.published
    if published is None and page and page.date:
        try:
            published = datetime.fromisoformat(page.date).replace(tzinfo=UTC)
        except ValueError:
            published = None
    url = page_url or entry.link or entry.guid
    return Article(
        url=url,
        title=entry.title
        or (page.title if page and page.title else "")
        or _untitled(text, url, feed_name),
        text=text,
        text_source=source,
        feed_name=feed_name,
        guid=entry.guid,
        author=entry.author or (page.author if page else None),
        published=published,
        site_name=page.site_name if page else None,
        canonical_url=page.canonical_url if page else None,
        fetched_at=fetched_at or datetime.now(UTC),
        feed_tags=feed_tags,
    )
