"""The knee search: which offered rate to try next, from what the rates tried so far gave.

A rate is *held* when its p99 is at most :data:`P99_LIMIT_MS` and no request failed. The search doubles the rate
from ``start`` while every rate holds, up to ``max_rate``; after the first miss it narrows the gap between the
highest held rate and the lowest missed one (geometric midpoints) until the missed rate is within ``resolution``
times the held one. The knee is the highest held rate below the lowest missed rate: a held rate above a miss
(noise on a busy machine) does not count. Everything here is a pure function of the results, so the policy is
tested without a server; the measuring loop is ``latency.Search``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

P99_LIMIT_MS = 50.0


@dataclass(frozen=True)
class Ladder:
    """The bounds of one knee search: first and highest rate, how fine the knee, and each step's size."""

    start: int = 25
    max_rate: int = 3200
    resolution: float = 1.1
    """Stop narrowing once the lowest missed rate is at most this many times the highest held one."""
    seconds: float = 10.0
    """Longest a step's schedule runs."""
    max_requests: int = 10_000
    """Most requests a step sends (a high rate ends before ``seconds``)."""

    def __post_init__(self) -> None:
        """Refuse a ladder that could not end."""
        if not (0 < self.start <= self.max_rate) or self.resolution <= 1 or self.seconds <= 0 or self.max_requests < 1:
            raise ValueError(f"a ladder needs 0 < start <= max_rate, resolution > 1 and a positive step: {self}")

    def requests_at(self, rate: int) -> int:
        """How many requests the step at ``rate`` schedules at most."""
        return min(self.max_requests, math.ceil(rate * self.seconds))


def held(summary: Mapping[str, Any], limit_ms: float = P99_LIMIT_MS) -> bool:
    """Whether one step's summary holds: p99 within the limit and no error."""
    return bool(summary["errors"] == 0 and summary["p99_ms"] <= limit_ms)


def knee(results: Mapping[int, bool]) -> int | None:
    """The highest held rate below the lowest missed one (``results``: rate -> held); None if none is."""
    lowest_miss = min((rate for rate, ok in results.items() if not ok), default=math.inf)
    return max((rate for rate, ok in results.items() if ok and rate < lowest_miss), default=None)


def next_rate(ladder: Ladder, results: Mapping[int, bool]) -> int | None:
    """The rate to try next, or None when the knee is known (or the lowest rate already missed)."""
    if not results:
        return ladder.start
    lowest_miss = min((rate for rate, ok in results.items() if not ok), default=None)
    best = knee(results)
    if lowest_miss is None:
        assert best is not None
        return None if best >= ladder.max_rate else min(best * 2, ladder.max_rate)
    if best is None or lowest_miss <= best * ladder.resolution:
        return None
    middle = round(math.sqrt(best * lowest_miss))
    return middle if best < middle < lowest_miss else None
