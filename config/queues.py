"""The job queues (RQ through django-rq), or inline jobs when no Redis is configured.

Each app names its own queue and job timeout (``crawl`` for the crawler,
``notifications`` for deliveries); this module only knows how to enqueue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings


class JobQueueUnavailable(Exception):
    """Redis is configured but cannot be reached."""


def jobs_are_inline() -> bool:
    return not settings.REDIS_URL


def redis_connection(queue: str) -> Any:
    import django_rq

    return django_rq.get_connection(queue)


def ensure_available(queue: str) -> None:
    """Raise JobQueueUnavailable now when Redis is configured and down (nothing to check inline)."""
    if jobs_are_inline():
        return
    from redis.exceptions import RedisError

    try:
        redis_connection(queue).ping()
    except RedisError as exc:
        raise JobQueueUnavailable(f"Redis is unavailable ({exc})") from exc


def enqueue(
    queue: str,
    func: Callable[..., Any],
    *args: Any,
    timeout: int,
    retry_intervals: Sequence[int] = (),
    job_id: str | None = None,
    **kwargs: Any,
) -> Any:
    """Enqueue on ``queue``, or run now when no Redis is configured."""
    if jobs_are_inline():
        return func(*args, **kwargs)
    import django_rq
    from redis.exceptions import RedisError
    from rq import Retry

    # django-rq defers the enqueue to the end of the transaction; find out now
    # that Redis is down, while the caller can still say so.
    try:
        ensure_available(queue)
    except JobQueueUnavailable as exc:
        raise JobQueueUnavailable(f"cannot enqueue {func.__name__}: {exc}") from exc
    try:
        rq_queue = django_rq.get_queue(queue)
        retry = Retry(max=len(retry_intervals), interval=list(retry_intervals)) if retry_intervals else None
        return rq_queue.enqueue(func, *args, job_id=job_id, job_timeout=timeout, retry=retry, **kwargs)
    except RedisError as exc:
        raise JobQueueUnavailable(f"cannot enqueue {func.__name__}: Redis is unavailable ({exc})") from exc
