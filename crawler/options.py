"""Bounds on what an operator may ask of a probe run, checked before anything runs."""

from __future__ import annotations

import math

from django.core.management.base import CommandError

TIMEOUT_RANGE = (0.5, 300.0)
LIMIT_RANGE = (1, 1_000_000)
CONCURRENCY_RANGE = (1, 1_000)


def checked_timeout(value: float | None) -> float | None:
    """A per-probe deadline: finite and within TIMEOUT_RANGE (``inf`` would mean none)."""
    low, high = TIMEOUT_RANGE
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise CommandError(f"--timeout must be a positive, finite number of seconds from {low:g} to {high:g}.")
    return value


def checked_count(option: str, value: int | None, bounds: tuple[int, int]) -> int | None:
    low, high = bounds
    if value is not None and not low <= value <= high:
        raise CommandError(f"{option} must be a whole number from {low:,} to {high:,}.")
    return value
