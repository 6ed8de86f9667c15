"""The service's metrics: every series exists from the start, and a model call is counted per record and label."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from gitops_ml.serving.log_writer import QUEUE_FULL, WRITE_ERROR
from gitops_ml.serving.metrics import ServiceMetrics, class_name


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    assert found is not None, f"{name}{labels} is not exposed"
    return found


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_every_series_is_exposed_at_zero_before_traffic(registry: CollectorRegistry) -> None:
    ServiceMetrics("model-v2", 0, 1, registry)
    assert value(registry, "gitops_ml_predictions_total", label="0", model_version="model-v2") == 0
    assert value(registry, "gitops_ml_predictions_total", label="1", model_version="model-v2") == 0
    assert value(registry, "gitops_ml_prediction_score_count", model_version="model-v2") == 0
    assert value(registry, "gitops_ml_model_call_records_count") == 0
    assert value(registry, "gitops_ml_batch_queue_wait_seconds_count") == 0
    assert value(registry, "gitops_ml_prediction_log_written_records_total") == 0
    for reason in (QUEUE_FULL, WRITE_ERROR):
        assert value(registry, "gitops_ml_prediction_log_dropped_records_total", reason=reason) == 0


def test_a_model_call_counts_records_scores_and_labels(registry: CollectorRegistry) -> None:
    metrics = ServiceMetrics("v", "no", "yes", registry)
    metrics.observe_model_call(np.array([0.01, 0.2, 0.5, 0.93, 0.97]), threshold=0.5)
    metrics.observe_model_call(np.array([0.04]), threshold=0.5)
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
    metrics = ServiceMetrics("v", 0, 1, registry)
    metrics.observe_queue_wait(0.003)
    metrics.count_logged(7)
    metrics.count_dropped(QUEUE_FULL, 4)
    metrics.count_dropped(WRITE_ERROR, 1)
    assert value(registry, "gitops_ml_batch_queue_wait_seconds_bucket", le="0.005") == 1
    assert value(registry, "gitops_ml_batch_queue_wait_seconds_bucket", le="0.0025") == 0
    assert value(registry, "gitops_ml_prediction_log_written_records_total") == 7
    assert value(registry, "gitops_ml_prediction_log_dropped_records_total", reason=QUEUE_FULL) == 4
    assert value(registry, "gitops_ml_prediction_log_dropped_records_total", reason=WRITE_ERROR) == 1


def test_class_names() -> None:
    assert [class_name(v) for v in (1, 0, True, False, "yes")] == ["1", "0", "true", "false", "yes"]
