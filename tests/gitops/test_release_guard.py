"""Only passing pushes to the default branch, or a manual run on it, may publish."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gitops_ml.errors import ReleaseGuardError
from gitops_ml.gitops.release_guard import ReleaseTrigger, check_trigger
from tests.support.projects import project_env, run

PASSED_PUSH = ReleaseTrigger(
    event="workflow_run",
    repository="team/model",
    default_branch="main",
    run_event="push",
    run_conclusion="success",
    run_branch="main",
    run_repository="team/model",
)


def test_a_passing_push_to_the_default_branch_may_release():
    assert check_trigger(PASSED_PUSH) == "ci passed on main"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"run_event": "pull_request"}, "pull_request event, not a push"),
        ({"run_conclusion": "failure"}, "concluded failure, not success"),
        ({"run_branch": "feature"}, "on branch 'feature', not 'main'"),
        ({"run_repository": "fork/model"}, "in 'fork/model', not 'team/model'"),
        ({"default_branch": ""}, "DEFAULT_BRANCH is empty"),
    ],
)
def test_any_other_ci_run_is_refused_with_the_reason(change, named):
    with pytest.raises(ReleaseGuardError, match=named):
        check_trigger(replace(PASSED_PUSH, **change))


def test_manual_dispatch_only_on_the_default_branch():
    manual = ReleaseTrigger(
        event="workflow_dispatch", repository="team/model", default_branch="main", ref="refs/heads/main"
    )
    assert check_trigger(manual) == "manual run on main"
    with pytest.raises(ReleaseGuardError, match=r"refused on 'refs/heads/feature'.*dispatch the workflow from there"):
        check_trigger(replace(manual, ref="refs/heads/feature"))


@pytest.mark.parametrize("ref", ["refs/tags/main", "refs/pull/1/merge", "main", "refs/heads/main/x", ""])
def test_a_ref_that_only_looks_like_the_default_branch_is_refused(ref: str):
    """Found by an attack run: a tag named `main` passed, as only the ref's short name was compared."""
    manual = ReleaseTrigger(event="workflow_dispatch", repository="team/model", default_branch="main", ref=ref)
    with pytest.raises(ReleaseGuardError, match=r"releases come only from the default branch 'refs/heads/main'"):
        check_trigger(manual)


def test_other_events_are_refused():
    with pytest.raises(ReleaseGuardError, match="not on push events"):
        check_trigger(replace(PASSED_PUSH, event="push"))


def test_cli_reads_the_environment_and_fails_cleanly(tmp_path):
    env = {"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REPOSITORY": "team/model", "DEFAULT_BRANCH": "main"}
    refused = run(
        ["gitops-ml", "release-guard"],
        tmp_path,
        env=project_env(env | {"GITHUB_REF": "refs/tags/main", "GITHUB_REF_NAME": "main"}),
        check=False,
    )
    assert refused.returncode == 1
    assert "refused on 'refs/tags/main'" in refused.stderr
    assert "Traceback" not in refused.stderr
    allowed = run(["gitops-ml", "release-guard"], tmp_path, env=project_env(env | {"GITHUB_REF": "refs/heads/main"}))
    assert "manual run on main" in allowed.stdout
