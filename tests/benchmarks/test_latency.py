"""The latency benchmark's parts: the open-loop generator, the breakdown read from /metrics, the headline, the report.

No timing is asserted as a goal: the generator test only checks lower bounds that a serial server forces on any
correct measurement (a request cannot be answered before the ones queued ahead of it).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from benchmarks.common import machine
from benchmarks.openloop import http_open_loop, poisson_schedule, run_http

from benchmarks import latency, report

SERVICE_TIME_S = 0.05


class SerialHandler(BaseHTTPRequestHandler):
    """Answers one request at a time (a global lock), each after 50 ms; counts how many wait at once."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    count_lock = threading.Lock()
    waiting = 0
    most_waiting = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        cls = SerialHandler
        with cls.count_lock:
            cls.waiting += 1
            cls.most_waiting = max(cls.most_waiting, cls.waiting)
        with cls.lock:
            time.sleep(SERVICE_TIME_S)
        with cls.count_lock:
            cls.waiting -= 1
        answer = b'{"predictions": [0]}'
        self.send_response(500 if body == b"fail" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serial_server() -> Iterator[str]:
    SerialHandler.waiting = SerialHandler.most_waiting = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), SerialHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()
        server.server_close()


def test_the_schedule_is_bounded_seeded_and_increasing() -> None:
    schedule = poisson_schedule(100, max_requests=50, max_seconds=60, seed=3)
    assert len(schedule) == 50 and schedule == sorted(schedule) and schedule[0] > 0
    assert schedule == poisson_schedule(100, max_requests=50, max_seconds=60, seed=3)
    assert poisson_schedule(100, max_requests=50, max_seconds=60, seed=4) != schedule
    short = poisson_schedule(100, max_requests=10_000, max_seconds=0.5, seed=3)
    assert short and max(short) < 0.5
    with pytest.raises(ValueError, match="rate"):
        poisson_schedule(0, 10, 10)


def test_requests_go_out_on_schedule_while_the_server_is_stalled(serial_server: str) -> None:
    """A closed-loop client would wait for each answer before sending more; this one keeps the schedule, so the
    requests pile up at the serial server, and the last one's latency includes the wait behind all the others."""
    schedule = poisson_schedule(200, max_requests=20, max_seconds=60, seed=1)
    result = asyncio.run(http_open_loop(serial_server, [b"{}"], schedule, 200, warmup=0))
    assert result.errors == 0 and len(result.latencies_ms) == 20
    assert SerialHandler.most_waiting >= 5
    # The serial server needs 20 x 50 ms for all of them; the last was due at schedule[-1] after the start.
    assert max(result.latencies_ms) >= (20 * SERVICE_TIME_S - schedule[-1]) * 1000
    summary = result.summary()
    assert summary["requests"] == 20 and summary["p99_ms"] >= summary["p50_ms"]


def test_errors_are_counted_with_the_first_one_kept(serial_server: str) -> None:
    bodies = [b"{}", b"fail"]
    result = run_http(serial_server, bodies, poisson_schedule(100, 10, 60, seed=2), 100)
    assert result.errors == 5 and len(result.latencies_ms) == 5
    assert result.first_error is not None and result.first_error.startswith("HTTP 500")
    assert result.summary()["error_rate"] == 0.5


def test_other_hosts_are_refused() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        run_http("http://example.com/predict", [b"{}"], [0.1], 10)


def _exposition(requests: int, request_s: float, queue_s: float, call_s: float, calls: int, rows: int) -> str:
    series = '{endpoint="/predict",http_response_code="200",service_name="s",service_version="v"}'
    return "\n".join(
        [
            "# TYPE bentoml_service_request_duration_seconds histogram",
            f"bentoml_service_request_duration_seconds_count{series} {requests}",
            f"bentoml_service_request_duration_seconds_sum{series} {request_s}",
            "# TYPE gitops_ml_batch_queue_wait_seconds histogram",
            f"gitops_ml_batch_queue_wait_seconds_count {requests}",
            f"gitops_ml_batch_queue_wait_seconds_sum {queue_s}",
            "# TYPE gitops_ml_model_call_seconds histogram",
            f"gitops_ml_model_call_seconds_count {requests}",
            f"gitops_ml_model_call_seconds_sum {call_s}",
            "# TYPE gitops_ml_model_call_records histogram",
            f"gitops_ml_model_call_records_count {calls}",
            f"gitops_ml_model_call_records_sum {rows}",
            "",
        ]
    )


def test_the_breakdown_splits_the_service_time_per_request() -> None:
    before = _exposition(10, 0.1, 0.02, 0.03, 10, 10)
    after = _exposition(110, 1.1, 0.22, 0.43, 60, 110)  # 100 requests: 10 ms in the server, 2 queued, 4 in the model
    parts = latency.breakdown(before, after, client_mean_ms=13.0)
    assert parts == {
        "in_server_ms": 10.0,
        "http_and_validation_ms": 4.0,
        "queue_wait_ms": 2.0,
        "model_call_ms": 4.0,
        "outside_server_ms": 3.0,
        "requests_per_model_call": 2.0,
        "records_per_model_call": 2.0,
    }
    assert latency.breakdown(before, before, client_mean_ms=1.0) is None  # no request in between


def _cell(server: str, records: int, rate: int, p99: float, errors: int = 0, skipped: bool = False) -> dict[str, Any]:
    if skipped:
        return {"server": server, "records": records, "rate": rate, "skipped": True}
    return {
        "server": server, "records": records, "rate": rate, "skipped": False, "requests": 100, "errors": errors,
        "error_rate": errors / 100, "p50_ms": p99 / 3, "p95_ms": p99 / 2, "p99_ms": p99, "max_ms": p99,
        "mean_ms": p99 / 3, "achieved_per_s": rate, "send_lag_p99_ms": 0.5, "first_error": None,
        "breakdown": {"in_server_ms": 3.0, "http_and_validation_ms": 1.0, "queue_wait_ms": 0.5, "model_call_ms": 1.5,
                      "outside_server_ms": 1.0, "requests_per_model_call": 1.0, "records_per_model_call": 1.0}
        if server == "bentoml" else None,
    }  # fmt: skip


def test_the_held_rate_stops_at_the_first_miss() -> None:
    cells = [
        _cell("bentoml", 1, 25, 10),
        _cell("bentoml", 1, 50, 20),
        _cell("bentoml", 1, 100, 60),
        _cell("bentoml", 1, 200, 40),  # under the limit again, but 100/s was missed
        _cell("mlflow", 1, 25, 30, errors=1),
        _cell("in_process", 1, 25, 1),
        _cell("in_process", 1, 50, 900),
        _cell("in_process", 1, 100, 0, skipped=True),
    ]
    assert latency.held_rate(cells, "bentoml", 1) == 50
    assert latency.held_rate(cells, "mlflow", 1) is None
    assert latency.held_rate(cells, "in_process", 1) == 25


def test_the_sweep_skips_the_rates_after_one_missed_by_far() -> None:
    from benchmarks.openloop import OpenLoopResult

    def measure(rate: float, schedule: list[float]) -> tuple[OpenLoopResult, None]:
        latency_ms = 5.0 if rate < 100 else 1000.0
        return OpenLoopResult(rate, len(schedule), 0, [latency_ms] * len(schedule), [0.0], 1.0, None), None

    cells = latency.sweep("mlflow", 1, measure, (25, 50, 100, 200, 400), 0.5, lambda _: None)
    assert [c["skipped"] for c in cells] == [False, False, False, True, True]
    assert [c.get("p99_ms") for c in cells[:3]] == [5.0, 5.0, 1000.0]


def _fake_result(cells: list[dict[str, Any]]) -> dict[str, Any]:
    calls = {
        "path": "fast: numpy",
        "generic": {"1": {"p50_ms": 7.0, "p99_ms": 9.0}, "20": {"p50_ms": 8.0, "p99_ms": 11.0}},
        "fast": {"1": {"p50_ms": 0.4, "p99_ms": 0.9}, "20": {"p50_ms": 1.0, "p99_ms": 2.0}},
    }
    headline = {s: {str(n): latency.held_rate(cells, s, n) for n in (1, 20)} for s in latency.SERVERS}
    return {
        "machine": machine(),
        "finished": "2026-01-01 00:00 UTC",
        "rates": [25, 50, 100],
        "seconds_per_rate": 2.0,
        "workers": 1,
        "model_rows": 5000,
        "p99_limit_ms": 50.0,
        "model_call": calls,
        "cells": cells,
        "headline": headline,
        "targets": latency.targets(calls, cells, headline),
    }


def test_the_latency_report_writes_json_table_and_chart(tmp_path: Path) -> None:
    cells = [
        _cell(server, records, rate, p99)
        for server, p99s in (("bentoml", (5, 10, 80)), ("mlflow", (40, 70, 0)), ("in_process", (1, 1, 2)))
        for records in (1, 20)
        for rate, p99 in zip((25, 50, 100), p99s, strict=True)
    ]
    cells = [c if c["p99_ms"] else {**c, "skipped": True} for c in cells]
    result = _fake_result(cells)
    assert result["targets"]["held_rate_vs_mlflow_1_record"]["value"] == 2.0  # 50/s against 25/s
    assert result["targets"]["p99_at_100_per_s_1_record_ms"]["met"] is False  # 80 ms
    path, table = report.write_outputs("latency", result, tmp_path, quick=True)
    assert json.loads(path.read_text()) == result
    assert (tmp_path / "latency-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| (a) BentoML service | 50/s | 50/s |" in table
    assert "skipped" in table and "1.0 / 0.5 / 1.5 / 1.0" in table
    assert "1-record model call <= 2.0 ms: 0.40 ms, met" in table
    assert "2.0x (50/25), missed" in table
