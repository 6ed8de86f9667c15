"""Materialise BASE's pipeline outputs without touching the working tree.

:func:`base_outputs` adds a detached ``git worktree`` of BASE in a temporary directory, points its DVC cache
at this repository's cache (so the run-cache and every cached output are shared), brings the data in
(cache, then DVC remote, then the built-in sample via BASE's own ``gitops-ml ensure-data``), runs
``dvc repro`` there with BASE's own code on ``PYTHONPATH`` and reads what it wrote. An unchanged base is
restored from the run-cache in seconds. The worktree is always removed, even on failure.

DVC's checkout, pull and repro run in this process, through DVC's Python API, in one ``Repo``: a ``dvc`` subprocess
costs about a second of start-up each, most of the base side's time when everything is restored from the cache.
Stages that do run are still separate processes started by DVC, with BASE's code first on their ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import chdir, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from gitops_ml import paths
from gitops_ml.config import ProjectParams
from gitops_ml.errors import CompareError, GitError
from gitops_ml.gitops.compare import Side
from gitops_ml.gitops.dvc_settings import DvcSettings, read_dvc_settings
from gitops_ml.io import load_yaml, read_json
from gitops_ml.vcs import file_md5, worktree

OUTPUT_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Outputs:
    """What one pipeline run wrote, as the report needs it."""

    params: dict[str, Any]
    data_summary: dict[str, Any]
    side: Side
    roc: pd.DataFrame
    precision_recall: pd.DataFrame
    confusion: dict[str, int]  # tn, fp, fn, tp


def _test_set_id(root: Path) -> str:
    lock = root / "dvc.lock"
    if lock.exists():
        stages = (load_yaml(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
        for out in stages.get("split", {}).get("outs", []):
            if out.get("path") == str(paths.TEST) and out.get("md5"):
                return str(out["md5"])
    test = root / paths.TEST
    if test.exists():
        return file_md5(test)
    return "unknown"


def class_labels(params: Any) -> tuple[str, str]:
    """(negative, positive) label of a side's raw params.yaml (``project:``), as its evaluate named the classes."""
    project = params.get("project") if isinstance(params, dict) else None
    project = project if isinstance(project, dict) else {}
    defaults = ProjectParams()
    negative = project.get("negative_label", defaults.negative_label)
    positive = project.get("positive_label", defaults.positive_label)
    return str(negative), str(positive)


def read_confusion(path: Path, labels: tuple[str, str]) -> dict[str, int]:
    """Counts (tn, fp, fn, tp) of the confusion plot table, whose classes are named by ``labels`` (negative, positive).

    Read as text, so labels such as ``1``, ``true`` or ``NA`` stay themselves. A value that is neither label means
    the table was written under other labels: :class:`CompareError`.
    """
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    negative, positive = labels
    for column in ("actual", "predicted"):
        unknown = sorted(set(table[column]) - {negative, positive})
        if unknown:
            raise CompareError(
                f"{path}: {column} holds {unknown[:3]}, neither project.negative_label ({negative!r}) nor "
                f"project.positive_label ({positive!r}); rerun the evaluate stage (`dvc repro`)"
            )
    actual, predicted = table["actual"] == positive, table["predicted"] == positive
    return {
        "tn": int((~actual & ~predicted).sum()),
        "fp": int((~actual & predicted).sum()),
        "fn": int((actual & ~predicted).sum()),
        "tp": int((actual & predicted).sum()),
    }


def read_outputs(root: Path) -> Outputs:
    """Read the outputs of the pipeline run in ``root``; a missing one raises :class:`CompareError`."""
    needed = [
        root / "params.yaml",
        root / paths.DATA_SUMMARY,
        root / paths.METRICS,
        root / paths.METRICS_CI,
        root / paths.PREDICTIONS,
        root / paths.PLOTS / "roc.csv",
        root / paths.PLOTS / "precision_recall.csv",
        root / paths.PLOTS / "confusion.csv",
    ]
    missing = [str(p.relative_to(root)) for p in needed if not p.exists()]
    if missing:
        raise CompareError(f"{root}: pipeline outputs missing ({', '.join(missing)}); run `make repro` first")
    params = load_yaml((root / "params.yaml").read_text(encoding="utf-8")) or {}
    predictions = pd.read_parquet(root / paths.PREDICTIONS)
    side = Side(
        metrics=read_json(root / paths.METRICS),
        intervals=read_json(root / paths.METRICS_CI).get("metrics", {}),
        labels=predictions["label"].to_numpy(dtype=np.int64),
        scores=predictions["score"].to_numpy(dtype=np.float64),
        test_set_id=_test_set_id(root),
    )
    return Outputs(
        params=params,
        data_summary=read_json(root / paths.DATA_SUMMARY),
        side=side,
        roc=pd.read_csv(root / paths.PLOTS / "roc.csv"),
        precision_recall=pd.read_csv(root / paths.PLOTS / "precision_recall.csv"),
        confusion=read_confusion(root / paths.PLOTS / "confusion.csv", class_labels(params)),
    )


def _run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=OUTPUT_TIMEOUT_S
    )
    if check and result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-3000:]
        raise CompareError(f"{' '.join(cmd)} failed for the base side (in {cwd}):\n{output}")
    return result


def _share_cache_and_remote(path: Path, cache: Path, remote: tuple[str, str] | None) -> None:
    """Point the worktree's DVC (``.dvc/config.local``) at ``cache`` and, if any, the remote's resolved URL."""
    from dvc.config import Config

    with Config(dvc_dir=str(path / ".dvc")).edit("local") as conf:
        conf["cache"]["dir"] = str(cache)
        if remote:
            conf["remote"].setdefault(remote[0], {})["url"] = remote[1]


def base_outputs(repo: Path, commit: str, say: Callable[[str], None] = print) -> Outputs:
    """Run (or restore) BASE's pipeline in a temporary worktree sharing this repo's DVC cache; read its outputs."""
    repo = repo.resolve()
    settings = read_dvc_settings(repo)
    try:
        with worktree(repo, commit, prefix="gitops-ml-base-") as path:
            return _reproduce(path, repo, commit, settings, say)
    except GitError as exc:
        raise CompareError(f"the base side cannot be checked out: {exc}") from None


def _reproduce(path: Path, repo: Path, commit: str, settings: DvcSettings, say: Callable[[str], None]) -> Outputs:
    """Bring BASE's data into its worktree at ``path``, run ``dvc repro`` there with BASE's code, read the outputs."""
    cache, remote = settings.cache, settings.remote
    env = dict(os.environ) | {"PYTHONPATH": str(path / "src")}  # BASE's own pipeline code
    local_config = repo / ".dvc" / "config.local"
    if local_config.exists():
        shutil.copy2(local_config, path / ".dvc" / "config.local")  # credentials of the remote, if any
    _share_cache_and_remote(path, cache, remote)
    params_text = (path / "params.yaml").read_text(encoding="utf-8")
    _disable_tracking(path / "params.yaml")
    with _dvc_repo(path, pythonpath=str(path / "src")) as dvc_repo:
        say(f"base {commit[:12]}: checking out what the DVC cache holds")
        with suppress(Exception):  # what is still missing is made by ensure-data and dvc repro below
            dvc_repo.checkout(allow_missing=True)
        if remote:
            say(f"base {commit[:12]}: pulling from DVC remote '{remote[0]}'")
            with suppress(Exception):
                dvc_repo.pull(allow_missing=True)
        if not _data_is_current(path):
            _run(["gitops-ml", "ensure-data"], path, env)  # BASE's own way of making its data
        say(f"base {commit[:12]}: dvc repro (stages already run are restored from the run-cache)")
        try:
            dvc_repo.reproduce(pull=bool(remote))
        except Exception as exc:  # DVC's errors, a failed stage: one message naming the base side, no traceback
            cause = f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)
            raise CompareError(
                f"dvc repro failed for the base side (in {path}): {type(exc).__name__}: {cause}"
            ) from None
    (path / "params.yaml").write_text(params_text, encoding="utf-8")
    return read_outputs(path)


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
def _dvc_repo(path: Path, pythonpath: str) -> Iterator[Any]:
    """DVC's ``Repo`` of the worktree, opened from inside it (DVC resolves targets against the working directory),
    with ``pythonpath`` first on the ``PYTHONPATH`` of the stage commands it starts (BASE's own code)."""
    from dvc.repo import Repo

    with _environment(PYTHONPATH=pythonpath), chdir(path), Repo(str(path)) as repo:
        yield repo


def _data_is_current(path: Path) -> bool:
    """Whether the worktree's ``data/`` already matches its ``data.dvc`` (typically restored from the cache)."""
    from gitops_ml.data_source import data_is_current

    try:
        return (path / paths.DATA_DVC).exists() and data_is_current(paths.DATA_DVC, path)
    except Exception:  # an unusual BASE layout: let BASE's own ensure-data decide
        return False


def _disable_tracking(params_file: Path) -> None:
    """Don't log BASE's run to MLflow (it is not a stage dependency, so DVC's view of the stages is unchanged)."""
    raw = load_yaml(params_file.read_text(encoding="utf-8"))
    if isinstance(raw, dict) and isinstance(raw.get("tracking"), dict):
        raw["tracking"]["enabled"] = False
        params_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
