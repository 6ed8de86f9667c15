"""Fixtures for the service: a trained project, one built bento, and `bentoml serve` of it on 127.0.0.1.

Everything BentoML writes goes to a temporary ``BENTOML_HOME``. The bento is built once per session from a
copy of ``pipeline_project`` (which must not be modified); the server runs from an empty directory, so a test
that passes proves the bento does not read the working directory. The helpers behind these fixtures are in
``tests/support/serving.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.config import Params, load_params
from tests.support.projects import project_env, run
from tests.support.serving import BuiltBento, Server, serve


@pytest.fixture(scope="session")
def serving_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment with a temporary BentoML home and no telemetry."""
    home = tmp_path_factory.mktemp("bentoml-home")
    return project_env({"BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"})


@pytest.fixture(scope="session")
def service_project(pipeline_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the trained ``pipeline_project`` (building a bento writes reports/bento_tag.txt)."""
    dest = tmp_path_factory.mktemp("service") / "project"
    shutil.copytree(pipeline_project, dest, symlinks=True)
    return dest


@pytest.fixture(scope="session")
def project_params(service_project: Path) -> Params:
    """The params the model was trained with."""
    return load_params(service_project / "params.yaml")


@pytest.fixture(scope="session")
def built_bento(service_project: Path, serving_env: dict[str, str]) -> BuiltBento:
    """The bento of the trained model, built once through the CLI that `make bento` runs."""
    result = run(["gitops-ml", "build-bento"], service_project, env=serving_env)
    tag = result.stdout.strip().splitlines()[-1]
    return BuiltBento(tag=tag, stdout=result.stdout, project=service_project, env=serving_env)


@pytest.fixture(scope="module")
def server(built_bento: BuiltBento, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The built bento served on a free port of 127.0.0.1 from an empty directory."""
    with serve(built_bento.tag, built_bento.env, tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="session")
def test_rows(service_project: Path) -> pd.DataFrame:
    """The project's hold-out rows."""
    return pd.read_parquet(service_project / "artifacts" / "test.parquet")
