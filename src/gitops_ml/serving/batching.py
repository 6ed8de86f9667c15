"""Opportunistic batching: requests that arrive while the model is busy share its next call.

Why not BentoML's ``@bentoml.api(batchable=True)``? Its batches are lists split back one item per request, so
the response of a batchable endpoint is a bare list, not ``{"predictions": [...], "model_version": ...}``; and
its dispatcher answers 503 when a batch would take longer than ``max_latency_ms``, which a single request of
``serving.max_records`` records can. Here each request is already a batch of records, and this batcher adds the
cross-request part: at most one model call runs per worker; while it runs, new requests queue, and when it ends
the queued records (up to ``serving.max_batch_size`` records per call, never splitting a request) go into one
call. An idle worker predicts at once, so a lone request waits for nothing. ``on_wait`` is told how long each
request queued (from arrival to the start of its model call), for the queue-wait metric, and ``on_call`` how long
each model call took and how many requests it served, for the model-call metric.

A model call runs in a worker thread, so a long one does not hold up the event loop; a batch of at most
:attr:`Batcher.inline_max_rows` rows runs in the event loop itself, because handing a sub-millisecond call to a
thread and back costs more than the call (a thread wake-up each way, and the two threads trading the GIL: about
60 µs per call on an idle machine, milliseconds on a busy one).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np

Columns = dict[str, list[Any]]


@dataclass
class _Job:
    columns: Columns
    rows: int
    future: asyncio.Future[np.ndarray] = field(repr=False)
    queued_at: float


class Batcher:
    """Run ``predict(columns) -> scores`` for many callers, merging the columns of callers that queued."""

    def __init__(
        self,
        predict: Callable[[Columns], np.ndarray],
        max_batch_size: int,
        on_wait: Callable[[float], None] | None = None,
        on_call: Callable[[float, int], None] | None = None,
    ) -> None:
        """``predict`` takes column lists of equal length and returns one prediction per row (an array whose first
        axis is the rows: the task-shaped prediction, :mod:`~gitops_ml.serving.outputs`); ``on_wait(seconds)``
        is called for each request when its model call starts, ``on_call(seconds, requests)`` after each call
        (timed in the event loop, so a thread hand-over counts as part of the call)."""
        self._predict = predict
        self._max_batch_size = max_batch_size
        self._on_wait = on_wait
        self._on_call = on_call
        self.inline_max_rows = 0
        """Batches of at most this many rows are scored in the event loop, larger ones in a thread (0: always a
        thread). Set it only for a model whose calls that size take well under a millisecond."""
        self._queue: list[_Job] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self.calls = 0
        """Model calls made so far (for metrics and tests)."""

    async def __call__(self, columns: Columns) -> np.ndarray:
        """The predictions of the rows of ``columns``, in order."""
        rows = len(next(iter(columns.values()))) if columns else 0
        job = _Job(columns, rows, asyncio.get_running_loop().create_future(), time.perf_counter())
        self._queue.append(job)
        if not self._draining:
            self._draining = True
            self._task = asyncio.get_running_loop().create_task(self._drain())  # keep a reference while it runs
        return await job.future

    def _take(self) -> list[_Job]:
        """The next jobs to run together: the oldest, plus followers while they fit in ``max_batch_size`` rows."""
        taken = [self._queue.pop(0)]
        rows = taken[0].rows
        while self._queue and rows + self._queue[0].rows <= self._max_batch_size:
            job = self._queue.pop(0)
            taken.append(job)
            rows += job.rows
        return taken

    async def _drain(self) -> None:
        try:
            while self._queue:
                jobs = self._take()
                if self._on_wait is not None:
                    started = time.perf_counter()
                    with contextlib.suppress(Exception):  # a metric must never strand the batch's callers
                        for job in jobs:
                            self._on_wait(started - job.queued_at)
                merged = jobs[0].columns if len(jobs) == 1 else _concat([job.columns for job in jobs])
                inline = sum(job.rows for job in jobs) <= self.inline_max_rows
                called = time.perf_counter()
                try:
                    if inline:
                        scores = self._predict(merged)
                    else:
                        scores = await anyio.to_thread.run_sync(self._predict, merged)
                except Exception as exc:  # hand the error to every caller of this batch, keep serving
                    for job in jobs:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                finally:
                    self.calls += 1
                    if self._on_call is not None:
                        with contextlib.suppress(Exception):  # a metric must never strand the batch's callers
                            self._on_call(time.perf_counter() - called, len(jobs))
                start = 0
                for job in jobs:
                    if not job.future.done():  # a caller that went away has a cancelled future
                        job.future.set_result(scores[start : start + job.rows])
                    start += job.rows
                if inline:
                    await asyncio.sleep(0)  # let the callers answer and new requests queue before the next call
        finally:
            self._draining = False


def _concat(parts: list[Columns]) -> Columns:
    """Column lists of several requests, joined in order."""
    return {name: [value for part in parts for value in part[name]] for name in parts[0]}
