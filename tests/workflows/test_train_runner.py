"""Every job that trains takes its runner from the repository variable ``TRAIN_RUNS_ON`` (docs/scale-out.md).

A job trains when a step runs the pipeline: ``make repro``, or ``make retrain`` (which repros). The rehearsal
(tests/rehearsal/test_runners.py) shows act scheduling those jobs on the variable's label; this catches a training
job added later with a fixed ``runs-on``.
"""

from __future__ import annotations

import pytest

from tests.workflows.test_workflow_policy import WORKFLOWS, _load

TRAIN_RUNS_ON = (
    "${{ startsWith(vars.TRAIN_RUNS_ON, '[') && fromJSON(vars.TRAIN_RUNS_ON)"
    " || vars.TRAIN_RUNS_ON || 'ubuntu-latest' }}"
)
TRAINING_TARGETS = ("repro", "retrain")


def _training_jobs() -> list[tuple[str, str, dict]]:
    found = []
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            runs = [str(step.get("run", "")).split() for step in job.get("steps", []) or []]
            if any(cmd[:1] == ["make"] and set(cmd[1:]) & set(TRAINING_TARGETS) for cmd in runs):
                found.append((path.name, name, job))
    return found


def test_the_known_training_jobs_are_found():
    names = {(workflow, job) for workflow, job, _ in _training_jobs()}
    assert {("ci.yml", "pipeline"), ("release.yml", "gate"), ("retrain.yml", "retrain")} <= names


@pytest.mark.parametrize(("workflow", "name", "job"), _training_jobs(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_training_job_runs_where_train_runs_on_says(workflow: str, name: str, job: dict):
    assert job["runs-on"] == TRAIN_RUNS_ON, f"{workflow}: job {name} trains; give it `runs-on: {TRAIN_RUNS_ON}`"
