"""The evaluate stage's MLflow run, logged by a second process while the stage computes its metrics.

Importing MLflow, opening its store and logging the model in MLflow's format take seconds that do not depend on
the metrics, and the stage's own work leaves one of the machine's cores idle most of the time. So the stage starts
this module as a child process first (:class:`BackgroundRun`), and the child opens the run and logs tags, params
and the model meanwhile (:func:`gitops_ml.tracking.open_run`). When the metrics are written the stage hands them
over (:meth:`BackgroundRun.finish`) and waits for the run to be closed, so the stage still ends only once its
run is recorded, and still fails with :class:`~gitops_ml.errors.TrackingError` when MLflow refuses it. A stage
that fails before that closes the child's input without metrics: the child deletes the run it opened (and the
model logged in it), so a failed stage records nothing.

The two processes speak JSON lines over the child's stdin (the job, then the results) and one JSON file the child
writes at the end (``{"run_id": ...}`` or ``{"error": ...}``); the child's own output goes to a log file whose
tail a failure quotes. Written here because no library runs "half of a task in another process, then hand it the
rest": :mod:`concurrent.futures` and :mod:`multiprocessing` take whole calls, and forking after OpenMP has started
is unsafe.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from gitops_ml.errors import TrackingError

DISCARD_WAIT_S = 60.0
"""How long a failing stage waits for the child to delete its run before stopping it."""
LOG_TAIL_CHARS = 2000
CHILD_NICENESS = 10
"""The child yields the CPU to the stage when both want it: its work is off the stage's critical path."""


class BackgroundRun:
    """The parent's side: a child process logging the run; :meth:`finish` hands it the metrics.

    Use it as a context manager: leaving the block without :meth:`finish` discards the run.
    """

    def __init__(self, params_path: Path, model_path: Path, example_path: Path, data_summary_path: Path) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="gitops-ml-tracking-"))
        self._result = self._dir / "result.json"
        self._log: IO[bytes] = (self._dir / "child.log").open("wb")
        job = {
            "params": str(params_path),
            "model": str(model_path),
            "example": str(example_path),
            "data_summary": str(data_summary_path),
            "result": str(self._result),
        }
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        assert self._child.stdin is not None
        self._child.stdin.write(json.dumps(job).encode() + b"\n")
        self._child.stdin.flush()
        self._finished = False

    def __enter__(self) -> BackgroundRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if not self._finished:
            self._discard()
        self._cleanup()

    def finish(self, metrics: dict[str, Any], artifacts: list[Path]) -> str:
        """Hand the child the metrics and report files, wait until the run is closed, and return its id."""
        self._finished = True
        assert self._child.stdin is not None
        handed = {"metrics": metrics, "artifacts": [str(a) for a in artifacts]}
        with contextlib.suppress(BrokenPipeError):  # the child already ended (it failed early): its result says why
            self._child.stdin.write(json.dumps(handed).encode())
            self._child.stdin.close()
        self._child.wait()
        result = self._read_result()
        if "run_id" in result:
            return str(result["run_id"])
        raise TrackingError(result.get("error") or f"the MLflow tracking process failed:\n{self._log_tail()}")

    def _discard(self) -> None:
        assert self._child.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._child.stdin.close()  # no metrics: the child deletes its run
        try:
            self._child.wait(timeout=DISCARD_WAIT_S)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()

    def _read_result(self) -> dict[str, Any]:
        try:
            result: dict[str, Any] = json.loads(self._result.read_text())
            return result
        except (OSError, ValueError):
            return {}

    def _log_tail(self) -> str:
        self._log.flush()
        return (self._dir / "child.log").read_text(errors="replace")[-LOG_TAIL_CHARS:]

    def _cleanup(self) -> None:
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def _child(job: dict[str, str], rest: IO[str]) -> dict[str, Any]:
    """The child's side: open the run ``job`` describes, wait for the metrics on ``rest``, close the run (or
    delete it when none come)."""
    from gitops_ml.compute.pieces import read_head
    from gitops_ml.config import load_params
    from gitops_ml.io import read_json
    from gitops_ml.model_io import load_model
    from gitops_ml.pipeline.interface import model_frame
    from gitops_ml.tracking import close_run, discard_run, open_run

    params = load_params(Path(job["params"]))
    example = model_frame(read_head(Path(job["example"]), 5), params.schema)  # not the whole test set
    data_md5 = read_json(Path(job["data_summary"]))["md5"]
    model = load_model(Path(job["model"]))
    try:
        run_id = open_run(params, model, example, data_md5)
        handed = rest.read()
        if not handed.strip():
            discard_run()
            return {"discarded": run_id}
        results = json.loads(handed)
        return {"run_id": close_run(params, results["metrics"], [Path(a) for a in results["artifacts"]])}
    except BaseException:
        with contextlib.suppress(Exception):  # the first failure is the one to report
            discard_run()
        raise


def main() -> int:
    """Entry of the child process (``python -m gitops_ml.tracking_background``, started by :class:`BackgroundRun`)."""
    from gitops_ml.cli_support import skip_the_final_collection
    from gitops_ml.errors import ProjectError
    from gitops_ml.io import write_json

    skip_the_final_collection()
    os.nice(CHILD_NICENESS)  # the stage's own work comes first when both want the same core
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches both; the stage decides (and discards the run)
    job = json.loads(sys.stdin.readline())
    try:
        result = _child(job, sys.stdin)
    except ProjectError as exc:
        result = {"error": str(exc)}
    except Exception as exc:  # anything else is reported by the parent with this process's log
        import traceback

        traceback.print_exc()
        result = {"error": f"the MLflow tracking process failed: {type(exc).__name__}: {exc}"}
    write_json(job["result"], result)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
