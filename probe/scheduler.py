"""Many probes at once: slots, the async resolver, and a probing thread for sync callers."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiohttp
from aiohttp.resolver import AsyncResolver

from probe.limits import ProbeLimits
from probe.netsafety import SafeResolver, strangers_session
from probe.prober import Prober
from probe.result import ProbeResult
from probe.target import ProbeTarget

USER_AGENT = "AdCP-Agent-Registry-Crawler/1.0 (+registry probe; tools/list and agent cards only)"

Sink = Callable[[int, ProbeResult], None]


Targets = Sequence[ProbeTarget | tuple[str, str]]


async def probe_many(targets: Targets, limits: ProbeLimits, sink: Sink | None = None) -> list[ProbeResult]:
    """Probe the targets (or ``(url, protocol)`` pairs) concurrently; results in the same order.

    ``sink(index, result)`` is called as each probe finishes, for callers that
    write results while slower probes are still running.
    """
    if not targets:
        return []
    # c-ares: lookups are sockets on this loop, cancelled with their probe; a
    # lookup never outlives the deadline of the probes that wait for it.
    dns = AsyncResolver(nameservers=list(limits.nameservers) or None, timeout=limits.deadline, tries=1)
    resolver = SafeResolver(limits.address_policy, dns, lookups_per_domain=limits.lookups_per_domain)
    try:
        return await _probe_all([ProbeTarget.of(t) for t in targets], limits, resolver, sink)
    finally:
        # Ours to close (the connector closes only a resolver it made): lookups
        # still pending are cancelled while the loop can take their callbacks.
        await resolver.close()


async def _probe_all(
    targets: list[ProbeTarget], limits: ProbeLimits, resolver: SafeResolver, sink: Sink | None
) -> list[ProbeResult]:
    connector = aiohttp.TCPConnector(
        limit=0,  # the semaphores below bound the sockets
        resolver=resolver,
        ttl_dns_cache=60,
        enable_cleanup_closed=True,
    )
    active = asyncio.Semaphore(limits.concurrency)
    slow = asyncio.Semaphore(limits.concurrency * limits.slow_pool_factor)
    async with strangers_session(connector, USER_AGENT) as session:
        prober = Prober(session, limits)

        async def probe_slotted(target: ProbeTarget) -> ProbeResult:
            async with active:
                task = asyncio.ensure_future(prober.probe(target))
                done, _ = await asyncio.wait({task}, timeout=limits.slow_after)
                if done:
                    return task.result()
                # Take a slow slot before giving up the active one: sockets stay bounded.
                await slow.acquire()
            try:
                return await task
            finally:
                slow.release()

        async def one(index: int, target: ProbeTarget) -> ProbeResult:
            result = await probe_slotted(target)
            if sink is not None:
                sink(index, result)
            return result

        return await asyncio.gather(*(one(i, target) for i, target in enumerate(targets)))


def run_probes(targets: Targets, limits: ProbeLimits) -> list[ProbeResult]:
    """Probe from synchronous code in a fresh event loop; results in order."""
    return asyncio.run(probe_many(targets, limits))


_DONE = object()


@contextmanager
def probing_thread(targets: Targets, limits: ProbeLimits) -> Iterator[queue.Queue[Any]]:
    """Probe in a thread with its own event loop; ``(index, result)`` pairs arrive on the queue.

    The loop never touches the database. Leaving the block cancels whatever is
    still probing and waits for the thread, so no probe outlives its caller.
    """
    finished: queue.Queue[Any] = queue.Queue()
    loop = asyncio.new_event_loop()
    task: asyncio.Task[list[ProbeResult]] | None = None
    started = threading.Event()

    def run() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        try:
            task = loop.create_task(probe_many(targets, limits, sink=lambda i, r: finished.put((i, r))))
            started.set()
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # handed to the caller's thread
            finished.put(exc)
        finally:
            started.set()
            finished.put(_DONE)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="probe-loop", daemon=True)
    thread.start()
    try:
        yield finished
    finally:
        started.wait()
        if task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        thread.join()


def iter_probe_batches(
    targets: Targets,
    limits: ProbeLimits,
    *,
    max_batch: int = 500,
    max_wait: float = 0.5,
) -> Generator[list[tuple[int, ProbeResult]]]:
    """Yield ``(index, result)`` batches as probes finish, from a probing thread.

    The caller's thread writes each batch while slower probes are still in
    flight; a caller that stops iterating stops the probes.
    """
    with probing_thread(targets, limits) as finished:
        batch: list[tuple[int, ProbeResult]] = []
        batch_started = 0.0
        while True:
            timeout = None if not batch else max(0.0, batch_started + max_wait - time.monotonic())
            try:
                item = finished.get(timeout=timeout)
            except queue.Empty:
                yield batch
                batch = []
                continue
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            if not batch:
                batch_started = time.monotonic()
            batch.append(item)
            if len(batch) >= max_batch:
                yield batch
                batch = []
        if batch:
            yield batch
