"""read_outputs: each side read as its own task, from what the real evaluate stage wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import f1_score

from gitops_ml.errors import CompareError
from gitops_ml.gitops.base_side import BinaryPlots, ClassPlots, read_outputs
from gitops_ml.tasks import Task
from tests.support.task_sides import CLASSES


def test_each_task_reads_the_plot_tables_its_charts_need(task_sides: dict[Task, tuple[Path, Path]]):
    binary = read_outputs(task_sides[Task.BINARY][1])
    assert binary.task is Task.BINARY and isinstance(binary.plots, BinaryPlots)
    assert sum(binary.plots.confusion.values()) == binary.side.outcome.rows

    multiclass = read_outputs(task_sides[Task.MULTICLASS][1])
    outcome = multiclass.side.outcome
    assert multiclass.task is Task.MULTICLASS and isinstance(multiclass.plots, ClassPlots)
    assert multiclass.plots.classes == CLASSES
    matrix = np.array(multiclass.plots.confusion)
    assert matrix.sum() == outcome.rows
    assert list(matrix.sum(axis=1)) == [int((outcome.y == i).sum()) for i in range(len(CLASSES))]
    assert list(np.diag(matrix)) == [int(((outcome.y == i) & (outcome.predicted_class == i)).sum()) for i in range(3)]
    expected = f1_score(outcome.y, outcome.predicted_class, average=None, labels=range(3), zero_division=0)
    assert multiclass.plots.f1 == pytest.approx(list(expected), abs=1e-6)

    regression = read_outputs(task_sides[Task.REGRESSION][1])
    assert regression.task is Task.REGRESSION and regression.plots is None  # its charts come from the predictions


def _copy(side: Path, to: Path) -> Path:
    shutil.copytree(side, to)
    return to


def test_a_confusion_table_under_other_class_names_is_refused(task_sides, tmp_path: Path):
    side = _copy(task_sides[Task.MULTICLASS][1], tmp_path / "side")
    params = yaml.safe_load((side / "params.yaml").read_text())
    params["schema"]["classes"] = ["sun", "rain", "snow"]
    (side / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(CompareError, match=r"actual holds \['sunny'\], not one of schema.classes .*rerun the evaluate"):
        read_outputs(side)


def test_a_missing_table_of_the_task_is_named(task_sides, tmp_path: Path):
    side = _copy(task_sides[Task.MULTICLASS][1], tmp_path / "side")
    (side / "reports" / "plots" / "per_class_f1.csv").unlink()
    with pytest.raises(CompareError, match=r"pipeline outputs missing \(reports/plots/per_class_f1.csv\)"):
        read_outputs(side)
    regression = _copy(task_sides[Task.REGRESSION][1], tmp_path / "regression")
    for table in (regression / "reports" / "plots").iterdir():
        table.unlink()
    assert read_outputs(regression).plots is None  # a regression report needs none of them


def test_a_per_class_f1_table_that_does_not_fit_the_classes_is_refused(task_sides, tmp_path: Path):
    side = _copy(task_sides[Task.MULTICLASS][1], tmp_path / "side")
    table = side / "reports" / "plots" / "per_class_f1.csv"
    table.write_text(table.read_text().replace("snow,", "hail,"))
    with pytest.raises(CompareError, match=r"does not give an F1 between 0 and 1 to each of schema\.classes"):
        read_outputs(side)


def test_an_unknown_task_is_named(task_sides, tmp_path: Path):
    side = _copy(task_sides[Task.BINARY][1], tmp_path / "side")
    params = yaml.safe_load((side / "params.yaml").read_text())
    params["schema"]["task"] = "ranking"
    (side / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(CompareError, match=r"schema\.task 'ranking' is not one of binary, multiclass, regression"):
        read_outputs(side)
