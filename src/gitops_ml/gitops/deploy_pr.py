"""Promotion and rollback as pull requests: change one overlay's image, push a branch, open (or update) its PR.

Every change of what an environment runs goes through :func:`open_deploy_pr`: it checks out the base commit in a
temporary worktree (the caller's working tree is never touched), rewrites ``deploy/overlays/<env>`` with
:func:`~gitops_ml.deploy.overlay.write_overlay`, commits on ``deploy/<env>/<model-vN>``, force-pushes that branch
to the remote (a rerun replaces its own branch) and opens the pull request, or updates the one already open from
that branch. When the overlay already declares the image there is nothing to change: no branch, no PR.

Where the image comes from: :func:`deploy_pr` is given it (release.yml after a publish), :func:`promote_env`
copies it from the environment before (staging → production), and :func:`rollback` finds the digest ``model-vK``
was deployed with in the git history of the overlays (:func:`deployed_image_of`). The history is used rather than
the registry's ``model-vK`` tag because it is the digest that was reviewed, merged and run, it needs no registry
access or skopeo, and a registry tag can be moved.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_ml.deploy.overlay import (
    MODEL_VERSION,
    OVERLAYS_DIR,
    DeployedImage,
    OverlayError,
    environments,
    overlay_dir,
    read_overlay,
    write_overlay,
)
from gitops_ml.errors import DeployError
from gitops_ml.gitops.champion import PRODUCTION, release_tags
from gitops_ml.gitops.github_api import GitHub, PullRequest
from gitops_ml.gitops.markdown import code_span
from gitops_ml.vcs import commit_of, git, git_stdout, github_push_env, worktree

STAGING = "staging"
PROMOTION_ORDER = (STAGING, PRODUCTION)
"""Promotion copies each environment's image from the one before it in this order."""
BOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "gitops-ml",
    "GIT_AUTHOR_EMAIL": "gitops-ml@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "gitops-ml",
    "GIT_COMMITTER_EMAIL": "gitops-ml@users.noreply.github.com",
}


@dataclass(frozen=True)
class DeployRequest:
    """What one deploy pull request changes: ``environment`` to ``image`` (``reason``: one line for its body)."""

    environment: str
    image: DeployedImage
    reason: str

    @property
    def branch(self) -> str:
        """The PR's head branch: ``deploy/<env>/<model-vN>``."""
        return f"deploy/{self.environment}/{self.image.model_version}"

    @property
    def title(self) -> str:
        """The PR's title (also the commit subject)."""
        return f"Deploy {self.image.model_version} to {self.environment}"


@dataclass(frozen=True)
class DeployOutcome:
    """``action``: ``opened``, ``updated`` or ``unchanged`` (already deployed: no branch, no PR)."""

    request: DeployRequest
    action: str
    pull: PullRequest | None = None


def parse_image(reference: str, model_version: str) -> DeployedImage:
    """``REPOSITORY@sha256:<hex>`` and ``model-vN`` as a :class:`DeployedImage`; a clear error for anything else."""
    repository, at, digest = reference.partition("@")
    if not at:
        raise DeployError(f"--image {reference!r}: expected <registry>/<repo>@sha256:<64 hex> (pin by digest, no tag)")
    if not MODEL_VERSION.fullmatch(model_version):
        raise DeployError(f"--model-version {model_version!r}: expected a release tag model-vN")
    try:
        return DeployedImage(repository=repository, digest=digest, model_version=model_version)
    except OverlayError as exc:
        raise DeployError(f"--image {reference!r}: {exc}") from None


def _overlay_in(tree: Path, environment: str) -> Path:
    try:
        return overlay_dir(environment, tree)
    except OverlayError:
        known = ", ".join(environments(tree)) or "none"
        raise DeployError(
            f"--env {environment!r}: no overlay {OVERLAYS_DIR.as_posix()}/{environment} (environments: {known})"
        ) from None


def current_image(repo: Path, environment: str) -> DeployedImage:
    """The image ``environment``'s overlay declares in the working tree of ``repo``."""
    try:
        return read_overlay(_overlay_in(repo, environment))
    except OverlayError as exc:
        raise DeployError(str(exc)) from None


def promote_request(repo: Path, environment: str) -> DeployRequest:
    """The request that copies the image of the environment before ``environment`` (staging for production)."""
    if environment not in PROMOTION_ORDER[1:]:
        raise DeployError(
            f"--env {environment!r}: promotion goes {' -> '.join(PROMOTION_ORDER)}, so the target is one of "
            f"{', '.join(PROMOTION_ORDER[1:])} (use deploy-pr to set {PROMOTION_ORDER[0]})"
        )
    source = PROMOTION_ORDER[PROMOTION_ORDER.index(environment) - 1]
    image = current_image(repo, source)
    if not image.released:
        raise DeployError(f"{source} has nothing deployed yet (unreleased): merge its deploy PR first")
    return DeployRequest(environment, image, f"Promotes {image.model_version} from {source} (same digest).")


def deployed_image_of(repo: Path, model_version: str, rev: str = "HEAD") -> DeployedImage:
    """The image an overlay declared for ``model_version`` at some commit in the history of ``rev`` (newest first)."""
    if not MODEL_VERSION.fullmatch(model_version):
        raise DeployError(f"--to {model_version!r}: expected a release tag model-vN")
    if model_version not in release_tags(repo):
        known = ", ".join(release_tags(repo)) or "none"
        raise DeployError(f"--to {model_version}: no such release tag (releases: {known}; `git fetch --tags`?)")
    names = [f"{OVERLAYS_DIR.as_posix()}/{env}" for env in environments(repo)]
    commits = git_stdout("log", "--format=%H", rev, "--", *names, cwd=repo).split()
    with tempfile.TemporaryDirectory(prefix="overlay-") as tmp:
        scratch = Path(tmp) / "kustomization.yaml"
        for commit in commits:
            for name in names:
                shown = git("show", f"{commit}:{name}/kustomization.yaml", cwd=repo)
                if shown.returncode != 0:
                    continue
                scratch.write_text(shown.stdout, encoding="utf-8")
                try:
                    image = read_overlay(scratch)
                except OverlayError:
                    continue  # an old malformed overlay says nothing about model_version
                if image.model_version == model_version:
                    return image
    raise DeployError(
        f"no overlay in the history of {rev} ever declared {model_version}, so its digest is unknown here: "
        f"open the PR with its digest yourself, `gitops-ml deploy-pr --env {PRODUCTION} --image <repo>@sha256:... "
        f"--model-version {model_version}` (`skopeo inspect docker://<repo>:{model_version}` shows the digest)"
    )


def rollback_request(repo: Path, model_version: str, environment: str = PRODUCTION) -> DeployRequest:
    """The request that sets ``environment`` back to the digest ``model_version`` was deployed with."""
    image = deployed_image_of(repo, model_version)
    return DeployRequest(environment, image, f"Rolls {environment} back to {model_version} (its deployed digest).")


def _body(request: DeployRequest, before: DeployedImage) -> str:
    return "\n".join(
        [
            request.reason,
            "",
            "| | model version | image |",
            "| --- | --- | --- |",
            f"| now | {before.model_version} | {code_span(before.reference)} |",
            f"| after the merge | {request.image.model_version} | {code_span(request.image.reference)} |",
            "",
            f"Merging changes `deploy/overlays/{request.environment}`; Argo CD or Flux then applies it."
            + (
                " After the merge the champion (gate, MLflow alias, latest Release) follows it."
                if request.environment == PRODUCTION
                else ""
            ),
        ]
    )


def _commit_env(tree: Path) -> dict[str, str] | None:
    """A fallback author and committer when git has none configured (CI runners)."""
    missing = any(git("var", var, cwd=tree).returncode != 0 for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"))
    if not missing:
        return None
    return dict(os.environ) | BOT_IDENTITY


def open_deploy_pr(
    repo: Path,
    request: DeployRequest,
    api: GitHub,
    base: str = "main",
    remote: str = "origin",
    token: str | None = None,
    say: Callable[[str], None] = print,
) -> DeployOutcome:
    """Commit ``request`` on its branch from ``base``, push it to ``remote`` and open or update its pull request."""
    start = commit_of(repo, f"refs/remotes/{remote}/{base}") or commit_of(repo, base)
    if start is None:
        raise DeployError(f"no branch {base!r} here or on {remote}: pass --base with the default branch")
    with worktree(repo, start, prefix="deploy-pr-") as tree:
        overlay = _overlay_in(tree, request.environment)
        try:
            before = read_overlay(overlay)
        except OverlayError as exc:
            raise DeployError(str(exc)) from None
        if before == request.image:
            say(
                f"{request.environment} already runs {request.image.model_version} "
                f"({request.image.reference}): nothing to change, no pull request"
            )
            return DeployOutcome(request, "unchanged")
        path = write_overlay(overlay, request.image).relative_to(tree)
        env = _commit_env(tree)
        for cmd in (("add", str(path)), ("commit", "-q", "-m", request.title, "-m", request.reason)):
            done = git(*cmd, cwd=tree, env=env)
            if done.returncode != 0:
                raise DeployError(f"git {cmd[0]} failed: {done.stderr.strip()}")
        pushed = git(
            "push", "--force", remote, f"HEAD:refs/heads/{request.branch}", cwd=tree, env=github_push_env(token)
        )
        if pushed.returncode != 0:
            raise DeployError(f"pushing {request.branch} to {remote} failed: {pushed.stderr.strip()}")
    say(f"pushed {request.branch} to {remote}")
    body = _body(request, before)
    existing = api.open_pulls_from(api.repository, request.branch)
    if existing:
        pull = api.update_pull(existing[0].number, request.title, body)
        say(f"updated pull request #{pull.number}: {pull.html_url}")
        return DeployOutcome(request, "updated", pull)
    pull = api.create_pull(request.title, request.branch, base, body)
    say(f"opened pull request #{pull.number}: {pull.html_url}")
    return DeployOutcome(request, "opened", pull)
