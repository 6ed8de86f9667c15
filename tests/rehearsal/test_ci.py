"""Rehearsal of ci.yml on a push: a fork's first push goes green with no variable, secret, tag or remote."""

from __future__ import annotations

import shutil

import pytest

from tests.support.act_runner import RunnerMachine
from tests.support.github_stub import GitHubStub

from .conftest import private_dvc_cache
from .hosting import HostedRepo

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow(weight=5)]


def test_first_push_of_a_fork_goes_green_and_posts_nothing(
    repo: HostedRepo, github: GitHubStub, machine: RunnerMachine
) -> None:
    private_dvc_cache(machine)  # a fork's first run has nothing cached
    head = repo.head()
    run = repo.push_run("ci-push", "ci.yml", before="0" * 40, after=head, job="pipeline").act
    run.expect_success()
    run.expect(run.job_results() == {"pipeline": "success"}, "only the pipeline job runs, and passes")
    run.expect(run.step_result("pipeline", "make repro") == "success", "the pipeline ran")
    run.expect(run.step_result("pipeline", "Compare with the base branch") is None, "no PR report on a push")
    run.expect("DVC_REMOTE_URL is not set" in run.text(), "no DVC remote is configured")
    run.expect("generating the sample" in run.text(), "a fork without a DVC remote regenerates the sample data")
    assert github.calls == [], "a push posts nothing to GitHub"
    assert not any(machine.artifacts.iterdir()), "a push uploads no artifact"
    assert repo.tags() == {}, "a push creates no tag"


def test_data_on_a_dvc_remote_is_pulled_by_ci_and_the_release_gate(repo: HostedRepo, machine: RunnerMachine) -> None:
    cache = private_dvc_cache(machine)  # what the runner knows about the team's data comes from the remote
    remote = machine.root / "dvc-remote"
    dev = repo.clone("data-team", own_dvc_cache=True)
    dev.run("gitops-ml", "sample-data", "--rows", "6000", "--seed", "7")  # the team's own data, not the sample
    dev.run("dvc", "add", "data")
    dev.dvc_repro()
    dev.run("dvc", "remote", "add", "--local", "team", str(remote))
    dev.run("dvc", "push", "--remote", "team")
    before = repo.head()
    head = dev.commit("data: our own transactions")
    dev.push("main")

    without = repo.push_run("ci-without-remote", "ci.yml", before, head, job="pipeline").act
    without.expect_failure("pipeline", "make repro")
    without.expect("no configured DVC remote" in without.text(), "the error says the data is on a remote")

    variables = {"DVC_REMOTE_URL": str(remote)}
    ci = repo.push_run("ci-with-remote", "ci.yml", before, head, job="pipeline", variables=variables)
    ci.act.expect_success()
    ci.act.expect("pulled data/transactions.csv from the DVC remote" in ci.act.text(), "ci pulled the data")
    shutil.rmtree(cache)  # the release runs on another runner, without ci's cache (and keeps none itself)
    gate = repo.workflow_run_run("release-gate-with-remote", "release.yml", ci, job="gate", variables=variables).act
    gate.expect_success()
    gate.expect("pulled data/transactions.csv from the DVC remote" in gate.text(), "the gate pulled the data")
    gate.expect(gate.outputs("gate", "gate").get("release") == "true", "the team's first model passes the floors")
