"""A bounded queue and one writer thread: logging that never blocks or fails the code that submits to it.

:meth:`BackgroundWriter.submit` only puts an item on a queue without waiting; when the queue already holds
``capacity`` records the item is dropped and counted (``on_dropped("queue_full", n)``). The writer thread takes
what has queued, turns it into text (``render``) and hands it to a :class:`~gitops_ml.serving.log_sinks.Sink` in
one write (waiting ``linger_s`` for more first), so a busy service costs few wake-ups and system calls. A
failure there is counted (``on_dropped("write_error", n)``) and logged once per run of failures, never raised to a
submitter, and the thread keeps going. The queue is measured in records (an item of ``n`` records counts ``n``): a
:class:`queue.Queue` whose size hooks are weighted, so a queue holds at most ``capacity`` records plus one item.
"""

from __future__ import annotations

import atexit
import functools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Sized
from typing import Generic, TypeVar

from gitops_ml.serving.log_sinks import Sink

logger = logging.getLogger("gitops_ml.serving.prediction_log")

Item = TypeVar("Item", bound=Sized)
QUEUE_FULL = "queue_full"
WRITE_ERROR = "write_error"
DROP_REASONS = (QUEUE_FULL, WRITE_ERROR)
CLOSE_TIMEOUT_S = 10.0
RECORDS_PER_WRITE = 4096
LINGER_S = 0.1
"""Most records one write takes from the queue: a busy writer makes few large writes, not many small ones."""


class _Stop:
    """Sentinel that tells the writer thread to finish (counts as one record)."""

    def __len__(self) -> int:
        return 1


class RecordQueue(queue.Queue[Item | _Stop]):
    """A FIFO queue whose size is the number of records its items hold (each item is ``Sized``).

    ``queue.Queue`` documents ``_init``/``_qsize``/``_put``/``_get`` as the hooks for subclasses; only the size
    changes here, so the blocking and thread-safety stay the standard library's. Items must not be empty.
    """

    def _init(self, maxsize: int) -> None:
        self.queue: deque[Item | _Stop] = deque()
        self.records = 0

    def _qsize(self) -> int:
        return self.records

    def _put(self, item: Item | _Stop) -> None:
        self.queue.append(item)
        self.records += len(item)

    def _get(self) -> Item | _Stop:
        item = self.queue.popleft()
        self.records -= len(item)
        return item


class BackgroundWriter(Generic[Item]):
    """Render submitted items and write them to ``sink`` on a daemon thread, dropping what does not fit."""

    def __init__(
        self,
        sink: Sink,
        render: Callable[[Item], str],
        capacity: int,
        on_dropped: Callable[[str, int], None] = lambda reason, records: None,
        on_written: Callable[[int], None] = lambda records: None,
        name: str = "prediction-log",
        linger_s: float = LINGER_S,
    ) -> None:
        """Start the thread; it is also stopped (flushing what is queued) when the interpreter exits.

        After the first item of a write the thread waits ``linger_s`` so that what arrives meanwhile goes out in
        the same write (at most ``1 / linger_s`` writes a second, however many requests come).
        """
        self.sink = sink
        self._linger_s = linger_s
        self._closing = threading.Event()  # cuts a linger short
        self._render = render
        self._queue: RecordQueue[Item] = RecordQueue(maxsize=capacity)
        self._on_dropped = on_dropped
        self._on_written = on_written
        self._failures = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def submit(self, item: Item) -> bool:
        """Queue ``item`` without waiting; return False (and count it) when the queue is full. Never raises."""
        records = len(item)
        if records == 0:
            return True
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._count_dropped(QUEUE_FULL, records)
            return False
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued, close the sink and stop the thread (waiting at most ``timeout`` seconds)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._closing.set()
        try:
            self._queue.put(_Stop(), timeout=timeout)
        except queue.Full:
            logger.error("prediction log: the writer did not drain its queue in %.0f s; records lost", timeout)
            return
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.sink.seconds_until_due())
            except queue.Empty:
                self._guard(self.sink.rotate_if_due, 0)
                continue
            if self._linger_s and not isinstance(first, _Stop):
                self._closing.wait(self._linger_s)  # let more arrive: one wake-up and one write for them all
            items, stop = self._with_queued(first)
            if items:
                self._write(items)
                self._guard(self.sink.rotate_if_due, 0)
            if stop:
                self._guard(self.sink.close, 0)
                return

    def _with_queued(self, first: Item | _Stop) -> tuple[list[Item], bool]:
        """``first`` plus what is queued already (up to :data:`RECORDS_PER_WRITE`); True if a stop came."""
        items: list[Item] = []
        records = 0
        item = first
        while not isinstance(item, _Stop):
            items.append(item)
            records += len(item)
            if records >= RECORDS_PER_WRITE:
                return items, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items, False
        return items, True

    def _write(self, items: list[Item]) -> None:
        """Render each item (one that fails is dropped alone), then write them all at once."""
        texts: list[str] = []
        records = 0
        for item in items:
            if self._guard(functools.partial(self._render_into, texts, item), len(item)):
                records += len(item)
        if texts and self._guard(functools.partial(self.sink.write, "".join(texts)), records, recovers=True):
            self._count_written(records)

    def _render_into(self, texts: list[str], item: Item) -> None:
        texts.append(self._render(item))

    def _guard(self, action: Callable[[], object], records: int, recovers: bool = False) -> bool:
        """Run ``action``; count and log (once per run of failures) what it raises, never let it escape.

        ``records`` are counted as dropped when it fails; a success with ``recovers`` ends a run of failures.
        """
        try:
            action()
        except Exception as exc:
            if self._failures == 0:
                logger.error(
                    "prediction log: cannot write (%s: %s); records are dropped and counted in "
                    "gitops_ml_prediction_log_dropped_records_total{reason=%r} until it works again",
                    type(exc).__name__,
                    exc,
                    WRITE_ERROR,
                )
            self._failures += 1
            if records:
                self._count_dropped(WRITE_ERROR, records)
            return False
        if self._failures and recovers:
            logger.warning("prediction log: writing again after %d failed attempt(s)", self._failures)
            self._failures = 0
        return True

    def _count_dropped(self, reason: str, records: int) -> None:
        try:
            self._on_dropped(reason, records)
        except Exception:  # a broken counter must not reach the caller either
            logger.exception("prediction log: counting dropped records failed")

    def _count_written(self, records: int) -> None:
        try:
            self._on_written(records)
        except Exception:
            logger.exception("prediction log: counting written records failed")
