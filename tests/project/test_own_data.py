"""The team's data meets its contract and the pipeline runs on it (edit params.yaml, not this file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ml.config import Params
from gitops_ml.io import read_json
from gitops_ml.model_metrics import higher_is_better
from gitops_ml.pipeline.validate import check_frame, read_dataset


def test_the_data_meets_the_contract_in_params_yaml(own_params: Params, own_data: Path) -> None:
    typed = check_frame(read_dataset(own_data), own_params.schema)  # data.path and its windows
    assert len(typed) >= own_params.schema.min_rows


@pytest.mark.slow
def test_the_pipeline_runs_and_the_model_reaches_the_gate_floors(own_params: Params, own_pipeline: Path) -> None:
    metrics = read_json(own_pipeline / "reports" / "metrics.json")
    for name, floor in own_params.gate.floors.items():
        value = metrics[name]
        reached = value >= floor if higher_is_better(name, own_params.task) else value <= floor
        assert reached, f"{name} = {value:.4f} misses its floor {floor} in params.yaml gate.floors"
