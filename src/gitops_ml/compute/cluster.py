"""The Dask cluster a stage computes on, and one task per piece of data run on it.

:func:`connect` gives a :class:`distributed.Client`: to the scheduler that ``DASK_SCHEDULER_ADDRESS`` (else
``compute.scheduler_address``) names, or to a ``LocalCluster`` it starts (real scheduler, ``compute.workers``
worker processes with ``compute.memory_limit`` each) and stops at the end. :class:`Runner` maps a function over
pieces, on the cluster or (for ``gitops-ml score`` with the engine off) in this process, with a progress bar, and
turns a failure into one :class:`~gitops_ml.errors.ComputeError` (or the task's own project error) naming the piece.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gitops_ml.config import SCHEDULER_ADDRESS_ENV, ComputeParams
from gitops_ml.errors import ComputeError, ProjectError

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
R = TypeVar("R")
Say = Callable[[str], None]
# Past the connect timeout, something on the port that is not a scheduler can keep Client() waiting: give up then.
HARD_DEADLINE_EXTRA_S = 5.0
STALL_CHECK_S = 30.0
STALL_CHECKS = 2
"""While waiting for tasks, every ``STALL_CHECK_S`` seconds a check that some worker can run them (not all paused
for memory, not none left); this many failed checks in a row stop the stage."""


def scheduler_address(compute: ComputeParams) -> tuple[str | None, str]:
    """The scheduler to connect to and where it was named; (None, "") for a local cluster."""
    from_env = os.environ.get(SCHEDULER_ADDRESS_ENV, "").strip()
    if from_env:
        return from_env, f"the environment variable {SCHEDULER_ADDRESS_ENV}"
    if compute.scheduler_address:
        return compute.scheduler_address, "compute.scheduler_address in params.yaml"
    return None, ""


def _unreachable(address: str, source: str, why: str) -> ComputeError:
    return ComputeError(
        f"cannot use the Dask scheduler at {address} (named by {source}): {why}. Start it there (`dask scheduler`, "
        f"then `dask worker {address}` in this project's environment), fix the address, or unset it to let each "
        "stage start a local cluster (compute.engine: local computes without Dask)"
    )


def _client_for(address: str, source: str, timeout_s: float) -> Client:
    from distributed import Client

    made: dict[str, Any] = {}

    def open_client() -> None:
        try:
            made["client"] = Client(address, timeout=timeout_s)
        except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address...
            made["error"] = exc

    opener = threading.Thread(target=open_client, daemon=True)
    opener.start()
    opener.join(timeout_s + HARD_DEADLINE_EXTRA_S)
    if "client" not in made:
        why = made.get("error") or f"no answer within {timeout_s:g} s"
        raise _unreachable(address, source, str(why))
    client: Client = made["client"]
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except Exception:  # TimeoutError, or the scheduler went away
        client.close()
        raise _unreachable(address, source, f"it has no worker after {timeout_s:g} s") from None
    return client


@contextlib.contextmanager
def environment_kept() -> Iterator[None]:
    """Put back this process's environment variables as they were before the block.

    ``distributed`` writes its workers' pre-spawn variables (``OMP_NUM_THREADS=1`` and the like) into the environment
    of the process that starts a ``LocalCluster`` and leaves them there: whatever this process starts or trains
    afterwards would run on one thread (and a HistGradientBoosting model would come out different).
    """
    before = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        os.environ.update(before)


def _local_client(compute: ComputeParams) -> Client:
    from distributed import Client, LocalCluster

    with environment_kept():
        cluster = LocalCluster(
            n_workers=compute.workers,
            threads_per_worker=compute.threads_per_worker,
            memory_limit=compute.memory_limit,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,  # a failed task or a restarted worker is the stage's own message
        )
    return Client(cluster)


@contextlib.contextmanager
def connect(compute: ComputeParams, say: Say = print) -> Iterator[Client]:
    """A client of the cluster the stage computes on (see the module docstring); closed (and a local cluster
    stopped) when the block ends.

    This process's environment is as it was when the block ends: a local cluster's nanny writes its workers'
    pre-spawn variables into it again each time it restarts a worker (:func:`environment_kept`)."""
    address, source = scheduler_address(compute)
    with environment_kept():
        if address:
            client = _client_for(address, source, compute.connect_timeout_s)
            say(f"dask: connected to {address} ({len(client.scheduler_info()['workers'])} workers)")
        else:
            client = _local_client(compute)
            say(f"dask: started a local cluster of {compute.workers} workers, {compute.memory_limit} each")
        try:
            yield client
        finally:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()


def _progress(console: Console, what: str, total: int) -> Progress:
    return Progress(
        TextColumn(f"{what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("partitions"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class Runner:
    """Runs ``fn(piece, **kwargs)`` for every piece: on the cluster of ``client``, or here when it is None."""

    def __init__(self, client: Client | None, console: Console | None = None, memory_limit: str | None = None):
        self.client = client
        self.console = console or Console(stderr=True)
        self.memory_limit = memory_limit
        """The workers' memory limit when this process started them (for messages), else None."""

    def map(
        self, fn: Callable[..., R], pieces: Sequence[T], what: str, describe: Callable[[T], str], **kwargs: Any
    ) -> list[R]:
        """``[fn(piece, **kwargs) for piece in pieces]``, computed in parallel on the cluster; in order.

        A task's :class:`ProjectError` comes back with the piece named in front; any other failure, or workers
        dying on the same piece again and again, is one :class:`ComputeError` naming ``what`` and the piece.
        """
        if self.client is None:
            return self._map_here(fn, pieces, what, describe, **kwargs)
        from distributed import wait

        token = uuid.uuid4().hex[:8]
        keys = [f"{what}-{index}-{token}" for index in range(len(pieces))]
        futures = self.client.map(fn, pieces, key=keys, pure=False, **kwargs)
        by_key = dict(zip(keys, pieces, strict=True))
        pending = set(futures)
        stalled = 0
        try:
            with _progress(self.console, what, len(pieces)) as bar:
                task = bar.add_task(what, total=len(pieces))
                while pending:
                    try:
                        done, pending = wait(pending, timeout=STALL_CHECK_S, return_when="FIRST_COMPLETED")
                    except TimeoutError:
                        stalled = stalled + 1 if self._stalled() else 0
                        if stalled >= STALL_CHECKS:
                            self._raise_stalled(what)
                        continue
                    stalled = 0
                    for future in done:
                        if future.status != "finished":
                            self._raise_for(future.exception(), by_key.get(future.key), what, describe)
                        bar.advance(task)
            return list(self.client.gather(futures))
        finally:
            self.client.cancel(futures)

    def _stalled(self) -> bool:
        """True when no worker can run a task: every one paused at 80% of its memory limit, or none left."""
        assert self.client is not None
        workers = self.client.scheduler_info()["workers"]
        return not any(info.get("status") != "paused" for info in workers.values())

    def _raise_stalled(self, what: str) -> None:
        assert self.client is not None
        workers = self.client.scheduler_info()["workers"]
        state = f"all {len(workers)} workers are paused at 80% of their memory limit" if workers else "no worker left"
        raise ComputeError(
            f"{what}: {state}, so nothing can run. A worker keeps what the libraries it imported and trained with "
            "hold (about 500 MB after LightGBM and XGBoost): give the workers more memory (compute.memory_limit, or "
            "`dask worker --memory-limit`), or restart them; nothing was written"
        )

    def _map_here(
        self, fn: Callable[..., R], pieces: Sequence[T], what: str, describe: Callable[[T], str], **kwargs: Any
    ) -> list[R]:
        results = []
        with _progress(self.console, what, len(pieces)) as bar:
            task = bar.add_task(what, total=len(pieces))
            for piece in pieces:
                try:
                    results.append(fn(piece, **kwargs))
                except Exception as exc:
                    self._raise_for(exc, piece, what, describe)
                bar.advance(task)
        return results

    def _raise_for(self, exc: BaseException | None, piece: T | None, what: str, describe: Callable[[T], str]) -> None:
        where = describe(piece) if piece is not None else "a partition"
        if isinstance(exc, ProjectError):
            raise type(exc)(f"{where}: {exc}") from None
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker):
            limit = f" ({self.memory_limit} each)" if self.memory_limit else ""
            raise ComputeError(
                f"{what}: the workers died again and again computing {where}: a worker is restarted when it uses 95% "
                f"of its memory limit{limit}. Give the workers more memory (compute.memory_limit, or `dask worker "
                "--memory-limit`), or make the partitions smaller (compute.partition_mb); nothing was written"
            ) from None
        raise ComputeError(f"{what}: {where} failed: {type(exc).__name__}: {exc}; nothing was written") from None


@contextlib.contextmanager
def cluster_runner(compute: ComputeParams, say: Say = print, console: Console | None = None) -> Iterator[Runner]:
    """A :class:`Runner` on the cluster of :func:`connect`, for the length of the block."""
    with connect(compute, say) as client:
        started_here = scheduler_address(compute)[0] is None
        yield Runner(client, console, compute.memory_limit if started_here else None)
