"""CLI commands that talk to GitHub's API: ``post-pr-comment`` (pr-comment.yml) and ``github-release`` (release.yml).

Both read the API's address from ``GITHUB_API_URL`` (default https://api.github.com) and the token from
``GITHUB_TOKEN`` only (never from an option, so it never shows in a process list). The logic lives in
:mod:`~gitops_ml.gitops.pr_comment` and :mod:`~gitops_ml.gitops.github_release`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from gitops_ml import paths
from gitops_ml.cli_support import console, out, say

DEFAULT_CML = Path(".cml/bin/cml.js")  # where `make cml-install` puts it
RELEASE_NOTES = paths.REPORTS / "release_notes.md"


def _required(value: str | None, name: str) -> str:
    if not value:
        from gitops_ml.errors import CommentError

        raise CommentError(f"{name} is not set: pr-comment.yml passes it from github.event.workflow_run in env")
    return value


def post_pr_comment(
    artifact: Annotated[Path, typer.Argument(help="The downloaded pr-report artifact (may be missing or empty).")],
    repository: Annotated[
        str | None, typer.Option(envvar="GITHUB_REPOSITORY", help="This repository, owner/name.")
    ] = None,
    run_head_sha: Annotated[
        str | None, typer.Option(envvar="RUN_HEAD_SHA", help="workflow_run.head_sha of the triggering ci run.")
    ] = None,
    head_repository: Annotated[
        str | None,
        typer.Option(envvar="HEAD_REPOSITORY", help="workflow_run.head_repository.full_name (the fork, if any)."),
    ] = None,
    head_branch: Annotated[str | None, typer.Option(envvar="HEAD_BRANCH", help="workflow_run.head_branch.")] = None,
    run_conclusion: Annotated[str, typer.Option(envvar="RUN_CONCLUSION", help="workflow_run.conclusion.")] = "success",
    run_url: Annotated[
        str | None, typer.Option(envvar="RUN_URL", help="workflow_run.html_url, linked from a failure comment.")
    ] = None,
    bot_login: Annotated[
        str, typer.Option(envvar="COMMENT_BOT_LOGIN", help="Login of the token's account (author of the comment).")
    ] = "github-actions[bot]",
    images: Annotated[
        bool,
        typer.Option(
            envvar="CML_PUBLISH_IMAGES", help="Also upload PNG charts with `cml asset publish` (public, permanent)."
        ),
    ] = False,
    cml: Annotated[Path, typer.Option(envvar="CML_BIN", help="The CML executable (make cml-install).")] = DEFAULT_CML,
    default_branch: Annotated[
        str,
        typer.Option(
            envvar="DEFAULT_BRANCH", help="github.event.repository.default_branch: where releases are decided."
        ),
    ] = "main",
) -> None:
    """Create or update the one report comment on the pull request of the triggering ci run (pr-comment.yml)."""
    from gitops_ml.errors import ImageUploadError
    from gitops_ml.gitops.github_api import GitHub
    from gitops_ml.gitops.pr_comment import TriggeringRun, cml_images, post_pr_comment

    run = TriggeringRun(
        head_sha=_required(run_head_sha, "RUN_HEAD_SHA"),
        head_repository=_required(head_repository, "HEAD_REPOSITORY"),
        head_branch=_required(head_branch, "HEAD_BRANCH"),
        conclusion=run_conclusion,
        url=run_url or None,
    )
    maker = None
    if images:
        if not cml.is_file():
            raise ImageUploadError(f"CML_PUBLISH_IMAGES is true but CML is not at {cml}: run make cml-install first")
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        maker = cml_images(cml, f"{server}/{_required(repository, 'GITHUB_REPOSITORY')}", say=say)
    with GitHub.from_env(repository=_required(repository, "GITHUB_REPOSITORY")) as api:
        posted = post_pr_comment(
            artifact, run, api, bot_login=bot_login, images=maker, say=say, default_branch=default_branch or "main"
        )
    if posted.comment:
        console.print(f"{posted.action} the report comment on #{posted.pr_number}: {posted.comment.html_url}")


def github_release(
    tag: Annotated[str, typer.Option(envvar="TAG", help="The release tag, model-vN (it must exist in this checkout).")],
    notes: Annotated[Path, typer.Option(help="The release body (make release-notes).")] = RELEASE_NOTES,
) -> None:
    """Create the GitHub Release of TAG with the release notes, unless it exists (GITHUB_REPOSITORY, GITHUB_TOKEN)."""
    from gitops_ml.gitops.github_api import GitHub
    from gitops_ml.gitops.github_release import publish_release

    with GitHub.from_env() as api:
        published = publish_release(api, Path.cwd(), tag, notes, say=say)
    out.print(published.release.html_url, highlight=False, soft_wrap=True)
