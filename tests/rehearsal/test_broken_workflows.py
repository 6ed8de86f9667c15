"""The rehearsal catches broken workflows: copies of the real files, each with one realistic mistake, must fail.

Each mutation is applied to the workflow as origin holds it; if the text it replaces is gone (the workflow was
rewritten), the test fails asking for the mutation to be updated, so it can never pass vacuously. Each test also
shows the part that did run behaved (e.g. the gate decided to release) so that what fails is the mistake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.github_stub import GitHubStub

from .checks import expect_one_bot_comment, expect_released, writes
from .hosting import HostedRepo

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow(weight=2)]

ZERO = "0" * 40


def mutated(repo: HostedRepo, commit: str, file: str, old: str, new: str) -> Path:
    """``file`` as of ``commit`` with the one occurrence of ``old`` replaced by ``new``."""
    path = repo.workflow(commit, file)
    text = path.read_text()
    assert text.count(old) == 1, f"{file} no longer contains {old!r} exactly once: update this mutation"
    path.write_text(text.replace(old, new))
    return path


def test_a_missing_make_target_fails_the_run(repo: HostedRepo) -> None:
    head = repo.head()
    workflow = mutated(repo, head, "ci.yml", "run: make check-lock", "run: make check-locks")
    run = repo.push_run("ci-missing-target", "ci.yml", ZERO, head, job="pipeline", workflow=workflow).act
    run.expect_failure("pipeline", "make check-locks")
    run.expect("No rule to make target 'check-locks'" in run.text(), "make names the missing target")
    run.expect(run.step_result("pipeline", "make repro") == "success", "the steps before it ran")


def test_reading_a_missing_step_output_is_caught(repo: HostedRepo, github: GitHubStub) -> None:
    head = repo.head()
    old, new = "release: ${{ steps.gate.outputs.release }}", "release: ${{ steps.gate.outputs.released }}"
    workflow = mutated(repo, head, "release.yml", old, new)
    ci = repo.completed_run("ci.yml", "push", head)
    run = repo.workflow_run_run("release-missing-output", "release.yml", ci, workflow=workflow).act
    run.expect(run.outputs("gate", "gate").get("release") == "true", "the gate itself decided to release")
    run.expect("publish" not in run.job_results(), "publish was skipped: the job output read nothing")
    with pytest.raises(AssertionError, match="publish"):
        expect_released(repo, github, run, "model-v1", head)


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        pytest.param(
            "release.yml",
            "if: needs.gate.outputs.release == 'true'",
            "if: needs.gate.outputs.release == true",  # a string output compared with a boolean: never equal
            id="release-publish-compares-with-a-boolean",
        ),
    ],
)
def test_a_wrong_if_on_the_release_is_caught(
    repo: HostedRepo, github: GitHubStub, file: str, old: str, new: str
) -> None:
    head = repo.head()
    workflow = mutated(repo, head, file, old, new)
    ci = repo.completed_run("ci.yml", "push", head)
    run = repo.workflow_run_run("release-wrong-if", file, ci, workflow=workflow).act
    run.expect(run.outputs("gate", "gate").get("release") == "true", "the gate itself decided to release")
    run.expect("publish" not in run.job_results(), "publish was skipped by the wrong if")
    with pytest.raises(AssertionError, match="publish"):
        expect_released(repo, github, run, "model-v1", head)


def test_a_wrong_if_on_the_comment_is_caught(repo: HostedRepo, github: GitHubStub) -> None:
    dev = repo.clone("dev")
    dev.append("README.md", "\nA note.\n")
    head = dev.commit("docs: a note", branch="note")
    dev.push("note")
    pull = repo.open_pull(4, "note", head)
    ci = repo.pull_request_run("ci-pr", "ci.yml", pull, job="pipeline")
    ci.act.expect_success()
    # in a workflow_run workflow the event name is workflow_run: this job would never run
    old = "github.event.workflow_run.event == 'pull_request'"
    workflow = mutated(repo, repo.head(), "pr-comment.yml", old, "github.event_name == 'pull_request'")
    comment = repo.workflow_run_run("comment-wrong-if", "pr-comment.yml", ci, workflow=workflow).act
    comment.expect(comment.ok and comment.job_results() == {}, "the comment job was skipped")
    assert writes(github) == []
    with pytest.raises(AssertionError, match="expected one comment on #4"):
        expect_one_bot_comment(github, comment, 4)
