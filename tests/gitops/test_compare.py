"""Params/data diffs and metric verdicts of gitops.compare, on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from gitops_ml.config import BootstrapParams, GateParams, SchemaParams
from gitops_ml.errors import CompareError
from gitops_ml.gitops.compare import (
    Side,
    base_contract_changes,
    compare_metrics,
    data_diff,
    data_facts,
    improvement_lower_bound,
    merge_verdict,
    params_diff,
)
from gitops_ml.model_metrics import Outcome, compute_metrics
from gitops_ml.tasks import Task

BOOT = BootstrapParams(n_resamples=100, confidence=0.95, seed=0)


def test_params_diff_lists_changed_keys_only():
    base = {"train": {"lr": 0.1, "depth": 3}, "split": {"seed": 1}, "old": 1}
    head = {"train": {"lr": 0.05, "depth": 3}, "split": {"seed": 1}, "new": [1, 2]}
    assert params_diff(base, head) == [
        {"key": "new", "base": None, "head": "[1, 2]"},
        {"key": "old", "base": "1", "head": None},
        {"key": "train.lr", "base": "0.1", "head": "0.05"},
    ]
    assert params_diff(base, base) == []


def test_params_diff_sees_a_type_change():
    assert params_diff({"a": 1}, {"a": 1.0}) == [{"key": "a", "base": "1", "head": "1.0"}]


def _summary(md5="0" * 32, rows=100, positives=5, columns=None):
    return {
        "md5": md5,
        "rows": rows,
        "positives": positives,
        "positive_rate": positives / rows,
        "columns": columns or {"amount": "float", "hour": "int"},
    }


def test_data_diff_unchanged_and_changed():
    assert data_diff(_summary(), _summary())["changed"] is False
    diff = data_diff(_summary(), _summary("1" * 32, 120, 9, {"amount": "int", "city": "category"}))
    assert diff["changed"] is True
    assert diff["base"]["rows"] == 100
    assert diff["head"]["rows"] == 120
    assert diff["columns_added"] == ["city"]
    assert diff["columns_removed"] == ["hour"]
    assert diff["type_changes"] == [{"column": "amount", "base": "float", "head": "int"}]


def test_data_facts_follow_the_task_and_count_the_unlabelled_rows():
    old = _summary()  # written before tasks: no task, no unlabelled rows
    assert data_facts(old) == {"task": "binary", "md5": "0" * 32, "rows": 100, "unlabelled_rows": None,
                               "positives": 5, "positive_rate": 0.05}  # fmt: skip
    multiclass = {"md5": "1" * 32, "rows": 9, "unlabelled_rows": 2, "task": "multiclass",
                  "class_rows": {"sunny": 4, "rain": 3, "1": 2}}  # fmt: skip
    assert data_facts(multiclass)["class_rows"] == {"sunny": 4, "rain": 3, "1": 2}
    regression = {"md5": "2" * 32, "rows": 9, "unlabelled_rows": 0, "task": "regression",
                  "target_min": 1, "target_mean": 2.5, "target_max": 4}  # fmt: skip
    facts = data_facts(regression)
    assert (facts["target_min"], facts["target_mean"], facts["target_max"]) == (1.0, 2.5, 4.0)
    assert facts["unlabelled_rows"] == 0


@pytest.mark.parametrize(
    ("summary", "named"),
    [
        ({"md5": "1" * 32, "rows": 9, "task": "multiclass"}, "'class_rows'"),
        ({"md5": "1" * 32, "rows": 9, "task": "regression", "target_min": 1, "target_max": 2}, "'target_mean'"),
        ({"md5": "1" * 32, "rows": 9, "task": "ranking"}, "'ranking'"),
        ({"md5": "1" * 32, "rows": "many", "positives": 1, "positive_rate": 0.1}, "'many'"),
    ],
)
def test_an_unreadable_data_summary_is_named(summary, named):
    with pytest.raises(CompareError, match=f"reports/data_summary.json of task .* not readable .*{named}"):
        data_diff(None, summary)


def test_unlabelled_rows_the_base_did_not_count_are_no_change_but_new_ones_are():
    counted = _summary() | {"task": "binary", "unlabelled_rows": 3}
    assert data_diff(_summary(), counted)["changed"] is False  # same data: the base's summary did not count them
    assert data_diff(counted, counted | {"unlabelled_rows": 4})["changed"] is True
    regression = {"md5": "0" * 32, "rows": 100, "unlabelled_rows": 3, "task": "regression", "target_min": 0,
                  "target_mean": 1, "target_max": 2, "columns": counted["columns"]}  # fmt: skip
    diff = data_diff(counted, regression)
    assert diff["changed"] is True  # another task
    assert (diff["base"]["task"], diff["head"]["task"]) == ("binary", "regression")


def _side(labels, scores, test_set_id="t", ci=None, task=Task.BINARY):
    outcome = Outcome.of(task, labels, scores, 0.5)
    metrics = compute_metrics(outcome) | ({"threshold": 0.5} if task is Task.BINARY else {})
    return Side(metrics=metrics, intervals=ci or {}, outcome=outcome, test_set_id=test_set_id)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    labels = (rng.random(600) < 0.2).astype(np.int64)
    noise = rng.normal(0, 1, 600)
    weak = 1 / (1 + np.exp(-(0.3 * labels + noise)))
    strong = 1 / (1 + np.exp(-(4.0 * labels - 2 + 0.5 * noise)))
    return labels, weak, strong


def test_identical_models_are_unchanged_everywhere(data):
    labels, weak, _ = data
    rows, paired = compare_metrics(_side(labels, weak), _side(labels, weak.copy()), BOOT)
    assert paired
    assert {r["verdict"] for r in rows} == {"unchanged"}
    assert all(r["delta"] == 0 for r in rows)


def test_a_much_better_model_is_better_and_log_loss_direction_is_known(data):
    labels, weak, strong = data
    rows, paired = compare_metrics(_side(labels, weak), _side(labels, strong), BOOT)
    by_name = {r["name"]: r for r in rows}
    assert paired
    assert by_name["roc_auc"]["verdict"] == "better"
    assert by_name["roc_auc"]["low"] > 0
    assert by_name["log_loss"]["delta"] < 0
    assert by_name["log_loss"]["verdict"] == "better"  # lower is better
    reverse, _ = compare_metrics(_side(labels, strong), _side(labels, weak), BOOT)
    assert {r["name"]: r["verdict"] for r in reverse}["roc_auc"] == "worse"
    assert {r["name"]: r["verdict"] for r in reverse}["log_loss"] == "worse"


def test_a_tiny_change_is_within_noise(data):
    labels, weak, _ = data
    nudged = np.clip(weak + np.random.default_rng(2).normal(0, 0.002, len(weak)), 0, 1)
    rows, _ = compare_metrics(_side(labels, weak), _side(labels, nudged), BOOT)
    auc = next(r for r in rows if r["name"] == "roc_auc")
    assert auc["delta"] != 0
    assert auc["verdict"] == "unchanged"


def test_different_test_sets_compare_unpaired_intervals(data):
    labels, weak, strong = data
    wide = {name: {"low": 0.0, "high": 1.0} for name in ("roc_auc",)}
    narrow_apart = ({"roc_auc": {"low": 0.5, "high": 0.55}}, {"roc_auc": {"low": 0.9, "high": 0.95}})
    rows, paired = compare_metrics(_side(labels, weak, "a", wide), _side(labels, strong, "b", wide), BOOT)
    assert not paired
    assert next(r for r in rows if r["name"] == "roc_auc")["verdict"] == "unchanged"  # intervals overlap
    assert improvement_lower_bound(rows, "roc_auc") is None
    rows, _ = compare_metrics(
        _side(labels, weak, "a", narrow_apart[0]), _side(labels, strong, "b", narrow_apart[1]), BOOT
    )
    assert next(r for r in rows if r["name"] == "roc_auc")["verdict"] == "better"


def test_merge_verdict_uses_the_gate(data):
    labels, weak, strong = data
    base, head = _side(labels, weak), _side(labels, strong)
    rows, _ = compare_metrics(base, head, BOOT)
    rules = GateParams(floors={}, guards={}, require_significant=True)
    lower = improvement_lower_bound(rows, rules.primary_metric)
    assert lower is not None and lower > 0
    assert merge_verdict(head.metrics, base.metrics, rules, lower).release is True
    assert merge_verdict(base.metrics, head.metrics, rules, -lower).release is False
    assert merge_verdict(head.metrics, head.metrics, rules, 0.0).release is False  # a tie never releases


def test_a_changed_contract_is_named_and_judged_on_the_floors(data):
    labels, weak, strong = data
    base, head = _side(labels, weak), _side(labels, strong)
    head_schema = SchemaParams.model_validate({"target": "y", "columns": {"a": {"type": "float"}}})
    base_params = {"schema": {"target": "y", "columns": {"a": {"type": "float"}, "b": {"type": "int"}}}}
    changes = base_contract_changes(base_params, head_schema)
    assert changes == ["column `b` removed"]
    rules = GateParams(floors={"roc_auc": 0.5}, guards={})
    # the weaker head would not release against the base; on a new contract only the floors apply
    assert merge_verdict(base.metrics, head.metrics, rules, None).release is False
    verdict = merge_verdict(base.metrics, head.metrics, rules, None, changes)
    assert verdict.release is True
    assert "new model line: the data contract changed since the base (column `b` removed)" in verdict.reasons[-1]
    assert base_contract_changes({"schema": "broken"}, head_schema) == [
        "the base's contract (schema in its params.yaml) cannot be read by this version"
    ]


def test_lower_is_better_metrics_of_regression_and_multiclass_get_the_right_verdicts():
    rng = np.random.default_rng(3)
    y = rng.normal(20, 5, 500)
    close, far = y + rng.normal(0, 1, 500), y + rng.normal(0, 4, 500)
    rows, paired = compare_metrics(_side(y, far, task=Task.REGRESSION), _side(y, close, task=Task.REGRESSION), BOOT)
    verdicts = {r["name"]: (r["delta"], r["higher_is_better"], r["verdict"]) for r in rows}
    assert paired
    for name in ("rmse", "mae", "median_absolute_error", "mape"):
        delta, up, verdict = verdicts[name]
        assert delta < 0 and not up and verdict == "better", name
    assert verdicts["r2"][0] > 0 and verdicts["r2"][1:] == (True, "better")
    reverse, _ = compare_metrics(_side(y, close, task=Task.REGRESSION), _side(y, far, task=Task.REGRESSION), BOOT)
    assert {r["name"]: r["verdict"] for r in reverse}["rmse"] == "worse"

    labels = rng.integers(0, 3, 600)
    sharp = np.full((600, 3), 0.1)
    sharp[np.arange(600), labels] = 0.8
    rows, _ = compare_metrics(
        _side(labels, np.full((600, 3), 1 / 3), task=Task.MULTICLASS), _side(labels, sharp, task=Task.MULTICLASS), BOOT
    )
    log_loss = next(r for r in rows if r["name"] == "log_loss")
    assert log_loss["delta"] < 0 and log_loss["higher_is_better"] is False and log_loss["verdict"] == "better"
