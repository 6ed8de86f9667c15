"""A fork of the template as a team member's shell sees it: its environment, ``make``, ``make serve``, requests.

A fork made here shares this checkout's virtualenv (a ``.venv`` link, ``UV_NO_SYNC=1``): the packages are the same,
and what is under test is the fork's files and data, not a second install.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from tests.support.processes import free_port, stop
from tests.support.projects import ROOT, make_project, project_env, run
from tests.support.serving import wait_until_ready

READY_TIMEOUT_S = 180
"""How long ``make serve`` may take to answer ``/readyz`` (it builds nothing; a loaded 2-core machine is slow)."""


def new_fork(path: Path, dvc_cache: Path) -> Path:
    """A fixture project at ``path`` (tests/support/projects.py) that uses this checkout's ``.venv``."""
    fork = make_project(path, dvc_cache)
    (fork / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    with (fork / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.venv\n")  # .gitignore's `.venv/` matches a directory, not this link
    return fork


def use_this_template(template: Path, dest: Path, ref: str) -> Path:
    """What GitHub's "Use this template" makes: the template's files at ``ref`` in a new repository, one commit;
    with this checkout's virtualenv, as :func:`new_fork`'s forks have."""
    run(["git", "clone", "-q", "--branch", ref, str(template), str(dest)], template.parent)
    shutil.rmtree(dest / ".git")
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "Initial commit"], dest)
    (dest / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    with (dest / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.venv\n")
    return dest


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in the file ``path`` with ``new`` (fails when it is not there once)."""
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: {old!r} found {text.count(old)} times"
    path.write_text(text.replace(old, new))


def fork_env(fork: Path) -> dict[str, str]:
    """The environment of a team member's shell in the fork: make's uv finds the shared .venv and never syncs."""
    env = project_env({"UV_NO_SYNC": "1", "BENTOML_HOME": str(fork / ".bentoml"), "BENTOML_DO_NOT_TRACK": "True"})
    inherited = {"VIRTUAL_ENV", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "CI"}  # the fork's runs start clean
    return {k: v for k, v in env.items() if k not in inherited and not k.startswith(("COV_CORE_", "COVERAGE_"))}


MAKE = ["make", "-o", ".venv/.synced"]
"""make in a fork: the shared .venv counts as installed, so a fork's newer uv.lock or pyproject.toml (a fresh
clone's file times, an upgrade) never syncs this checkout's environment to the fork."""


def make(fork: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``make ARGS`` in the fork."""
    return run([*MAKE, *args], fork, env=fork_env(fork), check=check)


@contextlib.contextmanager
def make_serve(fork: Path) -> Iterator[str]:
    """``make serve`` on a free port of 127.0.0.1 until ``/readyz`` answers; always stopped."""
    port = free_port()
    log = fork / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*MAKE, "serve", f"PORT={port}"], cwd=fork, env=fork_env(fork), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, url, log, "make serve", READY_TIMEOUT_S)
        yield url
    finally:
        stop(process)


def as_sent_by_pandas(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as ``df.to_dict(orient="records")`` sends them over JSON, missing values as null, dates as ISO text."""
    frame = frame.copy()
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return json.loads(json.dumps(frame.astype(object).where(frame.notna(), None).to_dict(orient="records")))
