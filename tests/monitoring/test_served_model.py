"""``gitops-ml drift`` compares a window with the model that served it, in a real git + DVC project.

Release ``model-v1`` is tagged; then ``main`` retrains on other data with smaller trees, so its drift reference
and model differ from the release's. A window the release served is judged against ``model-v1``'s training data
and model (found in the DVC cache, or made in a temporary worktree when the cache has lost them), exactly as the
release's own files judge it; a window without a model version against the release production runs; before any
release, against the working tree; a bad ``--against`` is refused with nothing written.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_ml import paths
from gitops_ml.deploy.overlay import DeployedImage, overlay_dir, write_overlay
from gitops_ml.gitops.champion import locked_md5
from gitops_ml.vcs import cache_path
from tests.support.projects import make_project, run
from tests.support.sample import sample_generator
from tests.support.tree import snapshot

pytestmark = pytest.mark.slow

STATISTICS = ("features", "score", "drift", "drifted")
"""The parts of a report that depend on the reference and the model (not on when or where it ran)."""


def git(project: Path, *args: str) -> str:
    return run(["git", *args], project).stdout.strip()


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(project, model-v1's outputs): ``model-v1`` tagged on a 4,000-row sample; ``main`` since retrained on
    6,000 other rows with smaller trees. Its own DVC cache, so a test may take things out of it."""
    root = tmp_path_factory.mktemp("served")
    project = make_project(root / "project", root / "cache")
    params = project / "params.yaml"
    text = params.read_text().replace("enabled: true", "enabled: false").replace("n_resamples: 200", "n_resamples: 20")
    params.write_text(text.replace("rows: 20000", "rows: 4000"))
    run(["gitops-ml", "sample-data"], project)
    run(["dvc", "add", "-q", "data"], project)
    run(["dvc", "repro", "-q"], project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "the first release")
    git(project, "tag", "-a", "model-v1", "-m", "model-v1")
    v1 = root / "model-v1"
    v1.mkdir()
    for output in (paths.DRIFT_REFERENCE, paths.MODEL):
        shutil.copy2(project / output, v1 / output.name)
    text = params.read_text().replace("rows: 4000", "rows: 6000").replace("seed: 42", "seed: 7", 1)  # the sample's
    params.write_text(text.replace("max_leaf_nodes: 31", "max_leaf_nodes: 15"))
    run(["gitops-ml", "sample-data"], project)
    run(["dvc", "add", "-q", "data"], project)
    run(["dvc", "repro", "-q"], project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "main: more data, smaller trees")
    yield project, v1


def window(path: Path, version: str | None, seed: int = 5) -> Path:
    """1,500 records like the training data (the sample's generator, another seed), logged by ``version``."""
    frame = sample_generator().generate_transactions(1500, seed=seed)
    if version:
        frame["model_version"] = version
    frame.to_parquet(path)
    return path


def drift(project: Path, window_path: Path, out: Path, *extra: str, check: bool = True) -> dict[str, Any]:
    result = run(
        ["gitops-ml", "drift", "--current", str(window_path), "--out-dir", str(out), *extra], project, check=check
    )
    report = json.loads((out / "drift.json").read_text()) if result.returncode == 0 else None
    return {"code": result.returncode, "stderr": result.stderr, "report": report}


def own_files(v1: Path) -> list[str]:
    """The options that compare with model-v1's own files, as its pipeline run wrote them (copied aside)."""
    reference, model = v1 / paths.DRIFT_REFERENCE.name, v1 / paths.MODEL.name
    return ["--against", "workspace", "--reference", str(reference), "--model", str(model)]


def statistics(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in STATISTICS}


@pytest.fixture
def production(released: tuple[Path, Path]) -> Iterator[Any]:
    """Set what deploy/overlays/production declares for one test; the committed overlay is restored afterwards."""
    project, _ = released

    def declare(version: str) -> None:
        write_overlay(
            overlay_dir("production", project), DeployedImage("ghcr.io/acme/fraud", "sha256:" + "1" * 64, version)
        )

    yield declare
    git(project, "checkout", "-q", "--", "deploy/overlays/production")


def test_a_window_the_release_served_is_judged_against_that_release(released: tuple[Path, Path], tmp_path: Path):
    project, v1 = released
    before = snapshot(project)
    logged = window(tmp_path / "window.parquet", "model-v1")
    chosen = drift(project, logged, tmp_path / "auto")
    as_v1 = drift(project, logged, tmp_path / "v1", *own_files(v1))
    as_main = drift(project, logged, tmp_path / "main", "--against", "workspace")

    report = chosen["report"]
    assert report["reference"] | {"path": None} == {
        "path": None, "rows": as_v1["report"]["reference"]["rows"], "chosen_by": "window",
        "commit": git(project, "rev-parse", "model-v1^{commit}"), "model_version": "model-v1",
        "read_from": "cache", "note": None,
    }  # fmt: skip
    assert report["window"]["score_source"] == "model"  # the window has no scores: model-v1 scored it
    assert statistics(report) == statistics(as_v1["report"])  # what model-v1's own files say
    assert statistics(report) != statistics(as_main["report"])  # and main's would have said something else
    assert report["reference"]["rows"] != as_main["report"]["reference"]["rows"]
    assert as_main["report"]["reference"]["commit"] == git(project, "rev-parse", "HEAD")
    header = (tmp_path / "auto" / "drift.md").read_text().splitlines()[4]
    assert (
        header.startswith("**Compared with `model-v1` (commit `") and "the release the window's records name" in header
    )
    assert "comparing with model-v1" in chosen["stderr"]
    assert snapshot(project) == before


def test_a_window_without_a_usable_version_is_judged_against_what_production_runs(
    released: tuple[Path, Path], production: Any, tmp_path: Path
):
    project, _ = released
    production("model-v1")
    unnamed = drift(project, window(tmp_path / "unnamed.parquet", None), tmp_path / "unnamed")["report"]
    assert (unnamed["reference"]["chosen_by"], unnamed["reference"]["model_version"]) == ("production", "model-v1")
    assert unnamed["reference"]["note"] == "the window's records name no model version; production runs model-v1"
    untagged = drift(project, window(tmp_path / "v7.parquet", "model-v7"), tmp_path / "v7")["report"]
    assert untagged["reference"]["chosen_by"] == "production"
    assert untagged["reference"]["note"].startswith("the window's model version model-v7 has no git tag here")
    assert untagged["reference"]["commit"] == git(project, "rev-parse", "model-v1^{commit}")


def test_before_the_first_release_the_working_tree_is_the_reference(released: tuple[Path, Path], tmp_path: Path):
    project, _ = released  # the overlay declares `unreleased`
    logged = window(tmp_path / "window.parquet", None)
    auto = drift(project, logged, tmp_path / "auto")["report"]
    workspace = drift(project, logged, tmp_path / "workspace", "--against", "workspace")["report"]
    assert auto["reference"] | {"note": None} == workspace["reference"]
    assert auto["reference"]["chosen_by"] == "workspace" and auto["reference"]["read_from"] == "workspace"
    assert "deploy/overlays/production declares no release yet" in auto["reference"]["note"]
    assert statistics(auto) == statistics(workspace)
    assert "**Compared with the working tree (HEAD: commit `" in (tmp_path / "auto" / "drift.md").read_text()


@pytest.mark.parametrize(
    ("against", "declared", "message"),
    [
        ("model-v9", None, "--against model-v9: this repository has no git tag model-v9 (releases here: model-v1); "
                           "fetch the tags (`git fetch --tags`"),
        ("no-such-branch", None, "--against 'no-such-branch' names no commit in"),
        ("auto", "model-v5", "deploy/overlays/production declares model-v5, but this repository has no git tag "
                             "model-v5: fetch the tags"),
    ],
)  # fmt: skip
def test_a_reference_that_cannot_be_found_is_refused_and_nothing_is_written(
    released: tuple[Path, Path], production: Any, tmp_path: Path, against: str, declared: str | None, message: str
):
    project, _ = released
    if declared:
        production(declared)
    before = snapshot(project)
    out = tmp_path / "out"
    out.mkdir()
    (out / "drift.json").write_text("the previous report")
    result = drift(project, window(tmp_path / "window.parquet", None), out, "--against", against, check=False)
    said = " ".join(result["stderr"].split())
    assert result["code"] == 1 and message in said and "Traceback" not in said
    assert sorted(p.name for p in out.iterdir()) == ["drift.json"]
    assert (out / "drift.json").read_text() == "the previous report"
    assert snapshot(project) == before


def test_a_release_the_cache_lost_is_made_in_a_temporary_worktree(released: tuple[Path, Path], tmp_path: Path):
    """model-v1's reference and model are gone from the DVC cache: its commit's pipeline makes them again (data from
    the cache, stages rerun with the release's code) in a worktree that is removed afterwards."""
    project, v1 = released
    cache = project.parent / "cache"
    for output in (paths.DRIFT_REFERENCE, paths.MODEL):
        cache_path(cache, locked_md5(project, "model-v1", output)).unlink()
    before = snapshot(project)
    logged = window(tmp_path / "window.parquet", None)
    made = drift(project, logged, tmp_path / "made", "--against", "model-v1")
    expected = drift(project, logged, tmp_path / "v1", *own_files(v1))
    reference = made["report"]["reference"]
    assert (reference["chosen_by"], reference["model_version"], reference["read_from"]) == (
        "explicit",
        "model-v1",
        "worktree",
    )
    assert statistics(made["report"]) == statistics(expected["report"])
    assert snapshot(project) == before
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=project, capture_output=True, text=True, check=True)
    assert len(worktrees.stdout.splitlines()) == 1, worktrees.stdout  # the temporary worktree is gone
