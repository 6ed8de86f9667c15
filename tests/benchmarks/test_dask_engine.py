"""The Dask engine benchmark's harness: which process is the client and which a worker, and its report."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.common import Measured, ProcessSample

from benchmarks import dask_engine, report

MB = 2**20


def test_peaks_tell_the_command_from_the_local_clusters_workers() -> None:
    spawn = "python -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5) --multiprocessing-fork"
    processes = {
        1: ProcessSample("python /venv/bin/gitops-ml train", "/p", 0.0, 9.0, 300 * MB),
        2: ProcessSample(spawn, "/p", 1.0, 8.0, 900 * MB),
        3: ProcessSample(spawn, "/p", 1.0, 8.0, 700 * MB),
        4: ProcessSample("python -c from multiprocessing.resource_tracker import main", "/p", 1.0, 8.0, 20 * MB),
    }
    assert dask_engine.peaks(Measured(9.0, 0, 0.0, processes)) == {"client_peak_mb": 300.0, "worker_peak_mb": 900.0}


def test_the_report_compares_each_stage_in_memory_and_on_the_cluster(tmp_path: Path) -> None:
    def stage(rows_per_s: int, client: float, worker: float) -> dict:
        return {"wall_s": 1.0, "rows_per_s": rows_per_s, "client_peak_mb": client, "worker_peak_mb": worker,
                "load_average_1m": 1.0}  # fmt: skip

    engines = {
        "local": {s: stage(100_000, 900.0, 0.0) for s in dask_engine.STAGES},
        "dask": {s: stage(80_000, 250.0, 700.0) for s in dask_engine.STAGES},
    }
    result = {
        "name": "dask_engine", "quick": True, "finished": "now", "workers": 2, "worker_memory": "4GiB",
        "estimator": "lightgbm", "sizes": [{"rows": 5000, "engines": engines}],
        "machine": {"cpu": "cpu", "logical_cpus": 2, "memory_gb": 23.5, "os": "Linux", "python": "3.11",
                    "load_average_1m_at_start": 1.0},
    }  # fmt: skip
    path, table = report.write_outputs("dask_engine", result, tmp_path, quick=True)
    assert json.loads(path.read_text()) == result
    assert "| 5k | validate | 100,000 | 80,000 | 900 | 250 | 700 |" in table
    assert "a local cluster of 2 workers with 4GiB each" in table
    assert (tmp_path / "dask_engine-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_engine_is_configured_in_the_copys_params(tmp_path: Path) -> None:
    from gitops_ml.config import load_params
    from tests.support.fixture_project import FIXTURE_PARAMS

    (tmp_path / "params.yaml").write_text(FIXTURE_PARAMS.read_text())
    dask_engine.configure(tmp_path, "dask")
    params = load_params(tmp_path / "params.yaml")
    assert (params.compute.engine.value, params.compute.workers, params.compute.memory_limit) == ("dask", 2, "4GiB")
    assert params.train.estimator.value == "lightgbm" and not params.tracking.enabled
    dask_engine.configure(tmp_path, "local")
    assert load_params(tmp_path / "params.yaml").compute.engine.value == "local"
    assert dask_engine.stage_command("score", tmp_path)[:4] == ["gitops-ml", "score", "--in", "data/transactions.csv"]
