"""Article pages → main text and metadata (trafilatura), off the event loop.

Extraction is CPU-bound, so it runs in worker processes (``[extract] workers``, each
fed through a pipe of its own that the event loop reads; 0 runs it in a thread instead,
which is handy for tests and tiny installs). When a page cannot be fetched or yields too
little text, :func:`build_article` falls back to the feed entry's content or summary and
records where the text came from.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection

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
    """Worker start: exit when the process that started it dies, SIGKILL included
    (orphaned workers would otherwise live on). On Linux the kernel sends SIGKILL
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


_READY = "ready"


def _serve(conn: Connection, parent: int) -> None:
    """A worker process: pages in, :class:`ExtractedPage` (or None) out, one at a time,
    until the daemon closes its end of the pipe."""
    die_with_parent(parent)
    _load()
    conn.send(_READY)
    while True:
        try:
            html, url = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(extract_page(html, url))


class WorkerDied(Exception):
    """An extraction worker exited (killed, out of memory) in the middle of a page."""


class _Worker:
    """One extraction process and the daemon's end of its pipe. (A pipe per worker,
    written and read from the event loop: the standard library's process pool hands each
    page over through a queue, a feeder thread, a manager thread and a future, which cost
    the daemon about 0.7 ms of CPU per page against 0.3 ms this way; docs/benchmarks.md.)"""

    def __init__(self) -> None:
        # spawn: forking a process that runs an event loop and threads is unsafe
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(child, os.getpid()), name="monitor-extract", daemon=True
        )
        try:
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            child.close()

    async def receive(self) -> object:
        """The worker's next message (waits on the pipe in the event loop, no thread)."""
        loop = asyncio.get_running_loop()
        fd = self.conn.fileno()
        got: asyncio.Future[object] = loop.create_future()

        def readable() -> None:
            loop.remove_reader(fd)
            if got.done():
                return
            try:  # a whole message: the worker writes it at once
                got.set_result(self.conn.recv())
            except (EOFError, OSError) as e:
                got.set_exception(WorkerDied(f"extraction worker exited ({e or 'pipe closed'})"))

        loop.add_reader(fd, readable)
        try:
            return await got
        finally:
            loop.remove_reader(fd)

    def kill(self) -> None:
        self.conn.close()
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
            self.process.join(timeout=1)  # SIGKILL: gone within milliseconds

    def close(self) -> None:
        """Let an idle worker go: it exits when it reads the end of its pipe."""
        self.conn.close()


class Extractor:
    """Runs :func:`extract_page` in worker processes with a time limit per page.

    One page per worker at a time, so a page starts as soon as it is handed over and its
    time limit counts from its start, not from a queue. A page over the limit has its
    worker stopped (it would otherwise keep the worker busy, and the next page would wait
    behind it); the next page gets a new worker.
    """

    def __init__(self, workers: int = 1, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._workers = workers
        self._thread: ThreadPoolExecutor | None = None  # workers = 0, or no processes
        self._idle: list[_Worker] = []  # started and warm, no page
        self._busy: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._warming: asyncio.Future[None] | None = None  # the workers' start-up

    @property
    def slots(self) -> int:
        """How many pages are extracted at once."""
        return max(1, self._workers)

    async def extract(self, html: bytes, url: str) -> ExtractedPage | None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.slots)
        async with self._slots:  # a worker is free: the page starts now
            if self._workers > 0:
                await self._warm()
            if self._workers <= 0:
                return await self._in_thread(html, url)
            return await self._extract(html, url)

    async def _in_thread(self, html: bytes, url: str) -> ExtractedPage | None:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
        fut = asyncio.get_running_loop().run_in_executor(self._thread, extract_page, html, url)
        try:
            return await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:  # a thread cannot be stopped: it runs to its end
            log.warning("extracting %s took over %gs; using the feed's text", url, self.timeout)
        return None

    async def _warm(self) -> None:
        """Start every worker and load trafilatura before any page's clock runs (worker
        start-up is not the page's time)."""
        if self._warming is None:
            self._warming = asyncio.ensure_future(self._start_all())
        await asyncio.shield(self._warming)

    async def _start_all(self) -> None:
        started = await asyncio.gather(*(self._start() for _ in range(self._workers)))
        self._idle += [w for w in started if w is not None]

    async def _start(self) -> _Worker | None:
        """A new warm worker; None (and extraction in a thread from now on) when worker
        processes cannot be started here."""
        try:
            worker = _Worker()
        except OSError as e:  # e.g. a container that allows no more processes
            return self._no_processes(e)
        try:
            ready = await worker.receive()
        except WorkerDied as e:
            worker.kill()
            return self._no_processes(e)
        except BaseException:  # cancelled while it started
            worker.kill()
            raise
        assert ready == _READY
        return worker

    def _no_processes(self, e: Exception) -> None:
        if self._workers > 0:
            log.warning("cannot start extraction worker processes (%s); extracting in a thread", e)
        self._workers = 0

    async def _extract(self, html: bytes, url: str) -> ExtractedPage | None:
        worker = None
        while self._idle and worker is None:
            worker = self._idle.pop()
            if not worker.process.is_alive():  # died while idle (the OOM killer, a signal)
                worker.kill()
                worker = None
        if worker is None:
            worker = await self._start()
        if worker is None:
            return await self._in_thread(html, url)
        self._busy.add(worker)
        done = False
        try:
            worker.conn.send((html, url))  # the worker is waiting for it
            async with asyncio.timeout(self.timeout):
                page = await worker.receive()
            assert page is None or isinstance(page, ExtractedPage)
            done = True
            return page
        except TimeoutError:
            log.warning("extracting %s took over %gs; using the feed's text", url, self.timeout)
        except (WorkerDied, OSError) as e:  # a dead worker must be visible, not silently degrade
            log.warning(
                "extracting %s failed (%s: %s); using the feed's text", url, type(e).__name__, e
            )
        finally:
            self._busy.discard(worker)
            if done:
                self._idle.append(worker)
            else:  # stopped mid-page (time limit, cancelled, died): the next page gets a new one
                worker.kill()
        return None

    def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            self._warming = None
        for worker in self._idle:
            worker.close()
        for worker in self._busy:
            worker.kill()
        self._idle, self._busy = [], set()
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None


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
