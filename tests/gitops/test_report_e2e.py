"""End to end in a temporary git repository: `make report BASE=main` on branches that change a param, the
data, or nothing. The base side really runs in a git worktree that shares the DVC cache."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.projects import make_project, run

pytestmark = pytest.mark.slow


def _make_report(project: Path) -> dict:
    # The Makefile's own recipe, with the venv on PATH instead of `uv run` (-o install: no uv sync here).
    run(["make", "-o", "install", "report", "BASE=main", "RUN="], project)
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
    params.write_text(params.read_text().replace(f"learning_rate: {old}", "learning_rate: 0.3"))
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
    text = (repo / "reports/pr/report.md").read_text()
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


def test_a_dvc_lock_that_does_not_record_the_outputs_is_refused(repo: Path):
    _branch(repo, "uncommitted-lock")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("max_leaf_nodes: 31", "max_leaf_nodes: 15"))
    _commit(repo, "change a param, forget to commit the dvc.lock of its run")
    result = run(["make", "-o", "install", "report", "BASE=main", "RUN="], repo, check=False)
    run(["git", "checkout", "-q", "--", "dvc.lock"], repo)
    said = " ".join(result.stderr.split())  # the message may be wrapped to the terminal's width
    assert result.returncode != 0
    stale = re.search(r"stale stages: ([^)]*)\)", said)
    assert stale and {"train", "evaluate"} <= set(stale.group(1).split(", ")), said
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
