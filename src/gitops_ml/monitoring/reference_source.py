"""The files a drift check reads for a :class:`~gitops_ml.monitoring.against.Choice`: drift reference, model, schema.

For the working tree, its own files. For a commit (a release, production's release, HEAD, an explicit revision),
that commit's outputs, found by the md5 its ``dvc.lock`` records, in the cheapest place that holds them:

1. ``workspace``: the working tree, when its files are byte for byte the commit's (the commit is HEAD and
   ``make repro`` ran, or only code outside the pipeline changed since);
2. ``cache``: this repository's DVC cache (the pull-request pipeline or an earlier run made them);
3. ``worktree``: made in a temporary worktree of the commit by
   :func:`~gitops_ml.gitops.commit_worktree.materialised` (data from the cache, the DVC remote or the commit's own
   sample; ``dvc repro drift_reference``, restored from the run-cache when that stage already ran).

The schema is always the one the reference was made with: the commit's ``params.yaml`` (its ``schema:`` section
alone), not the working tree's. The monitor thresholds stay the working tree's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from gitops_ml import paths
from gitops_ml.config import SchemaParams, parse_schema
from gitops_ml.errors import ChampionError, ConfigError, DriftInputError
from gitops_ml.monitoring.against import Choice
from gitops_ml.vcs import cache_path, file_at, file_md5

ReadFrom = Literal["workspace", "cache", "worktree"]
REFERENCE_STAGE = "drift_reference"


@dataclass(frozen=True)
class ReferenceFiles:
    """Where the chosen reference and model are for the duration of the check, and where they were found."""

    reference: Path
    model: Path
    read_from: ReadFrom
    label: str
    """How the report names the reference: its path, with the commit when it is not the working tree's."""


def label_of(choice: Choice) -> str:
    """How messages name the chosen commit: ``model-v1 (0123456789ab)`` or ``commit 0123456789ab``."""
    short = (choice.commit or "")[:12]
    return f"{choice.model_version} ({short})" if choice.model_version else f"commit {short}"


def commit_schema(repo: Path, choice: Choice, working_tree_schema: SchemaParams) -> SchemaParams:
    """The schema the chosen reference was made with: the working tree's, or the commit's params.yaml's."""
    if choice.working_tree or choice.commit is None:
        return working_tree_schema
    source = f"params.yaml of {label_of(choice)}"
    text = file_at(repo, choice.commit, "params.yaml")
    if text is None:
        raise DriftInputError(f"{label_of(choice)} has no params.yaml, so it has no drift reference to compare with")
    try:
        return parse_schema(yaml.safe_load(text), source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None


def _locked(repo: Path, commit: str, out: Path) -> str | None:
    from gitops_ml.gitops.champion import locked_md5

    try:
        return locked_md5(repo, commit, out)
    except ChampionError:  # the lock records no such output: the worktree's dvc repro says whether it can make it
        return None


def _found(repo: Path, md5: str | None, out: Path, cache: Path) -> tuple[Path, ReadFrom] | None:
    """``out`` with hash ``md5`` in the working tree, else in the DVC cache, else None."""
    if md5 is None:
        return None
    places: tuple[tuple[Path, ReadFrom], ...] = ((repo / out, "workspace"), (cache_path(cache, md5), "cache"))
    for path, where in places:
        if path.is_file() and file_md5(path) == md5:
            return path, where
    return None


@contextmanager
def reference_files(
    repo: Path,
    choice: Choice,
    *,
    reference: Path,
    model: Path,
    need_model: bool,
    say: Callable[[str], None] = print,
) -> Iterator[ReferenceFiles]:
    """The chosen reference (and, with ``need_model``, model) files, valid inside the block.

    ``reference`` and ``model`` are the working tree's files (``--reference``, ``--model``), read as they are
    when the choice is the working tree. A commit's temporary worktree, if one was needed, is removed afterwards.
    """
    if choice.working_tree or choice.commit is None:
        yield ReferenceFiles(reference, model, "workspace", str(reference))
        return
    commit, label = choice.commit, label_of(choice)
    shown = f"{paths.DRIFT_REFERENCE} of {label}"
    from gitops_ml.gitops.champion import dvc_cache_dir

    cache = dvc_cache_dir(repo)
    found_reference = _found(repo, _locked(repo, commit, paths.DRIFT_REFERENCE), paths.DRIFT_REFERENCE, cache)
    found_model = _found(repo, _locked(repo, commit, paths.MODEL), paths.MODEL, cache) if need_model else None
    if found_reference and (found_model or not need_model):
        places = {found_reference[1], found_model[1] if found_model else found_reference[1]}
        where: ReadFrom = "cache" if "cache" in places else "workspace"
        say(f"drift reference of {label}: from the {'DVC cache' if where == 'cache' else 'working tree'}")
        yield ReferenceFiles(found_reference[0], found_model[0] if found_model else model, where, shown)
        return
    _require_reference_stage(repo, commit, label)
    from gitops_ml.gitops.commit_worktree import materialised

    say(f"drift reference of {label}: not in the working tree or the DVC cache; making it in a temporary worktree")
    with materialised(repo, commit, label=label, targets=[REFERENCE_STAGE], say=say) as tree:
        if not (tree / paths.DRIFT_REFERENCE).is_file():
            raise DriftInputError(f"{label}'s dvc repro did not write {paths.DRIFT_REFERENCE}")
        yield ReferenceFiles(tree / paths.DRIFT_REFERENCE, tree / paths.MODEL, "worktree", shown)


def _require_reference_stage(repo: Path, commit: str, label: str) -> None:
    """Refuse a commit whose pipeline has no stage ``drift_reference`` (made before the drift check existed)."""
    text = file_at(repo, commit, "dvc.yaml")
    try:
        stages = (yaml.safe_load(text or "") or {}).get("stages") or {}
    except (yaml.YAMLError, AttributeError):
        stages = {}
    if REFERENCE_STAGE not in stages:
        raise DriftInputError(
            f"{label}'s pipeline makes no {paths.DRIFT_REFERENCE} (its dvc.yaml has no stage {REFERENCE_STAGE}: it "
            "is older than the drift check); compare with a later release (--against model-vN), or with the working "
            "tree (--against workspace)"
        )
