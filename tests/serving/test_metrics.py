"""The service's metrics: every series exists from the start, a model call is counted per record and per predicted
label (classification) or value (regression), and only the task's own prediction series exist."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from gitops_ml.config import SchemaParams
from gitops_ml.serving.log_writer import QUEUE_FULL, WRITE_ERROR
from gitops_ml.serving.metrics import ServiceMetrics
from gitops_ml.serving.outputs import class_name
from gitops_ml.serving.prediction_metrics import SCORE_BUCKETS, TASK_METRICS, value_buckets
from gitops_ml.tasks import Task

COLUMNS = {"x": {"type": "float"}}


def schema(**contract: object) -> SchemaParams:
    return SchemaParams.model_validate({"target": "y", "columns": COLUMNS} | contract)


BINARY = schema()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    assert found is not None, f"{name}{labels} is not exposed"
    return found


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_every_series_is_exposed_at_zero_before_traffic(registry: CollectorRegistry) -> None:
    ServiceMetrics("model-v2", BINARY, 0.5, registry)
    assert value(registry, "gitops_ml_predictions_total", label="0", model_version="model-v2") == 0
    assert value(registry, "gitops_ml_predictions_total", label="1", model_version="model-v2") == 0
    assert value(registry, "gitops_ml_prediction_score_count", model_version="model-v2") == 0
    assert value(registry, "gitops_ml_model_call_records_count") == 0
    assert value(registry, "gitops_ml_batch_queue_wait_seconds_count") == 0
    assert value(registry, "gitops_ml_model_call_seconds_count") == 0
    assert value(registry, "gitops_ml_prediction_log_written_records_total") == 0
    for reason in (QUEUE_FULL, WRITE_ERROR):
        assert value(registry, "gitops_ml_prediction_log_dropped_records_total", reason=reason) == 0


def test_a_model_call_counts_records_scores_and_labels(registry: CollectorRegistry) -> None:
    metrics = ServiceMetrics("v", schema(positive_class="yes", negative_class="no"), 0.5, registry)
    metrics.observe_model_call(np.array([0.01, 0.2, 0.5, 0.93, 0.97]))
    metrics.observe_model_call(np.array([0.04]))
    assert value(registry, "gitops_ml_model_call_records_count") == 2
    assert value(registry, "gitops_ml_model_call_records_sum") == 6
    assert value(registry, "gitops_ml_predictions_total", label="yes", model_version="v") == 3
    assert value(registry, "gitops_ml_predictions_total", label="no", model_version="v") == 3
    assert value(registry, "gitops_ml_prediction_score_count", model_version="v") == 6
    assert value(registry, "gitops_ml_prediction_score_sum", model_version="v") == pytest.approx(2.65)
    assert value(registry, "gitops_ml_prediction_score_bucket", le="0.05", model_version="v") == 2
    assert value(registry, "gitops_ml_prediction_score_bucket", le="0.5", model_version="v") == 4
    assert value(registry, "gitops_ml_prediction_score_bucket", le="0.95", model_version="v") == 5


def test_queue_wait_and_log_counts(registry: CollectorRegistry) -> None:
    metrics = ServiceMetrics("v", BINARY, 0.5, registry)
    metrics.observe_queue_wait(0.003)
    metrics.count_logged(7)
    metrics.count_dropped(QUEUE_FULL, 4)
    metrics.count_dropped(WRITE_ERROR, 1)
    assert value(registry, "gitops_ml_batch_queue_wait_seconds_bucket", le="0.005") == 1
    assert value(registry, "gitops_ml_batch_queue_wait_seconds_bucket", le="0.0025") == 0
    assert value(registry, "gitops_ml_prediction_log_written_records_total") == 7
    assert value(registry, "gitops_ml_prediction_log_dropped_records_total", reason=QUEUE_FULL) == 4
    assert value(registry, "gitops_ml_prediction_log_dropped_records_total", reason=WRITE_ERROR) == 1


def test_a_model_call_time_is_counted_once_per_request_it_served(registry: CollectorRegistry) -> None:
    metrics = ServiceMetrics("v", BINARY, 0.5, registry)
    metrics.observe_call_time(0.0004, requests=3)  # one call that served three queued requests
    metrics.observe_call_time(0.02, requests=1)
    assert value(registry, "gitops_ml_model_call_seconds_count") == 4
    assert value(registry, "gitops_ml_model_call_seconds_sum") == pytest.approx(0.0212)
    assert value(registry, "gitops_ml_model_call_seconds_bucket", le="0.0005") == 3
    assert value(registry, "gitops_ml_model_call_seconds_bucket", le="0.01") == 3


def test_the_binary_threshold_decides_the_label(registry: CollectorRegistry) -> None:
    metrics = ServiceMetrics("v", BINARY, 0.9, registry)
    metrics.observe_model_call(np.array([0.5, 0.89, 0.9, 0.95]))
    assert value(registry, "gitops_ml_predictions_total", label="1", model_version="v") == 2
    assert value(registry, "gitops_ml_predictions_total", label="0", model_version="v") == 2


def test_multiclass_counts_records_per_predicted_class(registry: CollectorRegistry) -> None:
    metrics = ServiceMetrics("v", schema(task="multiclass", classes=["cat", "dog", "eel"]), 0.5, registry)
    for name in ("cat", "dog", "eel"):
        assert value(registry, "gitops_ml_predictions_total", label=name, model_version="v") == 0
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.4, 0.1, 0.5], [0.3, 0.3, 0.4]])
    metrics.observe_model_call(probabilities)
    counts = {name: value(registry, "gitops_ml_predictions_total", label=name, model_version="v") for name in
              ("cat", "dog", "eel")}  # fmt: skip
    assert counts == {"cat": 1, "dog": 1, "eel": 3}
    assert value(registry, "gitops_ml_model_call_records_sum") == 5
    with pytest.raises(ValueError, match=r"one probability per class \(3\), got shape \(5,\)"):
        metrics.observe_model_call(np.array([0.1] * 5))


def test_regression_observes_each_value_in_buckets_over_the_target_range(registry: CollectorRegistry) -> None:
    metrics = ServiceMetrics("v", schema(task="regression", target_min=0, target_max=200), 0.5, registry)
    assert value(registry, "gitops_ml_prediction_value_count", model_version="v") == 0
    metrics.observe_model_call(np.array([-5.0, 3.0, 10.0, 150.0, 250.0, np.nan]))
    assert value(registry, "gitops_ml_prediction_value_count", model_version="v") == 5  # the NaN is left out
    assert value(registry, "gitops_ml_prediction_value_sum", model_version="v") == pytest.approx(408.0)
    assert value(registry, "gitops_ml_prediction_value_bucket", le="0.0", model_version="v") == 1
    assert value(registry, "gitops_ml_prediction_value_bucket", le="10.0", model_version="v") == 3
    assert value(registry, "gitops_ml_prediction_value_bucket", le="200.0", model_version="v") == 4
    assert value(registry, "gitops_ml_prediction_value_bucket", le="+Inf", model_version="v") == 5


@pytest.mark.parametrize(
    ("task", "contract"),
    [
        (Task.BINARY, {}),
        (Task.MULTICLASS, {"task": "multiclass", "classes": [1, 2, 3]}),
        (Task.REGRESSION, {"task": "regression"}),
    ],
)
def test_only_the_tasks_own_prediction_series_exist(task: Task, contract: dict[str, object]) -> None:
    registry = CollectorRegistry()
    ServiceMetrics("v", schema(**contract), 0.5, registry)
    names = {family.name for family in registry.collect()}
    every = {name for names_of_task in TASK_METRICS.values() for name in names_of_task}
    assert names & every == set(TASK_METRICS[task])


def test_value_buckets_follow_the_target_range_or_a_1_2_5_series() -> None:
    assert value_buckets(0, 1) == tuple(round(0.05 * i, 2) for i in range(21))
    assert value_buckets(-1, 1)[:3] == (-1.0, -0.9, -0.8) and len(value_buckets(-1, 1)) == 21
    open_ended = value_buckets(None, None)
    assert open_ended[0] == -5_000_000 and open_ended[-1] == 5_000_000 and 0.0 in open_ended
    assert {0.01, 0.02, 0.05, 1.0, 2.0, 5.0} <= set(open_ended)
    assert value_buckets(0, None)[0] == 0.0 and all(b >= 0 for b in value_buckets(0, None))
    assert all(b <= 100 for b in value_buckets(None, 100)) and value_buckets(None, 100)[-1] == 100
    assert value_buckets(3, 3) == (3.0,)  # a range of one value: one bucket, never an empty histogram


def test_class_names() -> None:
    assert [class_name(v) for v in (1, 0, True, False, "yes")] == ["1", "0", "true", "false", "yes"]


def histogram_samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_bulk_observation_gives_the_same_histogram_as_one_by_one(size: int) -> None:
    from prometheus_client import Histogram

    from gitops_ml.adapters.prometheus_histogram import observe_many

    values = np.random.default_rng(size).random(size)
    values[: size // 2] = np.round(values[: size // 2], 2)  # values on bucket bounds land in that bucket
    bulk, single = CollectorRegistry(), CollectorRegistry()
    observe_many(Histogram("h", "h", buckets=SCORE_BUCKETS, registry=bulk), values)
    one_by_one = Histogram("h", "h", buckets=SCORE_BUCKETS, registry=single)
    for value in values:
        one_by_one.observe(float(value))
    got, want = histogram_samples(bulk), histogram_samples(single)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key


def test_bulk_observation_falls_back_to_observe() -> None:
    from gitops_ml.adapters.prometheus_histogram import observe_many

    class Plain:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def observe(self, value: float) -> None:
            self.seen.append(value)

    plain = Plain()
    observe_many(plain, np.array([0.25, 0.5]))  # type: ignore[arg-type]
    assert plain.seen == [0.25, 0.5]
