"""Latency benchmark: open-loop Poisson load, raised to the knee, for a model of every task type.

For each task (binary on the built-in sample; multiclass and regression on the seeded data of
``tests/support/loop_data.py``, adopted with ``gitops-ml init-data``) one small project is trained, and its model is
served five ways: (a) the BentoML service (``bentoml serve`` of the bento, prediction log on),
(b) the same with authentication on (a bearer token on every request), (c) the bare ASGI app
(``benchmarks/bare_asgi.py``: uvicorn + Starlette, the same scorer and batcher, no validation), the practical
limit of a Python HTTP server here, (d) ``mlflow models serve`` of the same MLflow run and (e) the in-process
limit (the service's scorer behind its batcher, driven by the same schedule in this process: no HTTP at all).
(a) and (c), which the first goal compares, run side by side and their knee searches take turns, a rate each; the
others run one after another.

The generator is open-loop (``benchmarks/openloop.py``): requests are sent on a schedule drawn up front, whatever
the server does, and each latency runs from the request's scheduled send time (no coordinated omission). Each
server and request size gets a knee search (``benchmarks/knee.py``): the rate doubles from 25/s while p99 stays
within 50 ms with no error, up to the ladder's highest rate, then the gap above the last held rate is narrowed;
the knee is the highest rate held. A missed rate is run again and holds when most of its runs hold
(:data:`RUNS_PER_MISS`). Every step is bounded in requests and seconds; only 127.0.0.1 is served.
For the service, each step also gets a per-request breakdown read from its own ``/metrics``: HTTP and
validation, queue wait in the batcher, model call, and what the client saw beyond the server's own time.

Goals (issue 23), per task: the service's knee for 1-record requests at least 0.7x the bare app's, with the
prediction log on; p99 at 100 requests/s of 1 record at most 10 ms with authentication on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from benchmarks.common import ROOT, WORK, BenchError, bench_env, load_average, sh
from benchmarks.knee import P99_LIMIT_MS, Ladder, held, knee, next_rate
from benchmarks.openloop import OpenLoopResult, poisson_schedule, run_http, run_open_loop
from benchmarks.serving import (
    SERVER_ENV,
    bento_records,
    chunks,
    free_port,
    fresh_bento,
    latest_run_id,
    mlflow_body,
    running,
    serve_command,
    trained_project,
)
from gitops_ml.config import Params, load_params
from gitops_ml.model_call.scorer import ColumnScorer, column_scorer
from gitops_ml.serving.auth_config import AUTH_VAR, TOKENS_FILE_VAR
from gitops_ml.serving.prediction_log import ENV_VAR as PREDICTION_LOG_ENV
from gitops_ml.tasks import Task

TASKS = tuple(Task)
RECORD_SIZES = (1, 20)
QUICK_RECORD_SIZES = (1,)
FULL_LADDER = Ladder(start=25, max_rate=3200, resolution=1.1, seconds=10.0, max_requests=10_000)
QUICK_LADDER = Ladder(start=25, max_rate=200, resolution=1.5, seconds=1.0, max_requests=400)
SERVERS = ("bentoml", "bentoml_auth", "bare_asgi", "mlflow", "in_process")
GOAL_SHARE_OF_BARE = 0.7
GOAL_RATE = 100
GOAL_P99_MS = 10.0
RUNS_PER_MISS = 3
"""A missed step is run again, up to this many runs of its rate in all; the rate holds when most of them hold.

Generator and servers share the 2 cores: a stall of either process or of the machine (seen: the generator 117 ms
behind its schedule at 50 requests/s, the server answering every request within 3 ms) passes the 50 ms limit for
one step, and one such step would end a knee search far below the server's limit. A saturated server misses every
run, so a rate it cannot take still ends the search. A miss costs two runs when the second misses too, three when
it holds (the third decides); the runs that did not decide stay in the results, marked ``discarded``."""
SETTLE_PAUSE_S = 2.0
SETTLE_TIMEOUT_S = 30.0
REQUEST_SECONDS = "gitops_ml_predict_request_duration_seconds"
QUEUE_SECONDS = "gitops_ml_batch_queue_wait_seconds"
CALL_SECONDS = "gitops_ml_model_call_seconds"
CALL_RECORDS = "gitops_ml_model_call_records"

Measure = Callable[[int, list[float]], tuple[OpenLoopResult, dict[str, float] | None]]
"""``measure(rate, schedule)``: one open-loop run and, for the service, its breakdown."""


def served_columns(records: list[dict[str, Any]], params: Params) -> dict[str, list[Any]]:
    """JSON records as the service's batcher hands them to the model: one list per feature column."""
    return {name: [record[name] for record in records] for name in params.schema.feature_names}


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

    requests, server_ms = mean(REQUEST_SECONDS, http_response_code="200")
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


def step(
    server: str, records: int, rate: int, ladder: Ladder, measure: Measure, say: Callable[[str], None]
) -> dict[str, Any]:
    """One bounded open-loop run at ``rate``: its summary, whether it held, the load average and the breakdown."""
    schedule = poisson_schedule(rate, max_requests=ladder.requests_at(rate), max_seconds=ladder.seconds, seed=rate)
    load = load_average()
    result, parts = measure(rate, schedule)
    summary = result.summary()
    ok = held(summary)
    say(
        f"latency: {server}, {records} record(s), {rate}/s: p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"errors {summary['errors']}/{summary['requests']}: {'held' if ok else 'missed'}"
    )
    return summary | {
        "server": server,
        "records": records,
        "rate": rate,
        "held": ok,
        "load_average_1m": load,
        "breakdown": parts,
    }


class Search:
    """One knee search, advanced a rate at a time (:meth:`advance`), so that searches of servers that run side by
    side can take turns (:func:`interleave`) and a stretch of noise on the shared machine hits both.

    ``settle()``, after a missed run, waits for the server to work off its backlog, so the next run starts clean.
    """

    def __init__(
        self,
        server: str,
        records: int,
        measure: Measure,
        ladder: Ladder,
        say: Callable[[str], None],
        settle: Callable[[], None] | None = None,
    ) -> None:
        self.server, self.records, self.measure, self.ladder, self.say = server, records, measure, ladder, say
        self.settle = settle or (lambda: None)
        self.cells: list[dict[str, Any]] = []
        """Every run, in the order run (those that did not decide their rate marked ``discarded``)."""
        self.results: dict[int, bool] = {}
        """Rate -> whether it held (the deciding run's verdict)."""

    def _run(self, rate: int) -> dict[str, Any]:
        cell = step(self.server, self.records, rate, self.ladder, self.measure, self.say)
        if not cell["held"]:
            self.settle()
        return cell

    def advance(self) -> bool:
        """Decide the next rate :func:`benchmarks.knee.next_rate` picks (see :data:`RUNS_PER_MISS`); False when the
        knee is known and nothing was run."""
        rate = next_rate(self.ladder, self.results)
        if rate is None:
            return False
        runs = [self._run(rate)]
        if not runs[0]["held"]:  # run again until held or missed runs are a majority of RUNS_PER_MISS
            majority = RUNS_PER_MISS // 2 + 1
            while max(sum(r["held"] for r in runs), sum(not r["held"] for r in runs)) < majority:
                self.say(f"latency: {self.server}, {self.records} record(s), {rate}/s: run again")
                runs.append(self._run(rate))
        if len(runs) == 1:
            self.cells.append(runs[0])
        else:
            count = f"{sum(r['held'] for r in runs)} of {len(runs)} runs held"
            self.cells += [r | {"discarded": count} for r in runs[:-1]] + [runs[-1] | {"runs": count}]
        self.results[rate] = runs[-1]["held"]  # the run that made a majority, or the first when it held
        return True

    def to_knee(self) -> list[dict[str, Any]]:
        """Advance until the knee is known; every run, in the order run."""
        while self.advance():
            pass
        return self.cells


def interleave(searches: list[Search]) -> list[dict[str, Any]]:
    """Advance ``searches`` in turns, a rate each, until every knee is known; their runs, search by search."""
    active = list(searches)
    while active:
        active = [one for one in active if one.advance()]
    return [cell for one in searches for cell in one.cells]


def judged(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that count: one per rate tried, the one that decided it (:data:`RUNS_PER_MISS`)."""
    return [c for c in cells if not c.get("discarded")]


def server_knee(cells: list[dict[str, Any]], server: str, records: int) -> int | None:
    """The knee of ``server`` at ``records`` per request, from its search's steps (an extra step does not count)."""
    return knee(
        {
            c["rate"]: c["held"]
            for c in judged(cells)
            if (c["server"], c["records"]) == (server, records) and not c.get("extra")
        }
    )


def settler(url: str) -> Callable[[], None]:
    """A pause after a missed step: 2 s, then until ``url`` answers (at most 30 s), so the backlog is worked off.

    Every request of a step has been answered (or timed out) when the step returns, so what may remain is work the
    server still does for requests the client gave up on, and its own recovery (a collection, a flushed log).
    """

    def settle() -> None:
        time.sleep(SETTLE_PAUSE_S)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=SETTLE_TIMEOUT_S).status_code == 200:
                    return
            time.sleep(0.25)

    return settle


@dataclass(frozen=True)
class Tokens:
    """Bearer tokens for a service with authentication on, and the tokens file that lists their hashes."""

    predict: str
    metrics: str
    file: Path


def make_tokens(project: Path, directory: Path) -> Tokens:
    """A ``predict`` and a ``metrics`` token made with ``gitops-ml token``, their hash lines in a tokens file."""
    made = {role: sh(["gitops-ml", "token", "--role", role], project).split() for role in ("predict", "metrics")}
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / "tokens.txt"
    file.write_text("".join(f"{role} {digest}\n" for _, role, digest in made.values()), encoding="utf-8")
    return Tokens(made["predict"][0], made["metrics"][0], file)


def bench(quick: bool, say: Callable[[str], None] = print, rows: int = 10_000) -> dict[str, Any]:
    """Every task's model behind every server, each request size searched to its knee; then the goals."""
    ladder = QUICK_LADDER if quick else FULL_LADDER
    sizes = QUICK_RECORD_SIZES if quick else RECORD_SIZES
    tasks = {task.value: bench_task(task, rows, ladder, sizes, say) for task in TASKS}
    return {
        "ladder": asdict(ladder),
        "record_sizes": list(sizes),
        "model_rows": rows,
        "p99_limit_ms": P99_LIMIT_MS,
        "runs_per_miss": RUNS_PER_MISS,
        "goal_limits": {"share_of_bare": GOAL_SHARE_OF_BARE, "rate": GOAL_RATE, "p99_ms": GOAL_P99_MS},
        "tasks": tasks,
    }


def bench_task(
    task: Task, rows: int, ladder: Ladder, sizes: tuple[int, ...], say: Callable[[str], None]
) -> dict[str, Any]:
    """One task: train (or reuse) its project, search every server's knee, judge the goals."""
    from gitops_ml.model_io import load_model

    project = trained_project(rows, say, task)
    params = load_params(project / "params.yaml")
    if params.schema.task is not task:
        raise BenchError(f"{project}/params.yaml has schema.task {params.schema.task.value}, not {task.value}")
    test = pd.read_parquet(project / "artifacts" / "test.parquet")
    scorer = column_scorer(load_model(project / "models" / "model.skops"), params.schema)
    say(f"latency: {task.value} model, scoring path {scorer.path}")
    samples = {n: chunks(test, n, 200 if n == 1 else 50) for n in sizes}
    records = {n: [bento_records(c, params) for c in samples[n]] for n in sizes}
    bodies = {n: [json.dumps({"records": r}).encode() for r in records[n]] for n in sizes}
    work = WORK / "latency" / task.value
    logs = work / "logs"
    cells: list[dict[str, Any]] = []
    workers = params.serving.workers

    def http_measure(url: str, n: int, payloads: list[bytes], **kw: Any) -> Measure:
        headers, metrics_headers, metrics = kw.get("headers"), kw.get("metrics_headers"), kw.get("metrics")

        def measure(rate: int, schedule: list[float]) -> tuple[OpenLoopResult, dict[str, float] | None]:
            before = httpx.get(metrics, headers=metrics_headers, timeout=30).text if metrics else ""
            result = run_http(url, payloads, schedule, rate, _check_predictions(n), headers=headers)
            if not metrics:
                return result, None
            after = httpx.get(metrics, headers=metrics_headers, timeout=30).text
            return result, breakdown(before, after, result.summary()["mean_ms"])

        return measure

    home = work / "bentoml-home"
    env = bench_env({"BENTOML_HOME": str(home)} | SERVER_ENV)
    say(f"latency: {task.value}: building the bento (gitops-ml build-bento)")
    tag = fresh_bento(project, home, env)
    tokens = make_tokens(project, work)

    def serve_bento(server: str, auth_env: dict[str, str]) -> tuple[contextlib.AbstractContextManager[Any], str]:
        log = work / f"prediction-log-{server}"
        shutil.rmtree(log, ignore_errors=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = serve_command(tag, port)
        server_env = env | auth_env | {PREDICTION_LOG_ENV: str(log)}
        return running(cmd, work, server_env, f"{url}/readyz", logs / f"{server}.log"), url

    # (a) the service, prediction log on (as by default), and (c) the bare ASGI app (same scorer and batcher, same
    # uvicorn, nothing else), both up at once: their searches take turns, so a noisy stretch hits both.
    service, service_url = serve_bento("bentoml", {AUTH_VAR: "off"})
    with service:
        bare_url = f"http://127.0.0.1:{free_port()}"  # chosen once the service holds its port
        bare_cmd = [
            sys.executable, "-m", "benchmarks.bare_asgi", "--project", str(project),
            "--port", bare_url.rsplit(":", 1)[1], "--workers", str(workers),
        ]  # fmt: skip
        with running(bare_cmd, ROOT, bench_env(SERVER_ENV), f"{bare_url}/readyz", logs / "bare.log"):
            for n in sizes:
                service_measure = http_measure(f"{service_url}/predict", n, bodies[n], metrics=f"{service_url}/metrics")
                bare_measure = http_measure(f"{bare_url}/predict", n, bodies[n])
                cells += interleave(
                    [
                        Search("bentoml", n, service_measure, ladder, say, settler(f"{service_url}/readyz")),
                        Search("bare_asgi", n, bare_measure, ladder, say, settler(f"{bare_url}/readyz")),
                    ]
                )

    # (b) the service with authentication on, 1 record, then the step at the goal's rate if the ladder missed it.
    auth_env = {AUTH_VAR: "on", TOKENS_FILE_VAR: str(tokens.file)}
    authed, url = serve_bento("bentoml_auth", auth_env)
    with authed:
        measure = http_measure(
            f"{url}/predict", 1, bodies[1], headers={"authorization": f"Bearer {tokens.predict}"},
            metrics=f"{url}/metrics", metrics_headers={"authorization": f"Bearer {tokens.metrics}"},
        )  # fmt: skip
        steps = Search("bentoml_auth", 1, measure, ladder, say, settler(f"{url}/readyz")).to_knee()
        if all(c["rate"] != GOAL_RATE for c in steps):
            steps.append(step("bentoml_auth", 1, GOAL_RATE, ladder, measure, say) | {"extra": True})
        cells += steps

    # (d) mlflow models serve of the MLflow run that logged the model.
    run_id = latest_run_id(project)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow_env = bench_env({"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"} | SERVER_ENV)
    cmd = [
        "mlflow", "models", "serve", "-m", f"runs:/{run_id}/model", "--env-manager", "local",
        "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with running(cmd, project, mlflow_env, f"{url}/ping", logs / "mlflow.log"):
        for n in sizes:
            payloads = [mlflow_body(c, params) for c in samples[n]]
            measure = http_measure(f"{url}/invocations", n, payloads)
            cells += Search("mlflow", n, measure, ladder, say, settler(f"{url}/ping")).to_knee()

    # (e) the in-process limit.
    for n in sizes:
        columns = [served_columns(r, params) for r in records[n]]

        def measure_in_process(rate: int, schedule: list[float], columns: list[Any] = columns) -> tuple[Any, None]:
            return in_process(scorer, params.serving.max_batch_size, columns, schedule, rate), None

        cells += Search("in_process", n, measure_in_process, ladder, say).to_knee()

    knees = {server: {str(n): server_knee(cells, server, n) for n in sizes} for server in SERVERS}
    return {
        "scoring_path": scorer.path,
        "workers": workers,
        "cells": cells,
        "knees": knees,
        "goals": goals(cells, ladder),
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
        batcher.inline_max_rows = scorer.quick_call_max_rows  # as the service sets it

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


def _lowest_at_or_above(cells: list[dict[str, Any]], server: str, records: int, rate: int) -> dict[str, Any] | None:
    """The step of ``server`` at the lowest rate tried that is at least ``rate``."""
    steps = [c for c in cells if (c["server"], c["records"]) == (server, records) and c["rate"] >= rate]
    return min(steps, key=lambda c: c["rate"], default=None)


def _first_miss_above(
    cells: list[dict[str, Any]], server: str, records: int, rate: int | None
) -> dict[str, Any] | None:
    """The step of ``server`` that missed at the lowest rate above ``rate`` (its knee): where the knee comes from."""
    misses = [
        c
        for c in cells
        if (c["server"], c["records"]) == (server, records) and not c["held"] and (rate is None or c["rate"] > rate)
    ]
    return min(misses, key=lambda c: c["rate"], default=None)


def _where(cell: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a step says about where the time went: its rate, tail, errors and the service's breakdown."""
    if cell is None:
        return None
    keys = ("rate", "p50_ms", "p99_ms", "errors", "requests", "first_error", "send_lag_p99_ms", "breakdown")
    return {k: cell.get(k) for k in keys}


def goals(cells: list[dict[str, Any]], ladder: Ladder) -> dict[str, Any]:
    """Issue 23's two serving goals for one task, each ``met``, ``missed`` or ``not judged``, with the reason.

    A goal not met carries ``where`` (server -> step): for the knee, the service's step that missed just above its
    knee and the bare app's at that rate or the next one it tried; for the p99, the step at 100/s, with its
    per-request breakdown.
    """
    cells = judged(cells)
    service, bare = server_knee(cells, "bentoml", 1), server_knee(cells, "bare_asgi", 1)
    share: dict[str, Any] = {"limit": GOAL_SHARE_OF_BARE, "service": service, "bare_asgi": bare}
    if bare is None:
        share |= {
            "value": None,
            "verdict": "not judged",
            "how": f"the bare app held no rate (not even {ladder.start}/s): the model call or the machine is the "
            "limit, not the HTTP server",
        }
    elif service is None:
        share |= {"value": 0.0, "verdict": "missed", "how": f"the service held no rate, the bare app {bare}/s"}
    else:
        value = service / bare
        share |= {"value": round(value, 2), "how": f"{service}/s against {bare}/s"}
        if bare >= ladder.max_rate and service < ladder.max_rate and value >= GOAL_SHARE_OF_BARE:
            share |= {
                "verdict": "not judged",
                "how": f"the bare app held the highest rate tried ({ladder.max_rate}/s), so its knee is higher: "
                "raise the ladder's max_rate",
            }
        else:
            share["verdict"] = "met" if value >= GOAL_SHARE_OF_BARE else "missed"
            if bare >= ladder.max_rate:
                share["how"] += " (the highest rate tried)"
    if share["verdict"] != "met":
        miss = _first_miss_above(cells, "bentoml", 1, service)
        share["where"] = {
            "bentoml": _where(miss),
            "bare_asgi": _where(_lowest_at_or_above(cells, "bare_asgi", 1, miss["rate"])) if miss else None,
        }
    at_rate = _cell(cells, "bentoml_auth", 1, GOAL_RATE)
    p99: dict[str, Any] = {"limit": GOAL_P99_MS, "rate": GOAL_RATE}
    if at_rate is None:
        p99 |= {"value": None, "verdict": "not judged", "how": f"{GOAL_RATE}/s was not measured"}
    else:
        ok = at_rate["errors"] == 0 and at_rate["p99_ms"] <= GOAL_P99_MS
        errors = f", {at_rate['errors']} errors" if at_rate["errors"] else ""
        p99 |= {
            "value": at_rate["p99_ms"],
            "verdict": "met" if ok else "missed",
            "how": f"p99 {at_rate['p99_ms']} ms{errors}",
        }
        if not ok:
            p99["where"] = {"bentoml_auth": _where(at_rate)}
    return {"service_knee_share_of_bare_1_record": share, "p99_at_100_per_s_auth_on_1_record_ms": p99}
