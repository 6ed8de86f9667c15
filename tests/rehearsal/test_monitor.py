"""Rehearsal of the monitoring loop: monitor.yml on ``schedule`` and ``workflow_dispatch``, then the drift issue as
the GitHub API stand-in holds it.

STAND-IN for the drift check: until ``gitops-ml drift`` is merged into this branch, the workflow's drift step is
replaced (in the copy act runs, never in the repository) by one that copies the ``drift.json`` and ``drift.md``
the test wrote into the window folder, in the drift check's format (tests/support/drift_reports.py). Everything
else runs as on GitHub: the window location from the ``PREDICTION_LOG_URL`` variable, the pipeline, the report
handed from the read-only job to the ``issues: write`` job as an artifact, ``gitops-ml drift-issue`` against the
API stand-in, re-runs of the same run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.act_runner import RunnerMachine
from tests.support.drift_reports import write_drift_reports
from tests.support.github_stub import GitHubStub

from .checks import writes
from .hosting import BOT, HostedRepo, Run

pytestmark = pytest.mark.rehearsal

CRON = "23 5 * * *"
DRIFT_STEP = 'run: uv run --frozen gitops-ml drift --current "$PREDICTION_LOG_URL"'
STAND_IN_STEP = 'run: mkdir -p reports && cp "$PREDICTION_LOG_URL/drift.json" "$PREDICTION_LOG_URL/drift.md" reports/'


def with_drift_stand_in(workflow: Path) -> Path:
    """The workflow act runs, its drift step replaced by the stand-in (see the module docstring)."""
    text = workflow.read_text()
    assert text.count(DRIFT_STEP) == 1, f"monitor.yml no longer has the drift step {DRIFT_STEP!r}"
    workflow.write_text(text.replace(DRIFT_STEP, STAND_IN_STEP))
    return workflow


def check(repo: HostedRepo, name: str, window: Path, drift: bool, drifted: tuple[str, ...] = ("amount",)) -> Run:
    """A dispatched monitor run whose drift check finds ``drift`` in ``drifted``."""
    write_drift_reports(window, drift, drifted)
    workflow = with_drift_stand_in(repo.workflow(repo.head(), "monitor.yml"))
    run = repo.dispatch_run(name, "monitor.yml", workflow=workflow, variables={"PREDICTION_LOG_URL": str(window)})
    run.act.expect_success()
    run.act.expect(run.act.job_results() == {"check": "success", "issue": "success"}, "both jobs ran")
    return run


def plain(text: str) -> str:
    """``text`` without terminal colours (rich colours numbers in act's log)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def drift_issues(github: GitHubStub) -> list[dict]:
    return github.issues(label="model-drift")


def test_without_a_prediction_log_the_run_is_green_and_says_what_to_set(repo: HostedRepo, github: GitHubStub) -> None:
    run = repo.schedule_run("monitor-unset", "monitor.yml", CRON)
    run.act.expect_success()
    run.act.expect(run.act.job_results() == {"check": "success"}, "the issue job is skipped")
    run.act.expect(run.act.step_result("check", "make repro") in (None, "skipped"), "no pipeline runs without a window")
    run.act.expect("PREDICTION_LOG_URL is not set: nothing to check" in run.act.text(), "the log says why")
    # act logs what a step appends to $GITHUB_STEP_SUMMARY
    run.act.expect("Summary - ## Drift check not configured" in run.act.text(), "the job summary says what to set")
    run.act.expect("repository variable `PREDICTION_LOG_URL` is not set" in run.act.text(), "... naming the variable")
    assert github.calls == [], "nothing asked of GitHub"


def test_one_issue_opened_commented_and_closed_after_the_clear_checks(
    repo: HostedRepo, github: GitHubStub, machine: RunnerMachine
) -> None:
    dev = repo.clone("dev")
    dev.replace("params.yaml", "clear_runs_to_close: 3", "clear_runs_to_close: 2")
    before = repo.head()
    dev.commit("monitor: close the drift issue after 2 clear checks")
    dev.push("main")
    assert repo.head() != before
    window = machine.root / "prediction-logs"

    # drift (the scheduled run): one issue, labelled, its body the report
    write_drift_reports(window, True, ("amount", "country"))
    workflow = with_drift_stand_in(repo.workflow(repo.head(), "monitor.yml"))
    first = repo.schedule_run("monitor-drift", "monitor.yml", CRON, workflow=workflow,
                              variables={"PREDICTION_LOG_URL": str(window)})  # fmt: skip
    first.act.expect_success()
    first.act.expect(first.act.job_results() == {"check": "success", "issue": "success"}, "both jobs ran")
    [issue] = drift_issues(github)
    number = issue["number"]
    assert issue["title"] == "Model drift: amount, country" and issue["state"] == "open"
    assert issue["user"]["login"] == BOT
    assert issue["body"].startswith(f"<!-- gitops-ml drift-report id=run-{first.id} drift=true -->")
    assert f"/actions/runs/{first.id}" in issue["body"] and "| `amount` | 0.410 | yes |" in issue["body"]

    # drift again: a comment on the same issue
    second = check(repo, "monitor-drift-again", window, True, ("hour",))
    [issue] = drift_issues(github)
    assert [c["body"].splitlines()[1] for c in github.comments(number)] == ["### Drift persists: `hour`"]
    assert second.id != first.id

    # the first clear check is counted, the second closes the issue
    clear = check(repo, "monitor-clear-1", window, False)
    assert drift_issues(github)[0]["state"] == "open"
    assert "(1 of 2 clear checks in a row" in github.comments(number)[-1]["body"]

    # re-running that run (same run id, attempt 2) posts nothing and counts nothing
    count = len(writes(github))
    again = repo.rerun_all("monitor-clear-1-rerun", clear, variables={"PREDICTION_LOG_URL": str(window)})
    again.act.expect_success()
    assert len(writes(github)) == count, writes(github)[count:]
    assert len(github.comments(number)) == 2 and drift_issues(github)[0]["state"] == "open"
    again.act.expect(f"report run-{clear.id} is already on #{number}" in plain(again.act.text()), "the log says so")
    last = check(repo, "monitor-clear-2", window, False)
    [issue] = drift_issues(github)
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert "No drift for 2 checks in a row: closing this issue" in github.comments(number)[-1]["body"]

    # re-running the closing run posts nothing, opens nothing
    count = len(writes(github))
    rerun = repo.rerun_all("monitor-clear-2-rerun", last, variables={"PREDICTION_LOG_URL": str(window)})
    rerun.act.expect_success()
    assert len(writes(github)) == count, writes(github)[count:]
    assert len(github.comments(number)) == 3 and len(drift_issues(github)) == 1
    rerun.act.expect("no drift issue is open: nothing to do" in plain(rerun.act.text()), "the log says why")
