"""The model-call benchmark's parts: the goal over every estimator x task, the report, and a run at a tiny size.

No timing is asserted: the run checks the cells' shape, that the service's scorer took the fast path, and that the
generic path was timed too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import model_call, report
from gitops_ml.tasks import Task


def _cell(estimator: str, task: str, fast_ms: float, path: str = "fast: ONNX Runtime, ...") -> dict[str, Any]:
    timings = {"1": {"p50_ms": fast_ms, "p99_ms": 2 * fast_ms}, "20": {"p50_ms": 4 * fast_ms, "p99_ms": 8 * fast_ms}}
    generic = {"1": {"p50_ms": 6.0, "p99_ms": 9.0}, "20": {"p50_ms": 7.0, "p99_ms": 11.0}}
    met = path.startswith("fast: ") and fast_ms <= model_call.GOAL_MS
    return {"task": task, "estimator": estimator, "path": path, "scorer_build_s": 0.3, "fast": timings,
            "generic": generic, "goal_met": met}  # fmt: skip


def test_every_registered_estimator_is_timed_for_every_task_it_supports() -> None:
    from gitops_ml.pipeline.estimators import estimators_for

    for task in Task:
        assert model_call.estimator_names(task) == estimators_for(task)
    assert {"hist_gradient_boosting", "lightgbm", "xgboost"} <= set(model_call.estimator_names(Task.MULTICLASS))


def test_the_goal_is_met_only_when_every_cell_is_fast_enough_on_the_fast_path() -> None:
    cells = [_cell("hist_gradient_boosting", "binary", 0.09), _cell("xgboost", "multiclass", 0.21)]
    goal = model_call.targets(cells)["model_call_1_record_p50_ms"]
    assert goal["met"] and goal["missed"] == [] and goal["worst"]["estimator"] == "xgboost"
    cells += [_cell("random_forest", "regression", 0.35), _cell("dummy", "binary", 0.05, "generic: DummyClassifier")]
    goal = model_call.targets(cells)["model_call_1_record_p50_ms"]
    assert not goal["met"] and goal["missed"] == ["random_forest regression", "dummy binary"]


def test_the_report_writes_json_table_and_chart(tmp_path: Path) -> None:
    from benchmarks.common import machine

    cells = [_cell("lightgbm", "multiclass", 0.14), _cell("ridge", "regression", 0.4)]
    result = {"name": "model_call", "quick": True, "finished": "now", "machine": machine(), "model_rows": 2000,
              "repeats": 300, "goal_ms": model_call.GOAL_MS, "cells": cells,
              "targets": model_call.targets(cells)}  # fmt: skip
    path, table = report.write_outputs("model_call", result, tmp_path, quick=True)
    assert json.loads(path.read_text()) == result
    assert (tmp_path / "model_call-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| multiclass | lightgbm | 0.140 | 0.280 | 0.560 | 1.120 | 6.00 | 9.00 | 7.00 | 11.00 | met |" in table
    assert "| regression | ridge | 0.400 |" in table and table.count("| missed |") == 1
    assert "for every estimator and task on the fast path: missed (ridge regression); slowest ridge regression" in table
    assert "- lightgbm multiclass: fast: ONNX Runtime, ..." in table


@pytest.mark.slow
def test_the_benchmark_runs_at_a_tiny_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every task once (the baseline is the quickest to fit): the service's scorer is compiled and both paths timed."""
    monkeypatch.setattr(model_call, "WORK", tmp_path)
    monkeypatch.setattr(model_call, "estimator_names", lambda task: ["dummy"])
    result = model_call.bench(quick=True, say=lambda _: None, rows=400)
    assert [(c["task"], c["estimator"]) for c in result["cells"]] == [(t.value, "dummy") for t in Task]
    for cell in result["cells"]:
        assert cell["path"].startswith("fast: ONNX Runtime"), cell["path"]
        for key in ("fast", "generic"):
            assert set(cell[key]) == {"1", "20"}
            assert all(0 < t["p50_ms"] <= t["p99_ms"] for t in cell[key].values())
    assert set(result["targets"]) == {"model_call_1_record_p50_ms"}
