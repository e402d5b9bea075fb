"""The extraction workers (issue 17): pages go to worker processes through a pipe each,
read in the event loop; a worker that dies or overruns is replaced, the page falls back to
the feed's text, and nothing is left running. Real worker processes, real trafilatura."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

from monitor.feeds.extract import Extractor, extract_page
from tests.integration.test_throughput import page_html


def _pages(n: int) -> list[tuple[bytes, str]]:
    return [
        (page_html(i, f"Harbour council vote {i}").encode(), f"http://example.org/p/{i}.html")
        for i in range(n)
    ]


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited
    except FileNotFoundError:
        return True


def _wait_gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_gone(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_workers_extract_what_extract_page_extracts():
    pages = _pages(12)

    async def run() -> list[object]:
        ex = Extractor(workers=2, timeout=60)
        try:
            return list(await asyncio.gather(*(ex.extract(h, u) for h, u in pages)))
        finally:
            ex.close()

    got = asyncio.run(run())
    assert got == [extract_page(h, u) for h, u in pages]
    assert all(p is not None and "Harbour council vote" in p.title for p in got)  # type: ignore[union-attr]


def test_a_dead_worker_is_replaced_and_close_leaves_none_running(caplog):
    """A worker killed while idle (the OOM killer, a signal) costs no page: the next page
    goes to a new worker. One killed in the middle of a page costs that page (the feed's
    text, with a warning naming the page), not the next. Closing stops every worker."""
    (h1, u1), (h2, u2), (h3, u3) = _pages(3)
    caplog.set_level(logging.WARNING, logger="monitor.feeds.extract")

    async def run() -> tuple[list[object], list[int]]:
        ex = Extractor(workers=1, timeout=60)
        pids: list[int] = []
        try:
            first = await ex.extract(h1, u1)
            (worker,) = ex._idle
            pids.append(worker.process.pid)
            os.kill(worker.process.pid, signal.SIGKILL)  # dies while idle
            deadline = time.monotonic() + 15
            while worker.process.is_alive() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)  # (a zombie is reported once all its threads are gone)
            second = await ex.extract(h2, u2)  # a new worker
            (worker,) = ex._idle
            pids.append(worker.process.pid)
            # dies in the middle of a page: a page of 4 MB keeps it busy long enough
            big = b"<html><head><script>" + b"x" * 4_000_000 + b"</script></head><body></body></html>"  # fmt: skip
            task = asyncio.ensure_future(ex.extract(big, "http://example.org/big.html"))
            while not ex._busy:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            os.kill(worker.process.pid, signal.SIGKILL)
            lost = await task
            third = await ex.extract(h3, u3)
            pids += [w.process.pid for w in ex._idle]
            return [first, second, lost, third], pids
        finally:
            ex.close()

    (first, second, lost, third), pids = asyncio.run(run())
    assert first == extract_page(h1, u1) and second == extract_page(h2, u2)
    assert lost is None and third == extract_page(h3, u3)
    assert len(set(pids)) == 3  # each death was replaced by a new process
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failed) == 1 and "big.html" in failed[0] and "WorkerDied" in failed[0]
    assert _wait_gone(pids), "a worker outlived close()"


BIG = b"<html><head><script>" + b"x" * 4_000_000 + b"</script></head><body></body></html>"


def test_a_worker_holds_the_next_page_while_it_extracts_one():
    """With one worker, a second page is handed over while the first is extracted (so it
    starts as soon as the first is done, whatever the event loop is doing then)."""
    ((h, u),) = _pages(1)
    first = (BIG, "http://example.org/big.html")  # about 1.5 s of trafilatura

    async def run() -> tuple[int, list[object]]:
        ex = Extractor(workers=1, timeout=60)
        try:
            await ex.extract(h, u)  # warm
            tasks = [asyncio.ensure_future(ex.extract(*page)) for page in [first, (h, u)]]
            for _ in range(4):
                await asyncio.sleep(0)  # both handed over, neither answered yet
            (worker,) = ex._busy
            held = len(worker.jobs)
            return held, list(await asyncio.gather(*tasks))
        finally:
            ex.close()

    held, got = asyncio.run(run())
    assert held == 2
    assert got == [extract_page(*first), extract_page(h, u)]


def test_a_page_waiting_behind_an_overrun_goes_to_a_new_worker(caplog):
    """The page over the limit costs only itself: the page waiting behind it in the same
    worker is extracted by a new worker, its time limit counted from there."""
    ((h, u),) = _pages(1)
    big = b"<html><head><script>" + b"x" * 4_600_000 + b"</script></head><body></body></html>"
    caplog.set_level(logging.WARNING, logger="monitor.feeds.extract")

    async def run() -> tuple[list[object], int, list[int]]:
        ex = Extractor(workers=1, timeout=0.5)  # the big page takes about 1.4 s
        try:
            await ex.extract(h, u)  # warm
            (first,) = ex._idle
            tasks = [
                asyncio.ensure_future(ex.extract(big, "http://example.org/big.html")),
                asyncio.ensure_future(ex.extract(h, u)),
            ]
            for _ in range(4):
                await asyncio.sleep(0)
            held = len(first.jobs)  # both pages in the first worker
            got = list(await asyncio.gather(*tasks))
            return got, held, [first.process.pid] + [w.process.pid for w in ex._idle]
        finally:
            ex.close()

    (lost, moved), held, pids = asyncio.run(run())
    assert held == 2
    assert lost is None and moved == extract_page(h, u)
    over = [r.getMessage() for r in caplog.records if "took over" in r.getMessage()]
    assert len(over) == 1 and "big.html" in over[0]
    assert len(set(pids)) == 2 and _wait_gone(pids[:1])


def test_a_cancelled_page_frees_its_worker_for_the_next():
    """A page no longer wanted (cancelled) has its worker stopped at once; the page waiting
    behind it goes to a new worker."""
    ((h, u),) = _pages(1)

    async def run() -> tuple[object, bool]:
        ex = Extractor(workers=1, timeout=60)
        try:
            await ex.extract(h, u)  # warm
            (first,) = ex._idle
            big = asyncio.ensure_future(ex.extract(BIG, "http://example.org/big.html"))
            small = asyncio.ensure_future(ex.extract(h, u))
            await asyncio.sleep(0.3)
            big.cancel()  # about 1 s before the big page would end
            await asyncio.sleep(0.1)
            stopped = _gone(first.process.pid)
            return await asyncio.wait_for(small, 30), stopped
        finally:
            ex.close()

    got, stopped = asyncio.run(run())
    assert stopped and got == extract_page(h, u)


def test_in_a_thread_a_page_s_time_limit_starts_when_the_thread_is_free(caplog):
    """With ``workers = 0`` pages are extracted one at a time in a thread; a page waiting
    for the thread is not timed (four pages of about 1 s each in a row, each within 3 s)."""
    ((h, u),) = _pages(1)
    caplog.set_level(logging.WARNING, logger="monitor.feeds.extract")

    async def run() -> list[object]:
        ex = Extractor(workers=0, timeout=3)
        try:
            await ex.extract(h, u)  # warm: trafilatura's first call loads more
            pages = [(BIG, f"http://example.org/big{i}.html") for i in range(4)]
            return list(await asyncio.gather(*(ex.extract(p, q) for p, q in pages)))
        finally:
            ex.close()

    got = asyncio.run(run())
    assert got == [extract_page(BIG, "http://example.org/big0.html")] * 4
    assert not [r.getMessage() for r in caplog.records if "took over" in r.getMessage()]
