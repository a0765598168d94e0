"""Without Redis, the jobs a staff page starts run here, never in the request that started them.

One thread the project owns, one job at a time, started on demand and gone when
there is nothing left to do; it survives the request, not the process (a run a
stopped process leaves behind stays "probing", and is reprobed).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

logger = logging.getLogger(__name__)

IDLE_SECONDS = 30

_jobs: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
_lock = threading.Lock()
_worker: threading.Thread | None = None


def run_in_background(func: Callable[..., Any], *args: Any) -> None:
    global _worker
    with _lock:
        _jobs.put((func, args))
        if _worker is None:
            _worker = threading.Thread(target=_work, name="registry-background", daemon=True)
            _worker.start()


def _work() -> None:
    global _worker
    while True:
        try:
            func, args = _jobs.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with _lock:
                if _jobs.empty():  # nothing was added since: this thread ends, the next job starts another
                    _worker = None
                    return
            continue
        try:
            func(*args)
        except Exception:  # recorded by the job itself; the thread goes on with the next one
            logger.exception("background job %s failed", getattr(func, "__name__", func))
        finally:
            connections.close_all()
