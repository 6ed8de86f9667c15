"""Which model a window is compared with: the release that served it, not whatever the default branch holds now.

Production may run an older release than the default branch (the gate refused a newer model, a rollback, a
promotion still under review), and a window must be judged against the training data and model of the release
that scored it. ``gitops-ml drift --against`` chooses the commit whose drift reference and model are used:

``auto`` (the default), in this order:

1. ``window``: the window's model version (the one most of its records name) when it is a release ``model-vN``
   whose git tag exists here;
2. ``production``: else the release ``deploy/overlays/production`` declares (not before its first release,
   ``unreleased``); a declared release without a git tag is an error (fetch the tags);
3. ``workspace``: else the working tree's own outputs (``make repro``), or HEAD's when the working tree has none;
   the report says why.

``workspace``: the working tree's outputs, exactly (no git needed; the benchmarks and tests without history).

``model-vN`` or any git revision (commit, branch, tag): that commit (``explicit``). A release without a tag or a
revision that names no commit is refused with one message saying how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gitops_ml.errors import DriftInputError
from gitops_ml.gitops.champion import PRODUCTION, deployed_release, release_tags, tag_number, tags_at
from gitops_ml.vcs import commit_of

AUTO = "auto"
WORKSPACE = "workspace"
ChosenBy = Literal["window", "production", "workspace", "explicit"]


@dataclass(frozen=True)
class Choice:
    """The reference chosen for a window, and why."""

    chosen_by: ChosenBy
    commit: str | None
    """The commit whose outputs are compared with (for the working tree: HEAD, None outside git)."""
    model_version: str | None
    """The release ``model-vN`` of that commit, when it is one."""
    working_tree: bool
    """Read the working tree's files as they are (True) or the commit's outputs (False)."""
    note: str | None = None
    """Why the earlier choices of ``auto`` did not apply, for the report."""


def _tag_commit(repo: Path, tag: str) -> str | None:
    return commit_of(repo, f"refs/tags/{tag}")


def _newest_release_at(repo: Path, commit: str) -> str | None:
    tags = tags_at(repo, commit)
    return tags[-1] if tags else None


def working_tree_choice(repo: Path, chosen_by: ChosenBy = "workspace", note: str | None = None) -> Choice:
    """The working tree's own files; its HEAD (and HEAD's release, if any) recorded when it is a git repository."""
    head = commit_of(repo, "HEAD")
    version = _newest_release_at(repo, head) if head else None
    return Choice(chosen_by, head, version, working_tree=True, note=note)


def choose(repo: Path, against: str, window_version: str | None, workspace_reference: Path) -> Choice:
    """The reference for a window whose records mostly name ``window_version`` (None: they name none).

    ``against`` is ``auto``, ``workspace``, a release ``model-vN`` or a git revision. ``workspace_reference`` is
    the working tree's drift reference: ``auto``'s last resort reads it when it exists, else HEAD's outputs.
    """
    if against == WORKSPACE:
        return working_tree_choice(repo)
    if against == AUTO:
        return _auto(repo, window_version, workspace_reference)
    return _explicit(repo, against)


def _auto(repo: Path, window_version: str | None, workspace_reference: Path) -> Choice:
    head = commit_of(repo, "HEAD")
    if head is None:
        return working_tree_choice(repo, note="not a git repository with a commit, so no release can be looked up")
    if window_version and tag_number(window_version) is not None:
        commit = _tag_commit(repo, window_version)
        if commit:
            return Choice("window", commit, window_version, working_tree=False)
        why = f"the window's model version {window_version} has no git tag here (`git fetch --tags`)"
    elif window_version:
        why = "the window's model version is not a release (model-vN)"  # data: kept out of the report's text
    else:
        why = "the window's records name no model version"
    deployed = deployed_release(repo)
    if deployed:
        commit = _tag_commit(repo, deployed)
        if commit is None:
            raise DriftInputError(
                f"deploy/overlays/{PRODUCTION} declares {deployed}, but this repository has no git tag {deployed}: "
                "fetch the tags (`git fetch --tags`, or `fetch-depth: 0` in actions/checkout), fix the overlay, or "
                "choose the reference with --against workspace|model-vN|<git revision>"
            )
        return Choice("production", commit, deployed, working_tree=False, note=f"{why}; production runs {deployed}")
    why += f"; deploy/overlays/{PRODUCTION} declares no release yet"
    if workspace_reference.exists():
        return working_tree_choice(repo, note=f"{why}: the working tree's reference")
    return Choice(
        "workspace", head, _newest_release_at(repo, head), working_tree=False,
        note=f"{why}: HEAD's outputs (the working tree has no {workspace_reference})",
    )  # fmt: skip


def _explicit(repo: Path, rev: str) -> Choice:
    if rev.startswith("-") or not rev.strip():
        raise DriftInputError(f"--against {rev!r}: give auto, workspace, a release (model-vN) or a git revision")
    if tag_number(rev) is not None:
        commit = _tag_commit(repo, rev)
        if commit is None:
            known = ", ".join(release_tags(repo)) if commit_of(repo, "HEAD") else ""
            raise DriftInputError(
                f"--against {rev}: this repository has no git tag {rev} (releases here: {known or 'none'}); fetch "
                "the tags (`git fetch --tags`, or `fetch-depth: 0` in actions/checkout) or name a release that exists"
            )
        return Choice("explicit", commit, rev, working_tree=False)
    commit = commit_of(repo, rev)
    if commit is None:
        raise DriftInputError(
            f"--against {rev!r} names no commit in {repo.resolve()}: give auto, workspace, a release (model-vN) or "
            "a git revision (commit, branch, tag; fetch it first when it is only on a remote)"
        )
    return Choice("explicit", commit, _newest_release_at(repo, commit), working_tree=False)
