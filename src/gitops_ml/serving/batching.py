"""Opportunistic batching: requests that arrive while the model is busy share its next call.

Why not BentoML's ``@bentoml.api(batchable=True)``? Its batches are lists split back one item per request, so
the response of a batchable endpoint is a bare list, not ``{"predictions": [...], "model_version": ...}``; and
its dispatcher answers 503 when a batch would take longer than ``max_latency_ms``, which a single request of
``serving.max_records`` records can. Here each request is already a batch of records, and this batcher adds the
cross-request part: at most one model call runs per worker; while it runs, new requests queue, and when it ends
the queued records (up to ``serving.max_batch_size`` records per call, never splitting a request) go into one
call. An idle worker predicts at once, so a lone request waits for nothing.

A model call runs in a worker thread, so a long one does not hold up the event loop; a batch of at most
:attr:`Batcher.inline_max_rows` rows runs in the event loop itself, because handing a sub-millisecond call to a
thread and back costs more than the call (a thread wake-up each way, and the two threads trading the GIL: about
60 µs per call on an idle machine, milliseconds on a busy one).

Each call can be reported to an ``on_call`` observer (the service's latency metrics): how long each of its
requests waited in the queue (from entering the batcher to the model call starting in its thread) and how long
the call itself took.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np

logger = logging.getLogger(__name__)

Columns = dict[str, list[Any]]


@dataclass
class _Job:
    columns: Columns
    rows: int
    future: asyncio.Future[np.ndarray] = field(repr=False)
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class CallTiming:
    """One model call: each served request's wait in the queue, the call's own time, and its rows (seconds)."""

    queue_waits_s: list[float]
    """From each request entering the batcher until the call started (in its thread, or inline)."""
    call_s: float
    rows: int
    failed: bool


class Batcher:
    """Run ``predict(columns) -> scores`` for many callers, merging the columns of callers that queued."""

    def __init__(
        self,
        predict: Callable[[Columns], np.ndarray],
        max_batch_size: int,
        on_call: Callable[[CallTiming], None] | None = None,
    ) -> None:
        """``predict`` takes column lists of equal length and returns one score per row; ``on_call`` (optional)
        is told the timing of every call, from the event loop, after the call."""
        self._predict = predict
        self._on_call = on_call
        self._max_batch_size = max_batch_size
        self._queue: list[_Job] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self.inline_max_rows = 0
        """Batches of at most this many rows are scored in the event loop, larger ones in a thread (0: always a
        thread). Set it only for a model whose calls that size take well under a millisecond."""
        self.calls = 0
        """Model calls made so far (for metrics and tests)."""

    async def __call__(self, columns: Columns) -> np.ndarray:
        """Scores for the rows of ``columns``, in order."""
        rows = len(next(iter(columns.values()))) if columns else 0
        job = _Job(columns, rows, asyncio.get_running_loop().create_future())
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
                merged = jobs[0].columns if len(jobs) == 1 else _concat([job.columns for job in jobs])
                timed: list[float] = []  # [start, end] of the call, taken in its thread
                failed = False
                inline = sum(job.rows for job in jobs) <= self.inline_max_rows
                try:
                    if inline:
                        scores = self._timed_predict(merged, timed)
                    else:
                        scores = await anyio.to_thread.run_sync(self._timed_predict, merged, timed)
                except Exception as exc:  # hand the error to every caller of this batch, keep serving
                    failed = True
                    for job in jobs:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                finally:
                    self.calls += 1
                    self._report(jobs, timed, failed)
                start = 0
                for job in jobs:
                    if not job.future.done():  # a caller that went away has a cancelled future
                        job.future.set_result(scores[start : start + job.rows])
                    start += job.rows
                if inline:
                    await asyncio.sleep(0)  # let the callers answer and new requests queue before the next call
        finally:
            self._draining = False

    def _timed_predict(self, columns: Columns, timed: list[float]) -> np.ndarray:
        timed.append(time.perf_counter())
        try:
            return self._predict(columns)
        finally:
            timed.append(time.perf_counter())

    def _report(self, jobs: list[_Job], timed: list[float], failed: bool) -> None:
        if self._on_call is None or len(timed) != 2:
            return
        start, end = timed
        timing = CallTiming([start - job.queued_at for job in jobs], end - start, sum(j.rows for j in jobs), failed)
        try:
            self._on_call(timing)
        except Exception:  # a broken observer must not stop the scoring
            logger.exception("the batcher's on_call observer failed")


def _concat(parts: list[Columns]) -> Columns:
    """Column lists of several requests, joined in order."""
    return {name: [value for part in parts for value in part[name]] for name in parts[0]}
