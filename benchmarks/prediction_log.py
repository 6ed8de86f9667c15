"""Prediction log benchmark: what logging every scored record costs the service, at concurrency 32.

The serving benchmark's model and bento are served twice at once on 127.0.0.1, identical except for
``GITOPS_ML_PREDICTION_LOG``: ``off``, and a directory (every record written, sample rate 1). The metrics are on
in both. Load runs alternate between the two servers (off/on, then on/off...), so a machine that slows down or
speeds up during the run weighs on both alike, and each side's figure is the median of its runs. At the end the
logging server's own counters say how many records it wrote and dropped, and the files are counted: a drop would
mean the figure understates the cost of logging everything.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from benchmarks.common import WORK, BenchError, bench_env, sh
from benchmarks.loadgen import run_load
from benchmarks.serving import RECORD_SIZES, SERVER_ENV, free_port, request_bodies, running, trained_project
from gitops_ml.config import load_params
from gitops_ml.serving.prediction_log import ENV_VAR

CONCURRENCY = 32
LOSS_LIMIT = 0.05
MODES = ("off", "on")


def _check(records: int) -> Callable[[httpx.Response], str | None]:
    def check(response: httpx.Response) -> str | None:
        got = len(response.json()["predictions"])
        return None if got == records else f"{got} predictions for {records} records"

    return check


def _counter(page: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` on a /metrics page whose labels include ``labels``."""
    total = 0.0
    for match in re.finditer(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$", page, re.MULTILINE):
        if all(f'{key}="{value}"' in (match.group(1) or "") for key, value in labels.items()):
            total += float(match.group(2))
    return total


def _log_lines(directory: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in directory.glob("predictions-*.jsonl"))


def summarize(runs: dict[str, dict[int, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Median requests/s of each mode per request size, the loss with logging on, and the target."""
    sizes: dict[str, Any] = {}
    for records in sorted(runs["off"]):
        median = {mode: statistics.median(r["requests_per_s"] for r in runs[mode][records]) for mode in MODES}
        errors = sum(r["errors"] for mode in MODES for r in runs[mode][records])
        loss = 1 - median["on"] / median["off"] if median["off"] else float("nan")
        sizes[str(records)] = {
            "requests_per_s_off": round(median["off"], 1),
            "requests_per_s_on": round(median["on"], 1),
            "records_per_s_off": round(median["off"] * records, 1),
            "records_per_s_on": round(median["on"] * records, 1),
            **{
                f"{key}_{mode}": round(statistics.median(r[key] for r in runs[mode][records]), 2)
                for key in ("p50_ms", "p99_ms")
                for mode in MODES
            },
            "loss": round(loss, 4),
            "errors": errors,
            "runs": {mode: runs[mode][records] for mode in MODES},
        }
    worst = max(size["loss"] for size in sizes.values())
    errors = sum(size["errors"] for size in sizes.values())
    return {
        "sizes": sizes,
        "target": {"worst_loss": worst, "limit": LOSS_LIMIT, "met": worst <= LOSS_LIMIT and errors == 0},
    }


def bench(quick: bool, say: Callable[[str], None] = print, rows: int = 10_000) -> dict[str, Any]:
    """Throughput with the prediction log off and on, at concurrency 32, for 1- and 100-record requests."""
    repeats = 3 if quick else 5
    max_seconds = 2.0 if quick else 10.0
    max_requests = 4000 if quick else 40_000
    project = trained_project(rows, say)
    params = load_params(project / "params.yaml")
    test = pd.read_parquet(project / "artifacts" / "test.parquet")
    bodies = {n: request_bodies(test, params, n, 200 if n == 1 else 20)["bentoml"] for n in RECORD_SIZES}

    work = WORK / "prediction_log"
    home, log_dir = work / "bentoml-home", work / "log"
    shutil.rmtree(work, ignore_errors=True)
    say("prediction log: building the bento (gitops-ml build-bento)")
    tag = sh(["gitops-ml", "build-bento"], project, bench_env({"BENTOML_HOME": str(home)})).strip().splitlines()[-1]
    ports = {mode: free_port() for mode in MODES}
    envs = {
        mode: bench_env({"BENTOML_HOME": str(home), ENV_VAR: "off" if mode == "off" else str(log_dir)} | SERVER_ENV)
        for mode in MODES
    }
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {mode: {n: [] for n in RECORD_SIZES} for mode in MODES}
    say(f"prediction log: serving {tag} twice, log off and on")
    with (
        running(_serve(tag, ports["off"]), work, envs["off"], _ready(ports["off"]), work / "off.log") as ready_off,
        running(_serve(tag, ports["on"]), work, envs["on"], _ready(ports["on"]), work / "on.log") as ready_on,
    ):
        for records in RECORD_SIZES:
            for repeat in range(repeats):
                order = MODES if repeat % 2 == 0 else MODES[::-1]
                for mode in order:
                    say(f"prediction log: {records} record(s)/request, log {mode}, run {repeat + 1}/{repeats}")
                    url = f"http://127.0.0.1:{ports[mode]}/predict"
                    result = run_load(url, bodies[records], CONCURRENCY, max_requests, max_seconds, _check(records))
                    runs[mode][records].append(result.summary(records))
        scored, written, dropped = _log_counts(ports["on"])
    lines = _log_lines(log_dir)  # the server has stopped: every file is complete
    if lines != scored - dropped:
        raise BenchError(f"the log holds {lines} lines for {scored} records scored and {dropped} dropped")
    return {
        "concurrency": CONCURRENCY,
        "workers": params.serving.workers,
        "model_rows": rows,
        "repeats": repeats,
        "max_seconds_per_run": max_seconds,
        "startup_s": {"off": round(ready_off, 1), "on": round(ready_on, 1)},
        "log": {"scored": scored, "written": written, "dropped": dropped, "lines": lines},
        **summarize(runs),
    }


def _log_counts(port: int, wait_s: float = 60.0) -> tuple[int, int, int]:
    """Records scored, written and dropped by the logging server, once the writer has caught up."""
    deadline = time.monotonic() + wait_s
    while True:
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        scored = int(_counter(page, "gitops_ml_prediction_score_count"))
        written = int(_counter(page, "gitops_ml_prediction_log_written_records_total"))
        dropped = int(_counter(page, "gitops_ml_prediction_log_dropped_records_total"))
        if written + dropped >= scored or time.monotonic() > deadline:
            return scored, written, dropped
        time.sleep(0.5)


def _serve(tag: str, port: int) -> list[str]:
    return ["bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)]


def _ready(port: int) -> str:
    return f"http://127.0.0.1:{port}/readyz"
