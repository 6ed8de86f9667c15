"""Rehearsal of the training runner: the jobs that train go where the repository variable ``TRAIN_RUNS_ON`` says.

act runs a job only on a label it can map (``-P <label>=...``); a label mapped to nothing makes it skip the job and
name the label. So a job that succeeds while only the variable's label has a runner was scheduled on that label,
and the labels act names for a job it skipped are the ones the job asked for.
"""

from __future__ import annotations

import pytest

from tests.support.act_runner import HOST_RUNNER, NO_RUNNER, ActRun

from .hosting import HostedRepo

pytestmark = pytest.mark.rehearsal

TRAIN_LABEL = "gitops-ml-train"  # the runner scale set of deploy/runners (its runnerScaleSetName)
ONLY_TRAIN_RUNNER = {"ubuntu-latest": NO_RUNNER, TRAIN_LABEL: HOST_RUNNER}
ONLY_HOSTED_RUNNER = {"ubuntu-latest": HOST_RUNNER, TRAIN_LABEL: NO_RUNNER}

# (workflow, job): every job that runs the pipeline (`make repro`, or `make retrain`, which repros).
TRAINING_JOBS = [("ci.yml", "pipeline"), ("release.yml", "gate"), ("retrain.yml", "retrain")]


def test_the_pipeline_job_trains_on_the_runner_the_variable_names(repo: HostedRepo) -> None:
    head = repo.head()
    run = repo.push_run(
        "ci-on-train-runner", "ci.yml", before="0" * 40, after=head, job="pipeline",
        variables={"TRAIN_RUNS_ON": TRAIN_LABEL}, platforms=ONLY_TRAIN_RUNNER,
    ).act  # fmt: skip
    run.expect_success()
    run.expect(run.job_results() == {"pipeline": "success"}, "the pipeline job ran, on the only runner there was")
    run.expect(run.unmapped_labels("pipeline") == [], "act found a runner for every label the job asked for")
    run.expect(run.step_result("pipeline", "make repro") == "success", "the pipeline trained there")


def _scheduled(repo: HostedRepo, name: str, workflow: str, job: str, runs_on: str | None, platforms) -> ActRun:
    """Run only ``job`` of ``workflow`` with ``TRAIN_RUNS_ON`` set to ``runs_on`` (None: unset)."""
    variables = {} if runs_on is None else {"TRAIN_RUNS_ON": runs_on}
    options = {"job": job, "variables": variables, "platforms": platforms}
    if workflow == "ci.yml":
        return repo.push_run(name, workflow, before="0" * 40, after=repo.head(), **options).act
    return repo.dispatch_run(name, workflow, **options).act  # release and retrain both train when dispatched


@pytest.mark.parametrize(("workflow", "job"), TRAINING_JOBS, ids=[f"{w}:{j}" for w, j in TRAINING_JOBS])
def test_each_training_job_asks_for_the_variables_labels_and_ubuntu_latest_without_it(
    repo: HostedRepo, workflow: str, job: str
) -> None:
    stem = workflow.removesuffix(".yml")
    # set: the job waits for the variable's runner; it never falls back to the hosted one
    named = _scheduled(repo, f"{stem}-label", workflow, job, TRAIN_LABEL, ONLY_HOSTED_RUNNER)
    named.expect(named.unmapped_labels(job) == [TRAIN_LABEL], f"{job} asked for {TRAIN_LABEL} only")
    named.expect(named.job_results() == {}, f"{job} did not run on ubuntu-latest")

    # a JSON list: every label of it (GitHub picks a runner that has them all)
    labels = ["self-hosted", "linux", "x64"]
    listed = _scheduled(repo, f"{stem}-list", workflow, job, '["self-hosted", "linux", "x64"]', ONLY_HOSTED_RUNNER)
    listed.expect(listed.unmapped_labels(job) == labels, f"{job} asked for the list's labels")

    # unset: ubuntu-latest, GitHub's standard runner
    default = _scheduled(repo, f"{stem}-unset", workflow, job, None, ONLY_TRAIN_RUNNER)
    default.expect(default.unmapped_labels(job) == ["ubuntu-latest"], f"{job} asked for ubuntu-latest")
    default.expect(default.job_results() == {}, f"{job} did not run on {TRAIN_LABEL}")
