"""A pipeline run on the repository's own params.yaml and data/, shared by the team's checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_ml.config import Params, load_params
from tests.support.projects import ROOT, make_project, run


@pytest.fixture(scope="session")
def own_params() -> Params:
    """The repository's own params.yaml."""
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def own_data(own_params: Params) -> Path:
    """The repository's own data file (``make test`` runs ``make data`` first)."""
    path = ROOT / own_params.data.path
    if not path.is_file():
        pytest.fail(f"{own_params.data.path} is missing: run `make data` (make test does) to pull or generate it")
    return path


@pytest.fixture(scope="session")
def own_pipeline(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path, own_data: Path) -> Path:
    """A temporary copy of the repository, with its own params and data, after `dvc repro` (MLflow off).

    It shares the repository's own DVC cache when there is one: after `make run` on the same code, params and data,
    DVC's run-cache restores the stages' outputs instead of running them again (and what it runs lands there too,
    as `make run`'s would).
    """
    own_cache = Path(run(["dvc", "cache", "dir"], ROOT).stdout.strip())
    cache = own_cache if own_cache.is_dir() else dvc_cache
    project = make_project(tmp_path_factory.mktemp("own") / "project", cache, fixture=False)
    data_dir = ROOT / "data"
    shutil.copytree(data_dir, project / "data", dirs_exist_ok=True)
    run(["dvc", "repro"], project)  # MLflow logs to a sqlite file inside the copy
    return project
