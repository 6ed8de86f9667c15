"""The one report comment on a pull request, created once and then updated in place (run by pr-comment.yml).

The comment workflow runs after ``ci`` with a write token, for pull requests from forks too, so nothing the
pull request produced is trusted:

- **Which PR** comes from GitHub's API, never from the artifact: the open pull request whose head is the
  triggering run's head repository and branch, with head SHA equal to the run's. The ``pr.json`` the PR's run
  wrote must name that same PR, or nothing is posted (a fork cannot aim the bot at another PR).
- **What is said** is re-rendered from the validated ``report.json`` (:mod:`gitops_ml.gitops.artifact`), with
  every text from the PR inside code (:func:`gitops_ml.gitops.markdown.code_span`).
- **Whose numbers**: the report was computed by the pull request's own code in its ``ci`` run. The comment says so
  above the report, plainly for a pull request from a fork (its metrics and "would release" verdict are the
  fork's claims), and that the release decision is recomputed on the default branch (:func:`provenance`).
- **Which comment** is updated: only one written by the bot account (``COMMENT_BOT_LOGIN``) that starts with
  :data:`COMMENT_MARKER`, found among *all* the PR's comments (every page). A comment by anyone else that
  carries the marker is left alone. Two runs outside the workflow's concurrency group (a re-run, a manual run)
  can both find none and both create one: after creating, the poster reads the comments again and, when an
  older one of the bot's is there, moves its text there and deletes its own, so one comment is left.

Why CML no longer posts the comment: ``cml comment update`` (0.20.6, the last release) edits the last comment
carrying its watermark among only the first 30 comments of the PR, whoever wrote it, and cannot be told which
comment to edit; so on a long PR it posts duplicates, and anyone could make it overwrite their own comment.
CML is still used, only when opted in, to upload PNG charts (``cml asset publish``, see
:mod:`gitops_ml.gitops.report_images`).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gitops_ml.errors import ArtifactError, CommentError
from gitops_ml.gitops.artifact import validate_artifact
from gitops_ml.gitops.github_api import Comment, GitHub, check_repository
from gitops_ml.gitops.markdown import code_span
from gitops_ml.gitops.report import GITHUB_COMMENT_LIMIT, Report, comment_length, render_capped

COMMENT_MARKER = "<!-- gitops-ml report -->"
DEFAULT_BOT_LOGIN = "github-actions[bot]"
RUN_CONCLUSIONS = frozenset(
    {
        "success",
        "failure",
        "cancelled",
        "skipped",
        "timed_out",
        "action_required",
        "neutral",
        "stale",
        "startup_failure",
    }
)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_BRANCH = re.compile(r"^[^\x00-\x20\x7f~^:?*\[\\]{1,255}$")  # what git allows in a ref name, roughly
_RUN_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._~/%-]*$")
_MARGIN = 200  # UTF-16 units kept free below GitHub's limit


@dataclass(frozen=True)
class TriggeringRun:
    """The ``ci`` run that triggered the comment workflow, as GitHub describes it in the ``workflow_run`` event."""

    head_sha: str
    head_repository: str
    head_branch: str
    conclusion: str = "success"
    url: str | None = None

    def __post_init__(self) -> None:
        if not _SHA.fullmatch(self.head_sha or ""):
            raise CommentError(f"RUN_HEAD_SHA: {self.head_sha!r} is not a 40-character lower-case hexadecimal SHA")
        check_repository(self.head_repository, "HEAD_REPOSITORY")
        if not _BRANCH.fullmatch(self.head_branch or ""):
            raise CommentError(f"HEAD_BRANCH: {self.head_branch!r} is not a branch name")
        if self.conclusion not in RUN_CONCLUSIONS:
            raise CommentError(f"RUN_CONCLUSION: {self.conclusion!r} is not one of {sorted(RUN_CONCLUSIONS)}")
        if self.url and not _RUN_URL.fullmatch(self.url):
            raise CommentError(f"RUN_URL: {self.url!r} is not an https URL of a workflow run")


@dataclass(frozen=True)
class Posted:
    """What :func:`post_pr_comment` did: created or updated the comment, or nothing (the run is superseded)."""

    action: Literal["created", "updated", "superseded"]
    pr_number: int | None = None
    comment: Comment | None = None


ImageMaker = Callable[[Report], str]  # Markdown of the opt-in chart images for a validated report


def artifact_is_empty(directory: Path) -> bool:
    """True when the artifact was not downloaded: the folder is missing or has no file."""
    return not directory.is_dir() or not any(directory.iterdir())


def failure_comment(run: TriggeringRun) -> str:
    """The comment for a run that failed before it uploaded a report: fixed text, nothing from the PR."""
    see = f" See [the `ci` run]({run.url})." if run.url else ""
    return "\n".join(
        [
            COMMENT_MARKER,
            "",
            "## Model report",
            "",
            f"⛔ **The `ci` pipeline failed for commit `{run.head_sha[:12]}`** (conclusion `{run.conclusion}`) "
            f"before it made a report, so **merging this would not release a model**.{see}",
            "",
            "This comment is updated when the pipeline runs again on a new push.",
            "",
        ]
    )


def provenance(run: TriggeringRun, repository: str, default_branch: str) -> str:
    """Who computed the report: the pull request's own code in its ``ci`` run; for a fork, said as a caution."""
    where = f"[its `ci` run]({run.url})" if run.url else "its `ci` run"
    commit = f"`{run.head_sha[:12]}`"
    recomputed = (
        f"The release decision is recomputed on {code_span(default_branch)} after a merge, by the release workflow "
        "with this repository's code, before anything is released."
    )
    if run.head_repository.lower() != repository.lower():
        return (
            f"> [!CAUTION]\n> This pull request comes from the fork {code_span(run.head_repository)}: the numbers and "
            f"the verdict below were computed by **the pull request's own code** in {where} for commit {commit}, "
            f"not by this repository's, so read them as the fork's claims. {recomputed}"
        )
    return (
        f"Computed by the pull request's code in {where} for commit {commit} of the branch "
        f"{code_span(run.head_branch)}. {recomputed}"
    )


def report_comment(report: Report, run: TriggeringRun, images: str = "", about: str = "") -> str:
    """The comment for a validated report: marker, who computed it (``about``, :func:`provenance`), a warning if
    the run did not succeed, report, images."""
    head = [COMMENT_MARKER]
    if about:
        head += ["", about]
    if run.conclusion != "success":
        head += [
            "",
            f"> [!WARNING]\n> The `ci` run for this commit ended with conclusion `{run.conclusion}`: "
            "fix it before merging; the report below comes from the part that ran.",
        ]
    prefix = "\n".join(head) + "\n\n"
    suffix = f"\n{images}" if images else ""
    budget = GITHUB_COMMENT_LIMIT - _MARGIN - comment_length(prefix + suffix)
    body = prefix + render_capped(report, budget) + suffix
    if comment_length(body) > GITHUB_COMMENT_LIMIT:  # the image section is bounded, so this cannot happen
        raise CommentError(f"the comment is {comment_length(body)} characters, over GitHub's {GITHUB_COMMENT_LIMIT}")
    return body


def _bots(api: GitHub, pr_number: int, bot_login: str) -> list[Comment]:
    """The bot's marked comments on ``pr_number``, oldest first."""
    comments = api.issue_comments(pr_number)
    return sorted(
        (c for c in comments if c.user_login == bot_login and c.body.startswith(COMMENT_MARKER)), key=lambda c: c.id
    )


def upsert_comment(api: GitHub, pr_number: int, body: str, bot_login: str) -> Posted:
    """Update the bot's own marked comment on ``pr_number`` (its oldest, if several), or create one.

    A run that created a comment reads the comments again: when another run created one first (both looked before
    either created), the text goes to the oldest and this run deletes its own, so two runs leave one comment.
    """
    mine = _bots(api, pr_number, bot_login)
    if mine:
        return Posted("updated", pr_number, api.update_comment(mine[0].id, body))
    created = api.create_comment(pr_number, body)
    oldest = next(iter(_bots(api, pr_number, bot_login)), created)
    if oldest.id == created.id:
        return Posted("created", pr_number, created)
    kept = api.update_comment(oldest.id, body)
    api.delete_comment(created.id)
    return Posted("updated", pr_number, kept)


def post_pr_comment(
    directory: Path,
    run: TriggeringRun,
    api: GitHub,
    bot_login: str = DEFAULT_BOT_LOGIN,
    images: ImageMaker | None = None,
    say: Callable[[str], None] = print,
    default_branch: str = "main",
) -> Posted:
    """Find the run's pull request from the API, check the artifact in ``directory`` and create-or-update the comment.

    Raises (and posts nothing) when no open PR has the run's head, when ``pr.json`` names another PR, or when
    the artifact is invalid. Posts nothing, without error, when the PR's head has moved past the run's commit
    (a newer run will comment, and an older run must not overwrite it).
    """
    pulls = api.open_pulls_from(run.head_repository, run.head_branch)
    if not pulls:
        raise CommentError(
            f"no open pull request into {api.repository} has head {run.head_repository}:{run.head_branch}; "
            "nothing posted (closed already, or HEAD_REPOSITORY/HEAD_BRANCH are not the run's head)"
        )
    current = sorted(p.number for p in pulls if p.head_sha == run.head_sha)
    if not current:
        heads = ", ".join(f"#{p.number} at {p.head_sha[:12]}" for p in pulls)
        say(f"the pull request has moved past commit {run.head_sha[:12]} ({heads}); nothing posted for this run")
        return Posted("superseded")
    if artifact_is_empty(directory):
        if run.conclusion == "success":
            raise CommentError(
                f"the ci run succeeded but left no pr-report artifact in {directory}; nothing posted "
                "(does ci.yml still upload it on pull requests?)"
            )
        if len(current) > 1:
            raise CommentError(
                f"the run failed without a report and pull requests {current} share its head; "
                "cannot tell which one it was for, nothing posted"
            )
        return upsert_comment(api, current[0], failure_comment(run), bot_login)
    valid = validate_artifact(directory, run.head_sha)
    if valid.pr_number not in current:
        raise ArtifactError(
            f"pr.json names pull request #{valid.pr_number}, but GitHub says the run's head "
            f"{run.head_repository}:{run.head_branch}@{run.head_sha[:12]} is pull request "
            f"{' or '.join(f'#{n}' for n in current)}; refusing to comment, nothing posted"
        )
    about = provenance(run, api.repository, default_branch)
    body = report_comment(valid.report, run, images(valid.report) if images else "", about)
    return upsert_comment(api, valid.pr_number, body, bot_login)


def cml_images(cml: Path, repository_url: str, say: Callable[[str], None] = print) -> ImageMaker:
    """An :data:`ImageMaker` that renders the PNG charts and uploads them with ``cml asset publish``.

    An upload that fails leaves a note in the comment instead of the images (the Mermaid charts show the same
    data), so an image host that is down never costs the pull request its report.
    """
    from gitops_ml.errors import ImageUploadError
    from gitops_ml.gitops.report_images import image_section, publish_with_cml, render_images

    def make(report: Report) -> str:
        with tempfile.TemporaryDirectory(prefix="gitops-ml-charts-") as folder:
            try:
                pngs = render_images(report, Path(folder))
                return image_section({name: publish_with_cml(png, cml, repository_url) for name, png in pngs.items()})
            except ImageUploadError as exc:
                say(f"warning: chart images not uploaded: {exc}")
                return "_Chart images could not be uploaded this time (see the pr-comment workflow log)._\n"

    return make
