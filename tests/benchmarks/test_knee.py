"""The knee search's policy (benchmarks/knee.py): which rate next, when to stop, which rate is the knee."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from benchmarks.knee import Ladder, held, knee, next_rate
from hypothesis import given
from hypothesis import strategies as st

LADDER = Ladder(start=25, max_rate=3200, resolution=1.1)


def walk(ladder: Ladder, holds: Callable[[int], bool]) -> list[int]:
    """The rates the search tries against a server that holds a rate when ``holds(rate)``."""
    results: dict[int, bool] = {}
    while (rate := next_rate(ladder, results)) is not None:
        assert rate not in results, f"{rate}/s tried twice"
        results[rate] = holds(rate)
        assert len(results) < 50
    return list(results)


def test_the_rate_doubles_while_held_and_stops_at_the_highest() -> None:
    assert walk(LADDER, lambda rate: True) == [25, 50, 100, 200, 400, 800, 1600, 3200]
    assert walk(Ladder(start=25, max_rate=300), lambda rate: True) == [25, 50, 100, 200, 300]


def test_after_the_first_miss_the_gap_is_narrowed_to_the_resolution() -> None:
    tried = walk(LADDER, lambda rate: rate <= 300)
    assert tried[:6] == [25, 50, 100, 200, 400, 283]  # 283: the geometric middle of 200 and 400
    results = {rate: rate <= 300 for rate in tried}
    best = knee(results)
    assert best is not None and best <= 300
    assert min(r for r, ok in results.items() if not ok) <= best * 1.1
    assert next_rate(LADDER, results) is None


@given(capacity=st.integers(min_value=25, max_value=5000), resolution=st.sampled_from([1.05, 1.1, 1.5]))
def test_the_knee_brackets_a_server_capacity(capacity: int, resolution: float) -> None:
    ladder = Ladder(start=25, max_rate=3200, resolution=resolution)
    results = {rate: rate <= capacity for rate in walk(ladder, lambda rate: rate <= capacity)}
    best = knee(results)
    assert best is not None and best <= capacity
    if capacity >= ladder.max_rate:
        assert best == ladder.max_rate
    else:
        lowest_miss = min(rate for rate, ok in results.items() if not ok)
        assert capacity < lowest_miss <= max(best * resolution, best + 1)


def test_a_missed_first_rate_stops_the_search_with_no_knee() -> None:
    assert walk(LADDER, lambda rate: False) == [25]
    assert knee({25: False}) is None


def test_a_held_rate_above_a_miss_does_not_count() -> None:
    assert knee({25: True, 50: True, 100: False, 200: True}) == 50
    assert knee({}) is None
    assert next_rate(LADDER, {25: True, 50: True, 100: False, 200: True}) == 71


def test_a_step_holds_within_the_limit_and_without_errors() -> None:
    assert held({"p99_ms": 50.0, "errors": 0})
    assert not held({"p99_ms": 50.1, "errors": 0})
    assert not held({"p99_ms": 3.0, "errors": 1})
    assert held({"p99_ms": 9.0, "errors": 0}, limit_ms=10)


def test_a_step_is_bounded_in_requests_and_time() -> None:
    ladder = Ladder(seconds=10, max_requests=10_000)
    assert ladder.requests_at(25) == 250
    assert ladder.requests_at(3200) == 10_000


@pytest.mark.parametrize(
    "bounds",
    [
        {"start": 0},
        {"start": 400, "max_rate": 200},
        {"resolution": 1.0},
        {"seconds": 0},
        {"max_requests": 0},
    ],
)
def test_a_ladder_that_could_not_end_is_refused(bounds: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="ladder"):
        Ladder(**bounds)  # type: ignore[arg-type]
