"""The benchmark harness: its measuring, load generation, reporting and one tiny real pipeline run.

No timing is asserted (timings belong in the benchmark results); these check that the harness measures what
it says and fails loudly when it cannot.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmarks.common import ROOT, BenchError, Measured, ProcessSample, machine, measure, sh, sync_code
from benchmarks.loadgen import run_load

from benchmarks import drift, pipeline, pr_loop, report, run
from tests.support.fixture_project import FIXTURE_PARAMS


def test_measure_sees_the_memory_a_child_process_holds(tmp_path: Path) -> None:
    hold = "import time; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1)"
    result = measure([sys.executable, "-c", hold], tmp_path)
    assert result.peak_rss_bytes > 250 * 2**20
    assert result.cpu_s > 0
    assert any("bytearray" in p.cmdline for p in result.processes.values())


def test_measure_reports_a_failing_command_with_its_output(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="exited 3") as error:
        measure([sys.executable, "-c", "print('why it broke'); raise SystemExit(3)"], tmp_path)
    assert "why it broke" in str(error.value)


def _sample(cmd: str, first: float, last: float, mb: int, cwd: str = "/p") -> ProcessSample:
    return ProcessSample(cmd, cwd, first, last, mb * 2**20)


def test_stage_breakdown_reads_each_stage_process() -> None:
    processes = {
        1: _sample("python dvc repro", 0.0, 10.0, 80),
        2: _sample("python /venv/bin/gitops-ml validate", 0.5, 2.0, 200),
        3: _sample("python /venv/bin/gitops-ml split", 2.5, 3.0, 150),
        4: _sample("python /venv/bin/gitops-ml train", 3.5, 8.0, 400),
        5: _sample("python /venv/bin/gitops-ml evaluate", 8.5, 9.5, 300),
    }
    stages = pipeline.stage_breakdown(Measured(10.0, 0, 0.0, processes))
    assert list(stages) == ["validate", "split", "train", "evaluate"]
    assert stages["train"] == {"wall_s": 4.5, "peak_rss_mb": 400.0}


def test_evaluates_mlflow_process_is_reported_beside_the_stages() -> None:
    processes = {
        1: _sample("python /venv/bin/gitops-ml evaluate", 8.5, 12.0, 300),
        2: _sample("/venv/bin/python -m gitops_ml.tracking_background", 8.6, 11.0, 350),
    }
    stages = pipeline.stage_breakdown(Measured(12.0, 0, 0.0, processes))
    assert stages[pipeline.MLFLOW_RUN] == {"wall_s": 2.4, "peak_rss_mb": 350.0}
    assert stages["evaluate"] == {"wall_s": 3.5, "peak_rss_mb": 300.0}


def test_linear_fit_recovers_a_line_and_flags_a_bend() -> None:
    line = pipeline.linear_fit([1e4, 1e5, 1e6], [100 + 0.001 * x for x in (1e4, 1e5, 1e6)])
    assert line["slope"] == pytest.approx(0.001)
    assert line["intercept"] == pytest.approx(100)
    assert line["max_relative_gap"] == pytest.approx(0, abs=1e-9)
    bent = pipeline.linear_fit([1e4, 1e5, 1e6], [100, 1000, 1100])
    assert bent["max_relative_gap"] > 0.2


def test_change_param_changes_only_the_boosting_max_iter(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    original = (FIXTURE_PARAMS).read_text()
    params.write_text(original)
    change = pr_loop.change_param(params)
    changed = params.read_text()
    assert change.startswith("train.hist_gradient_boosting.max_iter:")
    diff = [(a, b) for a, b in zip(original.splitlines(), changed.splitlines(), strict=True) if a != b]
    assert len(diff) == 1 and "max_iter" in diff[0][0]
    assert "max_iter: 1000" in changed  # logistic regression's max_iter is untouched


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real servers do
    calls = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        with _Handler.lock:
            _Handler.calls += 1
        body = self.rfile.read(int(self.headers["content-length"]))
        answer = json.dumps({"predictions": [0]}).encode()
        self.send_response(500 if body == b"fail" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    _Handler.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()
        server.server_close()


def test_load_generator_stops_at_the_request_bound(local_server: str) -> None:
    result = run_load(local_server, [b"{}"], concurrency=4, max_requests=50, max_seconds=60)
    assert result.requests == 50
    assert _Handler.calls == 50 + 5  # the counted requests plus the warm-up ones
    assert result.errors == 0 and len(result.latencies_ms) == 50


def test_load_generator_counts_errors_and_keeps_the_first(local_server: str) -> None:
    bodies = [b"{}", b"{}", b"{}", b"{}", b"fail"]  # one client cycles through them in order
    result = run_load(local_server, bodies, concurrency=1, max_requests=50, max_seconds=60)
    assert result.errors == 10
    assert result.first_error is not None and result.first_error.startswith("HTTP 500")
    summary = result.summary(records_per_request=1)
    assert summary["errors"] == 10 and summary["requests"] == 50


def test_load_generator_refuses_other_hosts() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        run_load("http://example.com/predict", [b"{}"], 1, 1, 1)


def _fake_results() -> dict[str, dict]:
    facts = {"machine": machine(), "finished": "2026-01-01 00:00 UTC"}
    size = {
        "rows": 10_000,
        "bare": {"wall_s": 4.0, "cpu_s": 4.0, "peak_rss_mb": 240.0, "parts": {"fit_s": 2.0}},
        "pipeline": {
            "wall_s": 20.0,
            "cpu_s": 19.0,
            "peak_rss_mb": 430.0,
            "dvc_overhead_s": 2.0,
            "stages": {s: {"wall_s": 4.5, "peak_rss_mb": 250.0} for s in pipeline.STAGES},
        },
        "ratio_wall": 5.0,
        "overhead_s": 16.0,
    }
    cells = [
        {"server": server, "records": records, "concurrency": c, "requests": 10, "errors": 0, "requests_per_s": 10.0,
         "records_per_s": 10.0 * records, "p50_ms": 5.0, "p99_ms": 9.0}
        for server in ("bentoml", "mlflow", "in_process") for records in (1, 100) for c in (1, 32)
    ]  # fmt: skip
    return {
        "pipeline": facts
        | {
            "sizes": [size],
            "memory_fit": {"fixed_mb": 400.0, "mb_per_100k_rows": 10.0, "max_relative_gap": 0.0},
            "target": {"rows": 10_000, "ratio_wall": 5.0, "limit": 1.3, "met": False, "applies": False},
        },
        "serving": facts | {"workers": 1, "startup_s": {"bentoml": 7.0}, "cells": cells, "targets": {}},
        "pr_loop": facts
        | {
            "rows": 10_000,
            "change": "x: 1 -> 2",
            "wall_s": 20.0,
            "head_stages_s": {"train": 5.0, "evaluate": 8.0},
            "head_compute_s": 13.0,
            "report_command_s": 5.0,
            "base_side_s": 3.0,
            "overhead_s": 7.0,
            "timeline": [{"start_s": 0.0, "seconds": 20.0, "where": "project", "command": "make report"}],
            "target": {"overhead_s": 7.0, "limit_s": 5.0, "met": False},
        },
        "drift": facts
        | {
            "reference_rows": 15_000,
            "test_rows": 5_000,
            "thresholds": {},
            "false_alarms": [{"window_rows": 500, "windows": 200, "alarms": 1, "rate": 0.005, "by_feature": {"x": 1}}],
            "detection": [
                {
                    "shift": s.name,
                    "feature": s.feature,
                    "size": z,
                    "label": s.label(z),
                    "window_rows": 500,
                    "windows": 25,
                    "detected": 20,
                    "rate": 0.8,
                    "flagged_rate": 0.84,
                    "other_features_per_window": 0.04,
                }
                for s in drift.SHIFTS
                for z in s.sizes
            ],
            "in_process_check_ms": 150.0,
            "command": {"records": 5000, "files": 5, "wall_s": 9.5, "stdout": "drift=false"},
            "target": {"window_rows": 500, "windows": 200, "rate": 0.005, "limit": 0.05, "met": True},
        },
    }


# The verdict lines each report must print for _fake_results(): the pipeline target applies only to a full run, the
# fake servers all answer 10 requests/s (BentoML no faster than MLflow, as fast as in process), and the fake PR
# loop's overhead (7 s) is above its 5 s limit.
VERDICTS = {
    "pipeline": ["(Quick run: the 1.3x target is judged at 1M rows by the full run.)"],
    "serving": [
        "BentoML 1.00x the requests/s of MLflow (need >= 1.5x), p99 9 ms vs 9 ms: missed.",
        "BentoML at 100% of in-process records/s (need >= 50%): met.",
    ],
    "pr_loop": ["Target: at most 5 s beyond the head pipeline's compute: 7.0 s, missed."],
    "drift": ["Target: at most 5% false alarms at 500 rows (the smallest window accepted): 0.5%, met."],
}


@pytest.mark.parametrize("name", ["pipeline", "serving", "pr_loop", "drift"])
def test_reports_write_json_table_and_chart(name: str, tmp_path: Path) -> None:
    result = _fake_results()[name]
    if name == "serving":
        from benchmarks.serving import targets

        result["targets"] = targets(result["cells"])
    path, table = report.write_outputs(name, result, tmp_path, quick=True)
    assert path == tmp_path / f"{name}-quick.json"
    assert json.loads(path.read_text()) == result
    assert (tmp_path / f"{name}-quick.md").read_text().startswith("| ")
    assert (tmp_path / f"{name}-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for verdict in VERDICTS[name]:
        assert verdict in table


def _log_runs(off: list[float], on: list[float], records: int = 1) -> dict:
    def run_of(rps: float) -> dict:
        return {"requests": 100, "errors": 0, "requests_per_s": rps, "records_per_s": rps * records,
                "p50_ms": 5.0, "p99_ms": 9.0, "duration_s": 1.0, "first_error": None,
                "server_cpu_ms_per_request": 100 / rps}  # fmt: skip

    return {"off": {records: [run_of(v) for v in off]}, "on": {records: [run_of(v) for v in on]}}


def test_prediction_log_loss_is_judged_on_back_to_back_pairs() -> None:
    from benchmarks.prediction_log import summarize

    # The machine slowed down between pairs; within each pair the log costs 2 %, 4 % and 50 %.
    drifting = summarize(_log_runs(off=[300, 200, 100], on=[294, 192, 50]))
    size = drifting["sizes"]["1"]
    assert size["requests_per_s_off"] == 200 and size["requests_per_s_on"] == 192
    assert size["loss"] == pytest.approx(0.04)  # the median pair
    assert size["loss_of_medians"] == pytest.approx(0.04)
    assert drifting["target"]["met"]
    # One disturbed run puts the medians 5.7 % apart while the other pairs show 1 %: the pairs decide.
    noisy = summarize(_log_runs(off=[200, 210, 220], on=[198, 207.9, 180]))
    assert noisy["sizes"]["1"]["loss_of_medians"] == pytest.approx(1 - 198 / 210, abs=1e-4)
    assert noisy["sizes"]["1"]["loss"] == pytest.approx(0.01)
    assert noisy["target"]["met"]
    assert not summarize(_log_runs(off=[200, 200, 200], on=[189, 189, 189]))["target"]["met"]


def test_prediction_log_report(tmp_path: Path) -> None:
    from benchmarks.prediction_log import summarize

    runs = _log_runs(off=[200, 210, 190], on=[195, 185, 200])
    hundred = _log_runs(off=[20, 21], on=[20, 19], records=100)
    for mode in ("off", "on"):
        runs[mode] |= hundred[mode]
    result = {"machine": machine(), "finished": "2026-01-01 00:00 UTC", "concurrency": 32, "workers": 1,
              "repeats": 3, "max_seconds_per_run": 2.0, "log": {"scored": 10, "written": 10, "dropped": 0,
              "records_on_disk": 10}, "writer_cpu_us_per_record": 4.0, **summarize(runs)}  # fmt: skip
    path, table = report.write_outputs("prediction_log", result, tmp_path, quick=True)
    assert json.loads(path.read_text()) == result
    assert "| 100 | on | 20 | 1950 | 5.0 | 9.0 | 5.13 | 20 / 19 | -4.8% | -4.9% | +5.1% |" in table
    assert "(pairs): at worst 4.8% fewer, met" in table
    assert "log on: at worst +5.1%" in table
    assert "4.0 microseconds of CPU per record" in table
    assert "0.8% at 1 record(s)/request, 8.2% at 100 record(s)/request" in table  # 4 us of 500 us, of 48.8 us
    assert (tmp_path / "prediction_log-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_reused_project_copy_gets_the_working_trees_code(tmp_path: Path) -> None:
    project = tmp_path / "project"
    stale = project / "src" / "gitops_ml" / "serving" / "log_lines.py"
    gone = project / "src" / "gitops_ml" / "removed_since.py"
    for path, text in (
        (stale, "# the code when the copy was made\n"),
        (gone, "x = 1\n"),
        (project / "params.yaml", "kept\n"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sh(["git", "init", "-q", "-b", "main"], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "copy"], project)
    assert sync_code(project) is True
    assert stale.read_bytes() == (ROOT / "src/gitops_ml/serving/log_lines.py").read_bytes()
    assert not gone.exists() and (project / "params.yaml").read_text() == "kept\n"  # only the code is touched
    for name in ("bentofile.yaml", "pyproject.toml", "uv.lock"):  # what the bento and its pins are built from
        assert (project / name).read_bytes() == (ROOT / name).read_bytes()
    assert sh(["git", "log", "--format=%s", "-1"], project).strip() == "code from the working tree"
    assert sh(["git", "status", "--porcelain"], project).strip() == ""
    assert sync_code(project) is False  # up to date: nothing copied, nothing committed


def test_stage_of_reads_hyphenated_commands_as_stage_names() -> None:
    assert pipeline.stage_of("python /venv/bin/gitops-ml drift-reference") == "drift_reference"
    assert pipeline.stage_of("/venv/bin/python /venv/bin/gitops-ml train --params p.yaml") == "train"
    assert pipeline.stage_of("python dvc repro") is None
    assert pipeline.stage_of("/venv/bin/python -m gitops_ml.tracking_background") == pipeline.MLFLOW_RUN


def test_drift_shifts_change_only_their_feature() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, 2000),
            "customer_tenure_days": rng.integers(0, 3000, 2000).astype(float),
            "channel": rng.choice(["in_store", "online"], 2000),
            "merchant_category": rng.choice(["grocery", "fuel"], 2000),
            "distance_from_home_km": rng.random(2000),
        }
    )
    for shift in drift.SHIFTS:
        size = shift.sizes[-1]
        changed = shift.apply(frame, size, np.random.default_rng(1))
        untouched = [c for c in frame.columns if c != shift.feature]
        pd.testing.assert_frame_equal(changed[untouched], frame[untouched])
        assert not changed[shift.feature].equals(frame[shift.feature]), shift.name
    assert drift.SHIFTS[0].apply(frame, 2.0, rng)["amount"].sum() == pytest.approx(2 * frame["amount"].sum())
    missing = drift.SHIFTS[-1].apply(frame, 0.1, np.random.default_rng(2))["distance_from_home_km"].isna().mean()
    assert 0.07 < missing < 0.13


def test_run_refuses_an_unknown_benchmark() -> None:
    with pytest.raises(SystemExit) as stop:
        run.main(["--only", "nope"])
    assert stop.value.code == 2


@pytest.mark.slow
def test_pipeline_benchmark_runs_at_a_tiny_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "WORK", tmp_path)
    result = pipeline.bench_size(2_000, repeats=1, say=lambda _: None)
    assert result["rows"] == 2_000
    # every stage, and evaluate's MLflow process beside it (the fixture's tracking is on)
    assert set(result["pipeline"]["stages"]) == {*pipeline.STAGES, pipeline.MLFLOW_RUN}
    assert result["pipeline"]["peak_rss_mb"] > 50 and result["bare"]["peak_rss_mb"] > 50
    assert 0 < result["bare"]["average_precision"] <= 1
    assert (tmp_path / "pipeline" / "2000" / "project" / "reports" / "metrics.json").exists()
