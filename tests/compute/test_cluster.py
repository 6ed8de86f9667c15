"""The cluster: which one a stage uses, an unreachable scheduler, and failures on the workers as one message."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from gitops_ml.compute.cluster import Runner, connect, scheduler_address
from gitops_ml.compute.pieces import atomic_dirs
from gitops_ml.config import SCHEDULER_ADDRESS_ENV, ComputeParams
from gitops_ml.errors import ComputeError, DataContractError
from tests.support.processes import free_port


def test_the_environment_variable_names_the_scheduler_before_the_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCHEDULER_ADDRESS_ENV, raising=False)
    assert scheduler_address(ComputeParams(engine="dask")) == (None, "")
    knob = ComputeParams(engine="dask", scheduler_address="tcp://10.1.2.3:8786")
    assert scheduler_address(knob) == ("tcp://10.1.2.3:8786", "compute.scheduler_address in params.yaml")
    monkeypatch.setenv(SCHEDULER_ADDRESS_ENV, "tcp://127.0.0.1:9999")
    assert scheduler_address(knob) == ("tcp://127.0.0.1:9999", f"the environment variable {SCHEDULER_ADDRESS_ENV}")


def test_an_unreachable_scheduler_is_one_message_naming_it_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv(SCHEDULER_ADDRESS_ENV, address)
    with pytest.raises(ComputeError) as caught, connect(ComputeParams(engine="dask", connect_timeout_s=1)):
        pytest.fail("connected to nothing")
    message = str(caught.value)
    assert f"cannot use the Dask scheduler at {address} (named by the environment variable" in message
    assert f"`dask worker {address}`" in message and "unset it" in message


def test_in_this_process_a_failing_piece_is_named(tmp_path: Path) -> None:
    def check(piece: int) -> int:
        if piece == 2:
            raise DataContractError("amount: 3 bad row(s)")
        return piece * 10

    runner = Runner(None)
    assert runner.map(check, [0, 1], "validate", lambda p: f"file-{p}.csv") == [0, 10]
    with pytest.raises(DataContractError, match=r"^file-2\.csv: amount: 3 bad row\(s\)$"):
        runner.map(check, [0, 1, 2, 3], "validate", lambda p: f"file-{p}.csv")
    with pytest.raises(ComputeError, match=r"^score: file-1\.csv failed: ZeroDivisionError: division by zero"):
        runner.map(lambda p: 1 / (p - 1), [0, 1], "score", lambda p: f"file-{p}.csv")


@pytest.mark.slow
def test_on_the_cluster_a_failing_piece_comes_back_named_with_its_own_error(dask_client: Any) -> None:
    def check(piece: int, limit: int) -> int:
        if piece > limit:
            raise DataContractError(f"the data breaks the contract:\n  amount: {piece} bad row(s)")
        return piece + limit

    runner = Runner(dask_client)
    assert runner.map(check, list(range(6)), "validate", str, limit=10) == list(range(10, 16))
    with pytest.raises(DataContractError) as caught:
        runner.map(check, list(range(6)), "validate", lambda p: f"data/part-{p}.parquet", limit=4)
    assert str(caught.value) == "data/part-5.parquet: the data breaks the contract:\n  amount: 5 bad row(s)"


@pytest.mark.slow
def test_a_worker_that_dies_on_a_piece_again_and_again_is_one_message_and_nothing_is_written(tmp_path: Path) -> None:
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=1, threads_per_worker=1, memory_limit="600MB", processes=True, host="127.0.0.1",
            dashboard_address=":0", silence_logs=logging.CRITICAL,
        )  # fmt: skip
    client = Client(cluster)
    out = tmp_path / "validated.parquet"
    try:
        runner = Runner(client, memory_limit="600MB")

        def stage() -> None:
            with atomic_dirs(out) as (tmp,):
                (tmp / "part-00000.parquet").write_text("never moved in")
                # the worker process ends while computing piece 1, as when the OS or the nanny kills it. One piece:
                # a piece that shared the dying worker is lost with it and may be reported first.
                runner.map(lambda p: os._exit(1) if p == 1 else p, [1], "validate", lambda p: f"part {p}")

        with pytest.raises(ComputeError) as caught:
            stage()
    finally:
        client.close()
        cluster.close()
    message = str(caught.value)
    assert message.startswith("validate: the workers died again and again computing part 1: ")
    assert "memory limit (600MB each)" in message and "compute.partition_mb" in message
    assert "nothing was written" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_workers_all_paused_for_memory_stop_the_stage_instead_of_waiting_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dask
    from distributed import Client, LocalCluster

    from gitops_ml.compute import cluster

    monkeypatch.setattr(cluster, "STALL_CHECK_S", 1.0)
    # A worker that pauses at 1% of its memory limit is paused from the start, as one at 80% of a limit too small.
    memory = {"target": False, "spill": False, "pause": 0.01, "terminate": False}
    with dask.config.set({f"distributed.worker.memory.{key}": value for key, value in memory.items()}):
        local = LocalCluster(
            n_workers=1, threads_per_worker=1, memory_limit="1GB", processes=True, host="127.0.0.1",
            dashboard_address=":0", silence_logs=logging.CRITICAL,
        )  # fmt: skip
    client = Client(local)
    try:
        deadline = time.monotonic() + 60
        while {w.get("status") for w in client.scheduler_info()["workers"].values()} != {"paused"}:
            assert time.monotonic() < deadline, "the worker never paused"
            time.sleep(0.2)
        with pytest.raises(ComputeError) as caught:
            Runner(client).map(lambda p: p, [0, 1], "score", str)
    finally:
        client.close()
        local.close()
    assert str(caught.value).startswith("score: all 1 workers are paused at 80% of their memory limit, so nothing")


def test_a_local_cluster_leaves_this_processs_environment_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """distributed writes OMP_NUM_THREADS=1 (and more) into the starting process's environment, and again whenever its
    nanny restarts a worker; connect puts it back, so a model trained or a command started here afterwards uses the
    threads it would have used."""
    monkeypatch.delenv(SCHEDULER_ADDRESS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = dict(os.environ)
    compute = ComputeParams(engine="dask", workers=1, memory_limit="600MB")
    with connect(compute, say=lambda _: None) as client:
        assert len(client.scheduler_info()["workers"]) == 1
        assert dict(os.environ) == before
        client.restart()  # the nanny starts a new worker process, as after a worker died
        assert os.environ.get("OMP_NUM_THREADS") == "1"  # what the block's end has to undo
    assert dict(os.environ) == before
