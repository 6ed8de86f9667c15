"""The prediction log's writer: a full queue drops and counts without blocking; write errors never escape."""

from __future__ import annotations

import logging
import threading
from collections import Counter

import pytest

from gitops_ml.serving.log_writer import QUEUE_FULL, WRITE_ERROR, BackgroundWriter

HANG_GUARD_S = 30  # only bounds a hang; no assertion depends on time


class Batch(list[str]):
    """An item of the writer: some records (here just strings)."""


def render(batch: Batch) -> str:
    return "".join(f"{record}\n" for record in batch)


class GatedSink:
    """A deliberately slow sink: every write waits until :attr:`gate` opens."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.texts: list[str] = []
        self.closed = False

    def write(self, text: str) -> None:
        self.entered.set()
        self.gate.wait(HANG_GUARD_S)
        self.texts.append(text)

    def seconds_until_due(self) -> float | None:
        return None

    def rotate_if_due(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FailingSink(GatedSink):
    """Raises on the first ``failures`` writes, then works; :attr:`attempts` is released after each write."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.gate.set()
        self.failures = failures
        self.attempts = threading.Semaphore(0)

    def write(self, text: str) -> None:
        try:
            if self.failures:
                self.failures -= 1
                raise OSError(28, "No space left on device")
            super().write(text)
        finally:
            self.attempts.release()


class Counts:
    def __init__(self) -> None:
        self.dropped: Counter[str] = Counter()
        self.written = 0

    def on_dropped(self, reason: str, records: int) -> None:
        self.dropped[reason] += records

    def on_written(self, records: int) -> None:
        self.written += records


def writer_for(sink: GatedSink, capacity: int, counts: Counts) -> BackgroundWriter[Batch]:
    return BackgroundWriter(sink, render, capacity, counts.on_dropped, counts.on_written)


def run_off_thread(action: object) -> None:
    """Run ``action`` on another thread and fail (instead of hanging) if it does not return."""
    assert callable(action)
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    assert not thread.is_alive(), "submit blocked while the sink was busy"


def test_a_full_queue_drops_and_counts_records_without_blocking() -> None:
    sink, counts = GatedSink(), Counts()
    writer = writer_for(sink, capacity=5, counts=counts)
    accepted: list[bool] = []
    writer.submit(Batch(["first"]))
    assert sink.entered.wait(HANG_GUARD_S)  # the writer holds "first" inside the slow sink

    def flood() -> None:
        accepted.extend(writer.submit(Batch([f"r{i}"])) for i in range(5))  # fills the queue: 5 records
        accepted.extend(writer.submit(Batch([f"x{i}", f"y{i}"])) for i in range(3))  # 6 records that do not fit

    run_off_thread(flood)
    assert accepted == [True] * 5 + [False] * 3
    assert counts.dropped == {QUEUE_FULL: 6}
    sink.gate.set()
    writer.close()
    assert "".join(sink.texts) == "first\n" + "".join(f"r{i}\n" for i in range(5))
    assert counts.written == 6
    assert sink.closed


def test_the_queue_is_measured_in_records_and_takes_one_item_past_the_limit() -> None:
    sink, counts = GatedSink(), Counts()
    writer = writer_for(sink, capacity=4, counts=counts)
    writer.submit(Batch(["hold"]))
    assert sink.entered.wait(HANG_GUARD_S)
    results: list[bool] = []
    run_off_thread(
        lambda: results.extend(
            [
                writer.submit(Batch(["a", "b", "c"])),  # 3 of 4
                writer.submit(Batch(["d", "e", "f"])),  # 3 < 4 records queued: taken, now 6
                writer.submit(Batch(["g"])),  # 6 >= 4: dropped
            ]
        )
    )
    assert results == [True, True, False]
    assert counts.dropped == {QUEUE_FULL: 1}
    sink.gate.set()
    writer.close()
    assert counts.written == 7


def test_write_errors_are_counted_logged_once_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    sink, counts = FailingSink(failures=3), Counts()
    writer = writer_for(sink, capacity=100, counts=counts)
    with caplog.at_level(logging.WARNING, logger="gitops_ml.serving.prediction_log"):
        for i in range(5):
            assert writer.submit(Batch([f"a{i}", f"b{i}"]))
            assert sink.attempts.acquire(timeout=HANG_GUARD_S)  # one write per batch, in order
        writer.close()
    assert counts.dropped == {WRITE_ERROR: 6}  # the first three batches
    assert counts.written == 4
    assert "".join(sink.texts) == "a3\nb3\na4\nb4\n"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "No space left on device" in errors[0].getMessage()
    assert any("writing again after 3 failed" in r.getMessage() for r in caplog.records)


def test_a_failing_render_is_a_write_error_and_the_thread_keeps_going() -> None:
    sink, counts = GatedSink(), Counts()
    sink.gate.set()

    def picky(batch: Batch) -> str:
        if "bad" in batch:
            raise ValueError("cannot render")
        return render(batch)

    writer = BackgroundWriter(sink, picky, 100, counts.on_dropped, counts.on_written)
    writer.submit(Batch(["bad", "x"]))
    writer.submit(Batch(["good"]))
    writer.close()
    assert counts.dropped == {WRITE_ERROR: 2}
    assert sink.texts == ["good\n"]
    assert not writer.alive


def test_empty_items_are_not_queued_and_close_is_idempotent() -> None:
    sink, counts = GatedSink(), Counts()
    sink.gate.set()
    writer = writer_for(sink, capacity=1, counts=counts)
    assert writer.submit(Batch([]))
    writer.close()
    writer.close()
    assert sink.texts == []
    assert counts.dropped == {}


def test_what_queued_while_the_sink_was_busy_goes_out_in_one_write() -> None:
    sink, counts = GatedSink(), Counts()
    writer = writer_for(sink, capacity=100, counts=counts)
    writer.submit(Batch(["first"]))
    assert sink.entered.wait(HANG_GUARD_S)
    for i in range(4):
        writer.submit(Batch([f"q{i}"]))
    sink.gate.set()
    writer.close()
    assert sink.texts == ["first\n", "q0\nq1\nq2\nq3\n"]
    assert counts.written == 5


def test_the_writer_lingers_so_records_arriving_together_share_a_write() -> None:
    sink, counts = GatedSink(), Counts()
    sink.gate.set()
    writer = BackgroundWriter(sink, render, 100, counts.on_dropped, counts.on_written, linger_s=HANG_GUARD_S)
    for i in range(3):
        writer.submit(Batch([f"r{i}"]))  # all queued while the writer lingers after the first
    writer.close()  # the stop arrives during the linger: everything goes out in one write, then the sink closes
    assert sink.texts == ["r0\nr1\nr2\n"]
    assert sink.closed
