"""The scale-out manifests: ARC runners for the training jobs (deploy/runners) and a Dask cluster (deploy/dask).

Both are rendered and validated by ``make deploy-check`` like the rest (their custom resources against the schemas
derived from the ARC and Dask operator CRDs); these tests check what the schemas cannot: the pods meet the
restricted Pod Security Standard their namespaces enforce, the pieces name each other consistently, and the
documented scheduler address is the one the manifests produce.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from gitops_ml.deploy.render import RenderedObject, render
from gitops_ml.deploy.schemas import validate_object
from tests.deploy.conftest import DEPLOY, SCHEMAS
from tests.support.projects import ROOT

DOCS = ROOT / "docs" / "scale-out.md"
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def _by_kind(directory: Path) -> dict[str, list[RenderedObject]]:
    found: dict[str, list[RenderedObject]] = {}
    for obj in render(directory, root=ROOT):
        found.setdefault(obj.kind, []).append(obj)
    return found


@pytest.fixture(scope="module")
def runners() -> dict[str, list[RenderedObject]]:
    return _by_kind(DEPLOY / "runners")


@pytest.fixture(scope="module")
def dask() -> dict[str, list[RenderedObject]]:
    return _by_kind(DEPLOY / "dask")


def _one(objects: dict[str, list[RenderedObject]], kind: str) -> RenderedObject:
    (obj,) = objects[kind]
    return obj


def _changed(obj: RenderedObject, change) -> RenderedObject:
    manifest = copy.deepcopy(obj.manifest)
    change(manifest)
    return RenderedObject(manifest, obj.source)


def _pod_specs(objects: dict[str, list[RenderedObject]]) -> dict[str, dict[str, Any]]:
    """Every pod template of the custom resources: runner, Dask scheduler, Dask worker."""
    specs = {}
    for runner_set in objects.get("AutoscalingRunnerSet", []):
        specs["runner"] = runner_set.manifest["spec"]["template"]["spec"]
    for cluster in objects.get("DaskCluster", []):
        specs["scheduler"] = cluster.manifest["spec"]["scheduler"]["spec"]
        specs["worker"] = cluster.manifest["spec"]["worker"]["spec"]
    return specs


def _restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What the restricted Pod Security Standard would refuse in ``pod`` (the fields these manifests set)."""
    problems = []
    pod_context = pod.get("securityContext", {})
    for container in pod["containers"]:
        name, context = container["name"], container.get("securityContext", {})
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot not set")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities not dropped")
        seccomp = context.get("seccompProfile") or pod_context.get("seccompProfile") or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: no seccomp profile")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
    problems += [f"volume {v['name']}: hostPath" for v in pod.get("volumes", []) if "hostPath" in v]
    return problems


def test_both_render_and_validate_against_their_schemas(runners, dask):
    for objects in (runners, dask):
        for objs in objects.values():
            for obj in objs:
                assert validate_object(obj, SCHEMAS) == [], obj.describe()
    assert {"Namespace", "ServiceAccount", "Role", "RoleBinding", "AutoscalingRunnerSet"} <= set(runners)
    assert {"Namespace", "DaskCluster", "NetworkPolicy"} <= set(dask)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["spec"].update(maxRunners="three"), "spec.maxRunners: 'three' is not of type 'integer'"),
        (
            lambda m: m["spec"]["template"]["spec"]["containers"][0].update(imagee="x"),
            "spec.template.spec.containers[0]: Additional properties are not allowed ('imagee'",
        ),
        (lambda m: m["spec"].update(minRunners=-1), "spec.minRunners: -1 is less than the minimum of 0"),
        (lambda m: m["spec"].update(runnerScaleSetLabels="gpu"), "spec.runnerScaleSetLabels: 'gpu' is not of type"),
    ],
)
def test_a_broken_runner_scale_set_is_named(runners, change, message):
    problems = validate_object(_changed(_one(runners, "AutoscalingRunnerSet"), change), SCHEMAS)
    assert any(p.startswith(message) for p in problems), problems


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["spec"]["worker"].update(replicas="two"), "spec.worker.replicas: 'two' is not of type 'integer'"),
        (
            lambda m: m["spec"]["scheduler"]["service"].update(portz=[]),
            "spec.scheduler.service: Additional properties are not allowed ('portz'",
        ),
        (lambda m: m["spec"]["worker"].pop("spec"), "spec.worker: 'spec' is a required property"),
        (lambda m: m.update(spce={}), "spce: unknown top-level field"),
    ],
)
def test_a_broken_dask_cluster_is_named(dask, change, message):
    problems = validate_object(_changed(_one(dask, "DaskCluster"), change), SCHEMAS)
    assert any(p.startswith(message) for p in problems), problems


@pytest.mark.parametrize("which", ["runners", "dask"])
def test_every_pod_meets_the_restricted_standard_its_namespace_enforces(request, which):
    objects = request.getfixturevalue(which)
    namespace = _one(objects, "Namespace").manifest["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = _pod_specs(objects)
    assert pods
    for name, pod in pods.items():
        assert _restricted_violations(pod) == [], name
        assert pod.get("automountServiceAccountToken") is False, name


def test_a_pod_the_standard_refuses_is_noticed(runners):
    pod = copy.deepcopy(_pod_specs(runners)["runner"])
    pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    pod["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}})
    assert _restricted_violations(pod) == ["runner: allowPrivilegeEscalation is not false", "volume docker: hostPath"]


def test_the_runner_scale_set_is_wired_to_its_service_account_and_the_controller(runners):
    runner_set = _one(runners, "AutoscalingRunnerSet").manifest
    # the ARC controller deletes a scale set whose version label is missing or of another minor version
    assert SEMVER.match(runner_set["metadata"]["labels"]["app.kubernetes.io/version"])
    label = runner_set["spec"]["runnerScaleSetName"]  # what runs-on names: the docs say to set TRAIN_RUNS_ON to it
    assert label == runner_set["metadata"]["name"]
    assert f"`TRAIN_RUNS_ON` to `{label}`" in DOCS.read_text(encoding="utf-8")
    service_accounts = {o.name for o in runners["ServiceAccount"]}
    assert runner_set["spec"]["template"]["spec"]["serviceAccountName"] in service_accounts
    binding = _one(runners, "RoleBinding").manifest
    assert binding["roleRef"]["name"] == _one(runners, "Role").name
    (subject,) = binding["subjects"]
    assert subject["kind"] == "ServiceAccount" and subject["namespace"] != runner_set["metadata"]["namespace"]


def test_one_image_for_the_scheduler_and_the_workers(dask):
    pods = _pod_specs(dask)
    images = {c["image"] for pod in pods.values() for c in pod["containers"]}
    assert len(images) == 1, images


def test_the_dask_network_policy_admits_the_runners_and_covers_the_cluster(runners, dask):
    cluster = _one(dask, "DaskCluster")
    policy = _one(dask, "NetworkPolicy").manifest["spec"]
    assert policy["podSelector"]["matchLabels"] == {"dask.org/cluster-name": cluster.name}
    runner_namespace = _one(runners, "Namespace").name
    admitted = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]: {p["port"] for p in rule["ports"]}
        for rule in policy["ingress"]
        for peer in rule["from"]
        if "namespaceSelector" in peer
    }
    scheduler_port = next(
        p["port"] for p in cluster.manifest["spec"]["scheduler"]["service"]["ports"] if p["name"] == "tcp-comm"
    )
    worker_args = cluster.manifest["spec"]["worker"]["spec"]["containers"][0]["args"]
    worker_port = int(worker_args[worker_args.index("--worker-port") + 1])
    assert admitted == {runner_namespace: {scheduler_port, worker_port}}


def test_the_documented_scheduler_address_is_the_one_the_operator_creates(dask):
    cluster = _one(dask, "DaskCluster")
    port = next(p["port"] for p in cluster.manifest["spec"]["scheduler"]["service"]["ports"] if p["name"] == "tcp-comm")
    # the operator names the scheduler's Service <cluster>-scheduler (dask-kubernetes controller.py)
    address = f"tcp://{cluster.name}-scheduler.{cluster.namespace}.svc.cluster.local:{port}"
    assert address in DOCS.read_text(encoding="utf-8")
    assert address in (DEPLOY / "dask" / "kustomization.yaml").read_text(encoding="utf-8")
