"""The serving-time scoring path gives the fitted Pipeline's scores, for every registered estimator of a binary task,
and falls back to the generic path for a model it does not recognise.

Models come from the skops file (the trained fixture project's, and each other estimator fitted on the same training
split, saved and loaded back), as the service loads them. Columns are given as the service hands them over: plain
Python values per feature, None for missing. The fast path compiles the preprocessing for any binary classifier and
walks the trees itself for HistGradientBoosting only; LightGBM and XGBoost get the compiled features and score them
with their own ``predict_proba``, which is what the Pipeline hands them too. Multiclass and regression models take
the generic path (``interface.column_scorer``; tests/pipeline/test_estimators.py checks every estimator and task).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gitops_ml.config import ColumnType, Params, SchemaParams, TrainParams, load_params
from gitops_ml.model_io import load_model, save_model
from gitops_ml.pipeline import fast_scoring
from gitops_ml.pipeline.estimators import estimators_for
from gitops_ml.pipeline.interface import build_model, column_scorer, model_frame, score_frame
from gitops_ml.tasks import Task

pytestmark = pytest.mark.slow

# Fewer trees than the defaults, the same code paths.
SMALLER = {
    "random_forest": {"n_estimators": 50},
    "lightgbm": {"n_estimators": 50},
    "xgboost": {"n_estimators": 50},
}


def as_served(frame: pd.DataFrame, schema: SchemaParams) -> dict[str, list[Any]]:
    """Feature columns as the service's batcher passes them: typed Python values, None for missing."""
    convert = {ColumnType.INT: int, ColumnType.FLOAT: float, ColumnType.BOOL: bool, ColumnType.CATEGORY: str}
    return {
        name: [None if pd.isna(v) else convert[spec.type](v) for v in frame[name].astype(object)]
        for name, spec in schema.columns.items()
    }


@pytest.fixture(scope="module")
def params(pipeline_project: Path) -> Params:
    return load_params(pipeline_project / "params.yaml")


@pytest.fixture(scope="module")
def test_split(pipeline_project: Path, params: Params) -> pd.DataFrame:
    test = pd.read_parquet(pipeline_project / "artifacts" / "test.parquet")
    features = params.schema.feature_names
    numeric = params.schema.names_of(ColumnType.FLOAT, ColumnType.INT, ColumnType.BOOL)
    categorical = params.schema.names_of(ColumnType.CATEGORY)
    # What makes this a real check of imputation, indicators and encoding: both kinds of column have gaps.
    assert test[numeric].isna().any().any() and test[categorical].isna().any().any(), features
    return test


@pytest.fixture(scope="module", params=sorted(estimators_for(Task.BINARY)))
def model(request: pytest.FixtureRequest, pipeline_project: Path, params: Params, tmp_path_factory: Any) -> Any:
    """Each registered estimator of a binary task in the template's Pipeline, as loaded back from its skops file."""
    name = request.param
    if name == params.train.estimator.value:
        return load_model(pipeline_project / "models" / "model.skops")  # the one `dvc repro` trained
    train = pd.read_parquet(pipeline_project / "artifacts" / "train.parquet")
    fitted = build_model(
        params.schema, TrainParams(estimator=name, **({name: SMALLER[name]} if name in SMALLER else {}))
    )
    fitted.fit(model_frame(train, params.schema), train[params.schema.target].to_numpy())
    return load_model(save_model(fitted, tmp_path_factory.mktemp(name) / "model.skops"))


def test_every_test_score_equals_predict_proba(model: Any, params: Params, test_split: pd.DataFrame) -> None:
    """Every score on the whole test split, in one batch and in 20-record requests, and every 25th row alone, equals
    ``predict_proba``'s on the same rows in the same batches.

    Same batches, because ``predict_proba`` itself depends on the batch in the last bits for a linear model (BLAS
    takes another summation order for one row than for many). Exact equality, except for the random forest: its
    ``predict_proba`` adds its trees' probabilities from parallel threads in the order they finish, so two of its
    calls on the same matrix may differ by up to n_estimators x machine epsilon (values are in [0, 1]); its feature
    matrix is still checked bit for bit, and that matrix is exactly what its ``predict_proba`` receives.
    """
    schema = params.schema
    scorer = column_scorer(model, schema)
    assert scorer.path.startswith("fast: "), scorer.path
    columns = as_served(test_split, schema)
    frame = model_frame(test_split, schema)
    np.testing.assert_array_equal(scorer.score.features(columns), model[0].transform(frame))

    n_trees = getattr(model[-1], "n_estimators", 0) if "RandomForest" in type(model[-1]).__name__ else 0
    tolerance = n_trees * np.finfo(np.float64).eps

    def check(rows: slice) -> None:
        got = scorer({name: values[rows] for name, values in columns.items()})
        want = model.predict_proba(frame.iloc[rows])[:, 1]
        if tolerance:
            np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)
        else:
            np.testing.assert_array_equal(got, want)

    check(slice(None))
    for start in range(0, len(frame), 20):
        check(slice(start, start + 20))
    for row in range(0, len(frame), 25):
        check(slice(row, row + 1))


def test_the_tree_walk_sends_missing_values_where_the_classifier_does(
    pipeline_project: Path, params: Params, test_split: pd.DataFrame
) -> None:
    """The imputer leaves no NaN for the trees, so the walk's missing-value branch is checked on a matrix with gaps."""
    model = load_model(pipeline_project / "models" / "model.skops")
    walk = fast_scoring.compile_scorer(model, params.schema).tree_walk
    import sklearn

    assert walk is not None, (
        f"scikit-learn {sklearn.__version__}: the HistGradientBoostingClassifier's trees were not compiled; "
        "check the private attributes src/gitops_ml/adapters/sklearn_trees.py reads"
    )
    x = model[0].transform(model_frame(test_split.iloc[:200], params.schema))
    x[np.random.default_rng(0).random(x.shape) < 0.3] = np.nan
    np.testing.assert_array_equal(walk(x), model[-1].predict_proba(x)[:, 1])


def test_columns_without_a_feature_are_refused_by_name(pipeline_project: Path, params: Params) -> None:
    scorer = fast_scoring.compile_scorer(load_model(pipeline_project / "models" / "model.skops"), params.schema)
    with pytest.raises(ValueError, match="lack the model's feature"):
        scorer({"amount": [1.0]})


def _unrecognised_model(schema: SchemaParams, train: pd.DataFrame) -> Any:
    """A team's changed preprocessing: numbers robust-scaled instead of standardised, categories ordinal-encoded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OrdinalEncoder, RobustScaler

    numeric = schema.names_of(ColumnType.FLOAT, ColumnType.INT, ColumnType.BOOL)
    categorical = schema.names_of(ColumnType.CATEGORY)
    preprocess = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), RobustScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="?"),
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ),
                categorical,
            ),
        ]
    )
    model = Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(max_iter=500))])
    return model.fit(model_frame(train, schema), train[schema.target].to_numpy())


def test_an_unrecognised_model_is_scored_by_the_generic_path_and_says_so_once(
    pipeline_project: Path, params: Params, test_split: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    train = pd.read_parquet(pipeline_project / "artifacts" / "train.parquet")
    model = _unrecognised_model(params.schema, train)
    with caplog.at_level(logging.INFO, logger="gitops_ml.pipeline.interface"):
        scorer = column_scorer(model, params.schema)
        columns = as_served(test_split, params.schema)
        scores = scorer(columns)
        scorer({n: v[:1] for n, v in columns.items()})
    assert scorer.path.startswith("generic: ") and "RobustScaler" in scorer.path, scorer.path
    said = [r.getMessage() for r in caplog.records if "scoring path" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("scoring path: generic"), said
    np.testing.assert_array_equal(scores, score_frame(model, test_split, params.schema))


def test_a_compiled_path_that_disagrees_on_the_probe_rows_is_not_used(
    pipeline_project: Path, params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compile-time check is the safety net for a model that looks familiar but is not: a compiled path
    that shifts the features by one part in a billion is refused, and the generic path serves."""
    model = load_model(pipeline_project / "models" / "model.skops")
    transform = fast_scoring._NumericBlock.transform

    def slightly_off(self: Any, columns: Any, rows: int) -> np.ndarray:
        return transform(self, columns, rows) * (1 + 1e-9)

    monkeypatch.setattr(fast_scoring._NumericBlock, "transform", slightly_off)
    with pytest.raises(fast_scoring.UnrecognisedModel, match="differ from the ColumnTransformer"):
        fast_scoring.compile_scorer(model, params.schema)
    scorer = column_scorer(model, params.schema)
    assert scorer.path.startswith("generic: ") and "differ" in scorer.path


def test_the_probe_rows_cover_every_category_an_unknown_one_and_gaps(pipeline_project: Path, params: Params) -> None:
    scorer = fast_scoring.compile_scorer(load_model(pipeline_project / "models" / "model.skops"), params.schema)
    probe = fast_scoring.probe_columns(scorer)
    for name in params.schema.names_of(ColumnType.CATEGORY):
        categories = set(params.schema.columns[name].categories or [])
        assert categories <= set(probe[name]) and None in probe[name]
        assert any(isinstance(v, str) and v not in categories and v != "__missing__" for v in probe[name])
    for name in params.schema.names_of(ColumnType.FLOAT, ColumnType.INT):
        assert None in probe[name] and any(v is not None and not math.isnan(v) for v in probe[name])
