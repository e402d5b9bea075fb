"""Article pages → main text and metadata (trafilatura), off the event loop.

Extraction is CPU-bound, so it runs in worker processes (``[extract] workers``, each
fed through a pipe of its own that the event loop reads; 0 runs it in a thread instead,
which is handy for tests and tiny installs). When a page cannot be fetched or yields too
little text, :func:`build_article` falls back to the feed entry's content or summary and
records where the text came from.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import functools
import logging
import multiprocessing
import os
import queue
import signal
import socket
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

# Pages handed to one worker at once: while it extracts one, the next waits in the worker,
# so it starts the moment the first is done instead of when the event loop next gets round
# to handing it over (the loop may be storing a feed's articles meanwhile).
DEPTH = 2


def _serve(conn: Connection, parent: int) -> None:
    """A worker process: pages in, ``(ExtractedPage | None, finished)`` out, in order, until
    the daemon closes its end of the pipe. A thread takes pages off the pipe as they come,
    so the daemon's write never waits for an extraction; ``finished`` (the monotonic clock,
    shared by the processes) is when the next page, if one is waiting, starts."""
    die_with_parent(parent)
    _load()
    pages: queue.SimpleQueue[tuple[bytes, str] | None] = queue.SimpleQueue()

    def receive() -> None:
        while True:
            try:
                pages.put(conn.recv())
            except (EOFError, OSError):
                pages.put(None)
                return

    threading.Thread(target=receive, name="pages", daemon=True).start()
    conn.send(_READY)
    while (job := pages.get()) is not None:
        html, url = job
        page = extract_page(html, url)
        conn.send((page, time.monotonic()))


# The daemon's end of a worker's pipe buffers this much (the kernel caps it at
# net.core.wmem_max): a page handed to a busy worker then goes into the buffer at once. With
# the default (about 200 KB) two pages of 80 KB do not fit, and the event loop waited in the
# write until the worker's thread took the first (measured: up to 7 % of the daemon's time).
PIPE_BUFFER = 1 << 20


def _widen(conn: Connection) -> None:
    with contextlib.suppress(OSError, ValueError):  # not a socket here: the default
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PIPE_BUFFER)
        finally:
            sock.close()


class WorkerDied(Exception):
    """An extraction worker exited (killed, out of memory) in the middle of a page."""


@dataclass(eq=False)
class _Job:
    html: bytes
    url: str
    done: asyncio.Future[ExtractedPage | None]
    sent: float = 0.0  # when it was handed to its worker (loop clock = time.monotonic)


class _Worker:
    """One extraction process and the daemon's end of its pipe. (A pipe per worker,
    written and read from the event loop: the standard library's process pool hands each
    page over through a queue, a feeder thread, a manager thread and a future, which cost
    the daemon about 0.7 ms of CPU per page against 0.3 ms this way; docs/benchmarks.md.)

    ``jobs``: the pages handed over and not answered yet, in order; the first is being
    extracted, and its time limit runs from its start (``clock``)."""

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
        _widen(self.conn)
        self.jobs: collections.deque[_Job] = collections.deque()
        self.clock: asyncio.TimerHandle | None = None

    async def ready(self) -> None:
        """Wait for the worker's start-up message (waits on the pipe in the event loop)."""
        loop = asyncio.get_running_loop()
        fd = self.conn.fileno()
        got: asyncio.Future[object] = loop.create_future()

        def readable() -> None:
            loop.remove_reader(fd)
            if got.done():
                return
            try:
                got.set_result(self.conn.recv())
            except (EOFError, OSError) as e:
                got.set_exception(WorkerDied(f"extraction worker exited ({e or 'pipe closed'})"))

        loop.add_reader(fd, readable)
        try:
            message = await got
        finally:
            loop.remove_reader(fd)
        assert message == _READY

    def unwatch(self) -> None:
        """Stop reading the worker's pipe in the event loop."""
        with contextlib.suppress(ValueError, OSError, RuntimeError):  # closed; no loop
            asyncio.get_running_loop().remove_reader(self.conn.fileno())

    def kill(self) -> None:
        self._stop_clock()
        self.unwatch()
        self.conn.close()
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
            self.process.join(timeout=1)  # SIGKILL: gone within milliseconds

    def close(self) -> None:
        """Let an idle worker go: it exits when it reads the end of its pipe."""
        self.unwatch()
        self.conn.close()

    def _stop_clock(self) -> None:
        if self.clock is not None:
            self.clock.cancel()
            self.clock = None


class Extractor:
    """Runs :func:`extract_page` in worker processes with a time limit per page.

    Each worker is handed up to :data:`DEPTH` pages: one it extracts, the next waiting in
    it. A page's time limit counts from when its worker starts it, not from a queue. A page
    over the limit has its worker stopped (it would otherwise keep the worker busy, and the
    pages behind it would wait); the pages waiting behind it go to a new worker.
    """

    def __init__(self, workers: int = 1, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._workers = workers
        self._thread: ThreadPoolExecutor | None = None  # workers = 0, or no processes
        self._thread_free: asyncio.Semaphore | None = None  # one page in the thread at once
        self._idle: list[_Worker] = []  # started and warm, no page
        self._busy: set[_Worker] = set()  # with pages handed over
        self._slots: asyncio.Semaphore | None = None
        self._warming: asyncio.Future[None] | None = None  # the workers' start-up
        self._starting = asyncio.Lock()  # one replacement worker started at a time
        self._moving: set[asyncio.Task[None]] = set()  # pages moving to another worker

    @property
    def slots(self) -> int:
        """How many pages are extracted at once."""
        return max(1, self._workers)

    async def extract(self, html: bytes, url: str) -> ExtractedPage | None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.slots * DEPTH)
        async with self._slots:  # a worker has room: the page is handed over now
            if self._workers > 0:
                await self._warm()
            if self._workers <= 0:
                return await self._in_thread(html, url)
            return await self._extract(html, url)

    async def _in_thread(self, html: bytes, url: str) -> ExtractedPage | None:
        if self._thread is None or self._thread_free is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
            self._thread_free = asyncio.Semaphore(1)
        # one page handed to the thread at a time, so its time limit starts when the thread
        # is free (the worker processes take two pages each; the thread must not queue)
        async with self._thread_free:
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(self._thread, extract_page, html, url)
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
            await worker.ready()
        except WorkerDied as e:
            worker.kill()
            return self._no_processes(e)
        except BaseException:  # cancelled while it started
            worker.kill()
            raise
        return worker

    def _no_processes(self, e: Exception) -> None:
        if self._workers > 0:
            log.warning("cannot start extraction worker processes (%s); extracting in a thread", e)
        self._workers = 0

    async def _worker(self) -> _Worker | None:
        """A live worker with room for a page (the least loaded), started if need be (a
        worker that died or was stopped is replaced here, one at a time, so there are never
        more than ``workers``)."""
        async with self._starting:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.kill()  # died while idle (the OOM killer, a signal)
            if len(self._busy) < self._workers:
                return await self._start()
            # every worker is busy: the least loaded (it has room, see ``extract``'s slots)
            return min(self._busy, key=lambda w: len(w.jobs))

    async def _extract(self, html: bytes, url: str) -> ExtractedPage | None:
        job = _Job(html, url, asyncio.get_running_loop().create_future())
        if not await self._hand_over(job):
            return await self._in_thread(html, url)
        try:
            return await asyncio.shield(job.done)
        except asyncio.CancelledError:
            # the page is no longer wanted: a worker busy with it is stopped (the pages
            # behind it go to a new one); one still waiting in a worker is extracted there
            # and its result dropped
            worker = next((w for w in self._busy if w.jobs and w.jobs[0] is job), None)
            if worker is not None:
                worker.jobs.popleft()
                self._lose(worker)
            raise

    async def _hand_over(self, job: _Job) -> bool:
        """Give the page to a worker; False when there are no worker processes any more."""
        worker = await self._worker()
        if worker is None:
            return False
        loop = asyncio.get_running_loop()
        if not worker.jobs:  # idle: it starts the page now
            self._busy.add(worker)
            loop.add_reader(worker.conn.fileno(), self._readable, worker)
        job.sent = loop.time()
        worker.jobs.append(job)
        try:
            worker.conn.send((job.html, job.url))  # a thread in the worker takes it at once
        except OSError as e:
            worker.jobs.remove(job)
            self._fail(worker, e)
            return await self._hand_over(job)
        if len(worker.jobs) == 1:
            self._start_clock(worker, job.sent)
        return True

    def _start_clock(self, worker: _Worker, started: float) -> None:
        worker._stop_clock()
        loop = asyncio.get_running_loop()
        worker.clock = loop.call_at(started + self.timeout, self._expired, worker)

    def _readable(self, worker: _Worker) -> None:
        try:  # a whole message: the worker writes it at once
            page, finished = worker.conn.recv()
        except (EOFError, OSError) as e:
            self._fail(worker, e)
            return
        assert page is None or isinstance(page, ExtractedPage)
        job = worker.jobs.popleft()
        if not job.done.done():
            job.done.set_result(page)
        if worker.jobs:  # the next page started when this one finished
            self._start_clock(worker, max(finished, worker.jobs[0].sent))
        else:
            worker._stop_clock()
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())
            self._busy.discard(worker)
            self._idle.append(worker)

    def _expired(self, worker: _Worker) -> None:
        worker.clock = None
        job = worker.jobs.popleft()
        log.warning("extracting %s took over %gs; using the feed's text", job.url, self.timeout)
        if not job.done.done():
            job.done.set_result(None)
        self._lose(worker)

    def _fail(self, worker: _Worker, e: Exception) -> None:
        """The worker died (a dead worker must be visible, not silently degrade): its
        current page falls back to the feed's text, the pages behind it go elsewhere."""
        if worker.jobs:
            job = worker.jobs.popleft()
            died = WorkerDied(f"extraction worker exited ({e or 'pipe closed'})")
            log.warning(
                "extracting %s failed (%s: %s); using the feed's text", job.url, "WorkerDied", died
            )
            if not job.done.done():
                job.done.set_result(None)
        self._lose(worker)

    def _lose(self, worker: _Worker) -> None:
        """Stop ``worker`` and hand the pages still waiting in it to other workers (their
        time limits had not started)."""
        waiting = list(worker.jobs)
        worker.jobs.clear()
        self._busy.discard(worker)
        worker.kill()
        for job in waiting:
            task = asyncio.ensure_future(self._requeue(job))
            self._moving.add(task)
            task.add_done_callback(self._moving.discard)

    async def _requeue(self, job: _Job) -> None:
        try:
            if await self._hand_over(job):
                return
            page = await self._in_thread(job.html, job.url)
        except Exception as e:  # (cancelled at close: the waiter is cancelled too)
            if not job.done.done():
                job.done.set_exception(e)
            return
        if not job.done.done():
            job.done.set_result(page)

    def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            self._warming = None
        for worker in self._idle:
            worker.close()
        for worker in self._busy:
            worker.kill()
            for job in worker.jobs:
                job.done.cancel()
        for task in self._moving:
            task.cancel()
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
