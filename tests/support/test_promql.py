"""The PromQL name extraction the dashboard test relies on: metric names in, functions and keywords out."""

from __future__ import annotations

import pytest

from tests.support.promql import dashboard_metric_names, metric_names, served_names, variable_metric_names

CASES = {
    "plain rate": ('rate(http_requests_total{job="api"}[5m])', {"http_requests_total"}),
    "quantile over a histogram": (
        'histogram_quantile(0.99, sum by (le) (rate(req_seconds_bucket{code=~"5..", path="/x{y}"}[$__rate_interval])))',
        {"req_seconds_bucket"},
    ),
    "division with vector matching": (
        "sum by (label) (rate(a_total[1m])) / ignoring(label) group_left sum(rate(b_total[1m]))",
        {"a_total", "b_total"},
    ),
    "keywords, offsets and numbers": (
        "x_sum / x_count > bool 0.5 and on (job) up offset 5m or vector(1e3) unless y",
        {"x_sum", "x_count", "up", "y"},
    ),
    "subquery and grouping after the call": (
        "max_over_time(sum(rate(c_total[5m])) without (instance)[1h:5m])",
        {"c_total"},
    ),
    "names with colons and variables": ('job:requests:rate5m{job=~"$job"} * ${factor}', {"job:requests:rate5m"}),
    "label names inside strings are not metrics": ('count(d{le="0.5", name="not_a_metric"})', {"d"}),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_metric_names_keeps_only_metric_names(case: str) -> None:
    query, expected = CASES[case]
    assert metric_names(query) == expected


def test_template_variable_queries() -> None:
    assert variable_metric_names("label_values(gitops_ml_predict_requests_total, job)") == {
        "gitops_ml_predict_requests_total"
    }
    assert variable_metric_names("label_values(job)") == set()
    assert variable_metric_names("query_result(topk(5, sum by (job) (rate(a_total[5m]))))") == {"a_total"}
    assert variable_metric_names("metrics(gitops_.*)") == set()


def test_dashboard_names_include_nested_rows_and_variables() -> None:
    dashboard = {
        "panels": [
            {"targets": [{"expr": "rate(a_total[5m])"}]},
            {"type": "row", "panels": [{"targets": [{"expr": "b_bucket"}, {"refId": "B"}]}]},
        ],
        "templating": {
            "list": [
                {"type": "query", "query": {"query": "label_values(c_total, job)"}},
                {"type": "datasource", "query": "prometheus"},
            ]
        },
    }
    assert dashboard_metric_names(dashboard) == {"a_total", "b_bucket", "c_total"}


def test_served_names_are_the_sample_names() -> None:
    exposition = (
        "# HELP h A histogram.\n# TYPE h histogram\n"
        'h_bucket{le="1.0"} 1.0\nh_bucket{le="+Inf"} 1.0\nh_sum 0.5\nh_count 1.0\n'
        "# HELP c A counter.\n# TYPE c counter\nc_total 3.0\n"
    )
    assert served_names(exposition) == {"h_bucket", "h_sum", "h_count", "c_total"}
