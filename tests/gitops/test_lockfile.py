"""Is HEAD's dvc.lock the record of the working tree's outputs? Tiny real git repositories, no pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_ml.errors import StaleLockError
from gitops_ml.gitops.lockfile import require_current_lock, stage_recipe, stale_stages
from tests.gitops.test_champion import lock
from tests.support.projects import run


def add_stage(text: str, name: str, param: int) -> str:
    data = yaml.safe_load(text)
    data["stages"][name] = {"cmd": f"gitops-ml {name}", "params": {"params.yaml": {name: {"value": param}}}}
    return yaml.safe_dump(data)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path)
    (path / "dvc.lock").write_text(add_stage(lock(), "evaluate", 1))
    run(["git", "add", "dvc.lock"], path)
    run(["git", "commit", "-qm", "lock"], path)
    return path


def test_stage_recipe_ignores_output_hashes():
    assert stage_recipe(lock(model_md5="1" * 32)) == stage_recipe(lock(model_md5="2" * 32))
    assert stage_recipe(lock(max_iter=5)) != stage_recipe(lock(max_iter=200))
    assert stage_recipe("stages: {}") is None
    assert stage_recipe("not: [valid") is None


def test_a_retrained_output_with_the_same_recipe_is_current(repo):
    (repo / "dvc.lock").write_text(add_stage(lock(model_md5="f" * 32), "evaluate", 1))
    assert stale_stages(repo) == []
    require_current_lock(repo)


def test_each_stage_whose_recipe_changed_is_named(repo):
    (repo / "dvc.lock").write_text(add_stage(lock(max_iter=200), "evaluate", 2))
    assert stale_stages(repo) == ["evaluate", "train"]
    with pytest.raises(StaleLockError, match=r"stale stages: evaluate, train\): run `make run`.*commit dvc\.lock"):
        require_current_lock(repo)


def test_a_stage_missing_from_the_commit_is_stale(repo):
    (repo / "dvc.lock").write_text(add_stage(add_stage(lock(), "evaluate", 1), "extra", 1))
    assert stale_stages(repo) == ["extra"]


def test_no_lock_at_all_is_stale(tmp_path):
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    (tmp_path / "a").write_text("a")
    run(["git", "add", "a"], tmp_path)
    run(["git", "commit", "-qm", "a"], tmp_path)
    assert stale_stages(tmp_path) == ["(every stage: no dvc.lock)"]
