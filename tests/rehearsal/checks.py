"""What a rehearsal checks after a run: what GitHub, the registry and origin would now show.

Each check raises :class:`AssertionError` naming the act log, so the scenario tests and the broken-workflow tests
(which expect these same checks to fail on a mutated workflow) share one definition of "it worked".
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.act_runner import ActRun, RunnerMachine
from tests.support.github_stub import GitHubStub

from .hosting import BOT, HostedRepo

MARKER = "<!-- gitops-ml report -->"
SAYS_WOULD_RELEASE = re.compile(r"(?<!not )would release", re.IGNORECASE)


def fail(act: ActRun, message: str) -> None:
    """Raise an AssertionError with the run's summary and log path."""
    raise AssertionError(f"{message}\n{act.describe()}")


def writes(github: GitHubStub) -> list[tuple[str, str, int]]:
    """(method, path, status) of every call that would have changed something on GitHub."""
    return [(c.method, c.path, c.status) for c in github.writes()]


def artifact_dir(machine: RunnerMachine, repo: HostedRepo, run_id: int, name: str, attempt: int = 1) -> Path:
    """Where the upload-artifact stand-in stored artifact ``name`` of a run attempt."""
    return machine.artifacts / repo.full_name.lower() / str(run_id) / str(attempt) / name


def expect_one_bot_comment(github: GitHubStub, act: ActRun, pr_number: int) -> dict:
    """The pull request carries exactly one comment, by the bot, starting with the report marker; return it."""
    comments = github.comments(pr_number)
    if len(comments) != 1:
        fail(act, f"expected one comment on #{pr_number}, found {len(comments)}; writes: {writes(github)}")
    comment = comments[0]
    if comment["user"]["login"] != BOT or not comment["body"].startswith(MARKER):
        fail(
            act,
            f"the comment on #{pr_number} is not the bot's report comment: {comment['user']} {comment['body'][:80]!r}",
        )
    return comment


def expect_released(repo: HostedRepo, github: GitHubStub, act: ActRun, tag: str, commit: str) -> None:
    """The publish job ran and succeeded, origin has ``tag`` at ``commit``, and GitHub has its Release."""
    if act.job_results().get("publish") != "success":
        fail(act, f"expected the publish job to succeed, jobs: {act.job_results()}")
    if repo.tags().get(tag) != commit:
        fail(act, f"expected git tag {tag} at {commit} in origin, tags: {repo.tags()}")
    if tag not in releases(github):
        fail(act, f"expected a GitHub Release {tag}, releases: {sorted(releases(github))}")


MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def registry_tags(registry: str, image: str) -> dict[str, str]:
    """Tags of ``image`` (``<registry>/<path>``) in the local registry -> the digest each names."""
    path = image.removeprefix(f"{registry}/")
    listed = httpx.get(f"http://{registry}/v2/{path}/tags/list", timeout=30)
    if listed.status_code == 404:
        return {}
    listed.raise_for_status()
    tags = {}
    for tag in listed.json().get("tags") or []:
        head = httpx.head(
            f"http://{registry}/v2/{path}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=30
        )
        head.raise_for_status()
        tags[tag] = head.headers["Docker-Content-Digest"]
    return tags


def registry_has(registry: str, image: str, digest: str) -> bool:
    """Whether the local registry serves ``image@digest``."""
    path = image.removeprefix(f"{registry}/")
    head = httpx.head(f"http://{registry}/v2/{path}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES}, timeout=30)
    return head.status_code == 200


def releases(github: GitHubStub) -> dict[str, dict]:
    """GitHub Releases by tag."""
    with github.lock:
        return {r["tag_name"]: dict(r) for r in github.state["releases"]}
