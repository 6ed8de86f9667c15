"""The metric names a Grafana dashboard's PromQL queries use, and the names a ``/metrics`` page serves.

No PromQL parser is packaged for Python, so :func:`metric_names` reduces a query to its identifiers: string
literals, label matchers ``{...}``, range and subquery selectors ``[...]``, grouping label lists (``by (...)``,
``on (...)``...) and Grafana variables go first; of the identifiers left, those followed by ``(`` are functions
or aggregations, and PromQL's keywords are dropped. What remains are metric names, which in a dashboard are the
exposed series names (``..._bucket``, ``..._sum``, ``..._count``, ``..._total``), compared as such with the
sample names of a ``/metrics`` page (:func:`served_names`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
)
KEYWORDS |= {"inf", "nan", "start", "end"}  # literals and the @ modifier's start()/end() (also caught as calls)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{[^}]*\})?\s*,")
_QUERY_RESULT = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.DOTALL)


def metric_names(query: str) -> set[str]:
    """Metric names used by one PromQL query."""
    text = _STRING.sub(" ", query)
    text = _VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {name for name, call in _IDENTIFIER.findall(text) if not call and name.lower() not in KEYWORDS}


def variable_metric_names(query: str) -> set[str]:
    """Metric names used by a Grafana template variable's query (``label_values(metric, label)``, PromQL...)."""
    if match := _LABEL_VALUES.match(query):
        return {match.group(1)}
    if match := _QUERY_RESULT.match(query):
        return metric_names(match.group(1))
    if re.match(r"^\s*(label_values|label_names|metrics)\s*\(", query):  # label_values(label): no metric
        return set()
    return metric_names(query)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows hold their panels


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every panel target's ``expr`` in a dashboard (rows included)."""
    return [
        target["expr"]
        for panel in _panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def dashboard_metric_names(dashboard: dict[str, Any]) -> set[str]:
    """Metric names of every panel query and every template variable query of a dashboard."""
    names = {name for query in dashboard_queries(dashboard) for name in metric_names(query)}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        names |= variable_metric_names(text)
    return names


def served_names(exposition: str) -> set[str]:
    """Sample names on a ``/metrics`` page (``x_bucket``, ``x_sum``, ``x_count``, ``y_total``...)."""
    return {sample.name for family in text_string_to_metric_families(exposition) for sample in family.samples}
