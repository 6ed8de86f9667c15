"""The latency section's goal cell, repeated: p99 at 100 requests/s, one record, authentication on.

``make bench ONLY=latency`` measures that cell once per task, one 10 s step of about 1,000 requests, so its p99 is
the tenth-slowest request and one stall of the shared machine moves it by milliseconds. This runs the same step
(the same bento, tokens, prediction log on, the same open-loop generator and schedule length) ``repeats`` times
against one ``bentoml serve`` of a task's model and prints each step's figures, so a verdict can rest on more than
one draw. It reuses the latency section's trained project of the task (and trains it when there is none)::

    make bench-goal TASK=regression REPEATS=6

It writes ``benchmarks/results/goal_repeats-<task>.json``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from benchmarks.common import ROOT, WORK, bench_env, load_average, machine
from benchmarks.latency import FULL_LADDER, GOAL_RATE, _check_predictions, make_tokens
from benchmarks.openloop import poisson_schedule, run_http
from benchmarks.serving import (
    SERVER_ENV,
    free_port,
    fresh_bento,
    request_bodies,
    running,
    serve_command,
    trained_project,
)
from gitops_ml.config import load_params
from gitops_ml.io import write_json
from gitops_ml.serving.auth_config import AUTH_VAR, TOKENS_FILE_VAR
from gitops_ml.serving.prediction_log import ENV_VAR as PREDICTION_LOG_ENV
from gitops_ml.tasks import Task

PAUSE_S = 2.0
"""Between steps, as the latency section settles between rates."""


def repeat_goal_cell(task: Task, repeats: int, rows: int = 10_000) -> list[dict[str, Any]]:
    """Each of ``repeats`` steps at the goal rate against one server of ``task``'s model: its summary."""
    project = trained_project(rows, print, task)
    params = load_params(project / "params.yaml")
    test = pd.read_parquet(project / "artifacts" / "test.parquet")
    bodies = request_bodies(test, params, 1, 200)["bentoml"]  # the latency section's one-record bodies
    work = WORK / "goal-repeats" / task.value
    home = work / "bentoml-home"
    env = bench_env({"BENTOML_HOME": str(home)} | SERVER_ENV)
    tag = fresh_bento(project, home, env)
    tokens = make_tokens(project, work)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_env = env | {AUTH_VAR: "on", TOKENS_FILE_VAR: str(tokens.file), PREDICTION_LOG_ENV: str(work / "log")}
    steps = []
    cmd = serve_command(tag, port)
    with running(cmd, work, server_env, f"{url}/readyz", work / "serve.log"):
        for i in range(repeats):
            time.sleep(PAUSE_S)
            schedule = poisson_schedule(
                GOAL_RATE, FULL_LADDER.requests_at(GOAL_RATE), FULL_LADDER.seconds, seed=GOAL_RATE + i
            )
            load = load_average()
            result = run_http(
                f"{url}/predict", bodies, schedule, GOAL_RATE, _check_predictions(1),
                headers={"authorization": f"Bearer {tokens.predict}"},
            )  # fmt: skip
            summary = result.summary() | {"load_average_1m": load}
            print(
                f"goal cell {task.value}, step {i + 1}/{repeats}: p50 {summary['p50_ms']} ms, "
                f"p99 {summary['p99_ms']} ms, errors {summary['errors']}/{summary['requests']}, load {load}",
                flush=True,
            )
            steps.append(summary)
    return steps


def main() -> None:
    """Parse the task and the number of steps, run them, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=[t.value for t in Task])
    parser.add_argument("repeats", type=int, nargs="?", default=6)
    args = parser.parse_args()
    steps = repeat_goal_cell(Task(args.task), args.repeats)
    p99s = sorted(s["p99_ms"] for s in steps)
    print(f"p99 over {len(steps)} steps: {p99s} ms (goal <= 10 ms: {sum(p <= 10 for p in p99s)} of {len(p99s)} met)")
    finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    write_json(
        ROOT / "benchmarks" / "results" / f"goal_repeats-{args.task}.json",
        {"task": args.task, "finished": finished, "machine": machine(), "steps": steps},
    )


if __name__ == "__main__":
    main()
