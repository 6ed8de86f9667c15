"""Retraining as a pull request, end to end on a fixture project: a real git origin (bare), a real DVC remote (a
folder), the real pipeline, and the GitHub API stand-in recording the pull request."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from gitops_ml.config import load_params
from gitops_ml.gitops.retrain import (
    Appended,
    Retrained,
    RetrainError,
    TargetFacts,
    append_window,
    pull_request_body,
    shown_source,
    window_name,
)
from gitops_ml.tasks import Task
from tests.support.github_stub import GitHubStub
from tests.support.markdown_text import outside_code
from tests.support.projects import make_project, project_env, run
from tests.support.sample import sample_generator
from tests.support.task_models import task_schema

REPO = "acme/fraud-model"
TOKEN = "workflow-token"
BOT = "github-actions[bot]"
BRANCH = "retrain/2026-05-31-may"
WINDOW_FILE = "data/windows/2026-05-31-may.csv"


def new_window(path: Path, rows: int = 1500, seed: int = 99) -> Path:
    """A labelled window from the same generator as the sample, other rows (another seed)."""
    frame = sample_generator().generate_transactions(rows, seed=seed)
    frame["transaction_id"] = range(10_000_000 * seed, 10_000_000 * seed + rows)  # ids the sample does not use
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def git(project: Path, *args: str) -> str:
    return run(["git", *args], project).stdout.strip()


def with_data(project: Path) -> Path:
    run(["gitops-ml", "ensure-data"], project)
    return project


def with_origin(project: Path, tmp_path: Path) -> Path:
    """A bare origin holding main, and a DVC remote (a folder) set in .dvc/config.local; return the origin."""
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "-q", "origin", "main")
    (tmp_path / "dvc-remote").mkdir()
    run(["dvc", "remote", "add", "--local", "--default", "ci", str(tmp_path / "dvc-remote")], project)
    return origin


def retrain_cli(project: Path, stub: GitHubStub, *extra: str, check: bool = True, window: Path | None = None):
    env = project_env({"GITHUB_API_URL": stub.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO})
    args = ["--new", str(window), "--name", "May", "--date", "2026-05-31", "--open-pr", "--issue", "4", *extra]
    return run(["gitops-ml", "retrain", *args], project, env=env, check=check)


def test_window_names_and_shown_sources():
    assert window_name("s3://bucket/labels/May 2026.csv") == "may-2026"
    assert window_name("x.csv", "Q2 / EU") == "q2-eu"
    with pytest.raises(RetrainError, match="pass --name"):
        window_name("___.csv")
    signed = "https://user:secret@host.example:8443/w/may.csv?X-Amz-Signature=abc#frag"
    assert shown_source(signed) == "https://host.example:8443/w/may.csv"
    assert shown_source("data/new.csv") == "data/new.csv"


@pytest.mark.slow(weight=3)
def test_retrain_opens_a_pull_request_with_the_new_data_and_lock(tmp_path: Path, dvc_cache: Path):
    project = with_data(make_project(tmp_path / "project", dvc_cache))
    origin = with_origin(project, tmp_path)
    window = new_window(tmp_path / "incoming" / "may.csv")
    main_before = git(project, "rev-parse", "main")
    with GitHubStub({"repository": REPO, "tokens": {TOKEN: BOT}, "origin": str(origin)}) as stub:
        result = retrain_cli(project, stub, window=window)
        [pull] = stub.pulls()
        assert result.stdout.strip() == f"https://github.com/{REPO}/pull/{pull['number']}"

        # the window is in the data, unchanged, and the pipeline ran on the whole data
        assert (project / WINDOW_FILE).read_bytes() == window.read_bytes()
        summary = json.loads((project / "reports" / "data_summary.json").read_text())
        assert summary["rows"] == 20_000 + 1500 and summary["windows"] == [WINDOW_FILE]

        # the branch holds data.dvc and dvc.lock only, on top of main, in origin
        head = git(origin, "rev-parse", f"refs/heads/{BRANCH}")
        assert git(origin, "rev-parse", f"{head}^") == main_before
        assert git(origin, "diff", "--name-only", "main", head).splitlines() == ["data.dvc", "dvc.lock"]
        assert "nfiles: 2" in git(origin, "show", f"{head}:data.dvc")
        assert git(project, "status", "--porcelain", "--", "data.dvc", "dvc.lock") == ""

        # the pull request, as the stand-in recorded it
        assert (pull["head_ref"], pull["base_ref"], pull["head_sha"]) == (BRANCH, "main", head)
        assert pull["title"] == "Retrain on the window may (+1500 rows)"
        body = pull["body"]
        assert f"`{window}`" in body and f"`{WINDOW_FILE}`" in body and "pushed to the DVC remote" in body
        positives = int(pd.read_csv(window)["is_fraud"].sum())
        assert f"| new window | 1500 | {positives} |" in body
        assert "| data before | 20000 |" in body and "| data after | 21500 |" in body
        metrics = json.loads((project / "reports" / "metrics.json").read_text())
        assert f"| roc_auc | {metrics['roc_auc']:.4f} |" in body
        assert "drift issue #4" in body

        # the DVC remote holds the new data: a fresh clone of the branch with an empty cache pulls it
        clone = tmp_path / "reviewer"
        run(["git", "clone", "-q", "--branch", BRANCH, str(origin), str(clone)], tmp_path)
        run(["dvc", "cache", "dir", "--local", str(tmp_path / "reviewer-cache")], clone)
        run(["dvc", "remote", "add", "--local", "--default", "ci", str(tmp_path / "dvc-remote")], clone)
        run(["dvc", "pull", "data.dvc"], clone)
        assert (clone / WINDOW_FILE).read_bytes() == window.read_bytes()

        # a re-run from a fresh checkout of main opens no second pull request and pushes nothing
        writes = len(stub.writes())
        rerun = tmp_path / "rerun"
        run(["git", "clone", "-q", str(origin), str(rerun)], tmp_path)
        run(["dvc", "cache", "dir", "--local", str(dvc_cache)], rerun)
        run(["dvc", "remote", "add", "--local", "--default", "ci", str(tmp_path / "dvc-remote")], rerun)
        with_data(rerun)
        again = retrain_cli(rerun, stub, window=window)
        assert "already has retrain/2026-05-31-may as proposed" in again.stderr
        assert "already open: pull request" in again.stderr
        assert len(stub.pulls()) == 1 and len(stub.writes()) == writes
        assert git(origin, "rev-parse", f"refs/heads/{BRANCH}") == head


def test_a_bad_window_is_refused_and_nothing_is_written(tmp_path: Path, dvc_cache: Path):
    project = with_data(make_project(tmp_path / "project", dvc_cache))
    params = load_params(project / "params.yaml")
    day = dt.date(2026, 5, 31)
    good = new_window(tmp_path / "good.csv")
    frame = pd.read_csv(good)
    cases = {
        "no-hour.csv": (frame.drop(columns=["hour"]), r"breaks the data contract.*missing column\(s\).*hour"),
        "negative.csv": (frame.assign(amount=-3.0), r"breaks the data contract.*amount: 1500 bad row\(s\)"),
        "all-fraud.csv": (pd.read_csv(new_window(tmp_path / "big.csv", 6000, 98)).assign(is_fraud=1), r"positive rate"),
        "text-ids.csv": (frame.assign(transaction_id="w" + frame["transaction_id"].astype(str)), r"id column\(s\) tra"),
        "empty.csv": (frame.head(0), r"has no rows"),
    }  # fmt: skip
    for name, (bad, message) in cases.items():
        bad.to_csv(tmp_path / name, index=False)
        with pytest.raises(RetrainError, match=f"(?s){message}"):
            append_window(project, params, str(tmp_path / name), "x", day)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(RetrainError, match="not a CSV or parquet file"):
        append_window(project, params, str(tmp_path / "notes.txt"), "x", day)
    with pytest.raises(RetrainError, match="does not exist"):
        append_window(project, params, str(tmp_path / "nope.csv"), "x", day)
    shutil.copy(project / "data" / "transactions.csv", tmp_path / "same.csv")
    with pytest.raises(RetrainError, match=r"already in the data as data/transactions.csv"):
        append_window(project, params, str(tmp_path / "same.csv"), "x", day)
    assert not (project / "data" / "windows").exists()
    assert git(project, "status", "--porcelain") == ""

    added = append_window(project, params, str(good), "may", day)
    assert (added.path, added.rows, added.rows_before) == (Path(WINDOW_FILE), 1500, 20_000)
    with pytest.raises(RetrainError, match="exists already: pass another --name"):
        append_window(project, params, str(good), "may", day)
    with pytest.raises(RetrainError, match=f"already in the data as {WINDOW_FILE}"):
        append_window(project, params, str(good), "june", day)


def test_the_cli_refuses_before_writing_anything(tmp_path: Path, dvc_cache: Path):
    project = with_data(make_project(tmp_path / "project", dvc_cache))
    window = new_window(tmp_path / "may.csv")
    with GitHubStub({"repository": REPO, "tokens": {TOKEN: BOT}}) as stub:
        no_remote = retrain_cli(project, stub, window=window, check=False)
        assert no_remote.returncode == 1
        assert "opening a pull request needs a DVC remote" in no_remote.stderr
        assert "Traceback" not in no_remote.stderr
        bad_date = retrain_cli(project, stub, "--date", "31/05/2026", window=window, check=False)
        assert "--date '31/05/2026' is not a date" in bad_date.stderr
        git(project, "branch", BRANCH)
        taken = run(["gitops-ml", "retrain", "--new", str(window), "--name", "may", "--date", "2026-05-31"],
                    project, check=False)  # fmt: skip
        assert f"the branch {BRANCH} already exists here" in taken.stderr
        (project / "dvc.lock").write_text((project / "dvc.lock").read_text() + "\n")
        git(project, "branch", "-D", BRANCH)
        dirty = run(["gitops-ml", "retrain", "--new", str(window), "--date", "2026-05-31"], project, check=False)
        assert "dvc.lock has uncommitted changes" in dirty.stderr
        assert stub.writes() == []
    assert not (project / "data" / "windows").exists()


def test_a_failure_after_the_window_was_added_puts_the_checkout_back(tmp_path: Path, dvc_cache: Path):
    """dvc push fails (the remote cannot be written): the window is removed and data.dvc and dvc.lock restored."""
    project = with_data(make_project(tmp_path / "project", dvc_cache))
    remote = tmp_path / "broken-remote"
    remote.mkdir()
    (remote / "files").write_text("a file where DVC keeps a folder: every push fails")
    run(["dvc", "remote", "add", "--local", "--default", "ci", str(remote)], project)
    window = new_window(tmp_path / "may.csv")
    failed = run(["gitops-ml", "retrain", "--new", str(window), "--date", "2026-05-31"], project, check=False)
    assert failed.returncode == 1 and "dvc push failed" in failed.stderr, failed.stderr
    assert not (project / WINDOW_FILE).exists()
    assert git(project, "status", "--porcelain", "--", "data.dvc", "dvc.lock") == ""
    assert git(project, "branch", "--list", "retrain/*") == ""
    run(["gitops-ml", "ensure-data"], project)  # data/ matches data.dvc again


@pytest.mark.parametrize(
    "source",
    [
        "https://data.example/windows/`@octocat #1`/may.csv",
        "data/new ``@everyone see #2`` .csv",
        "data/`\n@octocat\n`.csv",
    ],
)
def test_the_window_location_cannot_mention_or_reference_in_the_pull_request_body(source: str):
    """Found by an attack run: a backtick in the window's location made @mentions and #refs live in the PR body."""
    from gitops_ml.gitops.retrain import Appended, Retrained, pull_request_body

    appended = Appended(source, Path("data/windows/2026-05-31-may.csv"), "0" * 32, 10, 100)
    facts = TargetFacts.of({"rows": 100, "positives": 10}, task_schema(Task.BINARY))
    retrained = Retrained(appended, BRANCH, "main", "1" * 40, {"roc_auc": 0.9}, True, Task.BINARY, facts, facts)
    body = pull_request_body(retrained, issue=4)
    live = outside_code(body)
    assert "@" not in live, live
    assert "#1" not in live and "#2" not in live, live
    assert "#4" in live  # the drift issue the bot itself names stays a reference


# --- the pull request's target facts, per task (data summaries as validate writes them) ---


def retrained(task: Task, before: dict[str, object], after: dict[str, object]) -> Retrained:
    schema = task_schema(task)
    appended = Appended("s3://bucket/may.csv", Path(WINDOW_FILE), "0" * 32, 100, 1000)
    return Retrained(appended, BRANCH, "main", "c" * 40, {"rmse": 1.25, "macro_f1": 0.5}, True, task,
                     TargetFacts.of(before, schema), TargetFacts.of(after, schema))  # fmt: skip


def table(body: str) -> list[str]:
    """The target table: the body's table rows up to the metrics table."""
    lines = body.split("Metrics of the retrained model")[0].splitlines()
    return [line for line in lines if line.startswith("| ")]


def test_a_multiclass_pull_request_counts_each_class_before_in_the_window_and_after() -> None:
    before = {"rows": 1000, "class_rows": {"low": 500, "mid": 300, "high": 200}, "task": "multiclass"}
    after = {"rows": 1100, "class_rows": {"low": 520, "mid": 330, "high": 250}, "task": "multiclass"}
    body = pull_request_body(retrained(Task.MULTICLASS, before, after))
    assert table(body) == [
        "| | data before | new window | data after |",
        "| rows | 1000 | 100 | 1100 |",
        "| class `low` | 500 (0.5000) | 20 (0.2000) | 520 (0.4727) |",
        "| class `mid` | 300 (0.3000) | 30 (0.3000) | 330 (0.3000) |",
        "| class `high` | 200 (0.2000) | 50 (0.5000) | 250 (0.2273) |",
    ]
    assert "positive" not in body


def test_a_regression_pull_request_gives_the_targets_mean_and_range() -> None:
    before = {"rows": 1000, "target_min": 0.0, "target_max": 380.5, "target_mean": 50.0}
    after = {"rows": 1100, "target_min": 0.0, "target_max": 410.0, "target_mean": 55.0}
    body = pull_request_body(retrained(Task.REGRESSION, before, after))
    assert table(body) == [
        "| | rows | target mean | target range |",
        "| data before | 1000 | 50 | 0 to 380.5 |",
        "| new window | 100 | 105 | n/a |",  # (55 * 1100 - 50 * 1000) / 100
        "| data after | 1100 | 55 | 0 to 410 |",
    ]
    assert "| rmse | 1.2500 |" in body and "positive" not in body


def test_facts_a_summary_lacks_are_not_known_rather_than_wrong() -> None:
    old = {"rows": 1000, "positives": 40}  # a data summary written before tasks: no class_rows
    facts = TargetFacts.of(old, task_schema(Task.MULTICLASS))
    assert (facts.rows, facts.class_rows) == (1000, None)
    partial = TargetFacts.of({"rows": 10, "class_rows": {"low": 4, "mid": 6}}, task_schema(Task.MULTICLASS))
    assert partial.class_rows == {"low": 4, "mid": 6, "high": 0}  # a class the summary does not list has no rows
    assert TargetFacts.of({"rows": "many", "positives": -1}, task_schema(Task.BINARY)) == TargetFacts(None)
    body = pull_request_body(retrained(Task.MULTICLASS, old, old))
    assert table(body) == ["| | data before | new window | data after |", "| rows | 1000 | 0 | 1000 |"]
