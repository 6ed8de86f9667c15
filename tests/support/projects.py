"""Real git + DVC projects for the tests: temporary copies of this checkout, and commands run inside them.

``make_project(path)`` copies the files git tracks into a new git repository (branch ``main``, one commit) with the
fixture project's params and data (tests/fixtures/project), its DVC cache wherever the caller says (the session
shares one, so the run-cache makes a second pipeline run on the same inputs cheap). Commands run with this
virtualenv's ``bin`` first on PATH, so ``dvc repro`` in the copy calls the same ``gitops-ml`` the tests import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixture_project import ROOT, copy_files, copy_with_fixture

VENV_BIN = Path(sys.executable).parent


THREADS_AT_START = os.environ.get("OMP_NUM_THREADS")
"""OMP_NUM_THREADS before any test imported the service (which sets it to 1 for its workers): HistGradientBoosting's
model depends on its thread count, so a pipeline a test starts must train as ``make run`` does, whatever ran before."""


def project_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for commands in a temporary project: venv first on PATH, no telemetry, no MLflow server, the
    thread count the tests started with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GIT_", "DVC_", "OMP_NUM_THREADS"))}
    if THREADS_AT_START is not None:
        env["OMP_NUM_THREADS"] = THREADS_AT_START
    # The uv that runs the tests goes on PATH too: `bentoml build` calls `uv` from PATH, and make's own uv in
    # .tools/bin is on PATH only for what make starts (`uv run` names itself in $UV).
    uv_bin = [str(Path(env["UV"]).parent)] if env.get("UV") else []
    env |= {
        "PATH": os.pathsep.join([str(VENV_BIN), *uv_bin, env.get("PATH", "")]),
        "ITERATIVE_DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    return env | (extra or {})


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``cwd``; on failure (with ``check``) fail the test showing both output streams."""
    result = subprocess.run(cmd, cwd=cwd, env=env or project_env(), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def tracked_files() -> list[str]:
    """Files of this checkout that git tracks (the template as a fork would receive it)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [name for name in out.split("\0") if name and (ROOT / name).exists()]


def make_project(dest: Path, cache_dir: Path, fixture: bool = True) -> Path:
    """A new git repository at ``dest``: the tracked files with the fixture project's params.yaml, data.dvc and
    dvc.lock (tests/fixtures/project), committed on ``main``, DVC cache at ``cache_dir``.

    ``fixture=False`` keeps the repository's own params.yaml, data.dvc and dvc.lock (tests/project only)."""
    if fixture:
        copy_with_fixture(tracked_files(), dest)  # the sample's params and data, never the repository's own
    else:
        copy_files(tracked_files(), dest)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["dvc", "cache", "dir", "--local", str(cache_dir)], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "template"], dest)
    return dest
