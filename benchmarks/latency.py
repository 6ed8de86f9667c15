"""Latency benchmark: open-loop Poisson load at fixed rates against the BentoML service, ``mlflow models serve`` and
the in-process limit, with 1-record and 20-record requests, in one run.

The generator is open-loop (``benchmarks/openloop.py``): requests are sent on a schedule drawn up front, whatever
the server does, and each latency runs from the request's scheduled send time, so a stalled server is charged for
every request that queued behind the stall (no coordinated omission). Per server, request size and rate: p50, p95,
p99 and the error rate. Headline: the highest rate each holds with p99 <= 50 ms and no error (rates are tried in
increasing order; once one is missed by far, the higher ones are skipped). For the service, each rate also gets a
per-request breakdown read from its own ``/metrics``: HTTP and validation, queue wait in the batcher, model call.

The in-process limit is the model called directly with the same batching: the service's scorer
(``column_scorer``) behind the service's ``Batcher``, driven by the same schedule in this process; what the service
adds on top is HTTP, validation and the process boundary. Before the load, the model call alone is timed: the
generic path (a DataFrame per call, ``score_frame``, what the service did before) against the fast path.

Servers listen on 127.0.0.1, with ``serving.workers`` workers each and one OpenMP thread per model call.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd

from benchmarks.common import ROOT, WORK, bench_env, load_average, sh
from benchmarks.openloop import OpenLoopResult, poisson_schedule, run_http, run_open_loop
from benchmarks.serving import (
    SERVER_ENV,
    bento_records,
    chunks,
    free_port,
    latest_run_id,
    mlflow_body,
    running,
    trained_project,
)
from gitops_ml.config import Params, load_params
from gitops_ml.pipeline.interface import ColumnScorer, column_scorer, score_frame
from gitops_ml.serving.prediction_log import ENV_VAR as PREDICTION_LOG_ENV

RATES = (25, 50, 100, 200, 400)
RECORD_SIZES = (1, 20)
P99_LIMIT_MS = 50.0
GIVE_UP_FACTOR = 10
"""A rate whose p99 is this many times the limit (or with over 10% errors) skips the higher rates."""
SERVERS = ("bentoml", "mlflow", "in_process")
REQUEST_SECONDS = "bentoml_service_request_duration_seconds"
QUEUE_SECONDS = "gitops_ml_batch_queue_wait_seconds"
CALL_SECONDS = "gitops_ml_model_call_seconds"
CALL_RECORDS = "gitops_ml_model_call_records"


def served_columns(records: list[dict[str, Any]], params: Params) -> dict[str, list[Any]]:
    """JSON records as the service's batcher hands them to the model: one list per feature column."""
    return {name: [record[name] for record in records] for name in params.schema.feature_names}


def call_times(call: Callable[[int], Any], repeats: int) -> list[float]:
    """Milliseconds of ``call(0)``, ``call(1)``, ... ``call(repeats - 1)``, one after another."""
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def model_call_times(
    model: Any, scorer: ColumnScorer, params: Params, test: pd.DataFrame, repeats: int
) -> dict[str, Any]:
    """Milliseconds per model call, generic path (DataFrame per call) and fast path, for 1 and 20 records."""
    from threadpoolctl import threadpool_limits

    out: dict[str, Any] = {"path": scorer.path, "generic": {}, "fast": {}}
    with threadpool_limits(1):
        for records in RECORD_SIZES:
            columns = [served_columns(bento_records(c, params), params) for c in chunks(test, records, 20)]

            def generic(i: int, c: list[dict[str, list[Any]]] = columns) -> Any:
                return score_frame(model, pd.DataFrame(c[i % 20]), params.schema)

            def fast(i: int, c: list[dict[str, list[Any]]] = columns) -> Any:
                return scorer(c[i % 20])

            paths: dict[str, Callable[[int], Any]] = {"generic": generic, "fast": fast}
            for name, call in paths.items():
                call_times(call, 10)  # warm-up
                ms = np.array(call_times(call, repeats))
                out[name][str(records)] = {
                    "p50_ms": round(float(np.percentile(ms, 50)), 3),
                    "p99_ms": round(float(np.percentile(ms, 99)), 3),
                }
    return out


def _histogram(text: str, name: str, **labels: str) -> tuple[float, float]:
    """(count, sum) of histogram ``name`` over the series matching ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    count = total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            if sample.name == f"{name}_count":
                count += sample.value
            elif sample.name == f"{name}_sum":
                total += sample.value
    return count, total


def breakdown(before: str, after: str, client_mean_ms: float) -> dict[str, float] | None:
    """Mean per-request milliseconds inside the service between two ``/metrics`` scrapes."""

    def mean(name: str, scale: float = 1000.0, **labels: str) -> tuple[float, float]:
        c0, s0 = _histogram(before, name, **labels)
        c1, s1 = _histogram(after, name, **labels)
        return c1 - c0, ((s1 - s0) / (c1 - c0) * scale if c1 > c0 else float("nan"))

    requests, server_ms = mean(REQUEST_SECONDS, endpoint="/predict", http_response_code="200")
    if not requests:
        return None
    _, queue_ms = mean(QUEUE_SECONDS)
    _, call_ms = mean(CALL_SECONDS)
    calls, records_per_call = mean(CALL_RECORDS, scale=1.0)
    return {
        "in_server_ms": round(server_ms, 2),
        "http_and_validation_ms": round(server_ms - queue_ms - call_ms, 2),
        "queue_wait_ms": round(queue_ms, 2),
        "model_call_ms": round(call_ms, 2),
        "outside_server_ms": round(client_mean_ms - server_ms, 2),
        "requests_per_model_call": round(requests / calls, 2) if calls else float("nan"),
        "records_per_model_call": round(records_per_call, 1),
    }


def _check_predictions(records: int) -> Callable[[int, bytes], str | None]:
    def check(status: int, body: bytes) -> str | None:
        got = len(json.loads(body)["predictions"])
        return None if got == records else f"{got} predictions for {records} records"

    return check


def _missed_by_far(summary: dict[str, Any]) -> bool:
    return bool(summary["p99_ms"] > GIVE_UP_FACTOR * P99_LIMIT_MS or summary["error_rate"] > 0.1)


def sweep(
    server: str,
    records: int,
    measure: Callable[[float, list[float]], tuple[OpenLoopResult, dict[str, float] | None]],
    rates: tuple[int, ...],
    seconds: float,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One cell per rate, in increasing order; the rates after one missed by far are recorded as skipped."""
    cells: list[dict[str, Any]] = []
    skip = False
    for rate in rates:
        cell: dict[str, Any] = {"server": server, "records": records, "rate": rate}
        if skip:
            cells.append(cell | {"skipped": True})
            continue
        schedule = poisson_schedule(rate, max_requests=int(rate * seconds) + 50, max_seconds=seconds, seed=rate)
        load = load_average()
        result, parts = measure(rate, schedule)
        summary = result.summary()
        say(
            f"latency: {server}, {records} record(s), {rate}/s: p50 {summary['p50_ms']} ms, "
            f"p99 {summary['p99_ms']} ms, errors {summary['errors']}/{summary['requests']}"
        )
        cells.append(cell | summary | {"skipped": False, "load_average_1m": load, "breakdown": parts})
        skip = _missed_by_far(summary)
    return cells


def held_rate(cells: list[dict[str, Any]], server: str, records: int) -> int | None:
    """The highest rate held (p99 <= limit, no error) with every lower rate held too; None if the lowest is missed."""
    held = None
    for cell in sorted(
        (c for c in cells if c["server"] == server and c["records"] == records), key=lambda c: c["rate"]
    ):
        if cell["skipped"] or cell["errors"] or cell["p99_ms"] > P99_LIMIT_MS:
            break
        held = cell["rate"]
    return held


def bench(quick: bool, say: Callable[[str], None] = print, rows: int = 10_000) -> dict[str, Any]:
    """Model-call timing, then every server x request size x rate, then the headline and the goals."""
    from gitops_ml.model_io import load_model

    seconds = 2.0 if quick else 10.0
    rates = RATES
    project = trained_project(rows, say)
    params = load_params(project / "params.yaml")
    test = pd.read_parquet(project / "artifacts" / "test.parquet")
    model = load_model(project / "models" / "model.skops")

    scorer = column_scorer(model, params.schema)
    say(f"latency: timing the model call alone (generic DataFrame path vs {scorer.path})")
    calls = model_call_times(model, scorer, params, test, repeats=300 if quick else 3000)

    samples = {n: chunks(test, n, 200 if n == 1 else 50) for n in RECORD_SIZES}
    records = {n: [bento_records(c, params) for c in samples[n]] for n in RECORD_SIZES}
    bento_bodies = {n: [json.dumps({"records": r}).encode() for r in records[n]] for n in RECORD_SIZES}
    mlflow_bodies = {n: [mlflow_body(c, params) for c in samples[n]] for n in RECORD_SIZES}
    cells: list[dict[str, Any]] = []
    logs = WORK / "latency" / "logs"

    home = WORK / "latency" / "bentoml-home"
    shutil.rmtree(home, ignore_errors=True)  # a fresh model and bento store each run
    # The project may be a copy left by an earlier run: the bento must carry this working tree's service code.
    shutil.copytree(ROOT / "src", project / "src", dirs_exist_ok=True)
    log = WORK / "latency" / "prediction-log"  # logging on, as by default
    shutil.rmtree(log, ignore_errors=True)
    env = bench_env({"BENTOML_HOME": str(home), PREDICTION_LOG_ENV: str(log)} | SERVER_ENV)
    say("latency: building the bento (gitops-ml build-bento)")
    tag = sh(["gitops-ml", "build-bento"], project, env).strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = ["bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, WORK / "latency", env, f"{url}/readyz", logs / "bentoml.log"):
        for n in RECORD_SIZES:

            def measure_bento(rate: float, schedule: list[float], n: int = n) -> tuple[OpenLoopResult, Any]:
                before = httpx.get(f"{url}/metrics", timeout=30).text
                result = run_http(f"{url}/predict", bento_bodies[n], schedule, rate, _check_predictions(n))
                after = httpx.get(f"{url}/metrics", timeout=30).text
                return result, breakdown(before, after, result.summary()["mean_ms"])

            cells += sweep("bentoml", n, measure_bento, rates, seconds, say)

    run_id = latest_run_id(project)
    port = free_port()
    mlflow_env = bench_env({"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"} | SERVER_ENV)
    cmd = [
        "mlflow", "models", "serve", "-m", f"runs:/{run_id}/model", "--env-manager", "local",
        "--workers", str(params.serving.workers), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with running(cmd, project, mlflow_env, f"http://127.0.0.1:{port}/ping", logs / "mlflow.log"):
        for n in RECORD_SIZES:

            def measure_mlflow(rate: float, schedule: list[float], n: int = n) -> tuple[OpenLoopResult, Any]:
                invocations = f"http://127.0.0.1:{port}/invocations"
                return run_http(invocations, mlflow_bodies[n], schedule, rate, _check_predictions(n)), None

            cells += sweep("mlflow", n, measure_mlflow, rates, seconds, say)

    for n in RECORD_SIZES:
        columns = [served_columns(r, params) for r in records[n]]

        def measure_in_process(rate: float, schedule: list[float], columns: list[Any] = columns) -> tuple[Any, Any]:
            return in_process(scorer, params.serving.max_batch_size, columns, schedule, rate), None

        cells += sweep("in_process", n, measure_in_process, rates, seconds, say)

    headline = {s: {str(n): held_rate(cells, s, n) for n in RECORD_SIZES} for s in SERVERS}
    return {
        "rates": list(rates),
        "seconds_per_rate": seconds,
        "workers": params.serving.workers,
        "model_rows": rows,
        "p99_limit_ms": P99_LIMIT_MS,
        "model_call": calls,
        "cells": cells,
        "headline": headline,
        "targets": targets(calls, cells, headline),
    }


def in_process(
    scorer: ColumnScorer, max_batch_size: int, columns: list[Any], schedule: list[float], rate: float
) -> OpenLoopResult:
    """The service's scorer behind the service's batcher, on the open-loop schedule, in this process."""
    from threadpoolctl import threadpool_limits

    from gitops_ml.serving.batching import Batcher

    rows = len(next(iter(columns[0].values())))

    async def drive() -> OpenLoopResult:
        batcher = Batcher(scorer, max_batch_size)

        async def send(i: int) -> str | None:
            scores = await batcher(columns[i % len(columns)])
            return None if len(scores) == rows else f"{len(scores)} scores for {rows} records"

        for i in range(5):
            await send(i)
        return await run_open_loop(send, schedule, rate)

    with threadpool_limits(1):
        return asyncio.run(drive())


def _cell(cells: list[dict[str, Any]], server: str, records: int, rate: int) -> dict[str, Any] | None:
    return next((c for c in cells if (c["server"], c["records"], c["rate"]) == (server, records, rate)), None)


def targets(calls: dict[str, Any], cells: list[dict[str, Any]], headline: dict[str, Any]) -> dict[str, Any]:
    """The issue's serving goals: model call, p99 at 100/s, and the held rate against MLflow's."""
    one = calls["fast"]["1"]["p50_ms"]
    at_100 = _cell(cells, "bentoml", 1, 100)
    p99_100 = None if at_100 is None or at_100["skipped"] else at_100["p99_ms"]
    bento, mlflow = headline["bentoml"]["1"], headline["mlflow"]["1"]
    if bento is None:
        ratio, ratio_note = 0.0, "the service holds no tested rate"
    elif mlflow is None:
        ratio, ratio_note = bento / RATES[0], f"MLflow holds no tested rate: at least {bento}/{RATES[0]}"
    else:
        ratio, ratio_note = bento / mlflow, f"{bento}/{mlflow}"
    return {
        "model_call_1_record_ms": {"value": one, "limit": 2.0, "met": one <= 2.0},
        "p99_at_100_per_s_1_record_ms": {
            "value": p99_100,
            "limit": 25.0,
            "met": p99_100 is not None and p99_100 <= 25.0 and not at_100["errors"],  # type: ignore[index]
        },
        "held_rate_vs_mlflow_1_record": {
            "value": round(ratio, 2),
            "limit": 3.0,
            "met": ratio >= 3.0,
            "how": ratio_note,
        },
    }
