"""`gitops-ml github-release` against the API stand-in: creates the release once, for the tag's commit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gitops_ml.deploy.overlay import DeployedImage, write_overlay
from gitops_ml.gitops.github_api import GitHub
from gitops_ml.gitops.github_release import GitHubReleaseError, publish_release
from tests.support.fixture_project import ROOT
from tests.support.github_stub import GitHubStub
from tests.support.projects import VENV_BIN, project_env, run

REPO = "octo/template"
STATE = {"repository": REPO, "tokens": {"t": "github-actions[bot]"}, "releases": [{"id": 1, "tag_name": "model-v1"}]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose HEAD carries the tag model-v2, with release notes written."""
    path = tmp_path / "repo"
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path)
    run(["git", "commit", "-q", "--allow-empty", "-m", "first"], path)
    run(["git", "tag", "-a", "model-v2", "-m", "model-v2"], path)
    (path / "reports").mkdir()
    (path / "reports" / "release_notes.md").write_text("# model-v2\n\nBetter by 0.02.\n")
    return path


def head(repo: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def test_the_release_is_created_once(repo: Path):
    notes = repo / "reports" / "release_notes.md"
    with GitHubStub(STATE) as stub, GitHub(REPO, "t", stub.url) as api:
        first = publish_release(api, repo, "model-v2", notes, say=lambda _: None)
        second = publish_release(api, repo, "model-v2", notes, say=lambda _: None)
        assert (first.created, second.created) == (True, False)
        assert first.release.id == second.release.id
        posts = stub.writes()
        assert len(posts) == 1
        assert posts[0].body == {
            "tag_name": "model-v2",
            "name": "model-v2",
            "body": notes.read_text(),
            "draft": False,
            "prerelease": False,
            "target_commitish": head(repo),
            "make_latest": "true",  # no production deployment yet: the newest release is the champion
        }
        assert stub.state["latest_release"] == "model-v2"


def test_a_release_is_not_marked_latest_while_production_runs_another(repo: Path):
    production = repo / "deploy" / "overlays" / "production"
    production.mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "overlays" / "production" / "kustomization.yaml", production)
    write_overlay(production, DeployedImage("ghcr.io/octo/template", "sha256:" + "a" * 64, "model-v1"))
    run(["git", "tag", "model-v1", "HEAD"], repo)
    notes = repo / "reports" / "release_notes.md"
    with GitHubStub(STATE) as stub, GitHub(REPO, "t", stub.url) as api:
        publish_release(api, repo, "model-v2", notes, say=lambda _: None)
        assert [c.body["make_latest"] for c in stub.writes()] == ["false"]
        assert "latest_release" not in stub.state


def test_an_existing_release_is_left_alone_even_without_notes(tmp_path: Path):
    with GitHubStub(STATE) as stub, GitHub(REPO, "t", stub.url) as api:
        done = publish_release(api, tmp_path, "model-v1", tmp_path / "missing.md", say=lambda _: None)
        assert not done.created
        assert stub.writes() == []


@pytest.mark.parametrize(
    ("tag", "notes", "message"),
    [
        ("v2", "reports/release_notes.md", "not a release tag"),
        ("model-v3", "reports/release_notes.md", "tag model-v3 does not exist"),
        ("model-v2", "reports/none.md", "make release-notes"),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(repo: Path, tag: str, notes: str, message: str):
    with GitHubStub(STATE) as stub, GitHub(REPO, "t", stub.url) as api:
        with pytest.raises(GitHubReleaseError, match=message):
            publish_release(api, repo, tag, repo / notes, say=lambda _: None)
        assert stub.writes() == []


def test_cli_prints_the_release_url(repo: Path):
    with GitHubStub(STATE) as stub:
        env = project_env({"GITHUB_API_URL": stub.url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "t"})
        args = [str(VENV_BIN / "gitops-ml"), "github-release", "--tag", "model-v2"]
        result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"https://github.com/{REPO}/releases/tag/model-v2"
        again = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)
        assert again.returncode == 0, again.stderr
        assert "already exists" in again.stderr
        assert len(stub.writes()) == 1
