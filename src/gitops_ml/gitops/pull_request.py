"""Proposing a change as a pull request: commit chosen files on a new branch, push it, open (or find) the PR.

Used by ``gitops-ml retrain`` and meant for any other flow that proposes a change by pull request (a deployment's
image bump, a promotion): the caller decides which files change and what the PR says; :func:`propose` does the git
and GitHub parts the same way every time.

- The commit holds only the named files; without a configured git identity (a fresh CI runner) it is made as
  :data:`BOT_IDENTITY`.
- The push authenticates with the token by an HTTP header for github.com only (:func:`gitops_ml.vcs.github_push_env`),
  never in the URL or on the command line, so checkout can run with ``persist-credentials: false``.
- Re-runs are safe: when origin already has the branch with the same content, nothing is pushed; when an open
  pull request already has the branch as head, it is reused, not duplicated. A branch on origin with other content
  is never overwritten.

Note: a pull request opened with the workflow's own ``GITHUB_TOKEN`` starts no workflow on GitHub (no ``ci`` run);
give the job a GitHub App or fine-grained token instead (docs/retraining.md, "Pull requests that run CI").
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.errors import ProjectError
from gitops_ml.gitops.github_api import GitHub, PullRequest
from gitops_ml.vcs import git, github_push_env

BOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "gitops-ml",
    "GIT_AUTHOR_EMAIL": "gitops-ml@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "gitops-ml",
    "GIT_COMMITTER_EMAIL": "gitops-ml@users.noreply.github.com",
}


class ProposalError(ProjectError, RuntimeError):
    """The change cannot be proposed: git refused, the branch is taken, or origin has other content on it."""


@dataclass(frozen=True)
class Proposal:
    """A change to propose: the new branch, the branch to merge into, the pull request's title and body."""

    branch: str
    base: str
    title: str
    body: str


@dataclass(frozen=True)
class Opened:
    """The pull request of a proposal, whether this call created it, and whether it pushed the branch."""

    pull: PullRequest
    created: bool
    pushed: bool


def _git(
    repo: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = git(*args, cwd=repo, env=env)
    if check and result.returncode != 0:
        raise ProposalError(
            f"`git {' '.join(args)}` failed in {repo}: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def commit_env(repo: Path) -> dict[str, str]:
    """The environment for a commit: :data:`BOT_IDENTITY` where git has no identity of its own (CI)."""
    env = dict(os.environ)
    for kind in ("AUTHOR", "COMMITTER"):
        if _git(repo, "var", f"GIT_{kind}_IDENT", check=False).returncode != 0:
            env |= {k: v for k, v in BOT_IDENTITY.items() if k.startswith(f"GIT_{kind}_")}
    return env


def current_branch(repo: Path) -> str | None:
    """The branch checked out at ``repo``, or None when HEAD is detached."""
    result = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return result.stdout.strip() or None


def check_branch_name(repo: Path, branch: str) -> str:
    """``branch`` if git accepts it as a new local branch of ``repo``; :class:`ProposalError` otherwise."""
    if _git(repo, "check-ref-format", "--branch", branch, check=False).returncode != 0:
        raise ProposalError(f"{branch!r} is not a valid branch name")
    if _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        raise ProposalError(
            f"the branch {branch} already exists here: delete it (`git branch -D {branch}`) or pick another"
        )
    return branch


def commit_on_branch(repo: Path, branch: str, files: Sequence[str], message: str) -> str:
    """Create ``branch`` at HEAD, switch to it, commit only ``files`` (their working-tree state); return the commit."""
    check_branch_name(repo, branch)
    _git(repo, "switch", "--quiet", "-c", branch)
    _git(repo, "add", "--", *files)
    _git(repo, "commit", "--quiet", "--message", message, "--", *files, env=commit_env(repo))
    return _git(repo, "rev-parse", "HEAD").stdout.strip()


def push_branch(repo: Path, branch: str, remote: str = "origin", token: str | None = None) -> bool:
    """Push ``branch``; True when pushed, False when ``remote`` already has it with the same content (a re-run).

    Raises :class:`ProposalError` when ``remote`` has the branch with other content: that is someone's work, and
    is never overwritten.
    """
    env = github_push_env(token)
    listed = _git(repo, "ls-remote", "--heads", remote, f"refs/heads/{branch}", env=env).stdout.split()
    if listed:
        _git(repo, "fetch", "--quiet", remote, f"refs/heads/{branch}", env=env)
        theirs = _git(repo, "rev-parse", "FETCH_HEAD^{tree}").stdout.strip()
        if theirs == _git(repo, "rev-parse", "HEAD^{tree}").stdout.strip():
            return False
        raise ProposalError(
            f"{remote} already has a branch {branch} with other changes; it is left alone. Delete it, or propose "
            "under another branch name"
        )
    _git(repo, "push", "--quiet", remote, f"HEAD:refs/heads/{branch}", env=env)
    return True


def open_pull_request(api: GitHub, proposal: Proposal) -> tuple[PullRequest, bool]:
    """The open pull request from ``proposal.branch`` into ``proposal.base`` (created if none; True if created)."""
    existing = [p for p in api.open_pulls_from(api.repository, proposal.branch) if p.base_ref == proposal.base]
    if existing:
        return existing[0], False
    return api.create_pull(proposal.title, proposal.branch, proposal.base, proposal.body), True


def propose(
    repo: Path,
    api: GitHub,
    proposal: Proposal,
    remote: str = "origin",
    token: str | None = None,
    say: Callable[[str], None] = print,
) -> Opened:
    """Push the branch checked out at ``repo`` as ``proposal.branch`` and open its pull request (see the module)."""
    pushed = push_branch(repo, proposal.branch, remote, token)
    say(f"pushed {proposal.branch} to {remote}" if pushed else f"{remote} already has {proposal.branch} as proposed")
    pull, created = open_pull_request(api, proposal)
    say(f"{'opened' if created else 'already open:'} pull request #{pull.number} {pull.html_url}")
    return Opened(pull, created, pushed)
