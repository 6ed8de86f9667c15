"""Fixtures of the workflow rehearsal (``make rehearse``): a simulated GitHub repository and runner per test.

Expensive things are made once per session (once per pytest-xdist worker under ``make rehearse``): the template
commit (this checkout's files, with the fixture project's params and data, as a fork receives them), one DVC cache
shared by every rehearsal workspace through a DVC *system* config (``DVC_SYSTEM_CONFIG_DIR``: machine-wide like a
runner's own settings, the project's files are untouched), so a pipeline that already ran on the same inputs is
restored from DVC's run-cache instead of retrained, and, for the release scenarios, a Docker engine with a local
registry. Each test (or, for the release story, each module) gets its own origin, API stand-in, artifact store and
act workspaces. act's logs go to ``build/rehearsal/logs/<test or module>/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.act_runner import ROOT, RunnerMachine
from tests.support.docker_engine import DEFAULT_WORKDIR, DockerEngine, LocalRegistry, ensure_base_image
from tests.support.fixture_project import FIXTURE_DIR, copy_with_fixture
from tests.support.github_stub import GitHubStub

from .hosting import BOT, READ_ONLY_TOKEN, WORKFLOW_TOKEN, HostedRepo, git

REPOSITORY = "acme/fraud-model"
LOG_ROOT = ROOT / "build" / "rehearsal" / "logs"
DOCKER_WORKDIR = ROOT / "build" / "rehearsal" / "docker"


def template_files() -> list[str]:
    """This checkout's files as the next commit would hold them: tracked plus new files git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sorted({name for name in out.split("\0") if name and (ROOT / name).is_file()})


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's files (params, data and lock of the fixture project) in one commit on ``main``.

    By default the working tree as the next commit would hold it; ``REHEARSE_TEMPLATE=<commit>`` (e.g. ``HEAD``)
    rehearses a commit instead, which is steadier while the working tree is being edited.
    """
    path = tmp_path_factory.mktemp("template") / "repo"
    source = os.environ.get("REHEARSE_TEMPLATE", "")
    if source:
        path.mkdir()
        archive = subprocess.run(["git", "archive", source], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(path)], input=archive, check=True)
    # the sample's params.yaml, data.dvc and dvc.lock (never the repository's own) and its task's plots
    copy_with_fixture([] if source else template_files(), path, fixture_dir=path / FIXTURE_DIR.relative_to(ROOT))
    git("init", "--quiet", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "--quiet", "-m", "template", cwd=path)
    return path


@pytest.fixture(scope="session")
def shared_dvc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Machine-wide DVC settings: one cache (and run-cache) for every workspace of the session."""
    base = tmp_path_factory.mktemp("dvc-system")
    (base / "config").write_text(f"[cache]\n    dir = {base / 'cache'}\n")
    return {"DVC_SYSTEM_CONFIG_DIR": str(base)}


def log_dir(name: str) -> Path:
    """``build/rehearsal/logs/<name>/``, emptied."""
    path = LOG_ROOT / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def new_stub(machine: RunnerMachine) -> GitHubStub:
    """The GitHub API stand-in for :data:`REPOSITORY`: the workflow tokens act as the bot."""
    state = {"repository": REPOSITORY, "tokens": {WORKFLOW_TOKEN: BOT, READ_ONLY_TOKEN: BOT, "dev-token": "dev"}}
    return GitHubStub(state, calls_path=machine.logs / "github-calls.jsonl")


@pytest.fixture
def machine(tmp_path: Path, shared_dvc: dict[str, str], request: pytest.FixtureRequest) -> RunnerMachine:
    """The simulated runner for one test."""
    return RunnerMachine(tmp_path / "runner", env=dict(shared_dvc), log_dir=log_dir(request.node.name)).setup()


def private_dvc_cache(machine: RunnerMachine) -> Path:
    """Give ``machine`` a DVC cache of its own, empty (as a fresh runner's); return the cache directory."""
    base = machine.root / "dvc-system"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    (base / "config").write_text(f"[cache]\n    dir = {base / 'cache'}\n")
    machine.env["DVC_SYSTEM_CONFIG_DIR"] = str(base)
    return base / "cache"


@pytest.fixture
def github(machine: RunnerMachine) -> Iterator[GitHubStub]:
    """The GitHub API stand-in of one test."""
    with new_stub(machine) as stub:
        yield stub


@pytest.fixture
def repo(machine: RunnerMachine, github: GitHubStub, template: Path) -> HostedRepo:
    """``acme/fraud-model`` on the simulated GitHub, made from the template."""
    return HostedRepo(machine, github, REPOSITORY, template)


@pytest.fixture(scope="session")
def docker() -> Iterator[tuple[DockerEngine, LocalRegistry]]:
    """A private Docker engine and an empty local registry for the session (base image reused from image tests)."""
    shutil.rmtree(DOCKER_WORKDIR / "registry" / "storage", ignore_errors=True)  # no tags from an earlier session
    with DockerEngine(DOCKER_WORKDIR) as engine, LocalRegistry(DOCKER_WORKDIR) as registry:
        ensure_base_image(engine, cache_dir=DEFAULT_WORKDIR)
        yield engine, registry


def docker_machine(root: Path, name: str, shared: dict[str, str], engine: DockerEngine, registry: str) -> RunnerMachine:
    """A runner that also has the Docker engine (Debian's client, BuildKit) and knows the local registry."""
    env = shared | engine.env() | {"REHEARSAL_DOCKER": "/usr/bin/docker"}
    return RunnerMachine(root, env=env, log_dir=log_dir(name), registry=registry).setup()
