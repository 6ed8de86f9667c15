"""A commit's pipeline outputs, made in a temporary worktree without touching the working tree.

:func:`materialised` adds a detached ``git worktree`` of a commit in a temporary directory, points its DVC cache
at this repository's cache (so the run-cache and every cached output are shared), brings the data in (cache,
then DVC remote, then the built-in sample via the commit's own ``gitops-ml ensure-data``), runs ``dvc repro``
there with the commit's own code on ``PYTHONPATH`` and yields the worktree, whose outputs are then the commit's.
An unchanged commit is restored from the run-cache in seconds. The worktree is always removed, even on failure.

Two users: the pull-request report's base side (:func:`gitops_ml.gitops.base_side.base_outputs`) and the drift
check, which compares a window with the release that served it (:mod:`gitops_ml.monitoring.reference_source`).

DVC's checkout, pull and repro run in this process, through DVC's Python API, in one ``Repo``: a ``dvc`` subprocess
costs about a second of start-up each, most of the base side's time when everything is restored from the cache.
Stages that do run are still separate processes started by DVC, with the commit's code first on their
``PYTHONPATH``. DVC never asks a question here (:func:`no_dvc_questions`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, chdir, contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml

from gitops_ml import paths
from gitops_ml.errors import GitError, MaterialiseError
from gitops_ml.gitops.dvc_settings import DvcSettings, read_dvc_settings
from gitops_ml.io import load_yaml
from gitops_ml.vcs import worktree

OUTPUT_TIMEOUT_S = 3600


@contextmanager
def materialised(
    repo: Path,
    commit: str,
    *,
    label: str,
    targets: Sequence[str] = (),
    say: Callable[[str], None] = print,
) -> Iterator[Path]:
    """A temporary worktree of ``commit`` whose pipeline outputs (``targets``' stages and what they need, or the
    whole pipeline) are made or restored, sharing this repository's DVC cache; removed after the block.

    ``label`` names the commit in messages (``the base side``, ``model-v1``). Raises :class:`MaterialiseError`.
    """
    repo = repo.resolve()
    settings = read_dvc_settings(repo)
    with ExitStack() as stack:
        try:
            path = stack.enter_context(worktree(repo, commit, prefix="gitops-ml-commit-"))
        except GitError as exc:
            raise MaterialiseError(f"{label} cannot be checked out: {exc}") from None
        _reproduce(path, repo, commit, settings, label, targets, say)
        yield path


def _run(cmd: list[str], cwd: Path, env: dict[str, str], label: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=OUTPUT_TIMEOUT_S
    )
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-3000:]
        raise MaterialiseError(f"{' '.join(cmd)} failed for {label} (in {cwd}):\n{output}")
    return result


def _share_cache_and_remote(path: Path, cache: Path, remote: tuple[str, str] | None) -> None:
    """Point the worktree's DVC (``.dvc/config.local``) at ``cache`` and, if any, the remote's resolved URL."""
    from dvc.config import Config

    with Config(dvc_dir=str(path / ".dvc")).edit("local") as conf:
        conf["cache"]["dir"] = str(cache)
        if remote:
            conf["remote"].setdefault(remote[0], {})["url"] = remote[1]


def _reproduce(
    path: Path,
    repo: Path,
    commit: str,
    settings: DvcSettings,
    label: str,
    targets: Sequence[str],
    say: Callable[[str], None],
) -> None:
    """Bring the commit's data into its worktree at ``path`` and run ``dvc repro`` there with the commit's code."""
    cache, remote = settings.cache, settings.remote
    env = dict(os.environ) | {"PYTHONPATH": str(path / "src")}  # the commit's own pipeline code
    local_config = repo / ".dvc" / "config.local"
    if local_config.exists():
        shutil.copy2(local_config, path / ".dvc" / "config.local")  # credentials of the remote, if any
    _share_cache_and_remote(path, cache, remote)
    params_text = (path / "params.yaml").read_text(encoding="utf-8")
    _disable_tracking(path / "params.yaml")
    short = commit[:12]
    with _dvc_repo(path, pythonpath=str(path / "src")) as dvc_repo:
        say(f"{label} {short}: checking out what the DVC cache holds")
        with suppress(Exception):  # what is still missing is made by ensure-data and dvc repro below
            dvc_repo.checkout(allow_missing=True)
        if remote:
            say(f"{label} {short}: pulling from DVC remote '{remote[0]}'")
            with suppress(Exception):
                dvc_repo.pull(allow_missing=True)
        if not _data_is_current(path):
            _run(["gitops-ml", "ensure-data"], path, env, label)  # the commit's own way of making its data
        say(f"{label} {short}: dvc repro (stages already run are restored from the run-cache)")
        try:
            dvc_repo.reproduce(list(targets) or None, pull=bool(remote))
        except Exception as exc:  # DVC's errors, a failed stage: one message naming the commit, no traceback
            cause = f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)
            raise MaterialiseError(f"dvc repro failed for {label} (in {path}): {type(exc).__name__}: {cause}") from None
    (path / "params.yaml").write_text(params_text, encoding="utf-8")


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the processes started inside the block (DVC's stage commands)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def no_dvc_questions() -> Iterator[None]:
    """Inside the block, DVC's yes/no questions are answered "no" at once instead of waiting for a person.

    DVC asks when its output is a terminal, which it is in a developer's shell and in a workflow step run by act
    (a pseudo-terminal): for example "Missing cache for directory ... Would you like to continue?" when a stage's
    run-cache entry names outputs that neither the cache nor the remote holds. Nobody is there to answer for a
    temporary worktree, and "no" is what DVC does without a terminal (GitHub's runners): the entry is not used and
    the stage runs. Standard input reads end-of-file for the block, which DVC's prompt takes as "no"; DVC's
    Python API has no switch for this.
    """
    saved = sys.stdin
    with Path(os.devnull).open(encoding="utf-8") as nothing:
        sys.stdin = nothing
        try:
            yield
        finally:
            sys.stdin = saved


@contextmanager
def _dvc_repo(path: Path, pythonpath: str) -> Iterator[Any]:
    """DVC's ``Repo`` of the worktree, opened from inside it (DVC resolves targets against the working directory),
    with ``pythonpath`` first on the ``PYTHONPATH`` of the stage commands it starts (the commit's own code)."""
    from dvc.repo import Repo

    with no_dvc_questions(), _environment(PYTHONPATH=pythonpath), chdir(path), Repo(str(path)) as repo:
        yield repo


def _data_is_current(path: Path) -> bool:
    """Whether the worktree's ``data/`` already matches its ``data.dvc`` (typically restored from the cache)."""
    from gitops_ml.data_source import data_is_current

    try:
        return (path / paths.DATA_DVC).exists() and data_is_current(paths.DATA_DVC, path)
    except Exception:  # an unusual layout at that commit: let its own ensure-data decide
        return False


def _disable_tracking(params_file: Path) -> None:
    """Don't log the commit's run to MLflow (it is not a stage dependency, so DVC's view of the stages is unchanged)."""
    raw = load_yaml(params_file.read_text(encoding="utf-8"))
    if isinstance(raw, dict) and isinstance(raw.get("tracking"), dict):
        raw["tracking"]["enabled"] = False
        params_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
