"""Rehearsal of the pull-request loop: ci.yml on ``pull_request``, then pr-comment.yml on ``workflow_run``.

What GitHub would show is read from the API stand-in: the comments on each pull request and every write call.
ci runs only its ``pipeline`` job here (``-j pipeline``): ``lint`` needs GitHub (zizmor's online audits,
upstream actionlint from the Go proxy) and ``test`` is the whole pytest suite, which ``make test`` runs anyway.
"""

from __future__ import annotations

import json

import pytest

from tests.support.act_runner import RunnerMachine
from tests.support.github_stub import GitHubStub

from .checks import SAYS_WOULD_RELEASE, artifact_dir, expect_one_bot_comment, writes
from .hosting import HostedRepo, Pull, Run, learning_rate

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow(weight=4)]


def ci_for(repo: HostedRepo, name: str, pull: Pull) -> Run:
    """The ci run GitHub starts for the pull request's current head (pipeline job only)."""
    return repo.pull_request_run(name, "ci.yml", pull, job="pipeline")


def comment_after(repo: HostedRepo, name: str, ci: Run) -> Run:
    """The pr-comment run GitHub starts when ``ci`` completes."""
    return repo.workflow_run_run(name, "pr-comment.yml", ci)


def test_pull_request_gets_one_bot_comment_updated_in_place(
    repo: HostedRepo, github: GitHubStub, machine: RunnerMachine
) -> None:
    dev = repo.clone("dev")
    dev.append("README.md", "\nA note from the pull request.\n")
    first = dev.commit("docs: a note", branch="tune")
    dev.push("tune")
    pull = repo.open_pull(7, "tune", first)

    ci = ci_for(repo, "ci-pr-1", pull)
    ci.act.expect_success()
    report = artifact_dir(machine, repo, ci.id, "pr-report")
    assert sorted(p.name for p in report.iterdir()) == ["pr.json", "report.json", "report.md"], ci.act.describe()
    assert json.loads((report / "pr.json").read_text()) == {"pr_number": "7", "head_sha": first}
    comment = comment_after(repo, "comment-1", ci)
    comment.act.expect_success()
    assert writes(github) == [("POST", f"/repos/{repo.full_name}/issues/7/comments", 201)], comment.act.describe()
    first_comment = expect_one_bot_comment(github, comment.act, 7)

    # a second push: a tuned hyperparameter, with dvc.lock updated as `make repro` leaves it
    dev.replace("params.yaml", learning_rate("0.1"), learning_rate("0.08"))
    dev.dvc_repro()
    second = dev.commit("train: learning rate 0.08")
    dev.push("tune")
    pull = repo.open_pull(7, "tune", second)
    ci = ci_for(repo, "ci-pr-2", pull)
    ci.act.expect_success()
    comment = comment_after(repo, "comment-2", ci)
    comment.act.expect_success()
    comment_id = first_comment["id"]
    assert writes(github) == [
        ("POST", f"/repos/{repo.full_name}/issues/7/comments", 201),
        ("PATCH", f"/repos/{repo.full_name}/issues/comments/{comment_id}", 200),
    ], comment.act.describe()
    updated = expect_one_bot_comment(github, comment.act, 7)
    assert updated["id"] == comment_id and updated["body"] != first_comment["body"], "one comment, edited in place"
    assert "learning_rate" in updated["body"], "the updated comment shows the changed parameter"
    assert "learning_rate" not in first_comment["body"]


def test_fork_pull_request_with_a_tampered_artifact_is_refused(
    repo: HostedRepo, github: GitHubStub, machine: RunnerMachine
) -> None:
    # an open pull request of the repository's own branch, which the fork will try to aim the bot at
    dev = repo.clone("dev")
    dev.append("README.md", "\nAn unrelated change.\n")
    other = dev.commit("docs: unrelated", branch="other")
    dev.push("other")
    repo.open_pull(3, "other", other)

    fork = repo.clone("mallory")
    fork.append("README.md", "\nA fork's change.\n")
    head = fork.commit("docs: from a fork", branch="patch-1")
    fork.push("refs/pull/12/head")  # GitHub keeps a fork's head in the base repository
    pull = repo.open_pull(12, "patch-1", head, head_repo="mallory/fraud-model")

    ci = ci_for(repo, "ci-fork", pull)
    ci.act.expect_success()
    # the fork controls its run, so it can upload anything: here pr.json names the other pull request
    pr_json = artifact_dir(machine, repo, ci.id, "pr-report") / "pr.json"
    assert json.loads(pr_json.read_text()) == {"pr_number": "12", "head_sha": head}
    pr_json.write_text(json.dumps({"pr_number": "3", "head_sha": head}))

    comment = comment_after(repo, "comment-fork", ci)
    comment.act.expect(not comment.act.ok, "the comment workflow must refuse a tampered artifact")
    comment.act.expect("names pull request #3" in comment.act.text(), "the refusal names the mismatch")
    assert writes(github) == [], "nothing posted anywhere"
    assert github.comments(3) == [] and github.comments(12) == []


def test_fork_pull_request_gets_its_comment(repo: HostedRepo, github: GitHubStub) -> None:
    fork = repo.clone("forker")
    fork.append("README.md", "\nA fork's change.\n")
    head = fork.commit("docs: from a fork", branch="patch-1")
    fork.push("refs/pull/5/head")
    pull = repo.open_pull(5, "patch-1", head, head_repo="forker/fraud-model")
    ci = ci_for(repo, "ci-fork", pull)
    ci.act.expect_success()
    comment = comment_after(repo, "comment-fork", ci)
    comment.act.expect_success()
    assert writes(github) == [("POST", f"/repos/{repo.full_name}/issues/5/comments", 201)]
    expect_one_bot_comment(github, comment.act, 5)


def test_stale_dvc_lock_fails_ci_with_the_fix_and_never_says_would_release(
    repo: HostedRepo, github: GitHubStub, machine: RunnerMachine
) -> None:
    dev = repo.clone("dev")
    dev.replace("params.yaml", learning_rate("0.1"), learning_rate("0.08"))  # dvc.lock not updated
    head = dev.commit("train: learning rate 0.08 (forgot dvc.lock)", branch="stale")
    dev.push("stale")
    pull = repo.open_pull(9, "stale", head)

    ci = ci_for(repo, "ci-stale", pull)
    ci.act.expect_failure("pipeline", "make check-lock")
    ci.act.expect("dvc.lock" in ci.act.text() and "commit" in ci.act.text(), "the log tells how to fix it")
    assert not artifact_dir(machine, repo, ci.id, "pr-report").exists(), "no report is uploaded from a failed run"

    comment = comment_after(repo, "comment-stale", ci)
    comment.act.expect_success()
    body = expect_one_bot_comment(github, comment.act, 9)["body"]
    assert not SAYS_WOULD_RELEASE.search(body), f"a failed run's comment says it would release:\n{body}"
    assert "failed" in body and "would not release" in body, body
