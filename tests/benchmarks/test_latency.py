"""The latency benchmark's parts: the open-loop generator, the breakdown read from /metrics, the knee search's loop,
the goals and the report (the knee policy itself: test_knee.py; the bare ASGI app: test_bare_asgi.py).

No timing is asserted as a goal: the generator test only checks lower bounds that a serial server forces on any
correct measurement (a request cannot be answered before the ones queued ahead of it).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from benchmarks.common import ROOT, machine
from benchmarks.knee import Ladder
from benchmarks.openloop import OpenLoopResult, http_open_loop, poisson_schedule, run_http

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
    series = '{http_response_code="200"}'
    return "\n".join(
        [
            "# TYPE gitops_ml_predict_request_duration_seconds histogram",
            f"gitops_ml_predict_request_duration_seconds_count{series} {requests}",
            f"gitops_ml_predict_request_duration_seconds_sum{series} {request_s}",
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


QUICK = Ladder(start=25, max_rate=400, resolution=1.5, seconds=0.2, max_requests=20)


BREAKDOWN = {"in_server_ms": 3.0, "http_and_validation_ms": 1.0, "queue_wait_ms": 0.5, "model_call_ms": 1.5,
             "outside_server_ms": 1.0, "requests_per_model_call": 1.0, "records_per_model_call": 1.0}  # fmt: skip


def _cell(server: str, records: int, rate: int, p99: float, errors: int = 0, extra: bool = False) -> dict[str, Any]:
    cell = {
        "server": server, "records": records, "rate": rate, "requests": 100, "errors": errors,
        "error_rate": errors / 100, "p50_ms": p99 / 3, "p95_ms": p99 / 2, "p99_ms": p99, "max_ms": p99,
        "mean_ms": p99 / 3, "achieved_per_s": rate, "send_lag_p99_ms": 0.5,
        "first_error": "HTTP 503" if errors else None, "held": errors == 0 and p99 <= 50, "load_average_1m": 1.0,
        "breakdown": BREAKDOWN if server.startswith("bentoml") else None,
    }  # fmt: skip
    return cell | {"extra": True} if extra else cell


def _ladder_cells(server: str, records: int, capacity: int, ladder: Ladder = QUICK) -> list[dict[str, Any]]:
    """The steps a knee search takes against a server whose p99 passes 50 ms above ``capacity`` requests/s."""
    return latency.Search(server, records, _fake_measure(capacity), ladder, lambda _: None).to_knee()


def _fake_measure(capacity: int) -> latency.Measure:
    def measure(rate: int, schedule: list[float]) -> tuple[OpenLoopResult, dict[str, float] | None]:
        ms = 5.0 if rate <= capacity else 900.0
        return OpenLoopResult(rate, len(schedule), 0, [ms] * len(schedule), [0.0], 1.0, None), None

    return measure


def test_the_search_tries_the_ladder_and_settles_after_each_miss() -> None:
    settled: list[int] = []
    cells = latency.Search(
        "mlflow", 1, _fake_measure(150), QUICK, lambda _: None, settle=lambda: settled.append(len(settled))
    ).to_knee()
    assert [c["rate"] for c in cells] == [25, 50, 100, 200, 200, 141]  # a miss is run again
    assert [c["held"] for c in cells] == [True, True, True, False, False, True]
    assert len(settled) == 2  # after each missed run at 200/s
    assert all(0 < c["requests"] <= QUICK.requests_at(c["rate"]) for c in cells)
    assert latency.server_knee(cells, "mlflow", 1) == 141
    assert latency.server_knee(cells, "mlflow", 20) is None  # not searched


def _scripted_measure(p99s: dict[int, list[float]]) -> latency.Measure:
    """Each run at a rate takes the next p99 of its list (5 ms once the list is used up)."""

    def measure(rate: int, schedule: list[float]) -> tuple[OpenLoopResult, dict[str, float] | None]:
        ms = p99s[rate].pop(0) if p99s.get(rate) else 5.0
        return OpenLoopResult(rate, len(schedule), 0, [ms] * len(schedule), [0.0], 1.0, None), None

    return measure


def test_a_missed_rate_is_run_again_and_most_runs_decide() -> None:
    # 50/s: one stall, then held twice; 100/s: held once between two misses; 200 is never tried
    measure = _scripted_measure({50: [900.0, 5.0, 5.0], 100: [900.0, 5.0, 900.0]})
    settled: list[int] = []
    cells = latency.Search("bentoml", 1, measure, QUICK, lambda _: None, settle=lambda: settled.append(1)).to_knee()
    assert [(c["rate"], c["held"], c.get("discarded"), c.get("runs")) for c in cells] == [
        (25, True, None, None),
        (50, False, "2 of 3 runs held", None),
        (50, True, "2 of 3 runs held", None),
        (50, True, None, "2 of 3 runs held"),  # the run that made the majority decides
        (100, False, "1 of 3 runs held", None),
        (100, True, "1 of 3 runs held", None),
        (100, False, None, "1 of 3 runs held"),
        (71, True, None, None),  # within the quick ladder's resolution (1.5x) of the miss: the search ends
    ]
    assert latency.server_knee(cells, "bentoml", 1) == 71
    assert len(settled) == 3  # after each missed run
    assert [c["rate"] for c in latency.judged(cells)] == [25, 50, 100, 71]


def test_side_by_side_searches_take_turns_and_keep_their_own_knees() -> None:
    order: list[str] = []

    def recording(name: str, capacity: int) -> latency.Measure:
        inner = _fake_measure(capacity)

        def measure(rate: int, schedule: list[float]) -> tuple[OpenLoopResult, dict[str, float] | None]:
            order.append(f"{name}@{rate}")
            return inner(rate, schedule)

        return measure

    service = latency.Search("bentoml", 1, recording("bentoml", 60), QUICK, lambda _: None)
    bare = latency.Search("bare_asgi", 1, recording("bare_asgi", 150), QUICK, lambda _: None)
    cells = latency.interleave([service, bare])
    assert order[:6] == ["bentoml@25", "bare_asgi@25", "bentoml@50", "bare_asgi@50", "bentoml@100", "bentoml@100"]
    assert order[6] == "bare_asgi@100"  # a rate's reruns come before the other search's turn
    assert latency.server_knee(cells, "bentoml", 1) == 50 and latency.server_knee(cells, "bare_asgi", 1) == 141
    assert cells == service.cells + bare.cells  # grouped by search, each in the order run


def _task_cells(service: int, bare: int, auth_p99_at_100: float, ladder: Ladder = QUICK) -> list[dict[str, Any]]:
    cells = _ladder_cells("bentoml", 1, service, ladder) + _ladder_cells("bare_asgi", 1, bare, ladder)
    return [*cells, _cell("bentoml_auth", 1, 25, 3.0), _cell("bentoml_auth", 1, 100, auth_p99_at_100)]


def test_goals_met() -> None:
    goals = latency.goals(_task_cells(service=300, bare=300, auth_p99_at_100=8.0), QUICK)
    share, p99 = goals["service_knee_share_of_bare_1_record"], goals["p99_at_100_per_s_auth_on_1_record_ms"]
    assert share["verdict"] == "met" and share["value"] == 1.0 and "where" not in share
    assert p99 == {"limit": 10.0, "rate": 100, "value": 8.0, "verdict": "met", "how": "p99 8.0 ms"}


def test_goals_missed_say_where_the_time_went() -> None:
    goals = latency.goals(_task_cells(service=60, bare=300, auth_p99_at_100=12.0), QUICK)
    share, p99 = goals["service_knee_share_of_bare_1_record"], goals["p99_at_100_per_s_auth_on_1_record_ms"]
    assert share["verdict"] == "missed" and share["service"] < share["bare_asgi"]
    assert share["value"] == round(share["service"] / share["bare_asgi"], 2) < 0.7
    missed = share["where"]["bentoml"]
    assert missed["rate"] > share["service"] and missed["p99_ms"] == 900.0  # the step the knee stopped below
    assert share["where"]["bare_asgi"]["rate"] >= missed["rate"]  # the bare app at that rate or the next it tried
    assert share["where"]["bare_asgi"]["p99_ms"] == 5.0
    assert p99["verdict"] == "missed" and p99["where"]["bentoml_auth"]["breakdown"] == BREAKDOWN


def test_goals_not_judged_when_the_bare_app_holds_nothing_or_everything() -> None:
    nothing = latency.goals(_task_cells(service=300, bare=10, auth_p99_at_100=5.0), QUICK)
    assert nothing["service_knee_share_of_bare_1_record"]["verdict"] == "not judged"
    capped = latency.goals(_task_cells(service=300, bare=1000, auth_p99_at_100=5.0), QUICK)
    share = capped["service_knee_share_of_bare_1_record"]
    assert share["bare_asgi"] == QUICK.max_rate and share["verdict"] == "not judged"  # the bare app's knee is higher
    both = latency.goals(_task_cells(service=1000, bare=1000, auth_p99_at_100=5.0), QUICK)
    assert both["service_knee_share_of_bare_1_record"]["verdict"] == "met"
    no_100 = [c for c in _task_cells(300, 300, 5.0) if c["server"] != "bentoml_auth"]
    assert latency.goals(no_100, QUICK)["p99_at_100_per_s_auth_on_1_record_ms"]["verdict"] == "not judged"


def test_an_extra_step_does_not_move_the_knee() -> None:
    cells = [
        _cell("bentoml_auth", 1, 25, 5),
        _cell("bentoml_auth", 1, 50, 80),
        _cell("bentoml_auth", 1, 100, 5, extra=True),
    ]
    assert latency.server_knee(cells, "bentoml_auth", 1) == 25


def _fake_result() -> dict[str, Any]:
    tasks = {}
    for task, (service, bare) in {"binary": (300, 300), "multiclass": (60, 300), "regression": (1000, 1000)}.items():
        cells = _task_cells(service, bare, 8.0 if task != "multiclass" else 12.0)
        cells += _ladder_cells("mlflow", 1, 10) + _ladder_cells("in_process", 1, 1000)
        tasks[task] = {
            "scoring_path": "fast: compiled",
            "workers": 1,
            "cells": cells,
            "knees": {s: {"1": latency.server_knee(cells, s, 1)} for s in latency.SERVERS},
            "goals": latency.goals(cells, QUICK),
        }
    return {
        "machine": machine(),
        "finished": "2026-01-01 00:00 UTC",
        "ladder": asdict(QUICK),
        "record_sizes": [1],
        "model_rows": 5000,
        "p99_limit_ms": 50.0,
        "goal_limits": {"share_of_bare": 0.7, "rate": 100, "p99_ms": 10.0},
        "tasks": tasks,
    }


def test_the_latency_report_writes_json_table_and_chart(tmp_path: Path) -> None:
    result = _fake_result()
    path, table = report.write_outputs("latency", result, tmp_path, quick=True)
    assert json.loads(path.read_text()) == result
    assert (tmp_path / "latency-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| binary | 283/s | 283/s | 1.00x, met | 8.0 ms, met |" in table  # 283: between 200 held and 400 missed
    assert "| regression | >= 400/s (highest tried) | >= 400/s (highest tried) | 1.00x, met | 8.0 ms, met |" in table
    multiclass = result["tasks"]["multiclass"]["goals"]["service_knee_share_of_bare_1_record"]
    assert f"{multiclass['value']:.2f}x, missed | 12.0 ms, missed |" in table
    assert "| (d) mlflow models serve | none |" in table
    assert "Goals not met, and where the time went:" in table
    assert "1.0 / 0.5 / 1.5 / 1.0" in table  # the breakdown of the step at 100/s with auth on
    assert "- binary" not in table.split("where the time went:")[1]  # binary met both goals


def test_a_full_run_rewrites_only_the_generated_block_of_the_page(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "performance-latency.md"
    page.parent.mkdir()
    shutil.copy(ROOT / "docs" / "performance-latency.md", page)  # the real page has the block
    before = page.read_text()
    assert report.update_doc("latency", _fake_result(), tmp_path) == page
    after = page.read_text()
    start, end = "<!-- bench:latency:start -->", "<!-- bench:latency:end -->"
    assert after.split(start)[0] == before.split(start)[0] and after.split(end)[1] == before.split(end)[1]
    assert "| multiclass |" in after.split(start)[1] and "Measured 2026-01-01 00:00 UTC" in after
    assert report.update_doc("latency", _fake_result(), tmp_path) == page and page.read_text() == after
    assert report.update_doc("drift", _fake_result(), tmp_path) is None
    with pytest.raises(ValueError, match="bench:latency:start"):
        report.replace_block("no block here", "latency", "table")
