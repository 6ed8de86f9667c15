"""The plots of each task: what evaluate writes is what dvc.yaml lists, and real DVC draws them without an error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gitops_ml.pipeline.plots import PLOTS, dvc_plots, write_dvc_plots
from gitops_ml.tasks import Task
from tests.support.projects import run
from tests.support.task_sides import write_side

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> dict[Task, Path]:
    """Per task, a project folder holding what the real evaluate stage wrote for a small model."""
    root = tmp_path_factory.mktemp("plots")
    return {task: write_side(root / task.value, task) for task in Task}


def test_the_template_lists_the_binary_plots():
    assert yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"] == dvc_plots(Task.BINARY)


@pytest.mark.parametrize("task", list(Task))
def test_evaluate_writes_exactly_the_listed_tables_with_the_listed_columns(task: Task, sides: dict[Task, Path]):
    written = {path.stem for path in (sides[task] / "reports" / "plots").iterdir()}
    assert written == {plot.name for plot in PLOTS[task]}
    for plot in PLOTS[task]:
        table = pd.read_csv(sides[task] / plot.path)
        assert {plot.x, plot.y} <= set(table.columns), plot.path
        assert len(table) > 0, plot.path


def test_rewriting_the_section_keeps_the_stages_and_the_comments(tmp_path: Path):
    dvc_yaml = tmp_path / "dvc.yaml"
    shutil.copy(ROOT / "dvc.yaml", dvc_yaml)
    original = dvc_yaml.read_text()
    assert write_dvc_plots(dvc_yaml, Task.BINARY) is False
    assert dvc_yaml.read_text() == original
    assert write_dvc_plots(dvc_yaml, Task.REGRESSION) is True
    text = dvc_yaml.read_text()
    before, after = original.split("\nplots:\n")[0], text.split("\nplots:\n")[0]
    assert before == after  # stages, their comments and the comment above plots:, untouched
    assert yaml.safe_load(text)["plots"] == dvc_plots(Task.REGRESSION)
    assert write_dvc_plots(dvc_yaml, Task.BINARY) is True
    assert dvc_yaml.read_text() == original


def _dvc_plots_show(project: Path) -> dict:
    return json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)


def _project(tmp_path: Path, side: Path, task: Task) -> Path:
    """A git + DVC repository with the evaluate stage's plot tables and dvc.yaml's plots section for ``task``."""
    project = tmp_path / "project"
    shutil.copytree(side / "reports" / "plots", project / "reports" / "plots")
    (project / "dvc.yaml").write_text(yaml.safe_dump({"plots": dvc_plots(task)}, sort_keys=False))
    run(["git", "init", "-q"], project)
    run(["dvc", "init", "-q"], project)
    return project


@pytest.mark.parametrize("task", list(Task))
def test_dvc_draws_every_plot_of_the_task_without_an_error(task: Task, sides: dict[Task, Path], tmp_path: Path):
    shown = _dvc_plots_show(_project(tmp_path, sides[task], task))
    assert shown.get("errors", []) == []
    assert sorted(shown["data"]) == sorted(plot.title for plot in PLOTS[task])
    for title, charts in shown["data"].items():
        assert charts and charts[0]["content"]["data"]["values"], title


def test_dvc_reports_an_error_for_another_tasks_plots(sides: dict[Task, Path], tmp_path: Path):
    """Why dvc.yaml lists one task's plots: a regression project under the binary list gets an error per plot."""
    project = _project(tmp_path, sides[Task.REGRESSION], Task.BINARY)
    errors = _dvc_plots_show(project)["errors"]
    missing = {"roc.csv", "precision_recall.csv", "confusion.csv", "calibration.csv"}
    assert {Path(e["source"]).name for e in errors} == missing
    assert {e["type"] for e in errors} == {"FileNotFoundError"}
