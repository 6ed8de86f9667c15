"""Is the committed ``dvc.lock`` the record of the outputs in the working tree?

A release tag must reproduce its model, so the ``dvc.lock`` committed at HEAD has to describe the recipe
(dependencies and params of every stage) that ``dvc repro`` just ran. Output hashes are not compared: the recipe,
not the bytes, defines the outputs (retraining gives the same file here, see ``model_io.canonical_skops``, but
another platform or BLAS may round differently). The pull-request CI, ``make report`` and the release gate all
ask the same question through :func:`stale_stages`, so a pull request that CI lets through is one the gate accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gitops_ml.errors import StaleLockError
from gitops_ml.io import load_yaml
from gitops_ml.vcs import file_at

LOCK_FILE = "dvc.lock"
FIX = "run `make run` (or `dvc repro`) and commit dvc.lock"


def stage_recipe(lock_text: str | dict[str, Any], stage: str = "train") -> dict[str, Any] | None:
    """What a stage was run from in a ``dvc.lock`` (text, or its parsed stages): its deps (paths and hashes) and
    params; None if absent."""
    entry = (_stages(lock_text) if isinstance(lock_text, str) else lock_text).get(stage)
    if not isinstance(entry, dict):
        return None
    deps = sorted((str(d.get("path")), str(d.get("md5"))) for d in entry.get("deps") or [])
    return {"deps": deps, "params": entry.get("params") or {}}


def _stages(lock_text: str) -> dict[str, Any]:
    try:
        stages = (load_yaml(lock_text) or {}).get("stages") or {}
    except (yaml.YAMLError, AttributeError):
        return {}
    return stages if isinstance(stages, dict) else {}


def committed_lock(repo: Path) -> str | None:
    """The text of ``dvc.lock`` at HEAD, or None when HEAD has none."""
    return file_at(repo, "HEAD", LOCK_FILE)


def stale_stages(repo: Path) -> list[str]:
    """Stages whose recipe in the working tree's ``dvc.lock`` differs from HEAD's (all of them if either is absent)."""
    workspace = repo / LOCK_FILE
    current = _stages(workspace.read_text(encoding="utf-8") if workspace.is_file() else "")
    committed = _stages(committed_lock(repo) or "")  # each parsed once: dvc.lock is long, YAML parsing is slow
    names = sorted(set(current) | set(committed))
    if not names:
        return ["(every stage: no dvc.lock)"]
    stale = []
    for name in names:
        recipe = stage_recipe(committed, name)
        if recipe is None or recipe != stage_recipe(current, name):
            stale.append(name)
    return stale


def require_current_lock(repo: Path) -> None:
    """Raise :class:`StaleLockError`, naming the stages and the fix, when HEAD's ``dvc.lock`` is stale."""
    stale = stale_stages(repo)
    if stale:
        raise StaleLockError(
            f"dvc.lock at HEAD does not record how the pipeline outputs were made (stale stages: "
            f"{', '.join(stale)}): {FIX}, so that CI, the report and the release gate judge the committed state"
        )
