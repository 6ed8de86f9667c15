"""Choosing the commit a window is compared with (``--against``), in small real git repositories without DVC.

The whole check against real releases is in test_served_model.py; here, each rule of the choice and its refusals.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_ml.deploy.overlay import OVERLAYS_DIR, DeployedImage, write_overlay
from gitops_ml.errors import DriftInputError
from gitops_ml.monitoring.against import choose
from tests.support.fixture_project import ROOT
from tests.support.projects import run

REFERENCE = Path("artifacts/drift_reference.parquet")


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two commits, the first tagged model-v1; the production overlay (copied from the template) unreleased."""
    path = tmp_path / "repo"
    overlay = path / OVERLAYS_DIR / "production"
    shutil.copytree(ROOT / OVERLAYS_DIR / "production", overlay)
    git(path.parent, "init", "-q", "-b", "main", str(path))
    git(path, "add", "-A")
    git(path, "commit", "-qm", "one")
    git(path, "tag", "-a", "model-v1", "-m", "model-v1")
    (path / "notes.txt").write_text("two\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "two")
    return path


def declare(repo: Path, version: str) -> None:
    write_overlay(repo / OVERLAYS_DIR / "production", DeployedImage("ghcr.io/acme/m", "sha256:" + "2" * 64, version))


def test_the_window_s_release_comes_first(repo: Path) -> None:
    declare(repo, "model-v1")
    choice = choose(repo, "auto", "model-v1", repo / REFERENCE)
    assert (choice.chosen_by, choice.model_version, choice.working_tree) == ("window", "model-v1", False)
    assert choice.commit == git(repo, "rev-parse", "model-v1^{commit}") != git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("version", "why"),
    [
        (None, "the window's records name no model version"),
        ("build-17 <b>", "the window's model version is not a release (model-vN)"),
        ("model-v4", "the window's model version model-v4 has no git tag here (`git fetch --tags`)"),
    ],
)
def test_then_the_release_production_runs(repo: Path, version: str | None, why: str) -> None:
    declare(repo, "model-v1")
    choice = choose(repo, "auto", version, repo / REFERENCE)
    assert (choice.chosen_by, choice.model_version) == ("production", "model-v1")
    assert choice.note == f"{why}; production runs model-v1"


def test_then_the_working_tree_or_head(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    without = choose(repo, "auto", None, repo / REFERENCE)  # the working tree has no reference: HEAD's outputs
    assert (without.chosen_by, without.commit, without.working_tree) == ("workspace", head, False)
    assert without.note and without.note.endswith(f"HEAD's outputs (the working tree has no {repo / REFERENCE})")
    (repo / REFERENCE).parent.mkdir()
    (repo / REFERENCE).write_bytes(b"made by make repro")
    with_reference = choose(repo, "auto", None, repo / REFERENCE)
    assert (with_reference.chosen_by, with_reference.commit, with_reference.working_tree) == ("workspace", head, True)


def test_explicit_choices(repo: Path) -> None:
    assert choose(repo, "workspace", "model-v1", repo / REFERENCE).working_tree is True
    tagged = choose(repo, "model-v1", None, repo / REFERENCE)
    assert (tagged.chosen_by, tagged.model_version) == ("explicit", "model-v1")
    by_rev = choose(repo, "HEAD~1", None, repo / REFERENCE)
    assert (by_rev.commit, by_rev.model_version) == (tagged.commit, "model-v1")  # the release that commit is


@pytest.mark.parametrize(
    ("against", "message"),
    [
        ("model-v2", "--against model-v2: this repository has no git tag model-v2 (releases here: model-v1)"),
        ("nope", "--against 'nope' names no commit in"),
        ("--help", "--against '--help': give auto, workspace, a release (model-vN) or a git revision"),
    ],
)
def test_unknown_revisions_are_refused(repo: Path, against: str, message: str) -> None:
    with pytest.raises(DriftInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose(repo, against, None, repo / REFERENCE)


def test_outside_git_the_working_tree_is_the_reference(tmp_path: Path) -> None:
    choice = choose(tmp_path, "auto", "model-v1", tmp_path / REFERENCE)
    assert (choice.chosen_by, choice.commit, choice.working_tree) == ("workspace", None, True)
    assert choice.note == "not a git repository with a commit, so no release can be looked up"
