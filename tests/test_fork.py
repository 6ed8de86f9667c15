"""A fork with its own data, the way a team uses the template, through the Makefile only.

The template as a fork receives it (its tracked files, the repository's own params.yaml and the built-in
sample) first releases the sample's model as ``model-v1``. Then the team brings a dataset the template has
never seen: ``make init-data``, ``make run``, the commit init-data prints, ``make gate`` (a new contract is a
new model line, not a crash), ``make serve`` and one ``/predict`` per hold-out row scored as ``evaluate``
scored it, and finally the template's own tests and the team's checks inside the fork.

The fork shares this checkout's virtualenv (a ``.venv`` link, ``UV_NO_SYNC=1``): the packages are the same, and
what is under test is the fork's files and data, not a second install.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import load_params
from tests.conftest import ROOT, free_port, make_project, project_env, run, stop
from tests.support.own_data import customer_table, numeric_table

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 180


def fork_env(fork: Path) -> dict[str, str]:
    """The environment of a team member's shell in the fork: make's uv finds the shared .venv, never syncs."""
    env = project_env({"UV_NO_SYNC": "1", "BENTOML_HOME": str(fork / ".bentoml"), "BENTOML_DO_NOT_TRACK": "True"})
    return {k: v for k, v in env.items() if k not in {"VIRTUAL_ENV", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"}}


def make(fork: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``make ARGS`` in the fork."""
    return run(["make", *args], fork, env=fork_env(fork), check=check)


@pytest.fixture
def fork(tmp_path: Path, dvc_cache: Path) -> Path:
    """A fork that released the sample's model: ``make run``, commit, ``make gate``, ``make promote`` (model-v1)."""
    fork = make_project(tmp_path / "fork", dvc_cache, fixture=False)
    (fork / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    with (fork / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.venv\n")  # .gitignore's `.venv/` matches a directory, not this link
    make(fork, "run")
    run(["git", "add", "-A"], fork)
    run(["git", "commit", "-qm", "first run", "--allow-empty"], fork)
    make(fork, "gate")
    make(fork, "promote")
    assert run(["git", "tag", "--points-at", "HEAD"], fork).stdout.split() == ["model-v1"]
    return fork


@contextlib.contextmanager
def make_serve(fork: Path) -> Iterator[str]:
    """``make serve`` on a free port of 127.0.0.1 until ``/readyz`` answers; always stopped."""
    port = free_port()
    log = fork / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "serve", f"PORT={port}"], cwd=fork, env=fork_env(fork), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"make serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"make serve not ready after {READY_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        stop(process)


def bring_data(tmp_path: Path, shape: str) -> tuple[Path, str]:
    """The team's dataset, outside the fork: (file, target column)."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    if shape == "numeric":
        path = folder / "signups.csv"
        numeric_table().to_csv(path, index=False)
        return path, "converted"
    path = folder / "customers.parquet"
    customer_table().to_parquet(path, index=False)
    return path, "churn"


@pytest.mark.parametrize("shape", ["numeric", "customers"])
def test_a_fork_with_its_own_data_runs_releases_serves_and_keeps_its_tests_green(
    shape: str, fork: Path, tmp_path: Path
) -> None:
    source, target = bring_data(tmp_path, shape)

    init = make(fork, "init-data", f"CSV={source}", f"TARGET={target}")
    make(fork, "run")
    commit = next(line.strip() for line in init.stdout.splitlines() if line.strip().startswith("git add "))
    run(["bash", "-c", commit], fork, env=fork_env(fork))
    assert run(["git", "status", "--porcelain"], fork).stdout == ""  # nothing left behind for the commit

    make(fork, "gate")
    gate = json.loads((fork / "reports" / "gate.json").read_text())
    assert gate["release"] is True, gate
    assert gate["tag"] == "model-v2"
    reasons = " ".join(gate["reasons"])
    assert "new model line: the data contract changed since model-v1" in reasons, reasons
    assert f"target changed from `is_fraud` to `{target}`" in gate["contract_changes"]

    params = load_params(fork / "params.yaml")
    test_rows = pd.read_parquet(fork / "artifacts" / "test.parquet")
    evaluated = pd.read_parquet(fork / "reports" / "predictions.parquet")
    rows = test_rows[[*params.schema.ids, *params.schema.feature_names]].head(params.serving.max_records)
    records = json.loads(json.dumps(rows.astype(object).where(rows.notna(), None).to_dict(orient="records")))
    with make_serve(fork) as url:
        response = httpx.post(f"{url}/predict", json={"records": records}, timeout=60)
    assert response.status_code == 200, response.text[:2000]
    predictions = response.json()["predictions"]
    served = np.array([p["probability"] for p in predictions])
    np.testing.assert_allclose(served, evaluated["score"].to_numpy()[: len(records)], rtol=1e-12, atol=0)
    for name in params.schema.ids:
        assert [p[name] for p in predictions] == rows[name].tolist()

    # The team's checks run on its data; the template's own tests stay green on a fork that changed its data.
    ours = make(fork, "pytest", "PYTEST_ARGS=tests/project -p no:cacheprovider", check=False)
    assert ours.returncode == 0, ours.stdout[-6000:] + ours.stderr[-3000:]
    template = make(
        fork, "pytest", 'PYTEST_ARGS=-m "not slow and not image and not rehearsal" -p no:cacheprovider', check=False
    )
    assert template.returncode == 0, template.stdout[-6000:] + template.stderr[-3000:]
    assert " passed" in template.stdout.splitlines()[-1]
