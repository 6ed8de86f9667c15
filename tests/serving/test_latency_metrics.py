"""The service reports where a request's time goes (queue wait, model call) on /metrics, and logs its scoring path."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gitops_ml.config import Params
from tests.support.serving import Server, to_records

pytestmark = pytest.mark.slow
HISTOGRAMS = ("gitops_ml_batch_queue_wait_seconds", "gitops_ml_model_call_seconds")


def histogram_totals(text: str, name: str) -> tuple[float, float]:
    """(count, sum) of the histogram ``name`` in a Prometheus text exposition, over all its label sets."""
    count = total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_count":
                count += sample.value
            elif sample.name == f"{name}_sum":
                total += sample.value
    return count, total


def test_each_request_is_counted_in_the_queue_wait_and_model_call_histograms(
    server: Server, project_params: Params, test_rows: pd.DataFrame
) -> None:
    def totals() -> dict[str, tuple[float, float]]:
        text = httpx.get(f"{server.url}/metrics", timeout=30).text
        return {name: histogram_totals(text, name) for name in HISTOGRAMS}

    before = totals()
    records = to_records(test_rows.iloc[:7], project_params.schema)
    for start in range(0, 7, 2):  # 4 requests: 2 + 2 + 2 + 1 records
        response = httpx.post(f"{server.url}/predict", json={"records": records[start : start + 2]}, timeout=60)
        assert response.status_code == 200, response.text
    after = totals()
    for name in before:
        counted = after[name][0] - before[name][0]
        assert counted == 4, f"{name}: {counted} observations for 4 requests"
    assert after["gitops_ml_model_call_seconds"][1] > before["gitops_ml_model_call_seconds"][1]


def test_the_log_says_which_scoring_path_serves(server: Server) -> None:
    assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200
    log = server.log.read_text()
    assert log.count("scoring path: fast:") == 1, log[-3000:]
