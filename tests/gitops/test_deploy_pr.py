"""Deploy pull requests on real git repositories: a bare origin, the API stand-in, the CLI in a subprocess.

Each repository holds the template's overlays and the tags ``model-v1`` and ``model-v2`` (no pipeline: the
gate's side of the champion rule is in ``test_gate_flow.py``). Merges are done with git, as GitHub's merge
button would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_ml.deploy.overlay import DeployedImage, read_overlay, write_overlay
from gitops_ml.gitops.champion import champion_tag
from gitops_ml.vcs import file_at
from tests.support.fixture_project import ROOT
from tests.support.github_stub import GitHubStub
from tests.support.projects import project_env, run

REPO = "octo/template"
IMAGE = "ghcr.io/octo/template"
DIGEST_V1 = "sha256:" + "1" * 64
DIGEST_V2 = "sha256:" + "2" * 64
STAGING_FILE = "deploy/overlays/staging/kustomization.yaml"
PRODUCTION_FILE = "deploy/overlays/production/kustomization.yaml"


@pytest.fixture
def stub():
    state = {
        "repository": REPO,
        "tokens": {"t": "github-actions[bot]"},
        "releases": [{"id": 1, "tag_name": "model-v1"}, {"id": 2, "tag_name": "model-v2"}],
    }
    with GitHubStub(state) as running:
        yield running


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone of a bare origin: the template's overlays (unreleased), releases model-v1 and model-v2."""
    seed, origin = tmp_path / "seed", tmp_path / "origin.git"
    shutil.copytree(ROOT / "deploy" / "overlays", seed / "deploy" / "overlays")
    shutil.copytree(ROOT / "deploy" / "base", seed / "deploy" / "base")
    shutil.copy(ROOT / "tests" / "fixtures" / "project" / "params.yaml", seed)  # MLflow: local, no server
    run(["git", "init", "-q", "-b", "main"], seed)
    run(["git", "add", "-A"], seed)
    run(["git", "commit", "-qm", "template"], seed)
    run(["git", "tag", "model-v1"], seed)
    run(["git", "commit", "-q", "--allow-empty", "-m", "better model"], seed)
    run(["git", "tag", "model-v2"], seed)
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    run(["git", "push", "-q", str(origin), "main", "--tags"], seed)
    clone = tmp_path / "repo"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    return clone


def gitops(repo: Path, stub: GitHubStub, *args: str, check: bool = True):
    env = project_env({"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "t", "GITHUB_API_URL": stub.url})
    return run(["gitops-ml", *args], repo, env=env, check=check)


def merge(repo: Path, stub: GitHubStub, branch: str) -> None:
    """Merge the PR's branch into main on origin, as GitHub's merge button does (the PR is closed then)."""
    run(["git", "fetch", "-q", "origin"], repo)
    run(["git", "merge", "-q", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}"], repo)
    run(["git", "push", "-q", "origin", "main"], repo)
    with stub.lock:
        for pull in stub.state["pulls"]:
            if pull["head_ref"] == branch:
                pull["state"] = "closed"


def pulls_opened(stub: GitHubStub) -> list[dict]:
    return [c.body for c in stub.writes() if c.method == "POST" and c.path.endswith("/pulls")]


def test_publish_promote_rollback_each_by_pull_request(repo: Path, stub: GitHubStub):
    # release.yml after publishing model-v1: the staging PR
    opened = gitops(repo, stub, "deploy-pr", "--env", "staging", "--image", f"{IMAGE}@{DIGEST_V1}",
                    "--model-version", "model-v1")  # fmt: skip
    assert opened.stdout.strip() == f"https://github.com/{REPO}/pull/1"
    assert pulls_opened(stub) == [
        {
            "title": "Deploy model-v1 to staging",
            "head": "deploy/staging/model-v1",
            "base": "main",
            "body": pulls_opened(stub)[0]["body"],
        }
    ]
    assert f"`{IMAGE}@{DIGEST_V1}`" in pulls_opened(stub)[0]["body"]
    branch_overlay = file_at(repo.parent / "origin.git", "deploy/staging/model-v1", STAGING_FILE)
    assert branch_overlay is not None and DIGEST_V1 in branch_overlay and "model-v1" in branch_overlay
    assert not read_overlay(repo / STAGING_FILE).released  # the caller's working tree is untouched
    assert file_at(repo.parent / "origin.git", "main", STAGING_FILE) == (repo / STAGING_FILE).read_text()
    merge(repo, stub, "deploy/staging/model-v1")
    assert read_overlay(repo / "deploy/overlays/staging").model_version == "model-v1"
    assert champion_tag(repo) == "model-v2"  # nothing in production yet: the newest release

    # promote-env: the same digest to production
    gitops(repo, stub, "promote-env", "--env", "production")
    assert pulls_opened(stub)[-1]["head"] == "deploy/production/model-v1"
    merge(repo, stub, "deploy/production/model-v1")
    assert read_overlay(repo / "deploy/overlays/production") == DeployedImage(IMAGE, DIGEST_V1, "model-v1")
    assert champion_tag(repo) == "model-v1"

    # model-v2 goes the same way
    gitops(
        repo, stub, "deploy-pr", "--env", "staging", "--image", f"{IMAGE}@{DIGEST_V2}", "--model-version", "model-v2"
    )
    merge(repo, stub, "deploy/staging/model-v2")
    gitops(repo, stub, "promote-env", "--env", "production")
    merge(repo, stub, "deploy/production/model-v2")
    assert champion_tag(repo) == "model-v2"
    synced = gitops(repo, stub, "sync-champion")
    assert "no alias set" in synced.stderr  # no MLflow server here
    assert stub.state["latest_release"] == "model-v2"
    assert [(c.method, c.path, c.body) for c in stub.writes()][-1] == (
        "PATCH", f"/repos/{REPO}/releases/2", {"make_latest": "true"}
    )  # fmt: skip

    # rollback: model-v1's digest, found in the overlays' history
    gitops(repo, stub, "rollback", "--to", "model-v1")
    rollback_pr = pulls_opened(stub)[-1]
    assert rollback_pr["head"] == "deploy/production/model-v1"  # the first one was merged (closed on GitHub)
    merge(repo, stub, "deploy/production/model-v1")
    assert read_overlay(repo / "deploy/overlays/production") == DeployedImage(IMAGE, DIGEST_V1, "model-v1")
    assert champion_tag(repo) == "model-v1"
    gitops(repo, stub, "sync-champion")
    assert stub.state["latest_release"] == "model-v1"


def test_a_second_run_updates_the_open_pull_request(repo: Path, stub: GitHubStub):
    args = ("deploy-pr", "--env", "staging", "--image", f"{IMAGE}@{DIGEST_V1}", "--model-version", "model-v1")
    gitops(repo, stub, *args)
    again = gitops(repo, stub, *args)
    assert "updated pull request #1" in again.stderr + again.stdout
    assert len(pulls_opened(stub)) == 1
    assert [c.method for c in stub.writes()] == ["POST", "PATCH"]


def test_already_deployed_is_not_a_pull_request(repo: Path, stub: GitHubStub):
    write_overlay(repo / "deploy/overlays/staging", DeployedImage(IMAGE, DIGEST_V1, "model-v1"))
    run(["git", "commit", "-qam", "staging runs model-v1"], repo)
    run(["git", "push", "-q", "origin", "main"], repo)
    done = gitops(repo, stub, "deploy-pr", "--env", "staging", "--image", f"{IMAGE}@{DIGEST_V1}",
                  "--model-version", "model-v1")  # fmt: skip
    assert "already runs model-v1" in done.stderr + done.stdout
    assert stub.writes() == []
    assert run(["git", "ls-remote", "--heads", "origin", "deploy/*"], repo).stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("deploy-pr", "--env", "qa", "--image", f"{IMAGE}@{DIGEST_V1}", "--model-version", "model-v1"),
         "--env 'qa': no overlay deploy/overlays/qa (environments: production, staging)"),
        (("deploy-pr", "--env", "staging", "--image", f"{IMAGE}:model-v1", "--model-version", "model-v1"),
         "expected <registry>/<repo>@sha256:<64 hex>"),
        (("deploy-pr", "--env", "staging", "--image", f"{IMAGE}@{DIGEST_V1}", "--model-version", "v1"),
         "--model-version 'v1': expected a release tag model-vN"),
        (("promote-env", "--env", "staging"), "the target is one of production"),
        (("promote-env", "--env", "production"), "staging has nothing deployed yet"),
        (("rollback", "--to", "model-v9"), "--to model-v9: no such release tag (releases: model-v1, model-v2"),
        (("rollback", "--to", "model-v1"), "no overlay in the history of HEAD ever declared model-v1"),
    ],
)  # fmt: skip
def test_bad_requests_fail_with_one_clear_message(repo: Path, stub: GitHubStub, args, message):
    result = gitops(repo, stub, *args, check=False)
    assert result.returncode != 0
    assert message in " ".join((result.stderr + result.stdout).split())
    assert "Traceback" not in result.stderr
    assert stub.writes() == []
