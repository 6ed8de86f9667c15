"""The batcher merges requests that queue while the model is busy, keeps their order, and survives errors."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from gitops_ml.serving.batching import Batcher, Columns


class GatedModel:
    """Scores ``x * 10``; the first call waits for :attr:`gate`, so later callers queue deterministically."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[float]] = []

    def __call__(self, columns: Columns) -> np.ndarray:
        self.entered.set()
        self.gate.wait(timeout=30)
        if any(value is None for value in columns["x"]):
            raise ValueError("x is null")
        self.batches.append(list(columns["x"]))
        return np.array(columns["x"], dtype=float) * 10


async def _wait_until_busy(model: GatedModel) -> None:
    await asyncio.to_thread(model.entered.wait, 30)


def test_requests_queued_behind_a_busy_model_share_one_call() -> None:
    async def scenario() -> tuple[list[np.ndarray], GatedModel]:
        model = GatedModel()
        batcher = Batcher(model, max_batch_size=5)
        first = asyncio.ensure_future(batcher({"x": [1.0]}))
        await _wait_until_busy(model)
        queued = [asyncio.ensure_future(batcher({"x": [float(i), float(i) + 0.5]})) for i in (2, 3, 4)]
        await asyncio.sleep(0)  # let every queued caller enter the queue
        model.gate.set()
        return [await first, *[await q for q in queued]], model

    results, model = asyncio.run(scenario())
    assert [list(r) for r in results] == [[10.0], [20.0, 25.0], [30.0, 35.0], [40.0, 45.0]]
    # 6 queued rows, at most 5 per call, a request never split: [2, 2.5, 3, 3.5] then [4, 4.5]
    assert model.batches == [[1.0], [2.0, 2.5, 3.0, 3.5], [4.0, 4.5]]


def test_a_request_larger_than_the_batch_size_runs_alone() -> None:
    async def scenario() -> list[list[float]]:
        model = GatedModel()
        model.gate.set()
        batcher = Batcher(model, max_batch_size=2)
        scores = await batcher({"x": [1.0, 2.0, 3.0]})
        assert list(scores) == [10.0, 20.0, 30.0]
        return model.batches

    assert asyncio.run(scenario()) == [[1.0, 2.0, 3.0]]


def test_an_error_reaches_its_batch_and_the_batcher_keeps_serving() -> None:
    async def scenario() -> GatedModel:
        model = GatedModel()
        batcher = Batcher(model, max_batch_size=10)
        first = asyncio.ensure_future(batcher({"x": [1.0]}))
        await _wait_until_busy(model)
        bad = asyncio.ensure_future(batcher({"x": [None]}))
        also_in_bad_batch = asyncio.ensure_future(batcher({"x": [2.0]}))
        await asyncio.sleep(0)
        model.gate.set()
        assert list(await first) == [10.0]
        with pytest.raises(ValueError, match="x is null"):
            await bad
        with pytest.raises(ValueError, match="x is null"):
            await also_in_bad_batch
        assert list(await batcher({"x": [3.0]})) == [30.0]
        assert batcher.calls == 3
        return model

    assert asyncio.run(scenario()).batches == [[1.0], [3.0]]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_request_reports_how_long_it_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("gitops_ml.serving.batching.time.perf_counter", clock)

    async def scenario() -> list[float]:
        waits: list[float] = []
        model = GatedModel()
        batcher = Batcher(model, max_batch_size=10, on_wait=waits.append)
        first = asyncio.ensure_future(batcher({"x": [1.0]}))
        await _wait_until_busy(model)  # an idle model: the first request starts at once
        clock.now = 101.0
        queued = [asyncio.ensure_future(batcher({"x": [float(i)]})) for i in (2, 3)]
        await asyncio.sleep(0)
        clock.now = 103.5  # the busy call ends 2.5 s after they queued
        model.gate.set()
        await first
        await asyncio.gather(*queued)
        return waits

    assert asyncio.run(scenario()) == [0.0, 2.5, 2.5]


def test_a_failing_wait_callback_does_not_strand_requests() -> None:
    def broken(seconds: float) -> None:
        raise RuntimeError("metric backend down")

    async def scenario() -> list[float]:
        model = GatedModel()
        model.gate.set()
        batcher = Batcher(model, max_batch_size=10, on_wait=broken)
        return list(await batcher({"x": [1.0, 2.0]}))

    assert asyncio.run(scenario()) == [10.0, 20.0]


def test_each_call_reports_its_time_and_the_requests_it_served(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("gitops_ml.serving.batching.time.perf_counter", clock)

    async def scenario() -> list[tuple[float, int]]:
        calls: list[tuple[float, int]] = []
        model = GatedModel()
        batcher = Batcher(model, max_batch_size=10, on_call=lambda seconds, requests: calls.append((seconds, requests)))
        first = asyncio.ensure_future(batcher({"x": [1.0]}))
        await _wait_until_busy(model)
        queued = [asyncio.ensure_future(batcher({"x": [float(i)]})) for i in (2, 3)]
        await asyncio.sleep(0)
        clock.now = 103.5  # the first call ends 3.5 s after it started; the next one takes no clock time
        model.gate.set()
        await first
        await asyncio.gather(*queued)
        return calls

    assert asyncio.run(scenario()) == [(3.5, 1), (0.0, 2)]


def test_a_failing_call_callback_does_not_strand_requests() -> None:
    def broken(seconds: float, requests: int) -> None:
        raise RuntimeError("metric backend down")

    async def scenario() -> list[float]:
        model = GatedModel()
        model.gate.set()
        batcher = Batcher(model, max_batch_size=10, on_call=broken)
        return list(await batcher({"x": [1.0, 2.0]})) + list(await batcher({"x": [3.0]}))

    assert asyncio.run(scenario()) == [10.0, 20.0, 30.0]


def test_small_batches_run_in_the_event_loop_and_larger_ones_in_a_thread() -> None:
    threads: list[tuple[int, int]] = []  # (rows, thread id) per call

    def model(columns: Columns) -> np.ndarray:
        threads.append((len(columns["x"]), threading.get_ident()))
        return np.array(columns["x"], dtype=float) * 10

    async def scenario() -> tuple[int, list[list[float]]]:
        batcher = Batcher(model, max_batch_size=10)
        batcher.inline_max_rows = 2
        small = await batcher({"x": [1.0, 2.0]})
        large = await batcher({"x": [1.0, 2.0, 3.0]})
        return threading.get_ident(), [list(small), list(large)]

    loop_thread, results = asyncio.run(scenario())
    assert results == [[10.0, 20.0], [10.0, 20.0, 30.0]]
    assert threads[0] == (2, loop_thread)
    assert threads[1][0] == 3 and threads[1][1] != loop_thread
