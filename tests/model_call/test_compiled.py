"""The compiled scorer (ONNX Runtime on the whole fitted Pipeline) gives ``score_frame``'s predictions for every
registered estimator and task, within the stated tolerance, and anything it cannot reproduce falls back to the
generic path with one log line naming the estimator and why.

Models are fitted here, small (few trees), on data of each task with gaps in numbers and categories, saved and
loaded back through skops as the service loads them. Held-out rows add unseen categories and more gaps. Columns are
handed over as the service's batcher hands them: plain Python values per feature, None for missing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from gitops_ml.config import ColumnType, Params, SchemaParams, TrainParams
from gitops_ml.model_call import compiled
from gitops_ml.model_call.scorer import column_scorer
from gitops_ml.model_io import load_model, save_model
from gitops_ml.pipeline.estimators import estimators_for
from gitops_ml.pipeline.interface import build_model, model_frame, score_frame
from gitops_ml.tasks import Task
from tests.support.task_data import cars_schema, encoded_weather, labelled_cars, weather_schema

SMALL: dict[str, dict[str, Any]] = {
    "random_forest": {"n_estimators": 20, "n_jobs": 1},
    "hist_gradient_boosting": {"max_iter": 20},
    "lightgbm": {"n_estimators": 20},
    "xgboost": {"n_estimators": 20},
}
"""Fewer trees than the defaults: the same converters and code paths, quicker to fit and convert."""
UNSEEN = "a category nobody listed"


def as_served(frame: pd.DataFrame, schema: SchemaParams) -> dict[str, list[Any]]:
    """Feature columns as the service's batcher passes them: typed Python values, None for missing."""
    convert = {
        ColumnType.INT: int, ColumnType.FLOAT: float, ColumnType.BOOL: bool, ColumnType.CATEGORY: str,
        ColumnType.DATETIME: str,
    }  # fmt: skip
    return {
        name: [None if pd.isna(v) else convert[spec.type](v) for v in frame[name].astype(object)]
        for name, spec in schema.columns.items()
    }


def with_surprises(frame: pd.DataFrame, schema: SchemaParams, seed: int = 11) -> pd.DataFrame:
    """``frame`` with about 1 row in 8 given an unseen category and 1 in 8 a gap, in every feature column."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for name, spec in schema.columns.items():
        column = out[name].astype(object)
        draw = rng.random(len(out))
        if spec.type is ColumnType.CATEGORY:
            column[draw < 0.125] = UNSEEN
        column[(draw >= 0.125) & (draw < 0.25)] = None
        out[name] = column
    return out


@pytest.fixture(scope="module")
def task_data(train_test: tuple[pd.DataFrame, pd.DataFrame], params: Params) -> dict[Task, Any]:
    """(schema, training rows, held-out rows) per task: the sample (binary), daily weather (5 classes, a date), cars
    (a category, a date-like model year)."""
    train, test = train_test
    weather, cars = encoded_weather(rows=1500), labelled_cars(rows=1200)
    return {
        Task.BINARY: (params.schema, train, test.head(400)),
        Task.MULTICLASS: (weather_schema(), weather.iloc[:1100], weather.iloc[1100:]),
        Task.REGRESSION: (cars_schema(), cars.iloc[:900], cars.iloc[900:]),
    }


def fit(name: str, schema: SchemaParams, train: pd.DataFrame, directory: Path) -> Any:
    """Estimator ``name`` for ``schema.task`` in the template's Pipeline, fitted, saved and loaded back with skops."""
    settings = TrainParams.model_validate({"estimator": name} | ({name: SMALL[name]} if name in SMALL else {}))
    model = build_model(schema, settings)
    model.fit(model_frame(train, schema), train[schema.target].to_numpy())
    return load_model(save_model(model, directory / "model.skops"))


CASES = [(name, task) for task in Task for name in estimators_for(task)]


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t.value}" for n, t in CASES])
def test_compiled_scores_equal_score_frame(
    name: str, task: Task, task_data: dict[Task, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On held-out rows with gaps and unseen categories: all at once, 20 at a time and row by row."""
    schema, train, test = task_data[task]
    model = fit(name, schema, train, tmp_path)
    with caplog.at_level(logging.INFO, logger="gitops_ml.model_call.scorer"):
        scorer = column_scorer(model, schema)
    assert scorer.path.startswith("fast: ONNX Runtime"), scorer.path
    said = [r.getMessage() for r in caplog.records if "scoring path" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"scoring path: fast: {type(model[-1]).__name__}: "), said
    test = with_surprises(test, schema)
    columns = as_served(test, schema)
    want = score_frame(model, test, schema)

    def check(rows: slice) -> None:
        got = scorer({column: values[rows] for column, values in columns.items()})
        difference, allowed = compiled.max_difference(task, got, want[rows])
        assert difference <= allowed, f"{name} {task.value} rows {rows}: off by {difference:.3g} (allowed {allowed})"

    check(slice(None))
    for start in range(0, len(test), 20):
        check(slice(start, start + 20))
    for row in range(0, len(test), 10):
        check(slice(row, row + 1))


def split_points(name: str, model: Any) -> list[tuple[int, float]]:
    """(feature index, threshold) of every split of the fitted boosted ``model`` (the Pipeline's estimator), read
    the library's way: HistGradientBoosting's trees, LightGBM's ``trees_to_dataframe``."""
    estimator = model[-1]
    if name == "lightgbm":
        splits = estimator.booster_.trees_to_dataframe().dropna(subset=["split_feature"])
        pairs = zip(splits["split_feature"], splits["threshold"], strict=True)
        return [(int(feature.rpartition("_")[2]), float(threshold)) for feature, threshold in pairs]
    from gitops_ml.adapters.sklearn_hist_gradient_boosting import trees

    return [
        (int(node["feature_idx"]), float(node["num_threshold"]))
        for iteration in trees(estimator).iterations
        for nodes in iteration
        for node in nodes[~nodes["is_leaf"].astype(bool)]
    ]


DOUBLE_CASES = [(name, task) for name in ("hist_gradient_boosting", "lightgbm") for task in Task]


@pytest.mark.parametrize(("name", "task"), DOUBLE_CASES, ids=[f"{n}-{t.value}" for n, t in DOUBLE_CASES])
def test_boosted_trees_run_in_double_and_split_exactly_at_their_thresholds(
    name: str, task: Task, task_data: dict[Task, Any], tmp_path: Path
) -> None:
    """Every threshold of every tree on a float column, offered exactly and one double step to each side: the graph
    takes the branch the library takes (in float32, 15.4 against a threshold of 15.4 could take the other one)."""
    schema, train, test = task_data[task]
    model = fit(name, schema, train, tmp_path)
    scorer = column_scorer(model, schema)
    assert "the whole Pipeline in double" in scorer.path, scorer.path
    floats = set(schema.names_of(ColumnType.FLOAT))
    names = [column.partition("__")[2] for column in model[:-1].get_feature_names_out()]
    thresholds = {(names[feature], threshold) for feature, threshold in split_points(name, model)}
    thresholds = {(column, threshold) for column, threshold in thresholds if column in floats}
    assert len(thresholds) >= 20, thresholds  # the trees split on the float columns
    row = test.head(1)
    frame = pd.concat(
        [
            row.assign(**{column: value})
            for column, threshold in sorted(thresholds)
            for value in (threshold, np.nextafter(threshold, np.inf), np.nextafter(threshold, -np.inf))
        ],
        ignore_index=True,
    )
    got, want = scorer(as_served(frame, schema)), score_frame(model, frame, schema)
    assert float(np.max(np.abs(got - want))) <= 1e-12


def test_the_tolerance_is_absolute_on_probabilities_and_relative_on_values() -> None:
    probability = np.array([0.2, 0.7])
    assert compiled.max_difference(Task.BINARY, probability + 0.9e-5, probability) == pytest.approx((0.9e-5, 1e-5))
    assert compiled.max_difference(Task.BINARY, probability + 1.1e-5, probability)[0] > 1e-5
    prices = np.array([350.0, -1200.0])  # the largest magnitude sets the scale: 1200 x 1e-5
    difference, allowed = compiled.max_difference(Task.REGRESSION, prices + 0.011, prices)
    assert allowed == pytest.approx(0.012) and difference == pytest.approx(0.011)
    assert compiled.max_difference(Task.REGRESSION, prices + 0.013, prices)[0] > allowed
    small = np.array([0.01, -0.2])  # below 1 the scale stays 1: 1e-5 absolute
    assert compiled.max_difference(Task.REGRESSION, small, small + 2e-5)[1] == pytest.approx(1e-5)
    assert compiled.max_difference(Task.REGRESSION, np.array([np.nan, 1.0]), np.array([1.0, 1.0]))[0] == np.inf
    assert compiled.max_difference(Task.MULTICLASS, np.zeros((2, 3)), np.zeros((2, 4)))[0] == np.inf


def test_the_probe_rows_cover_every_category_an_unknown_one_and_gaps(task_data: dict[Task, Any]) -> None:
    kinds = {spec.type for schema, _, _ in task_data.values() for spec in schema.columns.values()}
    assert kinds == set(ColumnType)  # every kind of column is probed below
    for schema, _, _ in task_data.values():
        probe = compiled.probe_columns(schema)
        assert len({len(values) for values in probe.values()}) == 1
        for name, spec in schema.columns.items():
            values = probe[name]
            assert None in values, name
            if spec.type is ColumnType.CATEGORY:
                assert set(spec.categories or []) | {compiled.UNKNOWN_LABEL} <= set(values), name
            elif spec.type is ColumnType.DATETIME:
                assert set(compiled.PROBE_DATES) <= set(values), name
            elif spec.type is not ColumnType.BOOL:
                numbers = [v for v in values if v is not None]
                low = spec.min if spec.min is not None else -1e4
                high = spec.max if spec.max is not None else 1e4
                assert min(numbers) == low and max(numbers) == high, name
                assert len(set(numbers)) >= 9, name


class LogOfAmount(BaseEstimator, TransformerMixin):
    """A team's own transformer, which no ONNX converter knows."""

    def fit(self, x: Any, y: Any = None) -> LogOfAmount:
        return self

    def transform(self, x: Any) -> Any:
        return np.log1p(np.nan_to_num(np.asarray(x, dtype=np.float64)))


def test_a_model_the_converter_does_not_know_is_scored_by_the_generic_path_and_says_so_once(
    task_data: dict[Task, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    schema, train, test = task_data[Task.BINARY]
    numeric = schema.names_of(ColumnType.FLOAT, ColumnType.INT)
    model = Pipeline(
        [("preprocess", ColumnTransformer([("log", LogOfAmount(), numeric)])), ("classifier", LogisticRegression())]
    ).fit(model_frame(train, schema), train[schema.target].to_numpy())
    with caplog.at_level(logging.INFO, logger="gitops_ml.model_call.scorer"):
        scorer = column_scorer(model, schema)
        scores = scorer(as_served(test, schema))
    said = [r.getMessage() for r in caplog.records if "scoring path" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith("scoring path: generic (score_frame on a DataFrame per call): LogisticRegression: ")
    assert "skl2onnx cannot convert the Pipeline" in said[0] and "LogOfAmount" in said[0], said[0]
    assert scorer.path.startswith("generic: LogisticRegression: skl2onnx cannot convert")
    np.testing.assert_array_equal(scores, score_frame(model, test, schema))


def _reverse_the_classes(graph: Any, classes: int) -> Any:
    """The graph with its probability columns in reverse class order (a converter that mixed up the classes)."""
    probabilities = graph.graph.output[1].name
    producer = next(node for node in graph.graph.node if probabilities in node.output)
    producer.output[list(producer.output).index(probabilities)] = "probabilities_in_class_order"
    order = onnx.numpy_helper.from_array(np.arange(classes - 1, -1, -1, dtype=np.int64), "reversed_order")
    graph.graph.initializer.append(order)
    graph.graph.node.append(
        onnx.helper.make_node("Gather", ["probabilities_in_class_order", "reversed_order"], [probabilities], axis=1)
    )
    return graph


def _scale_the_values(graph: Any, factor: float) -> Any:
    """The graph with every predicted value multiplied by ``factor`` (a converter off in the 4th digit)."""
    value = graph.graph.output[0].name
    producer = next(node for node in graph.graph.node if value in node.output)
    producer.output[list(producer.output).index(value)] = "unscaled_value"
    dtype = onnx.helper.tensor_dtype_to_np_dtype(graph.graph.output[0].type.tensor_type.elem_type)
    graph.graph.initializer.append(onnx.numpy_helper.from_array(np.array(factor, dtype=dtype), "factor"))
    graph.graph.node.append(onnx.helper.make_node("Mul", ["unscaled_value", "factor"], [value]))
    return graph


@pytest.mark.parametrize("task", [Task.MULTICLASS, Task.REGRESSION])
def test_a_corrupted_graph_is_caught_by_the_probe_check_and_the_generic_path_serves(
    task: Task,
    task_data: dict[Task, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema, train, test = task_data[task]
    model = fit("hist_gradient_boosting", schema, train, tmp_path)
    convert = compiled._convert

    def corrupted(model: Any, schema: SchemaParams, double: bool) -> Any:
        graph = convert(model, schema, double)
        if task is Task.MULTICLASS:
            return _reverse_the_classes(graph, len(model.classes_))
        return _scale_the_values(graph, 1 + 1e-4)  # ten times the tolerance

    monkeypatch.setattr(compiled, "_convert", corrupted)
    with pytest.raises(compiled.NotCompiled, match=r"differ from score_frame's on 256 probe rows by up to"):
        compiled.compile_scorer(model, schema)
    with caplog.at_level(logging.INFO, logger="gitops_ml.model_call.scorer"):
        scorer = column_scorer(model, schema)
    said = [r.getMessage() for r in caplog.records if "scoring path" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("scoring path: generic"), said
    name = type(model[-1]).__name__
    assert f"): {name}: the compiled scores differ from score_frame's" in said[0], said[0]
    difference = float(said[0].split("by up to ")[1].split(" ")[0])
    assert difference > compiled.TOLERANCE
    np.testing.assert_array_equal(scorer(as_served(test, schema)), score_frame(model, test, schema))


def test_a_baseline_that_draws_at_random_is_not_compiled(task_data: dict[Task, Any], tmp_path: Path) -> None:
    schema, train, _ = task_data[Task.BINARY]
    model = build_model(schema, TrainParams.model_validate({"estimator": "dummy", "dummy": {"strategy": "stratified"}}))
    model.fit(model_frame(train, schema), train[schema.target].to_numpy())
    scorer = column_scorer(model, schema)
    assert scorer.path.startswith("generic: DummyClassifier: skl2onnx cannot convert"), scorer.path
    assert "stratified" in scorer.path


def test_columns_that_lack_a_feature_or_hold_a_bad_value_are_refused_by_name(
    task_data: dict[Task, Any], tmp_path: Path
) -> None:
    schema, train, test = task_data[Task.REGRESSION]
    scorer = compiled.compile_scorer(fit("dummy", schema, train, tmp_path), schema)
    columns = as_served(test.head(2), schema)
    with pytest.raises(ValueError, match="lack the model's feature"):
        scorer({"cylinders": [4]})
    with pytest.raises(ValueError, match=r"different lengths \[1, 2\]"):
        scorer(columns | {"cylinders": [4]})
    with pytest.raises(ValueError, match="cylinders: every value must be a number"):
        scorer(columns | {"cylinders": ["four", 6]})
    with pytest.raises(ValueError, match="year: '31/12/1975' is not an ISO 8601 date"):
        scorer(columns | {"year": ["1975-01-01", "31/12/1975"]})


def test_quick_calls_are_those_the_timings_fit_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event-loop bound follows the measured cost: a fixed part plus a part per row."""
    probe = {"x": list(range(256))}

    def timed(fixed: float, per_row: float) -> int:
        def seconds(scorer: Any, columns: Any, repeats: int) -> float:
            return fixed + per_row * len(columns["x"])

        monkeypatch.setattr(compiled, "_seconds", seconds)
        return compiled.quick_call_rows(None, probe)  # type: ignore[arg-type]  # timing is faked

    assert timed(50e-6, 10e-6) == 16  # a 200-tree binary model: 16 rows in 0.21 ms
    assert timed(60e-6, 60e-6) == 4  # a deep forest: 0.12 ms at one row, 60 us more per row
    assert timed(0.4e-3, 1e-6) == 0  # one row already over the budget: always a thread
    assert timed(40e-6, 0.0) == 16
