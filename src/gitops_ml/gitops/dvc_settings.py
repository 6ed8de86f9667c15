"""This repository's DVC cache directory and default remote, read in-process through DVC's Python API.

In-process because each ``dvc`` subprocess costs about a second of start-up, and the PR report and the release
gate both need these on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DvcSettings:
    """Where the DVC cache is, and the default remote when one is usable."""

    cache: Path
    remote: tuple[str, str] | None  # (name, url): a cloud URL, or a local directory that exists


def _absolute_url(repo: Path, url: str) -> str:
    """A local-path remote as an absolute path (a relative one is relative to ``.dvc/``)."""
    if "://" in url:
        return url
    path = Path(url)
    return str(path if path.is_absolute() else (repo / ".dvc" / path).resolve())


def read_dvc_settings(repo: Path) -> DvcSettings:
    """The cache directory (absolute) and usable default remote of the DVC repository at ``repo``."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        cache = Path(dvc_repo.cache.local_cache_dir).resolve()
        name = dvc_repo.config["core"].get("remote")
        url = dvc_repo.config["remote"].get(name, {}).get("url") if name else None
    if not name or not url:
        return DvcSettings(cache, None)
    url = _absolute_url(repo, url)
    usable = "://" in url or Path(url).is_dir()
    return DvcSettings(cache, (name, url) if usable else None)
