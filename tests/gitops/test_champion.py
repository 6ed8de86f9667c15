"""Finding the champion: release tags, dvc.lock at a tag, the DVC cache. Tiny real git repositories, no pipeline.

Materialising from the DVC remote and reproducing from a tag run in ``test_gate_flow.py`` (they need a pipeline).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_ml.errors import ChampionError
from gitops_ml.gitops.champion import champion_tag, deployed_release, from_cache, locked_md5, next_release_tag, tags_at
from gitops_ml.vcs import cache_path, file_md5
from tests.support.projects import run

MODEL_MD5 = "0" * 32


def lock(max_iter: int = 5, model_md5: str = MODEL_MD5) -> str:
    return yaml.safe_dump(
        {
            "schema": "2.0",
            "stages": {
                "train": {
                    "cmd": "gitops-ml train",
                    "deps": [{"path": "artifacts/train.parquet", "hash": "md5", "md5": "a" * 32, "size": 1}],
                    "params": {"params.yaml": {"train": {"estimator": "hist_gradient_boosting", "max_iter": max_iter}}},
                    "outs": [{"path": "models/model.skops", "hash": "md5", "md5": model_md5, "size": 3}],
                }
            },
        }
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path)
    (path / "dvc.lock").write_text(lock())
    run(["git", "add", "dvc.lock"], path)
    run(["git", "commit", "-qm", "lock"], path)
    run(["git", "tag", "model-v1"], path)
    return path


def test_locked_md5_reads_the_tag(repo):
    assert locked_md5(repo, "model-v1") == MODEL_MD5


def test_locked_md5_without_a_lock_or_entry(repo, tmp_path):
    (repo / "dvc.lock").write_text(yaml.safe_dump({"stages": {}}))
    run(["git", "commit", "-qam", "empty lock"], repo)
    with pytest.raises(ChampionError, match=r"records no models/model\.skops"):
        locked_md5(repo, "HEAD")
    (repo / "dvc.lock").write_text("stages: [unclosed")
    run(["git", "commit", "-qam", "broken lock"], repo)
    with pytest.raises(ChampionError, match="corrupted"):
        locked_md5(repo, "HEAD")
    run(["git", "rm", "-q", "dvc.lock"], repo)
    run(["git", "commit", "-qm", "no lock"], repo)
    with pytest.raises(ChampionError, match=r"has no dvc\.lock"):
        locked_md5(repo, "HEAD")


def test_tags_at_head(repo):
    assert tags_at(repo) == ["model-v1"]
    (repo / "x").write_text("x")
    run(["git", "add", "x"], repo)
    run(["git", "commit", "-qm", "x"], repo)
    assert tags_at(repo) == []


def test_from_cache_checks_the_hash(repo, tmp_path):
    cache = tmp_path / "cache"
    (repo / ".dvc").mkdir()
    (repo / ".dvc" / "config").write_text(f"[cache]\n    dir = {cache}\n")
    model = tmp_path / "model.skops"
    model.write_bytes(b"model bytes")
    good = file_md5(model)
    stored = cache_path(cache, good)
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"model bytes")
    found = from_cache(repo, "model-v1", good, tmp_path / "out.skops")
    assert found is not None
    assert (found.source, found.md5) == ("DVC cache", good)
    assert from_cache(repo, "model-v1", "e" * 32, tmp_path / "none.skops") is None
    stored.write_bytes(b"tampered")
    with pytest.raises(ChampionError, match="corrupted"):
        from_cache(repo, "model-v1", good, tmp_path / "bad.skops")


# --- the champion rule: production's overlay names the champion -------------------------------------------------


def add_production_overlay(repo: Path, version: str | None) -> None:
    """Give ``repo`` the template's production overlay, declaring ``version`` (None: the ``unreleased`` placeholder)."""
    import shutil

    from gitops_ml.deploy.overlay import DeployedImage, write_overlay
    from tests.support.fixture_project import ROOT

    overlay = repo / "deploy" / "overlays" / "production"
    overlay.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "overlays" / "production" / "kustomization.yaml", overlay)
    if version:
        write_overlay(overlay, DeployedImage("ghcr.io/octo/template", "sha256:" + "b" * 64, version))
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", f"production: {version or 'unreleased'}"], repo)


def test_without_a_production_deployment_the_newest_tag_is_the_champion(repo):
    run(["git", "commit", "-q", "--allow-empty", "-m", "two"], repo)
    run(["git", "tag", "model-v2"], repo)
    assert champion_tag(repo) == "model-v2"  # no overlay at all
    add_production_overlay(repo, None)
    assert deployed_release(repo) is None
    assert champion_tag(repo) == "model-v2"  # the placeholder `unreleased`
    assert next_release_tag(repo) == "model-v3"


def test_the_champion_is_the_version_production_declares(repo):
    run(["git", "commit", "-q", "--allow-empty", "-m", "two"], repo)
    run(["git", "tag", "model-v2"], repo)
    add_production_overlay(repo, "model-v1")
    assert deployed_release(repo) == "model-v1"
    assert champion_tag(repo) == "model-v1"
    assert next_release_tag(repo) == "model-v3"  # the next number stays newest + 1 after a rollback


def test_a_production_version_without_its_tag_is_an_error(repo):
    add_production_overlay(repo, "model-v7")
    with pytest.raises(ChampionError, match=r"declares model-v7, but .* no git tag model-v7.*git fetch --tags"):
        champion_tag(repo)


def test_a_malformed_production_overlay_is_an_error_not_a_fallback(repo):
    add_production_overlay(repo, "model-v1")
    path = repo / "deploy" / "overlays" / "production" / "kustomization.yaml"
    path.write_text(path.read_text().replace("digest:", "newTag: latest\n    digest:"))
    with pytest.raises(ChampionError, match=r"cannot tell which model production runs: .*newTag"):
        champion_tag(repo)
