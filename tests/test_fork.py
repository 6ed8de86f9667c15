"""A fork with its own data, the way a team uses the template, through the Makefile only.

The template as a fork receives it (its tracked files with the sample's params from tests/fixtures/project, never
this repository's own params.yaml or data/) first releases the sample's model as ``model-v1``. Then the team
brings a dataset the template has never seen: ``make init-data``, ``make run``, the commit init-data prints,
``make gate`` (a new contract is a new model line, not a crash), ``make serve`` and hold-out rows scored over HTTP
as ``evaluate`` scored them, the team's checks inside the fork, a second adoption.

The fork shares this checkout's virtualenv (tests/support/fork.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from gitops_ml.config import load_params
from gitops_ml.model_call.compiled import max_difference
from gitops_ml.serving.schema import request_model
from tests.support.fork import as_sent_by_pandas, fork_env, make, make_serve, new_fork
from tests.support.own_data import customer_table
from tests.support.projects import run
from tests.support.tree import snapshot

pytestmark = pytest.mark.slow(weight=5)


@pytest.fixture
def fork(tmp_path: Path, dvc_cache: Path) -> Path:
    """A fork that released the sample's model: ``make run``, commit, ``make gate``, ``make promote`` (model-v1)."""
    fork = new_fork(tmp_path / "fork", dvc_cache)
    make(fork, "run")
    run(["git", "add", "-A"], fork)
    run(["git", "commit", "-qm", "first run", "--allow-empty"], fork)
    make(fork, "gate")
    make(fork, "promote")
    assert run(["git", "tag", "--points-at", "HEAD"], fork).stdout.split() == ["model-v1"]
    return fork


def bring_data(tmp_path: Path) -> tuple[Path, str]:
    """The team's dataset, outside the fork: (file, target column). Customers with an id column and labels "yes" and
    "no", as parquet. (A numeric 0/1 target in a CSV is adopted by tests/template/test_upgrade.py's fork, and CSVs
    of the other tasks by tests/test_tasks_e2e.py.)"""
    folder = tmp_path / "incoming"
    folder.mkdir()
    path = folder / "customers.parquet"
    customer_table().to_parquet(path, index=False)
    return path, "churn"


def untouched_sections(text: str) -> dict[str, Any]:
    """params.yaml without the sections init-data rewrites (project, data, schema, gate.floors)."""
    raw = yaml.safe_load(text)
    raw["gate"].pop("floors")
    return {key: value for key, value in raw.items() if key not in ("project", "data", "schema")}


def next_commands(stdout: str) -> list[str]:
    """The commands init-data prints after ``Next:``."""
    return [line.strip() for line in stdout.split("Next:")[1].strip().splitlines()]


def test_a_fork_with_its_own_data_runs_releases_serves_and_keeps_its_tests_green(fork: Path, tmp_path: Path) -> None:
    source, target = bring_data(tmp_path)
    old_text = (fork / "params.yaml").read_text()

    init = make(fork, "init-data", f"CSV={source}", f"TARGET={target}")
    assert sorted(p.name for p in (fork / "data").iterdir()) == [source.name]  # the sample left the pipeline
    assert "removed from data/: data/transactions.csv" in init.stdout
    text = (fork / "params.yaml").read_text()
    assert untouched_sections(text) == untouched_sections(old_text)
    for comment in (line for line in old_text.splitlines() if line.startswith("#")):
        assert comment in text  # the file's own comments stay
    params = load_params(fork / "params.yaml")
    assert (params.data.path, params.data.sample) == (Path("data") / source.name, None)
    assert (params.schema.target, params.project.name, params.tracking.experiment) == (target, source.stem, source.stem)
    assert next_commands(init.stdout) == [
        "make run",
        f"git add data.dvc params.yaml dvc.lock .gitignore pyproject.toml uv.lock README.md && git commit -m "
        f'"Own data: {source.name}"',
    ]

    make(fork, "run")
    run(["bash", "-c", next_commands(init.stdout)[1]], fork, env=fork_env(fork))
    assert run(["git", "status", "--porcelain"], fork).stdout == ""  # nothing left behind for the commit
    make(fork, "check-lock")  # dvc.lock as committed records what `make run` made

    make(fork, "gate")
    gate = json.loads((fork / "reports" / "gate.json").read_text())
    assert gate["release"] is True, gate  # the floors init-data set from the data are met
    assert gate["tag"] == "model-v2"
    reasons = " ".join(gate["reasons"])
    assert "new model line: the data contract changed since model-v1" in reasons, reasons
    assert f"target changed from `is_fraud` to `{target}`" in gate["contract_changes"]

    test_rows = pd.read_parquet(fork / "artifacts" / "test.parquet")
    evaluated = pd.read_parquet(fork / "reports" / "predictions.parquet")
    records = as_sent_by_pandas(test_rows[[*params.schema.ids, *params.schema.feature_names]])
    _, request = request_model(params)
    for start in range(0, len(records), params.serving.max_records):  # the service's contract takes every row
        request.model_validate_json(json.dumps({"records": records[start : start + params.serving.max_records]}))
    sent = records[: params.serving.max_records]
    with make_serve(fork) as url:
        response = httpx.post(f"{url}/predict", json={"records": sent}, timeout=60)
    assert response.status_code == 200, response.text[:2000]
    predictions = response.json()["predictions"]
    served = np.array([p["probability"] for p in predictions])
    difference, allowed = max_difference(params.schema.task, served, evaluated["score"].to_numpy()[: len(sent)])
    assert difference <= allowed, f"served scores differ from evaluate's by up to {difference:.3g}"
    for name in params.schema.ids:
        assert [p[name] for p in predictions] == [r[name] for r in sent]

    # The team's checks run on its data. (The template's own tests never read the fork's params or data: the
    # suite fails any test that opens them, tests/support/own_files.py.)
    ours = make(fork, "pytest", "PYTEST_ARGS=tests/project -p no:cacheprovider", "COV_FLOOR=0", check=False)
    assert ours.returncode == 0, ours.stdout[-6000:] + ours.stderr[-3000:]

    assert params.schema.ids == ["customer_id"]
    assert (params.schema.positive_class, params.schema.negative_class) == ("yes", "no")
    assert (params.project.positive_label, params.project.negative_label) == ("yes", "no")
    adopt_again(fork, source)


def adopt_again(fork: Path, source: Path) -> None:
    """Adopting again needs --force and writes nothing without it; --force relabels and keeps what the team wrote."""
    before = snapshot(fork)
    refused = make(fork, "init-data", f"CSV={source}", "TARGET=churn", check=False)
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert "already has data of its own (data.path: data/customers.parquet, schema.target: churn" in message
    assert "FORCE=1" in message or "--force" in message
    assert snapshot(fork) == before

    text = (fork / "params.yaml").read_text().replace('"TODO: set project.owner in params.yaml"', "churn team")
    (fork / "params.yaml").write_text(text)
    run(["gitops-ml", "init-data", str(source), "--target", "churn", "--force", "--positive", "no"], fork)
    params = load_params(fork / "params.yaml")
    assert (params.schema.positive_class, params.schema.negative_class) == ("no", "yes")
    assert (params.project.positive_label, params.project.negative_label) == ("no", "yes")
    assert params.project.owner == "churn team"  # a later adoption keeps what the team wrote
    assert re.search(r"min_target_rate: 0\.\d+", (fork / "params.yaml").read_text())
