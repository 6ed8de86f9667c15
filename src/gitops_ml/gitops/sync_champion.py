"""After a merge that changes production's overlay: the MLflow ``champion`` alias and the latest GitHub Release
follow the model version production now declares (the champion rule, :mod:`gitops_ml.gitops.champion`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.errors import GitHubReleaseError
from gitops_ml.gitops.champion import PRODUCTION, champion_tag, deployed_release
from gitops_ml.gitops.github_api import GitHub, Release


@dataclass(frozen=True)
class ProductionRelease:
    """The release production declares (None before the first production deployment)."""

    tag: str | None


def production_release(repo: Path) -> ProductionRelease:
    """The release ``deploy/overlays/production`` of ``repo`` declares; its git tag must exist (ChampionError)."""
    if deployed_release(repo, PRODUCTION) is None:
        return ProductionRelease(None)
    return ProductionRelease(champion_tag(repo))


def mark_latest_release(api: GitHub, tag: str, say: Callable[[str], None] = print) -> Release:
    """Mark the GitHub Release of ``tag`` as the repository's latest."""
    release = api.release_by_tag(tag)
    if release is None:
        raise GitHubReleaseError(
            f"no GitHub Release for {tag}: production runs it, but release.yml never published it; create it "
            f"with `TAG={tag} make github-release` and rerun sync-champion"
        )
    marked = api.mark_latest(release.id)
    say(f"the GitHub Release {tag} is now marked latest: {marked.html_url}")
    return marked
