"""The service under test: a built bento, ``bentoml serve`` of it on 127.0.0.1, and records to send it."""

from __future__ import annotations

import contextlib
import math
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from gitops_ml.config import ColumnType, Params, SchemaParams
from gitops_ml.serving.prediction_log import ENV_VAR as PREDICTION_LOG_ENV
from gitops_ml.serving.schema import columns_of, example_record, field_columns, request_model
from tests.support.processes import free_port, stop

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


@contextlib.contextmanager
def serve(target: str, env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """Run ``bentoml serve target`` on a free port of 127.0.0.1 until ``/readyz`` answers 200; always stop it.

    The prediction log goes to ``workdir/prediction-log`` unless ``env`` says otherwise (without a shell, ``PWD``
    would still name the directory the tests were started from).
    """
    env = {PREDICTION_LOG_ENV: str(workdir / "prediction-log")} | env
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
        wait_until_ready(process, url, log, "bentoml serve")
        yield Server(url=url, process=process, log=log)
    finally:
        stop(process)


def wait_until_ready(
    process: subprocess.Popen, url: str, log: Path, what: str, timeout_s: float = READY_TIMEOUT_S
) -> None:
    """Poll ``url/readyz`` until it answers 200; fail the test with the end of ``log`` if ``process`` exits first or
    ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not ready after {timeout_s}s:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)


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


def record_parts(params: Params) -> tuple[type[Any], dict[str, str], dict[str, str]]:
    """The request's record model and its attribute -> column maps for features and ids (as the service has)."""
    record, _ = request_model(params)
    features, ids = field_columns(record, params.schema)
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


def request_columns(params: Params, records: list[Any]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The feature and id columns of validated ``records``, as the service passes them to the prediction log."""
    _, features, ids = record_parts(params)
    return columns_of(records, features), columns_of(records, ids)


def server_processes(server: Server) -> list[Any]:
    """``bentoml serve`` and every process it started (its workers), as ``psutil.Process`` objects."""
    import psutil

    parent = psutil.Process(server.process.pid)
    return [parent, *parent.children(recursive=True)]


def resident_bytes(server: Server) -> int:
    """The resident memory of ``bentoml serve`` and all its processes together (RSS, bytes)."""
    import psutil

    total = 0
    for process in server_processes(server):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def multiprocess_metric_bytes(server: Server) -> int:
    """Bytes in the workers' Prometheus multiprocess directory (``PROMETHEUS_MULTIPROC_DIR``): one file per metric
    kind and process, grown for every new label set."""
    import psutil

    folders = set()
    for process in server_processes(server):
        with contextlib.suppress(psutil.Error):
            if folder := process.environ().get("PROMETHEUS_MULTIPROC_DIR"):
                folders.add(Path(folder))
    assert folders, "no BentoML process has PROMETHEUS_MULTIPROC_DIR in its environment"
    return sum(path.stat().st_size for folder in folders for path in folder.glob("*.db"))
