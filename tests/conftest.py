"""Shared fixtures: real git + DVC projects in temporary directories, and a real MLflow server.

The helpers they are built from live in ``tests/support/`` (``projects.py``: make_project, run, project_env;
``processes.py``: free_port, stop); tests import those from there, and only fixtures live here. The hooks below keep
every test but the team's own checks (tests/project) and the conformance kit (tests/conformance) off the
repository's params.yaml and data (tests/support/own_files.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import own_files
from tests.support.processes import free_port, stop
from tests.support.projects import VENV_BIN, make_project, project_env, run
from tests.support.subprocess_coverage.sitecustomize import UNTRACED_ENV

PROJECT_TESTS = (Path(__file__).parent / "project", Path(__file__).parent / "conformance")
"""The team's own checks and the conformance kit: the only tests that may read the repository's params.yaml and
data/."""


SUBPROCESS_COVERAGE_HOOK = Path(__file__).parent / "support" / "subprocess_coverage"
"""Its sitecustomize.py keeps coverage's tracer out of DVC's and MLflow's processes and of those slow tests start."""


def pytest_configure(config: pytest.Config) -> None:
    own_files.install()  # from collection on: a template test that opens the repository's own data fails
    paths = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    if str(SUBPROCESS_COVERAGE_HOOK) not in paths:  # xdist's workers inherit it from the controller
        os.environ["PYTHONPATH"] = os.pathsep.join([str(SUBPROCESS_COVERAGE_HOOK), *paths])


def schedule_weight(item: pytest.Item) -> float:
    """How early ``item`` should start: its ``slow`` marker's ``weight`` (1 when it gives none), 0 when not slow."""
    marker = item.get_closest_marker("slow")
    return 0 if marker is None else float(marker.kwargs.get("weight", 1))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heaviest tests first (a stable sort: each file keeps its order). The Makefile runs xdist with
    ``--dist loadfile --no-loadscope-reorder``, which hands out whole files in this order: the long files start early
    and the short ones fill the gaps, instead of one long file running alone at the end (xdist's own reorder, by
    number of tests per file, put the few-test end-to-end files last)."""
    items.sort(key=lambda item: -schedule_weight(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    own_files.allowed = any(item.path.is_relative_to(folder) for folder in PROJECT_TESTS)
    if schedule_weight(item):  # a slow end-to-end flow: the processes it starts run untraced (sitecustomize.py)
        os.environ[UNTRACED_ENV] = "1"
    try:
        return (yield)
    finally:
        own_files.allowed = False
        os.environ.pop(UNTRACED_ENV, None)


@pytest.fixture(scope="session")
def dvc_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One DVC cache (and run-cache) for every temporary project of the session."""
    return tmp_path_factory.mktemp("dvc-cache")


@pytest.fixture
def project(tmp_path: Path, dvc_cache: Path) -> Path:
    """A fresh temporary copy of the template (no data, no outputs), as a git repository on ``main``."""
    return make_project(tmp_path / "project", dvc_cache)


@pytest.fixture(scope="session")
def pipeline_project(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> Iterator[Path]:
    """A temporary copy of the template after ``gitops-ml ensure-data`` and ``dvc repro`` (shared: don't modify).

    The stages run for real (``--force``), so the MLflow run and everything else a stage does besides its outputs
    exist, even when an earlier test of the session put the same stages' outputs in the shared DVC cache (which
    ``dvc repro`` would otherwise check out, since the fixture's dvc.lock records them)."""
    path = make_project(tmp_path_factory.mktemp("pipeline") / "project", dvc_cache)
    run(["gitops-ml", "ensure-data"], path)
    run(["dvc", "repro", "--force"], path)
    yield path


MLFLOW_START_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 with its own sqlite store and artifact directory; stopped afterwards."""
    home = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}", "--artifacts-destination", str(home / "artifacts")],
        cwd=home, env=project_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + MLFLOW_START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start:\n{(home / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield uri
    finally:
        stop(server)  # the server and its workers
        log.close()


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A real ``distributed.LocalCluster`` (2 worker processes, 1 thread and 800 MB each) and its client, shared by the
    Dask engine's tests (tests/compute, tests/pipeline/distributed)."""
    from distributed import Client, LocalCluster

    from gitops_ml.compute.cluster import environment_kept

    with environment_kept():  # distributed leaves OMP_NUM_THREADS=1 behind
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit="800MB", processes=True, host="127.0.0.1",
            dashboard_address=":0", silence_logs=logging.CRITICAL,
        )  # fmt: skip
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
