"""The typed params: the shipped params.yaml loads, and every kind of mistake names the key and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from gitops_ml.config import ColumnType, ConfigError, Estimator, load_params, parse_params
from tests.support.fixture_project import FIXTURE_PARAMS

RAW = yaml.safe_load((FIXTURE_PARAMS).read_text())


def edited(**changes: object) -> dict:
    """A deep copy of params.yaml with dotted-path keys set (a value of ... deletes the key)."""
    raw = copy.deepcopy(RAW)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = raw
        for key in parents:
            node = node[key]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
    return raw


def error_of(raw: object) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    return str(info.value)


def test_shipped_params_load_with_their_types() -> None:
    params = load_params(FIXTURE_PARAMS)
    assert params.train.estimator is Estimator.HIST_GRADIENT_BOOSTING
    assert params.schema.target == "is_fraud"
    assert params.schema.columns["channel"].type is ColumnType.CATEGORY
    assert params.schema.feature_names[0] == "amount"
    assert params.gate.primary_metric == "average_precision"


def test_hyperparameters_follow_the_chosen_estimator() -> None:
    params = parse_params(edited(train__estimator="dummy"))
    assert params.train.hyperparameters == {"strategy": "prior", "regression_strategy": "mean"}


def test_the_sample_is_configured_only_while_the_data_is_the_sample() -> None:
    assert load_params(FIXTURE_PARAMS).data.sample.rows == 20_000
    assert parse_params(edited(data__sample=...)).data.sample is None
    assert "data.sample.rows" in error_of(edited(data__sample={"rows": 10}))
    assert "data.sample_rows: unknown key" in error_of(edited(data__sample_rows=20_000))


def test_the_target_and_the_data_path_have_no_default() -> None:
    assert "schema.target: required key is missing" in error_of(edited(schema__target=...))
    assert "data.path: required key is missing" in error_of(edited(data__path=...))


def test_an_estimators_hyperparameters_are_typed_from_the_registry() -> None:
    message = error_of(edited(train__random_forest={"n_estimators": 0, "max_dept": 3}))
    assert "train.random_forest.n_estimators" in message and "greater than or equal to 1" in message
    assert "train.random_forest.max_dept: unknown key" in message


def test_unknown_key_names_its_path() -> None:
    message = error_of(edited(train__estimater="dummy"))
    assert "train.estimater: unknown key" in message


def test_the_python_name_of_the_schema_section_is_not_a_key() -> None:
    raw = copy.deepcopy(RAW)
    raw["schema_"] = raw.pop("schema")
    message = error_of(raw)
    assert "schema_: unknown key" in message
    assert "schema: required key is missing" in message


def test_wrong_type_names_path_and_value() -> None:
    message = error_of(edited(train__seed="forty-two"))
    assert "train.seed" in message and "integer" in message and "'forty-two'" in message


def test_unknown_estimator_lists_the_choices() -> None:
    message = error_of(edited(train__estimator="catboost"))
    assert "train.estimator" in message and "logistic_regression" in message


def test_schema_errors_name_the_column() -> None:
    raw = edited()
    raw["schema"]["columns"]["hour"]["categories"] = ["a"]
    raw["schema"]["columns"]["amount"]["min"] = 10
    raw["schema"]["columns"]["amount"]["max"] = 1
    message = error_of(raw)
    assert "schema.columns.hour" in message and "only applies to 'category' columns" in message
    assert "schema.columns.amount" in message and "greater than max" in message


def test_category_without_categories_is_refused() -> None:
    raw = edited()
    del raw["schema"]["columns"]["channel"]["categories"]
    assert "schema.columns.channel" in error_of(raw)


def test_missing_schema_section_is_reported() -> None:
    assert "schema: required key is missing" in error_of(edited(schema=...))


def test_target_listed_as_feature_is_refused() -> None:
    raw = edited()
    raw["schema"]["columns"]["is_fraud"] = {"type": "int"}
    assert "must not also be listed" in error_of(raw)


def test_out_of_range_numbers_are_refused() -> None:
    message = error_of(edited(split__test_size=1.5))
    assert "split.test_size" in message and "less than 1" in message


def test_top_level_must_be_a_mapping() -> None:
    assert "expected a mapping" in error_of(["not", "a", "mapping"])


def test_missing_file_says_where_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; run from the repository root"):
        load_params(tmp_path / "params.yaml")


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)


def test_project_section_and_experiment_default_to_the_project_name() -> None:
    params = load_params(FIXTURE_PARAMS)
    assert params.project.name == "fraud-detection"
    assert (params.project.positive_label, params.project.negative_label) == ("fraud", "legit")
    assert params.project.intended_use and params.project.limitations and params.project.owner
    assert "experiment" not in RAW["tracking"]
    assert params.tracking.experiment == "fraud-detection"
    assert parse_params(edited(project__name="churn")).tracking.experiment == "churn"
    assert parse_params(edited(tracking__experiment="mine", project__name="churn")).tracking.experiment == "mine"
    without_project = parse_params(edited(project=...))
    assert without_project.project.name == without_project.tracking.experiment == "gitops-ml-model"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"project__name": "fraud detection"}, "project.name"),
        ({"project__name": "fraud-"}, "project.name"),  # the bento's name must end with a letter or digit
        ({"project__name": "f" * 64}, "project.name"),  # ... and have at most 63
        ({"project__negative_label": "fraud"}, "positive_label and negative_label are both 'fraud'"),
        ({"project__owner": ["a"]}, "project.owner"),
    ],
)
def test_project_mistakes_name_the_key(changes: dict, expected: str) -> None:
    assert expected in error_of(edited(**changes))


def test_ids_are_listed_and_must_not_double_as_features_target_or_prediction_fields() -> None:
    assert load_params(FIXTURE_PARAMS).schema.ids == ["transaction_id"]
    assert "must not also be a feature" in error_of(edited(schema__ids=["amount"]))
    assert "must not also be a feature" in error_of(edited(schema__ids=["is_fraud"]))
    assert "lists a column twice" in error_of(edited(schema__ids=["a", "a"]))
    assert "collide with the prediction's 'probability' field" in error_of(edited(schema__ids=["probability"]))
    assert parse_params(edited(schema__ids=...)).schema.ids == []


@pytest.mark.parametrize(
    ("positive", "negative", "ok"),
    [(1, 0, True), (True, False, True), ("yes", "no", True), (1, 1, False), ("1", 0, False), (True, 0, False)],
)
def test_target_classes_are_two_values_of_one_kind(positive: object, negative: object, ok: bool) -> None:
    raw = edited(schema__positive_class=positive, schema__negative_class=negative)
    if ok:
        schema = parse_params(raw).schema
        assert (schema.positive_class, schema.negative_class) == (positive, negative)
        assert type(schema.positive_class) is type(positive)
    else:
        assert "positive_class" in error_of(raw)


def test_target_rate_bounds_must_be_ordered() -> None:
    message = error_of(edited(schema__min_target_rate=0.3, schema__max_target_rate=0.2))
    assert "min_target_rate (0.3) is greater than max_target_rate (0.2)" in message


def test_monitor_thresholds_load_and_a_null_switches_one_off() -> None:
    params = parse_params(edited(monitor__thresholds__ks=None))
    assert params.monitor.thresholds.ks is None
    assert params.monitor.thresholds.psi == RAW["monitor"]["thresholds"]["psi"]
    assert params.monitor.min_window_rows == RAW["monitor"]["min_window_rows"]


def test_monitor_thresholds_must_be_positive() -> None:
    assert "monitor.thresholds.psi: Input should be greater than 0" in error_of(edited(monitor__thresholds__psi=0))
    assert "monitor.thresholds.kl: unknown key" in error_of(edited(monitor__thresholds__kl=0.1))
    assert "monitor.min_window_rows" in error_of(edited(monitor__min_window_rows=10))
