"""Rehearsal of the loop after release: monitor.yml on ``schedule`` and ``workflow_dispatch`` (the drift issue as the
GitHub API stand-in holds it), and retrain.yml started from the drift issue (the pull request it opens, and that
pull request's ci report).

Everything runs as on GitHub: the window is read from where the ``PREDICTION_LOG_URL`` variable points (a folder
of prediction-log files the test writes: rows of the sample, moved by :func:`tests.support.drift_reports.shifted`
for a drift), the pipeline makes the training reference, the real drift check judges the window, the report goes
from the read-only job to the ``issues: write`` job as an artifact, and ``gitops-ml drift-issue`` talks to the API
stand-in; re-runs reuse the run's id.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.config import load_params
from tests.support.act_runner import RunnerMachine
from tests.support.drift_reports import shifted, write_prediction_log
from tests.support.fixture_project import FIXTURE_PARAMS
from tests.support.github_stub import GitHubStub
from tests.support.sample import sample_generator

from .checks import artifact_dir, writes
from .conftest import private_dvc_cache
from .hosting import BOT, HostedRepo, Run, git

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow(weight=8)]

CRON = "23 5 * * *"
SCHEMA = load_params(FIXTURE_PARAMS).schema
SHIFTED = "`amount`, `channel`, `distance_from_home_km`, `predicted score`"


def recent(seed: int, rows: int = 1500) -> pd.DataFrame:
    """Recent traffic like the training data (the sample's generator, another seed)."""
    return sample_generator().generate_transactions(rows, seed=seed)


def check(repo: HostedRepo, name: str, window: Path, frame: pd.DataFrame, schedule: bool = False) -> Run:
    """A monitor run (dispatched, or scheduled) whose window is ``frame``, written as the service's prediction log."""
    write_prediction_log(frame, window, SCHEMA.feature_names, SCHEMA.ids)
    variables = {"PREDICTION_LOG_URL": str(window)}
    if schedule:
        run = repo.schedule_run(name, "monitor.yml", CRON, variables=variables)
    else:
        run = repo.dispatch_run(name, "monitor.yml", variables=variables)
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

    # drift (the scheduled run): one issue, labelled, its body the drift check's report
    first = check(repo, "monitor-drift", window, shifted(recent(7)), schedule=True)
    [issue] = drift_issues(github)
    number = issue["number"]
    assert issue["title"] == "Model drift: amount, channel, distance_from_home_km, predicted score"
    assert issue["state"] == "open" and issue["user"]["login"] == BOT
    assert issue["body"].startswith(f"<!-- gitops-ml:drift-report id=run-{first.id} drift=true -->")
    assert f"/actions/runs/{first.id}" in issue["body"] and "1500 records" in issue["body"]
    assert "- `channel`: `crypto_kiosk`" in issue["body"], "the drift check's report names the unseen category"

    # drift again: a comment on the same issue
    second = check(repo, "monitor-drift-again", window, shifted(recent(11)))
    [issue] = drift_issues(github)
    assert [c["body"].splitlines()[1] for c in github.comments(number)] == [f"### Drift persists: {SHIFTED}"]
    assert second.id != first.id

    # the first clear check is counted, the second closes the issue
    clear = check(repo, "monitor-clear-1", window, recent(23))
    assert drift_issues(github)[0]["state"] == "open"
    assert "(1 of 2 clear checks in a row" in github.comments(number)[-1]["body"]

    # re-running that run (same run id, attempt 2) posts nothing and counts nothing
    count = len(writes(github))
    again = repo.rerun_all("monitor-clear-1-rerun", clear, variables={"PREDICTION_LOG_URL": str(window)})
    again.act.expect_success()
    assert len(writes(github)) == count, writes(github)[count:]
    assert len(github.comments(number)) == 2 and drift_issues(github)[0]["state"] == "open"
    again.act.expect(f"report run-{clear.id} is already on #{number}" in plain(again.act.text()), "the log says so")
    last = check(repo, "monitor-clear-2", window, recent(11))
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


# --- retrain.yml ---------------------------------------------------------------------------------------------------

DRIFT_ISSUE = {"number": 4, "title": "Model drift: amount", "state": "open", "user": {"login": BOT},
               "labels": [{"name": "model-drift"}, {"name": "retrain"}]}  # fmt: skip


def labelled_window(path: Path, rows: int = 1500, seed: int = 99) -> Path:
    """A new labelled window: the sample's generator with another seed, ids the sample does not use."""
    frame = sample_generator().generate_transactions(rows, seed=seed)
    frame["transaction_id"] = range(10_000_000 * seed, 10_000_000 * seed + rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def retrain_branches(repo: HostedRepo) -> dict[str, str]:
    """Branches ``retrain/*`` in origin -> their commit."""
    out = git("for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/retrain/", cwd=repo.origin)
    return dict(line.split(" ") for line in out.splitlines())


def test_a_retrain_label_on_the_drift_issue_opens_a_pull_request_that_ci_reports_on(
    repo: HostedRepo, github: GitHubStub, machine: RunnerMachine
) -> None:
    with github.lock:
        github.state["origin"] = str(repo.origin)  # new pull requests' heads are looked up there
    github.put_issue(4, title="Model drift: amount", labels=["model-drift", "retrain"], user=BOT)
    github.put_issue(5, title="Other", labels=["retrain"])
    remote = machine.root / "dvc-remote"
    remote.mkdir()
    window = labelled_window(machine.root / "labels" / "2026-05.csv")
    settings = {"DVC_REMOTE_URL": str(remote), "RETRAIN_WINDOW_URL": str(window)}
    main = repo.head()

    # `retrain` on an issue that is not a drift issue: the job does not run
    other = {**DRIFT_ISSUE, "number": 5, "labels": [{"name": "retrain"}]}
    skipped = repo.issue_labeled_run("retrain-not-drift", "retrain.yml", other, "retrain", variables=settings)
    skipped.act.expect(skipped.act.ok and skipped.act.job_results() == {}, "no job for an issue without model-drift")

    # `retrain` on the drift issue: the window is added, the model retrained, a pull request opened
    run = repo.issue_labeled_run("retrain-from-issue", "retrain.yml", DRIFT_ISSUE, "retrain", variables=settings)
    run.act.expect_success()
    [(branch, head)] = retrain_branches(repo).items()
    assert branch.startswith("retrain/") and branch.endswith("-2026-05"), branch
    assert git("rev-parse", f"{head}^", cwd=repo.origin) == main
    assert git("diff", "--name-only", main, head, cwd=repo.origin).splitlines() == ["data.dvc", "dvc.lock"]
    assert (
        git("log", "-1", "--format=%an <%ae>", head, cwd=repo.origin)
        == "gitops-ml <gitops-ml@users.noreply.github.com>"
    )
    [pull] = [p for p in github.pulls() if p["head_ref"] == branch]
    assert (pull["base_ref"], pull["head_sha"], pull["user"]["login"]) == ("main", head, BOT)
    assert f"`{window}`" in pull["body"] and "| new window | 1500 |" in pull["body"]
    assert "pushed to the DVC remote" in pull["body"] and "drift issue #4" in pull["body"]
    assert any(remote.rglob("*.dir")), "the data's manifest is in the DVC remote"
    assert [(c.method, c.path) for c in github.writes()] == [("POST", f"/repos/{repo.full_name}/pulls")]

    # a re-run of the same run pushes nothing and opens no second pull request
    rerun = repo.rerun_all("retrain-from-issue-rerun", run, variables=settings)
    rerun.act.expect_success()
    rerun.act.expect("already open: pull request" in plain(rerun.act.text()), "the open pull request is reused")
    assert retrain_branches(repo) == {branch: head} and len(github.writes()) == 1

    # the pull request's ci run (as started with a token that starts workflows), on a fresh runner whose DVC
    # cache is empty: it pulls the new data from the DVC remote and reports on it against main
    private_dvc_cache(machine)
    pr = repo.open_pull(pull["number"], branch, head)
    ci = repo.pull_request_run("ci-retrain", "ci.yml", pr, job="pipeline", variables={"DVC_REMOTE_URL": str(remote)})
    ci.act.expect_success()
    ci.act.expect("pulled data/transactions.csv from the DVC remote" in plain(ci.act.text()), "the data came from it")
    report = json.loads((artifact_dir(machine, repo, ci.id, "pr-report") / "report.json").read_text())
    assert report["data"]["changed"] is True
    assert (report["data"]["base"]["rows"], report["data"]["head"]["rows"]) == (20_000, 21_500)
