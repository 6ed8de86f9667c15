"""The batcher merges requests that queue while the model is busy, keeps their order, and survives errors."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from gitops_ml.serving.batching import Batcher, CallTiming, Columns


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


def test_each_call_reports_its_requests_queue_waits_and_its_own_time() -> None:
    timings: list[CallTiming] = []

    async def scenario() -> None:
        model = GatedModel()
        batcher = Batcher(model, max_batch_size=10, on_call=timings.append)
        first = asyncio.ensure_future(batcher({"x": [1.0]}))
        await _wait_until_busy(model)
        queued = [asyncio.ensure_future(batcher({"x": [float(i)]})) for i in (2, 3)]
        bad = asyncio.ensure_future(batcher({"x": [None]}))
        await asyncio.sleep(0.05)  # the queued requests wait at least this long for the gated call to end
        model.gate.set()
        await first
        for caller in [*queued, bad]:  # one batch: the bad record fails it for all three
            with pytest.raises(ValueError, match="x is null"):
                await caller

    asyncio.run(scenario())
    first, second = timings
    assert len(first.queue_waits_s) == 1 and first.rows == 1 and not first.failed
    assert first.call_s >= 0.05  # the gate held the first call open while the others queued
    assert len(second.queue_waits_s) == 3 and second.rows == 3 and second.failed  # [2], [3] and the bad [None]
    assert min(second.queue_waits_s) >= 0.05  # queued before the 50 ms pause, called after the gate opened


def test_a_failing_observer_does_not_stop_the_scoring() -> None:
    def broken(timing: CallTiming) -> None:
        raise RuntimeError("observer broke")

    async def scenario() -> list[float]:
        model = GatedModel()
        model.gate.set()
        batcher = Batcher(model, max_batch_size=10, on_call=broken)
        return [float(s) for s in await batcher({"x": [1.0]})] + [float(s) for s in await batcher({"x": [2.0]})]

    assert asyncio.run(scenario()) == [10.0, 20.0]


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
