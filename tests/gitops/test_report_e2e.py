"""End to end in a temporary git repository: `make report BASE=main` on branches that change a param, the
data, or nothing, and on work not committed yet (a laptop's report says so; STRICT=1, as in CI, refuses it). The
base side really runs in a git worktree that shares the DVC cache."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.projects import make_project, run

pytestmark = pytest.mark.slow(weight=5)


def _report_run(project: Path, strict: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    # The Makefile's own recipe, with the venv on PATH instead of `uv run` (-o install: no uv sync here). STRICT is
    # always given: its default follows CI, which is true when the suite itself runs in CI.
    cmd = ["make", "-o", "install", "report", "BASE=main", "RUN=", f"STRICT={'1' if strict else ''}"]
    return run(cmd, project, check=check)


def _make_report(project: Path) -> dict:
    _report_run(project)
    return json.loads((project / "reports/pr/report.json").read_text())


def _branch(project: Path, name: str) -> None:
    run(["git", "checkout", "-q", "-B", name, "main"], project)
    run(["dvc", "checkout", "-q"], project, check=False)


def _commit(project: Path, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", message], project)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, dvc_cache: Path) -> Iterator[Path]:
    """main holds a 4,000-row sample, tracking off, 50 bootstrap draws, and its pipeline run."""
    project = make_project(tmp_path_factory.mktemp("pr") / "project", dvc_cache)
    params = project / "params.yaml"
    text = params.read_text().replace("enabled: true", "enabled: false")  # no MLflow in these tests
    params.write_text(text.replace("n_resamples: 200", "n_resamples: 50"))  # fewer bootstrap draws: faster
    run(["gitops-ml", "sample-data", "--rows", "4000"], project)
    run(["dvc", "add", "-q", "data"], project)
    _commit(project, "main: small sample")
    run(["dvc", "repro", "-q"], project)
    _commit(project, "main: pipeline run")
    yield project


def test_branch_that_changes_nothing_shows_no_metric_change(repo: Path):
    _branch(repo, "no-change")
    (repo / "scratch.txt").write_text("an untracked file is not part of the head")
    report = _make_report(repo)
    (repo / "scratch.txt").unlink()
    assert report["head_dirty"] is False  # committed work is labelled as committed
    assert report["params"] == []
    assert report["data"]["changed"] is False
    assert report["code"] == []
    assert report["noise"]["paired"] is True
    assert {m["verdict"] for m in report["metrics"]} == {"unchanged"}
    assert all(m["delta"] == 0 for m in report["metrics"])
    assert report["gate"]["release"] is False  # a tie never releases
    text = (repo / "reports/pr/report.md").read_text()
    assert "No parameter changed." in text
    assert "0 better, 0 worse, 7 within noise" in text
    worktrees = run(["git", "worktree", "list"], repo).stdout.strip().splitlines()
    assert len(worktrees) == 1, worktrees  # the base worktree was removed


def test_branch_that_changes_a_hyperparameter(repo: Path):
    _branch(repo, "faster-learning")
    params = repo / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    old = raw["train"]["hist_gradient_boosting"]["learning_rate"]
    raw["train"]["hist_gradient_boosting"]["learning_rate"] = 0.3
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    run(["dvc", "repro", "-q"], repo)
    _commit(repo, "raise the learning rate")
    report = _make_report(repo)
    assert report["params"] == [
        {"key": "train.hist_gradient_boosting.learning_rate", "base": json.dumps(old), "head": "0.3"}
    ]
    metrics = {m["name"]: m for m in report["metrics"]}
    main_metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["roc_auc"]["head"] == pytest.approx(main_metrics["roc_auc"])
    assert metrics["roc_auc"]["base"] != metrics["roc_auc"]["head"]
    assert metrics["roc_auc"]["delta"] == pytest.approx(metrics["roc_auc"]["head"] - metrics["roc_auc"]["base"])
    assert all(m["verdict"] in ("better", "worse", "unchanged") for m in report["metrics"])
    assert report["noise"]["paired"] is True
    assert "stale_lock_stages" not in report  # dvc.lock committed: left out, as in CI's report.json
    text = (repo / "reports/pr/report.md").read_text()
    assert "Not committed yet" not in text
    assert "- `train.hist_gradient_boosting.learning_rate`: " in text  # PR text only inside code spans
    assert f"| {metrics['roc_auc']['base']:.4f} | {metrics['roc_auc']['head']:.4f} |" in text
    assert "### Merge verdict" in text


def test_branch_that_changes_the_data(repo: Path):
    _branch(repo, "new-data")
    run(["gitops-ml", "sample-data", "--rows", "4400", "--seed", "7"], repo)
    run(["dvc", "add", "-q", "data"], repo)
    run(["dvc", "repro", "-q"], repo)
    _commit(repo, "new data")
    report = _make_report(repo)
    data = report["data"]
    assert data["changed"] is True
    assert data["base"]["md5"] != data["head"]["md5"]
    assert (data["base"]["rows"], data["head"]["rows"]) == (4000, 4400)
    assert report["noise"]["paired"] is False  # different test rows: unpaired intervals
    assert "### Data" in (repo / "reports/pr/report.md").read_text()
    assert "| rows | 4000 | 4400 |" in (repo / "reports/pr/report.md").read_text()


def test_branch_that_renames_the_classes(repo: Path):
    """New class labels rerun evaluate only; each side's confusion table is read under its own labels."""
    _branch(repo, "rename-classes")
    params = repo / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    old_positive, old_negative = raw["project"]["positive_label"], raw["project"]["negative_label"]
    text = params.read_text().replace(f"positive_label: {old_positive}", "positive_label: caught")
    params.write_text(text.replace(f"negative_label: {old_negative}", 'negative_label: "NA"'))  # not a missing value
    repro = run(["dvc", "repro"], repo)
    assert re.findall(r"Running stage '(\w+)'", repro.stdout) == ["evaluate"]
    _commit(repo, "rename the classes")
    report = _make_report(repo)
    charts = report["charts"]
    assert charts["labels"] == {"positive": "caught", "negative": "NA"}
    assert charts["confusion_head"] == charts["confusion_base"]  # the same model on the same rows
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    head = charts["confusion_head"]
    assert sum(head.values()) == metrics["test_rows"]
    assert head["tp"] + head["fn"] == metrics["test_positives"]
    assert "positive: `caught`, negative: `NA`" in (repo / "reports/pr/report.md").read_text()


@dataclass(frozen=True)
class Reported:
    """What one `make report` left: report.json, report.md and what it said on the terminal (one line)."""

    data: dict
    text: str
    said: str


def _reported(project: Path) -> Reported:
    said = " ".join(_report_run(project).stderr.split())  # the terminal may wrap the message to its width
    out = project / "reports/pr"
    return Reported(json.loads((out / "report.json").read_text()), (out / "report.md").read_text(), said)


@dataclass(frozen=True)
class Exploration:
    """A hyperparameter changed on a laptop: reported uncommitted, then with params.yaml alone committed, then with
    STRICT=1; ``metrics`` is what the pipeline wrote for the change."""

    uncommitted: Reported
    params_committed: Reported
    strict: subprocess.CompletedProcess
    metrics: dict


@pytest.fixture(scope="module")
def exploration(repo: Path) -> Iterator[Exploration]:
    """The everyday loop: edit params.yaml, `make report` (the pipeline trains once); commit params.yaml alone and
    report again; then the strict path, as CI runs it. The branch's dvc.lock is restored afterwards."""
    _branch(repo, "explore")
    params = repo / "params.yaml"
    # 31 -> 127 changes the file's size: an edit of the same size made within the second git last wrote its index
    # can pass for unchanged once another tool (DVC's autostage) rewrites the index (git's "racy clean" entries).
    params.write_text(params.read_text().replace("max_leaf_nodes: 31", "max_leaf_nodes: 127"))
    uncommitted = _reported(repo)
    run(["git", "commit", "-qm", "smaller trees (dvc.lock not committed)", "params.yaml"], repo)
    params_committed = _reported(repo)
    strict = _report_run(repo, strict=True, check=False)
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    run(["git", "checkout", "-q", "HEAD", "--", "dvc.lock"], repo)  # from HEAD: DVC's autostage staged the new one
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], repo).stdout == ""
    yield Exploration(uncommitted, params_committed, strict, metrics)


CHANGED = [{"key": "train.hist_gradient_boosting.max_leaf_nodes", "base": "31", "head": "127"}]


def _stale(said: str) -> set[str]:
    stale = re.search(r"stale stages: ([^)]*)\)", said)
    assert stale, said
    return set(stale.group(1).split(", "))


def _shows_the_change(reported: Reported, metrics: dict) -> None:
    report = reported.data
    assert report["params"] == CHANGED
    rows = {m["name"]: m for m in report["metrics"]}
    assert rows["roc_auc"]["head"] == pytest.approx(metrics["roc_auc"])  # the working tree's model
    assert any(m["delta"] != 0 for m in report["metrics"]), report["metrics"]
    for row in report["metrics"]:
        assert row["delta"] == pytest.approx(row["head"] - row["base"])
    assert "- `train.hist_gradient_boosting.max_leaf_nodes`: `31` → `127`" in reported.text


def test_an_uncommitted_hyperparameter_is_reported_and_marked_uncommitted(exploration: Exploration):
    reported = exploration.uncommitted
    _shows_the_change(reported, exploration.metrics)
    assert reported.data["head_dirty"] is True
    assert reported.data["head_commit"] == reported.data["base_commit"]  # nothing committed on the branch
    assert {"train", "evaluate"} <= set(reported.data["stale_lock_stages"])
    assert "(with uncommitted changes)." in reported.text
    assert "⚠️ **Not committed yet**: the head side is the working tree, with uncommitted changes;" in reported.text
    assert "Commit with `git commit -a` before pushing" in reported.text
    assert "report: not committed yet: the head side is the working tree" in reported.said
    assert {"train", "evaluate"} <= _stale(reported.said)
    assert "Commit with `git commit -a` before pushing" in reported.said


def test_params_committed_without_dvc_lock_are_reported_with_the_lock_to_commit(exploration: Exploration):
    reported = exploration.params_committed
    _shows_the_change(reported, exploration.metrics)
    assert reported.data["metrics"] == exploration.uncommitted.data["metrics"]  # the same model, now committed
    assert reported.data["head_dirty"] is False  # params.yaml is committed; only dvc.lock is not
    assert reported.data["head_commit"] != reported.data["base_commit"]
    assert "(with uncommitted changes)" not in reported.text
    assert "⚠️ **Not committed yet**: the committed `dvc.lock` does not record this pipeline run yet" in reported.text
    assert "Commit with `git commit dvc.lock` before pushing" in reported.text
    assert {"train", "evaluate"} <= _stale(reported.said)
    assert "Commit with `git commit dvc.lock` before pushing" in reported.said


def test_strict_refuses_a_dvc_lock_that_does_not_record_the_outputs(exploration: Exploration):
    said = " ".join(exploration.strict.stderr.split())
    assert exploration.strict.returncode != 0
    assert "error: dvc.lock at HEAD does not record how the pipeline outputs were made" in said
    assert {"train", "evaluate"} <= _stale(said)
    assert "commit dvc.lock" in said
    assert "Traceback" not in said


def test_the_base_side_makes_what_the_cache_does_not_hold(tmp_path: Path):
    """Nothing of BASE is in the cache, not even its data: BASE's ensure-data regenerates the sample in the
    worktree and its stages run there, with BASE's code, giving main's metrics again."""
    cache = tmp_path / "cache"
    project = make_project(tmp_path / "project", cache)
    params = project / "params.yaml"
    text = params.read_text().replace("enabled: true", "enabled: false").replace("rows: 20000", "rows: 2500")
    params.write_text(text.replace("n_resamples: 200", "n_resamples: 20"))
    run(["gitops-ml", "sample-data"], project)  # the 2,500-row sample, as ensure-data would regenerate it
    run(["dvc", "add", "-q", "data"], project)
    run(["dvc", "repro", "-q"], project)
    _commit(project, "main: pipeline run")
    base_metrics = json.loads((project / "reports/metrics.json").read_text())
    shutil.rmtree(cache)  # forget every output, the run-cache and the data
    run(["git", "checkout", "-qb", "change"], project)
    params.write_text(params.read_text().replace("max_leaf_nodes: 31", "max_leaf_nodes: 15"))
    run(["dvc", "repro", "-q"], project)
    _commit(project, "smaller trees")
    report = _make_report(project)
    base = {m["name"]: m["base"] for m in report["metrics"]}
    assert base["roc_auc"] == pytest.approx(base_metrics["roc_auc"])
    assert base["average_precision"] == pytest.approx(base_metrics["average_precision"])
    assert report["params"] and report["params"][0]["key"] == "train.hist_gradient_boosting.max_leaf_nodes"
