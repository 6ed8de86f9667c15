"""The Grafana dashboard: valid panels whose queries use only metrics the service defines, and the kustomize
Component that provisions it as a ConfigMap for Grafana's dashboard sidecar.

That the live service really serves every one of these names is checked in tests/serving/test_monitoring_http.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry

from gitops_ml.config import SchemaParams
from gitops_ml.serving.metrics import ServiceMetrics
from gitops_ml.serving.prediction_metrics import TASK_METRICS
from gitops_ml.tasks import Task
from tests.support.fixture_project import ROOT
from tests.support.projects import VENV_BIN
from tests.support.promql import dashboard_metric_names, dashboard_queries

DASHBOARD = ROOT / "deploy" / "grafana" / "gitops-ml-dashboard.json"
COMPONENT = ROOT / "deploy" / "components" / "grafana-dashboard"
CONTRACTS = {
    Task.BINARY: {},
    Task.MULTICLASS: {"task": "multiclass", "classes": ["a", "b", "c"]},
    Task.REGRESSION: {"task": "regression", "target_min": 0, "target_max": 1},
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found += [panel, *panel.get("panels", [])]
    return found


def test_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert 'job=~"$job"' in target["expr"], (panel["title"], target["expr"])


def test_the_dashboard_covers_what_the_service_is_watched_for(dashboard: dict[str, Any]) -> None:
    titles = " ".join(panel["title"].lower() for panel in panels(dashboard))
    for topic in ("requests", "latency", "error", "score", "label", "value", "per model call", "queue wait", "dropped"):
        assert topic in titles, topic


def defined_by(task: Task) -> set[str]:
    """The sample names the service's metrics have for a model of ``task``."""
    registry = CollectorRegistry()
    contract = {"target": "y", "columns": {"x": {"type": "float"}}} | CONTRACTS[task]
    ServiceMetrics("v", SchemaParams.model_validate(contract), 0.5, registry)
    return {sample.name for family in registry.collect() for sample in family.samples}


def test_every_queried_metric_is_defined_by_the_service(dashboard: dict[str, Any]) -> None:
    defined = {task: defined_by(task) for task in Task}
    used = dashboard_metric_names(dashboard)
    assert used, "no metric names found in the dashboard's queries"
    ours = {name for name in used if name.startswith("gitops_ml_")}
    assert ours <= set.union(*defined.values()), sorted(ours - set.union(*defined.values()))
    assert used == ours, sorted(used - ours)  # /predict's request series are the service's too (RequestMetrics)
    for task in Task:  # each task's own prediction series are on the dashboard
        own = {name for name in defined[task] if name.startswith(TASK_METRICS[task])}
        assert own & ours, (task, sorted(own))
    assert all(dashboard_metric_names({"panels": [{"targets": [{"expr": q}]}]}) for q in dashboard_queries(dashboard))


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(VENV_BIN / "kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"KUBECONFIG": os.devnull},
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_the_component_makes_a_configmap_for_the_grafana_sidecar(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": "monitoring-test",
                "components": [os.path.relpath(COMPONENT, overlay)],
            }
        )
    )
    (configmap,) = kustomize(overlay)
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["name"] == "gitops-ml-dashboard"
    assert configmap["metadata"]["namespace"] == "monitoring-test"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["gitops-ml-dashboard.json"]) == json.loads(DASHBOARD.read_text())
    kubernetes_validate.validate(configmap, kubernetes_validate.latest_version(), strict=True)
    assert len(DASHBOARD.read_bytes()) < 256 * 1024  # fits kubectl apply's last-applied annotation


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_each_overlay_provisions_the_dashboard(environment: str) -> None:
    rendered = kustomize(ROOT / "deploy" / "overlays" / environment)
    configmaps = [d for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "gitops-ml-dashboard"]
    assert len(configmaps) == 1, f"deploy/overlays/{environment} does not include components/grafana-dashboard"
    assert json.loads(configmaps[0]["data"]["gitops-ml-dashboard.json"]) == json.loads(DASHBOARD.read_text())
