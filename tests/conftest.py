"""Shared fixtures: real git + DVC repositories made from this checkout, in temporary directories.

``make_project(path)`` copies the files git tracks into a new git repository (branch ``main``, one commit)
whose DVC cache is shared across the session, so the run-cache makes a second pipeline run on the same
inputs cheap. Commands run with this virtualenv's ``bin`` first on PATH, so ``dvc repro`` in the copy calls
the same ``gitops-ml`` the tests import.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixture_project import overlay_fixture

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def project_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for commands in a temporary project: venv first on PATH, no telemetry, no MLflow server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GIT_", "DVC_"))}
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
    for name in tracked_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    if fixture:
        overlay_fixture(dest)  # the sample's params and data, never the repository's own
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["dvc", "cache", "dir", "--local", str(cache_dir)], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "template"], dest)
    return dest


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
    """A temporary copy of the template after ``gitops-ml ensure-data`` and ``dvc repro`` (shared: don't modify)."""
    path = make_project(tmp_path_factory.mktemp("pipeline") / "project", dvc_cache)
    run(["gitops-ml", "ensure-data"], path)
    run(["dvc", "repro"], path)
    yield path


MLFLOW_START_TIMEOUT_S = 120


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process`` and its children (its own process group), killing them if they linger."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
