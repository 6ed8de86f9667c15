"""Fixtures for the service: a trained project, one built bento, and `bentoml serve` of it on 127.0.0.1.

Everything BentoML writes goes to a temporary ``BENTOML_HOME``. The bento is built once per session from a
copy of ``pipeline_project`` (which must not be modified); the server runs from an empty directory, so a test
that passes proves the bento does not read the working directory.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from gitops_ml.config import ColumnType, Params, SchemaParams, load_params
from gitops_ml.serving.schema import example_record, request_model
from tests.conftest import free_port, project_env, run, stop

READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class BuiltBento:
    """A bento built by ``gitops-ml build-bento`` in ``project``."""

    tag: str
    stdout: str
    project: Path
    env: dict[str, str]

    @property
    def path(self) -> Path:
        """The bento's directory in the bento store."""
        name, version = self.tag.split(":")
        return Path(self.env["BENTOML_HOME"]) / "bentos" / name / version


@dataclass(frozen=True)
class Server:
    """A running ``bentoml serve``."""

    url: str
    process: subprocess.Popen
    log: Path


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


@contextlib.contextmanager
def serve(target: str, env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """Run ``bentoml serve target`` on a free port of 127.0.0.1 until ``/readyz`` answers 200; always stop it."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            ["bentoml", "serve", target, "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"bentoml serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"bentoml serve not ready after {READY_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield Server(url=url, process=process, log=log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def server(built_bento: BuiltBento, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The built bento served on a free port of 127.0.0.1 from an empty directory."""
    with serve(built_bento.tag, built_bento.env, tmp_path_factory.mktemp("serve")) as running:
        yield running


def to_records(frame: pd.DataFrame, schema: SchemaParams) -> list[dict[str, Any]]:
    """Rows of a validated frame as the JSON records ``/predict`` takes (missing values as null)."""
    records = []
    for row in frame[schema.feature_names].to_dict(orient="records"):
        record: dict[str, Any] = {}
        for name, spec in schema.columns.items():
            value = row[name]
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
                record[name] = None
            elif spec.type is ColumnType.INT:
                record[name] = int(value)
            elif spec.type is ColumnType.FLOAT:
                record[name] = float(value)
            elif spec.type is ColumnType.BOOL:
                record[name] = bool(value)
            else:
                record[name] = str(value)
        records.append(record)
    return records


@pytest.fixture(scope="session")
def test_rows(service_project: Path) -> pd.DataFrame:
    """The project's hold-out rows."""
    return pd.read_parquet(service_project / "artifacts" / "test.parquet")


def record_parts(params: Params) -> tuple[type[Any], dict[str, str], dict[str, str]]:
    """The request's record model and its attribute -> column maps for features and ids (as the service has)."""
    record, _ = request_model(params)
    columns = {name: field.alias or name for name, field in record.model_fields.items()}
    features = {name: column for name, column in columns.items() if column in params.schema.columns}
    ids = {name: column for name, column in columns.items() if column in params.schema.ids}
    return record, features, ids


def make_records(params: Params, count: int, with_ids: bool = True) -> list[Any]:
    """``count`` validated records of the fixture's schema (hour and amount vary; ids ``t-<i>`` if asked)."""
    record, _, _ = record_parts(params)
    base = example_record(params.schema)
    return [
        record.model_validate(
            base | {"hour": i % 24, "amount": float(i)} | ({"transaction_id": f"t-{i}"} if with_ids else {})
        )
        for i in range(count)
    ]
