"""The whole loop on a Dask cluster through the CLI: data larger than a worker's memory, a cluster started apart.

``dask scheduler`` and two ``dask worker`` processes (1 GB each) run on 127.0.0.1; the project's params say only
``compute.engine: dask``, and the stages find the cluster through ``DASK_SCHEDULER_ADDRESS`` alone. The data (about
1.3 GB in memory, larger than any worker's limit) goes through validate -> split -> train (LightGBM, then XGBoost) ->
evaluate -> score with no worker killed (the same worker processes at the end) and each command's own peak
memory (the client's) far below the data's size.

LightGBM and XGBoost do not train out of core: each worker holds its share of the training matrix, several times
over while it trains (docs/scale-out-dask.md#memory). So that training fits these small workers, most of each row's
size is an id column, a long text reference that every stage carries but the model never reads; the benchmark
(``benchmarks/dask_engine.py``) measures ordinary rows at 1M and 10M. A worker that has run every stage keeps about
500 MB (pandas, scikit-learn, LightGBM and XGBoost and what they hold), so 1 GB is about the least a worker needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml import params_yaml
from gitops_ml.config import SCHEDULER_ADDRESS_ENV
from tests.support.processes import free_port, stop
from tests.support.projects import VENV_BIN, make_project, project_env, run
from tests.support.sample import sample_generator

pytestmark = pytest.mark.slow(weight=5)

WORKER_MEMORY, WORKER_BYTES = "1GB", 1e9
FILES, ROWS_PER_FILE, ROW_GROUP = 16, 10_000, 4000
NOTE_BYTES = 4000  # hex: 8,000 characters a row
MB = 2**20


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` (2 processes, 1 thread, 1 GB each) on 127.0.0.1; stopped after."""
    from distributed import Client

    home = tmp_path_factory.mktemp("dask-cluster")
    address = f"tcp://127.0.0.1:{free_port()}"
    logs = [(home / name).open("w") for name in ("scheduler.log", "worker.log")]
    commands = [
        [str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
         "--no-dashboard"],
        [str(VENV_BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--memory-limit",
         WORKER_MEMORY, "--no-dashboard", "--local-directory", str(home)],
    ]  # fmt: skip
    processes = [
        subprocess.Popen(cmd, cwd=home, env=project_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for cmd, log in zip(commands, logs, strict=True)
    ]
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=180)
        yield address
    finally:
        for process in reversed(processes):
            stop(process)
        for log in logs:
            log.close()


def worker_pids(address: str) -> dict[str, int]:
    from distributed import Client

    with Client(address, timeout=30) as client:
        return client.run(os.getpid)


def write_wide_data(folder: Path) -> int:
    """The sample's transactions with a long text id, as parquet files of small row groups; their size in memory."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(5)
    size = 0
    for index in range(FILES):
        frame = sample_generator().generate_transactions(ROWS_PER_FILE, seed=index)
        frame["transaction_id"] += index * ROWS_PER_FILE
        frame["reference"] = [rng.bytes(NOTE_BYTES).hex() for _ in range(ROWS_PER_FILE)]
        frame.to_parquet(folder / f"events-{index:02d}.parquet", index=False, row_group_size=ROW_GROUP)
        size += int(frame.memory_usage(deep=True).sum())
    return size


def high_water_mb(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``: its own, not inherited through fork as ru_maxrss is)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return kb * 1024 / MB


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd``; return its result and its own peak memory in MB (the client: the workers run elsewhere).

    The peak is read every 0.1 s while it runs (a high-water mark, so a later read sees an earlier peak)."""
    out, err = cwd / ".cmd.out", cwd / ".cmd.err"
    peak = 0.0
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        while process.poll() is None:
            peak = max(peak, high_water_mb(process.pid))
            time.sleep(0.1)
    result = subprocess.CompletedProcess(cmd, process.returncode, out.read_text(), err.read_text())
    return result, peak


@pytest.fixture(scope="module")
def wide_project(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> tuple[Path, int]:
    project = make_project(tmp_path_factory.mktemp("scale-out") / "project", dvc_cache)
    size = write_wide_data(project / "data" / "events")
    doc = params_yaml.load((project / "params.yaml").read_text())
    params_yaml.set_value(doc["data"], "path", "data/events")
    params_yaml.remove(doc["data"], "sample")
    params_yaml.set_value(doc["schema"], "ids", ["transaction_id", "reference"])
    params_yaml.set_value(doc["compute"], "engine", "dask")
    params_yaml.set_value(doc["compute"], "partition_mb", 32)
    params_yaml.set_value(doc["tracking"], "enabled", False)
    params_yaml.set_value(doc["train"], "estimator", "lightgbm")
    (project / "params.yaml").write_text(params_yaml.dump(doc))
    return project, size


@pytest.mark.timeout(2400)  # seven stage commands on about 1.3 GB: minutes on a busy 2-core machine
def test_the_loop_runs_on_a_cluster_named_by_the_environment_alone_on_data_larger_than_a_worker(
    scheduler: str, wide_project: tuple[Path, int]
) -> None:
    project, size = wide_project
    assert size > 1.2 * WORKER_BYTES, "the data must be larger than any worker's memory limit"
    env = project_env({SCHEDULER_ADDRESS_ENV: scheduler})
    before = worker_pids(scheduler)
    peaks: dict[str, float] = {}

    def stage(*args: str) -> subprocess.CompletedProcess:
        started = time.monotonic()
        result, peak = run_measured(["gitops-ml", *args], project, env)
        assert result.returncode == 0, result.stderr
        assert f"dask: connected to {scheduler} (2 workers)" in result.stderr
        peaks[args[0]] = peak
        print(f"{args[0]}: {time.monotonic() - started:.0f} s, client peak {peak:.0f} MB (data {size / MB:.0f} MB)")
        return result

    stage("validate")
    summary = json.loads((project / "reports" / "data_summary.json").read_text())
    assert summary["rows"] == FILES * ROWS_PER_FILE
    stage("split")
    test_rows = len(pd.read_parquet(project / "artifacts" / "test.parquet", columns=["transaction_id"]))
    assert test_rows == FILES * ROWS_PER_FILE // 4
    metrics = {}
    for estimator in ("lightgbm", "xgboost"):
        doc = params_yaml.load((project / "params.yaml").read_text())
        params_yaml.set_value(doc["train"], "estimator", estimator)
        (project / "params.yaml").write_text(params_yaml.dump(doc))
        assert "across 2 Dask workers" in stage("train").stderr
        stage("evaluate")
        metrics[estimator] = json.loads((project / "reports" / "metrics.json").read_text())
        assert metrics[estimator]["test_rows"] == test_rows and metrics[estimator]["roc_auc"] > 0.8
    scored = project / "scored"
    stage("score", "--in", "data/events", "--out", str(scored), "--model", "current")
    out = pd.read_parquet(scored, columns=["transaction_id", "score", "label"])
    assert len(out) == FILES * ROWS_PER_FILE and out["transaction_id"].is_unique
    assert json.loads((scored / "_scoring.json").read_text())["rows"] == len(out)

    assert worker_pids(scheduler) == before, "a worker was restarted (killed) during the run"
    assert max(peaks.values()) < size / 2, peaks  # the client never held the data


def test_an_unreachable_scheduler_stops_the_stage_with_one_message_and_writes_nothing(
    wide_project: tuple[Path, int],
) -> None:
    project, _ = wide_project
    address = f"tcp://127.0.0.1:{free_port()}"
    env = project_env({SCHEDULER_ADDRESS_ENV: address})
    doc = params_yaml.load((project / "params.yaml").read_text())
    params_yaml.set_value(doc["compute"], "connect_timeout_s", 2)
    (project / "params.yaml").write_text(params_yaml.dump(doc))
    before = sorted(p.name for p in (project / "artifacts").iterdir()) if (project / "artifacts").exists() else []
    result = run(["gitops-ml", "split"], project, env, check=False)
    assert result.returncode == 1
    assert f"cannot use the Dask scheduler at {address} (named by the environment variable" in result.stderr
    assert "Traceback" not in result.stderr
    after = sorted(p.name for p in (project / "artifacts").iterdir()) if (project / "artifacts").exists() else []
    assert after == before


def test_without_an_address_the_stage_starts_and_stops_its_own_local_cluster(tmp_path: Path, dvc_cache: Path) -> None:
    project = make_project(tmp_path / "project", dvc_cache)
    folder = project / "data"
    folder.mkdir(exist_ok=True)
    sample_generator().generate_transactions(3000, seed=1).to_csv(folder / "transactions.csv", index=False)
    doc = params_yaml.load((project / "params.yaml").read_text())
    params_yaml.set_value(doc["compute"], "engine", "dask")
    params_yaml.set_value(doc["compute"], "workers", 1)
    params_yaml.set_value(doc["compute"], "memory_limit", "1GB")
    (project / "params.yaml").write_text(params_yaml.dump(doc))
    env = project_env()
    env.pop(SCHEDULER_ADDRESS_ENV, None)
    result = run(["gitops-ml", "validate"], project, env)
    assert "dask: started a local cluster of 1 workers, 1GB each" in result.stderr
    assert [p.name for p in (project / "artifacts" / "validated.parquet").iterdir()] == ["part-00000.parquet"]
    assert len(pd.read_parquet(project / "artifacts" / "validated.parquet")) == 3000
