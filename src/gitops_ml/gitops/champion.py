"""The champion: the model production runs, materialised as a file to score.

**The champion rule.** The champion is the model version that ``deploy/overlays/production`` declares (its
``app.kubernetes.io/version`` label, :func:`gitops_ml.deploy.overlay.read_overlay`): promotion and rollback are
pull requests to that file, so after their merge the gate compares candidates with what production runs. Before
the first production deployment (the overlay holds the placeholder ``unreleased``), and in a project without a
production overlay, it is the newest ``model-vN`` tag. The next release's tag is always the newest tag + 1, so a
rollback to ``model-v1`` never makes the next release reuse ``model-v2``.

The model file is looked up, in order, in the local DVC cache (by the md5 that the tag's ``dvc.lock`` records),
in the DVC remote (``dvc get . models/model.skops --rev <tag>``), and as a last resort reproduced from the tag
in a temporary ``git worktree`` (``dvc repro train`` with the tag's code and params, sharing this repository's
DVC cache and run-cache, so it is cheap when that stage already ran). A cached or downloaded file whose md5
differs from ``dvc.lock`` is a corrupted baseline: :class:`ChampionError`, and the gate does not release.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from gitops_ml import paths
from gitops_ml.errors import ChampionError, GitError, ProjectError
from gitops_ml.gitops.dvc_settings import read_dvc_settings
from gitops_ml.vcs import cache_path, file_at, file_md5, git, worktree

TAG_PREFIX = "model-v"
TAG_PATTERN = re.compile(r"^model-v([1-9][0-9]*)$")


def tool(name: str) -> str:
    """The ``dvc``/``gitops-ml`` executable of this environment (beside the interpreter), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else name


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with the interpreter's bin directory first on PATH (for ``dvc repro`` stage commands)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return os.environ | {"PATH": path} | (extra or {})


@dataclass(frozen=True)
class Champion:
    """A released model materialised at ``path``; ``source`` is ``cache``, ``remote`` or ``reproduced``."""

    tag: str
    path: Path
    source: str
    md5: str


def tag_number(tag: str) -> int | None:
    """N of a ``model-vN`` tag, or None for any other name."""
    match = TAG_PATTERN.match(tag)
    return int(match.group(1)) if match else None


def release_tags(repo: Path) -> list[str]:
    """Every ``model-vN`` tag of ``repo``, oldest (smallest N) first."""
    result = git("tag", "--list", f"{TAG_PREFIX}*", cwd=repo)
    if result.returncode != 0:
        raise ChampionError(f"{repo} is not a git repository: {result.stderr.strip()}")
    tags = [t for t in result.stdout.split() if tag_number(t) is not None]
    return sorted(tags, key=lambda t: tag_number(t) or 0)


def latest_release_tag(repo: Path) -> str | None:
    """The newest ``model-vN`` tag (largest N), or None when nothing has been released."""
    tags = release_tags(repo)
    return tags[-1] if tags else None


PRODUCTION = "production"
"""The environment whose overlay names the champion."""


def deployed_release(repo: Path, environment: str = PRODUCTION) -> str | None:
    """The ``model-vN`` that ``deploy/overlays/<environment>`` of ``repo`` declares; None before its first release
    (the ``unreleased`` placeholder) or when the project has no such overlay. A malformed overlay is a
    :class:`ChampionError` (the gate must not silently fall back to another model)."""
    from gitops_ml.deploy.overlay import OVERLAYS_DIR, read_overlay

    overlay = repo / OVERLAYS_DIR / environment
    if not overlay.is_dir():
        return None
    try:
        image = read_overlay(overlay)
    except ProjectError as exc:
        raise ChampionError(f"cannot tell which model {environment} runs: {exc}") from None
    return image.model_version if image.released else None


def champion_tag(repo: Path) -> str | None:
    """The champion's release tag: the version production declares, else the newest ``model-vN`` tag, else None.

    A production overlay naming a version that has no git tag here is a :class:`ChampionError` (fix the overlay
    or fetch the tags: ``git fetch --tags``)."""
    deployed = deployed_release(repo)
    if deployed is None:
        return latest_release_tag(repo)
    if deployed not in release_tags(repo):
        raise ChampionError(
            f"deploy/overlays/{PRODUCTION} declares {deployed}, but this repository has no git tag {deployed}: "
            "fetch the tags (`git fetch --tags`, or `fetch-depth: 0` in actions/checkout) or fix the overlay"
        )
    return deployed


def next_release_tag(repo: Path) -> str:
    """The tag the next release gets: ``model-v(N+1)``, or ``model-v1``."""
    latest = latest_release_tag(repo)
    return f"{TAG_PREFIX}{(tag_number(latest) or 0) + 1 if latest else 1}"


def tags_at(repo: Path, rev: str = "HEAD") -> list[str]:
    """The ``model-vN`` tags that point at ``rev``."""
    result = git("tag", "--points-at", rev, cwd=repo)
    return sorted((t for t in result.stdout.split() if tag_number(t) is not None), key=lambda t: tag_number(t) or 0)


def locked_md5(repo: Path, rev: str, out: Path = paths.MODEL) -> str:
    """The md5 that ``dvc.lock`` at ``rev`` records for the output ``out``."""
    text = file_at(repo, rev, "dvc.lock")
    if text is None:
        raise ChampionError(f"{rev} has no dvc.lock, so its model cannot be located")
    try:
        lock = yaml.safe_load(text) or {}
        for stage in (lock.get("stages") or {}).values():
            for entry in stage.get("outs") or []:
                if Path(entry["path"]) == out:
                    return str(entry["md5"])
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
        raise ChampionError(f"dvc.lock at {rev} is corrupted ({exc}); its model cannot be located") from None
    raise ChampionError(f"dvc.lock at {rev} records no {out}; was that release made by `dvc repro`?")


def dvc_cache_dir(repo: Path) -> Path:
    """This repository's DVC cache directory."""
    try:
        return read_dvc_settings(repo).cache
    except Exception as exc:  # DVC raises its own types for a missing or broken repository
        raise ChampionError(f"cannot read the DVC settings of {repo}: {exc}") from None


def _checked(path: Path, md5: str, tag: str, source: str) -> Champion:
    actual = file_md5(path)
    if actual != md5:
        raise ChampionError(
            f"the champion model of {tag} from the {source} is corrupted: md5 {actual}, but dvc.lock records "
            f"{md5}. Delete the bad copy (`dvc gc` or remove it from the remote) and rerun the gate."
        )
    return Champion(tag=tag, path=path, source=source, md5=md5)


def from_cache(repo: Path, tag: str, md5: str, dest: Path) -> Champion | None:
    """The champion from the local DVC cache, or None when the cache does not hold it."""
    cached = cache_path(dvc_cache_dir(repo), md5)
    if not cached.is_file():
        return None
    shutil.copyfile(cached, dest)
    return _checked(dest, md5, tag, "DVC cache")


def from_remote(repo: Path, tag: str, md5: str, dest: Path) -> Champion | None:
    """The champion downloaded from the DVC remote with ``dvc get --rev``, or None when no remote has it."""
    result = subprocess.run(
        [tool("dvc"), "get", ".", str(paths.MODEL), "--rev", tag, "-o", str(dest), "--force"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not dest.is_file():
        return None
    return _checked(dest, md5, tag, "DVC remote")


def reproduce(repo: Path, tag: str, dest: Path, say: Callable[[str], None] = print) -> Champion:
    """Rebuild the champion with ``dvc repro train`` in a temporary worktree of ``tag``, using the tag's code."""
    cache = dvc_cache_dir(repo)
    try:
        with worktree(repo, tag, prefix="champion-") as tree:
            env = tool_env({"PYTHONPATH": str(tree / "src")})  # the tag's code, not this checkout's
            steps = (
                [tool("dvc"), "cache", "dir", "--local", str(cache)],
                [tool("gitops-ml"), "ensure-data"],
                [tool("dvc"), "repro", "train"],
            )
            for cmd in steps:
                say(f"reproducing {tag}: {Path(cmd[0]).name} {' '.join(cmd[1:])}")
                done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                    raise ChampionError(
                        f"reproducing {tag} failed at `{Path(cmd[0]).name} {' '.join(cmd[1:])}`: " + " / ".join(tail)
                    )
            shutil.copyfile(tree / paths.MODEL, dest)
    except GitError as exc:  # the worktree could not be added: the gate refuses, it does not crash
        raise ChampionError(f"cannot check out {tag} to reproduce its model: {exc}") from None
    return Champion(tag=tag, path=dest, source="reproduced", md5=file_md5(dest))


def materialise(repo: Path, tag: str, dest: Path, say: Callable[[str], None] = print) -> Champion:
    """Write the model of release ``tag`` to ``dest``: from the DVC cache, else the remote, else reproduce it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    md5 = locked_md5(repo, tag)
    found = from_cache(repo, tag, md5, dest) or from_remote(repo, tag, md5, dest)
    if found is None:
        say(f"neither the DVC cache nor the remote holds the model of {tag} ({md5}): reproducing it")
        found = reproduce(repo, tag, dest, say)
    say(f"champion {tag}: model {found.md5} from the {found.source}")
    return found
