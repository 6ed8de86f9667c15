"""The GitHub Release of a ``model-vN`` tag, made through the API (:mod:`gitops_ml.gitops.github_api`).

Idempotent: when the tag already has a release, nothing is changed, so a rerun of the release workflow
publishes nothing new. The tag must exist in this checkout (``make promote`` made it): its commit is sent as
``target_commitish``, so even if the tag had not reached GitHub yet, GitHub would create it at that commit and
never at the default branch's head.

The release is marked latest only before the first production deployment: afterwards the latest Release is the
one production runs, moved by ``gitops-ml sync-champion`` after each merge to ``deploy/overlays/production``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.errors import GitHubError, GitHubReleaseError
from gitops_ml.gitops.champion import deployed_release
from gitops_ml.gitops.github_api import GitHub, Release
from gitops_ml.vcs import commit_of

RELEASE_TAG = re.compile(r"^model-v[1-9][0-9]*$")
RELEASE_BODY_LIMIT = 125_000  # GitHub refuses longer release bodies


@dataclass(frozen=True)
class Published:
    """The release of the tag and whether this call created it."""

    release: Release
    created: bool


def tag_commit(repo: Path, tag: str) -> str:
    """The commit SHA of the local tag ``tag``; a clear error when it does not exist."""
    commit = commit_of(repo, f"refs/tags/{tag}")
    if commit is None:
        raise GitHubReleaseError(f"tag {tag} does not exist in {repo}: run `make promote` first (it creates the tag)")
    return commit


def read_notes(path: Path) -> str:
    """The release body from ``path`` (written by ``make release-notes``), checked against GitHub's size limit."""
    if not path.is_file():
        raise GitHubReleaseError(f"{path} not found: run `make release-notes` first")
    text = path.read_text(encoding="utf-8")
    if len(text) > RELEASE_BODY_LIMIT:
        raise GitHubReleaseError(f"{path} has {len(text)} characters; GitHub allows {RELEASE_BODY_LIMIT} in a release")
    return text


def publish_release(api: GitHub, repo: Path, tag: str, notes: Path, say: Callable[[str], None] = print) -> Published:
    """Create the GitHub Release of ``tag`` with the body in ``notes``, unless the tag already has one."""
    if not RELEASE_TAG.fullmatch(tag or ""):
        raise GitHubReleaseError(f"--tag: {tag!r} is not a release tag of the form model-vN")
    existing = api.release_by_tag(tag)
    if existing:
        say(f"release {tag} already exists ({existing.html_url}); nothing to do")
        return Published(existing, created=False)
    commit = tag_commit(repo, tag)
    body = read_notes(notes)
    production = deployed_release(repo)
    if production is not None:
        say(f"production runs {production}: {tag} is not marked latest until production runs it (sync-champion)")
    try:
        release = api.create_release(tag, name=tag, body=body, target_commitish=commit, make_latest=production is None)
    except GitHubError:
        raced = api.release_by_tag(tag)  # another run made it between the look-up and the create
        if raced is None:
            raise
        say(f"release {tag} was just created by another run ({raced.html_url})")
        return Published(raced, created=False)
    say(f"created release {tag} ({release.html_url})")
    return Published(release, created=True)
