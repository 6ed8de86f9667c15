"""CLI commands of the pull-request loop: ``report``, ``job-summary`` and ``ci-remote``.

``make report BASE=<ref>`` and ``ci.yml`` call these; the logic lives in :mod:`~gitops_ml.gitops.compare`,
:mod:`~gitops_ml.gitops.base_side`, :mod:`~gitops_ml.gitops.report` and :mod:`~gitops_ml.gitops.artifact`.
The comment itself is posted by ``post-pr-comment`` (:mod:`~gitops_ml.gitops.github_commands`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer

from gitops_ml.cli_support import console, say
from gitops_ml.errors import CompareError
from gitops_ml.gitops.artifact import PR_FILE, REPORT_JSON, REPORT_MD
from gitops_ml.io import atomic_write, write_json
from gitops_ml.vcs import append_step_summary, git_stdout

DEFAULT_OUT = Path("reports/pr")


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _head_is_current(repo: Path) -> None:
    from dvc.repo import Repo  # in-process: a `dvc status` subprocess costs a second of start-up

    with Repo(str(repo)) as dvc_repo:
        changed = dvc_repo.status()
    if changed:
        raise CompareError(
            "the pipeline outputs in the working tree are out of date (dvc status reports changes): "
            "run `make repro` first, or use `make report`, which does"
        )


def report(
    base: Annotated[str, typer.Option(help="Git ref to compare the working tree with.")] = "main",
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where report.md and report.json go.")] = DEFAULT_OUT,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Refuse a dvc.lock at HEAD that does not record the outputs, as CI does (STRICT=1)."
        ),
    ] = False,
    pr_number: Annotated[
        str | None, typer.Option(envvar="PR_NUMBER", help="Pull-request number to record in pr.json (CI).")
    ] = None,
    head_sha: Annotated[
        str | None, typer.Option(envvar="PR_HEAD_SHA", help="Pull-request head SHA to record in pr.json (CI).")
    ] = None,
) -> None:
    """Compare the working tree's pipeline outputs with BASE's; write the PR report (Markdown and JSON).

    Refuses outputs that ``dvc status`` calls out of date. The working tree is compared committed or not: the
    report (and the terminal) says what is not committed yet, a ``dvc.lock`` at HEAD that does not record the
    outputs included, with the command that commits it. With ``--strict`` (CI) such a ``dvc.lock`` is refused
    instead (the ``check-lock`` question).
    """
    from gitops_ml.gitops.artifact import pr_metadata
    from gitops_ml.gitops.base_side import base_outputs, read_outputs
    from gitops_ml.gitops.compare import code_changes, resolve_ref
    from gitops_ml.gitops.lockfile import require_current_lock, stale_stages
    from gitops_ml.gitops.report import build_report, render_capped, uncommitted_note

    repo = Path.cwd()
    meta = pr_metadata(pr_number, head_sha or "") if pr_number else None
    base_commit = resolve_ref(repo, base)
    head_commit = resolve_ref(repo, "HEAD")
    _head_is_current(repo)
    if strict:
        require_current_lock(repo)  # what `make check-lock` asks, here in-process (a process costs a second)
    stale = [] if strict else stale_stages(repo)
    head = read_outputs(repo)
    # Committed work is labelled as such: untracked files are not the head's, and dvc.lock (which `make repro`
    # may rewrite and DVC's autostage stage) is judged by its recipes (`stale`), not by its bytes.
    dirty = git_stdout("status", "--porcelain", "--untracked-files=no", "--", ".", ":!dvc.lock", cwd=repo).strip()
    base_side = base_outputs(repo, base_commit, say=say)
    result = build_report(
        base, base_commit, head_commit, bool(dirty), base_side, head, code_changes(repo, base), stale_lock_stages=stale
    )
    # Left out when empty (always, in CI): the comment workflow of an older default branch refuses unknown keys.
    write_json(out_dir / REPORT_JSON, result.model_dump(mode="json", exclude=None if stale else {"stale_lock_stages"}))
    _write_text(out_dir / REPORT_MD, render_capped(result))
    if meta:
        write_json(out_dir / PR_FILE, meta)
    console.print(f"report: wrote {out_dir / REPORT_MD} and {out_dir / REPORT_JSON}")
    note = uncommitted_note(result)
    if note:
        console.print(f"report: not committed yet: {note}", highlight=False, markup=False, soft_wrap=True)


def job_summary(
    path: Annotated[Path, typer.Argument(help="Markdown file to append.")] = DEFAULT_OUT / REPORT_MD,
) -> None:
    """Append a Markdown file to the GitHub job summary ($GITHUB_STEP_SUMMARY), or print it outside Actions."""
    text = path.read_text(encoding="utf-8")
    if append_step_summary(text):
        console.print(f"appended {path} to the job summary")
    else:
        typer.echo(text, nl=False)


def ci_remote(
    url: Annotated[
        str | None, typer.Option(envvar="DVC_REMOTE_URL", help="DVC remote URL (repository variable in CI).")
    ] = None,
) -> None:
    """Make DVC_REMOTE_URL, when set, the default DVC remote (in .dvc/config.local); otherwise do nothing."""
    if not url:
        console.print("DVC_REMOTE_URL is not set: using the built-in sample data (no DVC remote)")
        return
    args = ["dvc", "remote", "add", "--local", "--force", "--default", "ci", url]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise typer.BadParameter(f"dvc remote add failed: {result.stderr.strip()}", param_hint="DVC_REMOTE_URL")
    console.print("DVC remote 'ci' set from DVC_REMOTE_URL (credentials come from the job's environment)")
