"""The conformance kit: this project's own pipeline, params and data, checked against what the engine relies on.

The engine (the report, the gate, the service, monitoring) reaches the team's code only through
``pipeline/interface.py``, reads the files ``dvc.yaml``'s stages write, and reads ``params.yaml`` through the typed
config. These checks hold the team's part to that, on the team's own params and data, in a few seconds: a change
to the team's files that would break the engine fails here, naming the function or file and what it gave, before
it fails in a release. The engine ships them (parts.yaml: engine); every project runs them in `make test`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from gitops_ml import paths
from gitops_ml.config import Params, load_params
from gitops_ml.tasks import Task
from tests.support.projects import ROOT

pytestmark = pytest.mark.conformance

ROWS = 2000
"""Rows of the project's data the model is fitted on here: enough for every class, small enough for seconds."""
STAGE_OUTPUTS = {
    "validate": [paths.VALIDATED, paths.DATA_SUMMARY],
    "split": [paths.TRAIN, paths.TEST],
    "train": [paths.MODEL, paths.MODEL_INFO],
    "evaluate": [paths.PREDICTIONS, paths.METRICS_CI, paths.PLOTS, paths.METRICS],
    "drift_reference": [paths.DRIFT_REFERENCE],
}
"""Each stage ``dvc.yaml`` must run with ``gitops-ml <stage>``, and the outputs of it the engine reads."""
AGREEMENT = 1e-6
"""How far the service's scorer may be from ``score_frame`` (the fast path's own probe check is tighter)."""


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="module")
def frame(params: Params) -> pd.DataFrame:
    from gitops_ml.pipeline import interface

    files = interface.data_files(ROOT / params.data.path)
    if not files or not files[0].is_file():
        pytest.fail(f"{params.data.path} is missing: run `make data` (make test does) to pull or generate it")
    first = files[0]
    data = pd.read_parquet(first) if first.suffix == ".parquet" else pd.read_csv(first, nrows=50 * ROWS)
    target = params.schema.target
    if params.schema.task is Task.REGRESSION:
        return data.head(ROWS)
    # every class the contract names, then rows in file order: a multiclass model sees each class
    per_class = data.groupby(target, group_keys=False).head(max(ROWS // 20, 5))
    return pd.concat([per_class, data.drop(per_class.index).head(ROWS - len(per_class))])


@pytest.fixture(scope="module")
def fitted(params: Params, frame: pd.DataFrame) -> Any:
    from gitops_ml.pipeline import interface

    schema = params.schema
    target = frame[schema.target]
    if schema.task is Task.REGRESSION:
        target = pd.to_numeric(target, errors="coerce")
    else:  # the validated data's encoding, which train fits on: each class's index in the contract's order
        target = target.map({label: index for index, label in enumerate(schema.class_labels)})
    labelled = target.notna()
    model = interface.build_model(schema, params.train)
    return model.fit(interface.model_frame(frame[labelled], schema), target[labelled].to_numpy())


def test_the_interface_offers_every_function_the_engine_calls() -> None:
    from gitops_ml.pipeline import interface
    from gitops_ml.template.boundary import interface_names

    called = interface_names(ROOT)  # read from the engine's source: what it imports from the interface
    assert "score_frame" in called and "run_train" in called, f"the engine's imports were not found: {called}"
    missing = sorted(name for name in called if not callable(getattr(interface, name, None)))
    assert not missing, f"pipeline/interface.py no longer offers {missing}: the engine calls them (see its docstring)"


def test_the_model_frame_holds_the_contracts_features_row_for_row(params: Params, frame: pd.DataFrame) -> None:
    from gitops_ml.pipeline import interface

    features = interface.model_frame(frame, params.schema)
    assert list(features.columns) == list(params.schema.feature_names), "model_frame's columns are not the contract's"
    assert len(features) == len(frame), "model_frame must keep every row, in order"


def test_score_frame_answers_in_the_shape_of_the_task(params: Params, frame: pd.DataFrame, fitted: Any) -> None:
    from gitops_ml.pipeline import interface

    schema = params.schema
    scores = np.asarray(interface.score_frame(fitted, frame, schema))
    assert np.isfinite(scores).all(), "score_frame gave a NaN or infinite prediction"
    if schema.task is Task.MULTICLASS:
        assert scores.shape == (len(frame), len(schema.class_labels)), f"score_frame's shape is {scores.shape}"
        assert np.allclose(scores.sum(axis=1), 1.0), "each row's class probabilities must sum to 1"
    else:
        assert scores.shape == (len(frame),), f"score_frame's shape is {scores.shape}, not one value per row"
    if schema.task is Task.BINARY:
        assert ((scores >= 0) & (scores <= 1)).all(), "a binary score is the positive class's probability"


def test_the_services_scorer_agrees_with_score_frame(params: Params, frame: pd.DataFrame, fitted: Any) -> None:
    from gitops_ml.model_call.scorer import column_scorer
    from gitops_ml.pipeline import interface

    schema = params.schema
    rows = frame.head(200)
    scorer = column_scorer(fitted, schema)
    columns = {name: rows[name].tolist() for name in schema.feature_names}
    served = np.asarray(scorer(columns), dtype=np.float64)
    expected = np.asarray(interface.score_frame(fitted, rows, schema), dtype=np.float64)
    worst = float(np.max(np.abs(served - expected))) if expected.size else 0.0
    assert math.isfinite(worst) and worst <= AGREEMENT, f"column_scorer ({scorer.path}) differs by {worst:.3g}"


def test_the_data_files_start_with_the_configured_path(params: Params) -> None:
    from gitops_ml.pipeline import interface

    raw = ROOT / params.data.path
    assert interface.data_files(raw)[0] == raw
    assert raw.suffix in interface.data_file_suffixes()


def test_dvc_yaml_runs_the_engines_stages_with_the_outputs_it_reads() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage, outputs in STAGE_OUTPUTS.items():
        assert stage in stages, f"dvc.yaml has no stage {stage}"
        command = stages[stage]["cmd"]
        assert command.split()[:2] == ["gitops-ml", stage.replace("_", "-")], f"{stage} runs {command!r}"
        declared = {
            Path(next(iter(item)) if isinstance(item, dict) else item)
            for key in ("outs", "metrics", "plots")
            for item in stages[stage].get(key, [])
        }
        missing = [str(p) for p in outputs if p not in declared]
        assert not missing, f"dvc.yaml's {stage} no longer declares {missing}, which the engine reads"
