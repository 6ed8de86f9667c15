"""Serving benchmark: the same trained model behind (a) this project's BentoML service, (b) ``mlflow models serve``
from the MLflow run that logged it, and (c) direct ``predict_proba`` calls in this process (the limit).

Both servers listen on 127.0.0.1, get the same number of worker processes (``serving.workers`` in params.yaml)
and the same OpenMP settings (one thread per model call, threads sleep while waiting), so the comparison is
about the serving stack, not thread tuning. Each cell (server x concurrency x records per request) is one
bounded load run: at most ``max_requests`` requests and ``max_seconds`` seconds, after a few warm-up requests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from tests.support.loop_data import house_table, weather_table

from benchmarks.common import WORK, BenchError, bench_env, copy_project, sh, sync_code, use_sample_rows
from benchmarks.loadgen import run_load
from gitops_ml.config import ColumnType, Params, load_params
from gitops_ml.pipeline.interface import model_frame
from gitops_ml.serving.prediction_log import ENV_VAR as PREDICTION_LOG_ENV
from gitops_ml.tasks import Task

READY_TIMEOUT_S = 180
RECORD_SIZES = (1, 100)
SERVER_ENV = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}


TASK_DATA: dict[Task, tuple[str, str, Callable[[int], pd.DataFrame]]] = {
    Task.MULTICLASS: ("weather.csv", "weather", weather_table),
    Task.REGRESSION: ("houses.csv", "price", house_table),
}
"""Per task other than binary: the file a team would bring, its target column, and the seeded generator of
``tests/support/loop_data.py`` that writes it (ids, dates, gaps, a rare class or unlabelled rows)."""


def trained_project(rows: int, say: Callable[[str], None], task: Task = Task.BINARY) -> Path:
    """A project copy with a trained model of ``task`` and its MLflow run, made once and reused.

    Binary: the pipeline benchmark's copy on ``rows`` rows of the built-in sample if there is one, else a copy of its
    own. Multiclass and regression: a copy that adopted ``rows`` rows of the task's seeded data with
    ``gitops-ml init-data`` (as a team adopts its own file). A reused copy gets the working tree's code first
    (:func:`sync_code`), so the bento serves the code under test; every copy then runs ``dvc repro``, so a model
    trained by older code (a stage's code changed) or a run that did not finish is made again.
    """
    project = WORK / "tasks" / f"{task.value}-{rows}" / "project"
    candidates = [WORK / "pipeline" / f"{rows}" / "project", project] if task is Task.BINARY else [project]
    for candidate in candidates:
        if (candidate / "models" / "model.skops").exists() and (candidate / "mlflow.db").exists():
            if sync_code(candidate):
                say(f"serving: {candidate} had older code; brought it up to date with the working tree")
            sh(["dvc", "repro"], candidate)  # reruns only a stage whose code changed, or that did not finish
            return candidate
    say(f"serving: training a {task.value} model on {rows} rows in a new project copy")
    copy_project(project, project.parent / "dvc-cache")
    if task is Task.BINARY:
        use_sample_rows(project, rows)
    else:
        adopt_task_data(project, task, rows)
    sh(["dvc", "repro"], project)
    return project


def adopt_task_data(project: Path, task: Task, rows: int) -> None:
    """Write ``rows`` rows of ``task``'s seeded data beside ``project``, adopt them with init-data and commit."""
    file_name, target, generate = TASK_DATA[task]
    source = project.parent / "incoming" / file_name
    source.parent.mkdir(parents=True, exist_ok=True)
    generate(rows).to_csv(source, index=False)
    sh(["gitops-ml", "init-data", str(source), "--target", target, "--task", task.value], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", f"{task.value} data: {rows} rows of {file_name}"], project)


def latest_run_id(project: Path) -> str:
    """The newest finished MLflow run in the project's sqlite store (the one that logged models/model.skops)."""
    with contextlib.closing(sqlite3.connect(project / "mlflow.db")) as db:
        row = db.execute(
            "select run_uuid from runs where status = 'FINISHED' order by start_time desc limit 1"
        ).fetchone()
    if row is None:
        raise BenchError(f"{project}/mlflow.db has no finished run; run the pipeline with tracking enabled")
    return str(row[0])


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(cmd: list[str], cwd: Path, env: dict[str, str], ready_url: str, log: Path) -> Iterator[float]:
    """Start ``cmd`` in its own process group, wait until ``ready_url`` answers 200; yield seconds to ready.

    The process group (this server and its workers) is always stopped afterwards.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{' '.join(cmd)} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            if time.perf_counter() - start > READY_TIMEOUT_S:
                raise BenchError(f"{' '.join(cmd)} not ready after {READY_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield time.perf_counter() - start
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _json_value(value: Any, kind: ColumnType) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dt.date):  # a datetime column: an ISO 8601 string, as the request model takes it
        return value.isoformat()
    if kind is ColumnType.INT:
        return int(value)
    if kind is ColumnType.FLOAT:
        return float(value)
    if kind is ColumnType.BOOL:
        return bool(value)
    return str(value)


def bento_records(rows: pd.DataFrame, params: Params) -> list[dict[str, Any]]:
    """Rows as the BentoML service's JSON records (typed as the data contract says, null for missing)."""
    columns = params.schema.columns
    return [
        {name: _json_value(row[name], spec.type) for name, spec in columns.items()}
        for row in rows[list(columns)].to_dict(orient="records")
    ]


def mlflow_body(rows: pd.DataFrame, params: Params) -> bytes:
    """Rows as ``mlflow models serve`` input: the logged signature's columns (numbers as floats), split format."""
    frame = model_frame(rows, params.schema)
    data = [[None if isinstance(v, float) and np.isnan(v) else v for v in row] for row in frame.itertuples(index=False)]
    return json.dumps({"dataframe_split": {"columns": list(frame.columns), "data": data}}).encode()


def chunks(test: pd.DataFrame, records: int, count: int) -> list[pd.DataFrame]:
    """``count`` slices of ``records`` test rows (wrapping around a small test set); single rows are complete.

    MLflow's schema check refuses a null in a number column when the request has a single row (the column has
    no other value to take its type from), so one-record requests use rows without missing values.
    """
    pool = test.dropna() if records == 1 else test
    if len(pool) < records:
        raise BenchError(f"the test set has {len(pool)} usable rows; {records}-record requests need more")
    starts = [(i * records) % (len(pool) - records + 1) for i in range(count)]
    return [pool.iloc[start : start + records] for start in starts]


def serve_command(tag: str, port: int) -> list[str]:
    """``bentoml serve`` of the bento ``tag`` on ``port`` of 127.0.0.1 (the benchmarks serve nothing else)."""
    return ["bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)]


def fresh_bento(project: Path, home: Path, env: dict[str, str]) -> str:
    """Build ``project``'s bento into a new BentoML store at ``home`` (emptied first), with ``env``; return its tag."""
    shutil.rmtree(home, ignore_errors=True)  # a fresh model and bento store each run
    return sh(["gitops-ml", "build-bento"], project, env | {"BENTOML_HOME": str(home)}).strip().splitlines()[-1]


def request_bodies(test: pd.DataFrame, params: Params, records: int, count: int) -> dict[str, list[bytes]]:
    """``count`` request bodies of ``records`` rows each (see :func:`chunks`), for both servers."""
    bodies: dict[str, list[bytes]] = {"bentoml": [], "mlflow": []}
    for chunk in chunks(test, records, count):
        bodies["bentoml"].append(json.dumps({"records": bento_records(chunk, params)}).encode())
        bodies["mlflow"].append(mlflow_body(chunk, params))
    return bodies


def _check_bento(records: int) -> Callable[[httpx.Response], str | None]:
    def check(response: httpx.Response) -> str | None:
        got = len(response.json()["predictions"])
        return None if got == records else f"{got} predictions for {records} records"

    return check


def _check_mlflow(records: int) -> Callable[[httpx.Response], str | None]:
    def check(response: httpx.Response) -> str | None:
        got = len(response.json()["predictions"])
        return None if got == records else f"{got} predictions for {records} records"

    return check


def in_process(
    model: Any, frames: list[pd.DataFrame], concurrency: int, max_requests: int, max_seconds: float
) -> dict[str, Any]:
    """``predict_proba`` on prepared frames from ``concurrency`` threads (one OpenMP thread per call)."""
    from threadpoolctl import threadpool_limits

    latencies: list[float] = []
    lock = threading.Lock()
    sent = [0]
    records = len(frames[0])

    def worker(offset: int, deadline: float) -> None:
        i = offset
        while True:
            with lock:
                if sent[0] >= max_requests or time.perf_counter() >= deadline:
                    return
                sent[0] += 1
            t0 = time.perf_counter()
            model.predict_proba(frames[i % len(frames)])
            with lock:
                latencies.append((time.perf_counter() - t0) * 1000)
            i += concurrency

    with threadpool_limits(1):
        for frame in frames[:5]:
            model.predict_proba(frame)  # warm-up
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda k: worker(k, start + max_seconds), range(concurrency)))
        duration = time.perf_counter() - start
    lat = np.array(latencies)
    return {
        "requests": len(latencies),
        "errors": 0,
        "duration_s": round(duration, 2),
        "requests_per_s": round(len(latencies) / duration, 1),
        "records_per_s": round(len(latencies) * records / duration, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "first_error": None,
    }


def bench(quick: bool, say: Callable[[str], None] = print, rows: int = 10_000) -> dict[str, Any]:
    """Every server x concurrency x request size; then the two targets."""
    from gitops_ml.model_io import load_model

    concurrencies = (1, 32) if quick else (1, 8, 32)
    max_seconds = 1.0 if quick else 10.0
    max_requests = 1000 if quick else 6000
    project = trained_project(rows, say)
    params = load_params(project / "params.yaml")
    workers = params.serving.workers
    test = pd.read_parquet(project / "artifacts" / "test.parquet")
    bodies = {n: request_bodies(test, params, n, 200 if n == 1 else 20) for n in RECORD_SIZES}
    cells: list[dict[str, Any]] = []

    def measure_server(server: str, url: str, check: Callable[[int], Any]) -> None:
        for records in RECORD_SIZES:
            for concurrency in concurrencies:
                say(f"serving: {server}, {records} record(s)/request, concurrency {concurrency}")
                result = run_load(
                    url, bodies[records][server], concurrency, max_requests, max_seconds, check(records)
                ).summary(records)
                cells.append({"server": server, "records": records, "concurrency": concurrency, **result})

    home = WORK / "serving" / "bentoml-home"
    log = WORK / "serving" / "prediction-log"  # logging on, as by default (the prediction_log benchmark: its cost)
    shutil.rmtree(log, ignore_errors=True)
    env = bench_env({"BENTOML_HOME": str(home), PREDICTION_LOG_ENV: str(log)} | SERVER_ENV)
    say("serving: building the bento (gitops-ml build-bento)")
    tag = fresh_bento(project, home, env)
    port = free_port()
    say(f"serving: starting bentoml serve {tag}")
    logs = WORK / "serving" / "logs"
    cmd = serve_command(tag, port)
    with running(cmd, WORK / "serving", env, f"http://127.0.0.1:{port}/readyz", logs / "bentoml.log") as ready_s:
        startup = {"bentoml": round(ready_s, 1)}
        measure_server("bentoml", f"http://127.0.0.1:{port}/predict", _check_bento)

    run_id = latest_run_id(project)
    port = free_port()
    mlflow_env = bench_env({"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"} | SERVER_ENV)
    cmd = [
        "mlflow", "models", "serve", "-m", f"runs:/{run_id}/model", "--env-manager", "local",
        "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    say(f"serving: starting mlflow models serve -m runs:/{run_id}/model")
    with running(cmd, project, mlflow_env, f"http://127.0.0.1:{port}/ping", logs / "mlflow.log") as ready_s:
        startup["mlflow"] = round(ready_s, 1)
        measure_server("mlflow", f"http://127.0.0.1:{port}/invocations", _check_mlflow)

    model = load_model(project / "models" / "model.skops")
    for records in RECORD_SIZES:
        frames = [model_frame(chunk, params.schema) for chunk in chunks(test, records, 200 if records == 1 else 20)]
        for concurrency in concurrencies:
            say(f"serving: in process, {records} record(s)/call, concurrency {concurrency}")
            result = in_process(model, frames, concurrency, max_requests, max_seconds)
            cells.append({"server": "in_process", "records": records, "concurrency": concurrency, **result})
    return {"workers": workers, "model_rows": rows, "startup_s": startup, "cells": cells, "targets": targets(cells)}


def _cell(cells: list[dict[str, Any]], server: str, records: int, concurrency: int) -> dict[str, Any]:
    return next(c for c in cells if (c["server"], c["records"], c["concurrency"]) == (server, records, concurrency))


def targets(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's two targets, judged at concurrency 32."""
    bento1, mlflow1 = _cell(cells, "bentoml", 1, 32), _cell(cells, "mlflow", 1, 32)
    bento100, limit100 = _cell(cells, "bentoml", 100, 32), _cell(cells, "in_process", 100, 32)
    speedup = bento1["requests_per_s"] / mlflow1["requests_per_s"] if mlflow1["requests_per_s"] else float("inf")
    share = bento100["records_per_s"] / limit100["records_per_s"]
    return {
        "bento_vs_mlflow_rps_1_record_c32": {
            "value": round(speedup, 2),
            "limit": 1.5,
            "p99_bento_ms": bento1["p99_ms"],
            "p99_mlflow_ms": mlflow1["p99_ms"],
            "met": speedup >= 1.5 and bento1["p99_ms"] <= mlflow1["p99_ms"] and bento1["errors"] == 0,
        },
        "bento_share_of_in_process_records_100_records_c32": {
            "value": round(share, 2),
            "limit": 0.5,
            "met": share >= 0.5 and bento100["errors"] == 0,
        },
    }
