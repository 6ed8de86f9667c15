"""CLI commands of the loop after release: ``monitor-source`` and ``drift-issue`` (monitor.yml), ``retrain``.

The GitHub API's address comes from ``GITHUB_API_URL`` (default https://api.github.com) and the token from
``GITHUB_TOKEN`` only, never from an option. The logic lives in :mod:`~gitops_ml.gitops.drift_issue` and
:mod:`~gitops_ml.gitops.retrain`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from gitops_ml import paths
from gitops_ml.cli_support import ParamsOption, console, out, say
from gitops_ml.vcs import append_step_summary, write_github_outputs

DRIFT_JSON = paths.REPORTS / "drift.json"
DRIFT_MD = paths.REPORTS / "drift.md"
NOT_CONFIGURED = """## Drift check not configured

The monitoring workflow has nothing to check: the repository variable `PREDICTION_LOG_URL` is not set.

Set it (Settings → Secrets and variables → Actions → Variables) to where the service's prediction log lands:
a directory or glob of prediction-log files (`*.jsonl`, `*.jsonl.gz`) or a CSV/parquet file, as an fsspec URL
such as `s3://my-bucket/prediction-logs/` (the DVC remote's kind). Credentials for it come from the
`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` secrets. The drift check compares that window with the training
data of the model on the default branch; `DVC_REMOTE_URL` lets the job pull the model instead of retraining it.
See docs/retraining.md.
"""


def monitor_source(
    url: Annotated[
        str | None, typer.Option(envvar="PREDICTION_LOG_URL", help="Where the prediction log lands (a variable).")
    ] = None,
) -> None:
    """Say whether PREDICTION_LOG_URL is set (configured=true|false in $GITHUB_OUTPUT); if not, what to set."""
    configured = bool(url and url.strip())
    write_github_outputs({"configured": "true" if configured else "false"})
    if configured:
        console.print("PREDICTION_LOG_URL is set: the drift check reads its window from there")
        return
    if not append_step_summary(NOT_CONFIGURED):
        typer.echo(NOT_CONFIGURED, nl=False)
    console.print("PREDICTION_LOG_URL is not set: nothing to check (the job summary says what to set)")


def drift_issue(
    report: Annotated[Path, typer.Option(help="The drift check's verdict.")] = DRIFT_JSON,
    markdown: Annotated[Path, typer.Option(help="The drift check's Markdown report.")] = DRIFT_MD,
    bot_login: Annotated[
        str,
        typer.Option(envvar="DRIFT_ISSUE_BOT_LOGIN", help="Login of the token's account (author of the reports)."),
    ] = "github-actions[bot]",
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Open, comment on or close the one `model-drift` issue from reports/drift.json and drift.md (monitor.yml)."""
    from gitops_ml.config import load_params
    from gitops_ml.gitops.drift_issue import read_findings, sync_drift_issue
    from gitops_ml.gitops.github_api import GitHub

    params = load_params(params_path)
    run_id = os.environ.get("GITHUB_RUN_ID", "").strip()
    findings = read_findings(report, markdown, report_id=f"run-{run_id}" if run_id else None)
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    run_url = f"{server}/{repository}/actions/runs/{run_id}" if run_id and repository else None
    with GitHub.from_env() as api:
        update = sync_drift_issue(
            api, findings, params.monitor.clear_runs_to_close, bot_login=bot_login, run_url=run_url, say=say
        )
    where = f"#{update.issue.number} ({update.issue.html_url})" if update.issue else "no issue"
    append_step_summary(f"\n**Drift issue:** {update.action}, {where}\n")
    out.print(f"{update.action}: {where}", highlight=False, soft_wrap=True)


def retrain(
    new: Annotated[
        str,
        typer.Option(
            "--new",
            help="The new labelled window: a CSV or parquet file with the schema's columns and the target, as a path "
            "or an fsspec URL (s3://..., gs://..., https://...).",
            show_default=False,
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Short name of the window [default: the file's name].")] = None,
    date: Annotated[
        str | None, typer.Option(help="The window's date in its file and branch name, YYYY-MM-DD [default: today].")
    ] = None,
    open_pr: Annotated[
        bool, typer.Option("--open-pr", help="Push the branch and open a pull request (GITHUB_TOKEN, a DVC remote).")
    ] = False,
    issue: Annotated[
        int | None, typer.Option(help="The drift issue this retraining answers (named in the PR).")
    ] = None,
    base: Annotated[str | None, typer.Option(help="Branch the PR merges into [default: the current branch].")] = None,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Add a labelled window to the data (data/windows/), dvc add + push, retrain, commit on a new branch; --open-pr."""
    import datetime as dt

    from gitops_ml.config import load_params
    from gitops_ml.gitops.github_api import GitHub
    from gitops_ml.gitops.retrain import RetrainError
    from gitops_ml.gitops.retrain import retrain as run_retrain

    params = load_params(params_path)
    try:
        day = dt.date.fromisoformat(date) if date else None
    except ValueError:
        raise RetrainError(f"--date {date!r} is not a date of the form YYYY-MM-DD") from None
    if issue is not None and issue < 1:
        raise RetrainError(f"--issue {issue} is not an issue number")
    api = GitHub.from_env() if open_pr else None
    try:
        done = run_retrain(
            Path.cwd(), params, new.strip(), name=name, day=day, open_pr=open_pr, api=api,
            token=os.environ.get("GITHUB_TOKEN"), issue=issue, base=base, say=say,
        )  # fmt: skip
    finally:
        if api:
            api.close()
    append_step_summary(f"## Retraining\n\nAdded `{done.appended.path}` ({done.appended.rows} rows).\n")
    if done.opened:
        append_step_summary(f"\nPull request: {done.opened.pull.html_url}\n")
        out.print(done.opened.pull.html_url, highlight=False, soft_wrap=True)
    else:
        out.print(done.branch, highlight=False, soft_wrap=True)
