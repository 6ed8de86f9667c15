"""The policy rules hold for every overlay of the template, and each rule catches the breach it is there for."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_ml.deploy.overlay import VERSION_LABEL, environments, overlay_dir
from gitops_ml.deploy.policy import RULES, Overlay, _selects, check_overlay
from gitops_ml.deploy.render import RenderedObject, render
from tests.deploy.conftest import DEPLOY
from tests.support.projects import ROOT

STAGING = DEPLOY / "overlays" / "staging"


@pytest.fixture(scope="module")
def staging() -> Overlay:
    return Overlay(STAGING, render(STAGING, root=ROOT))


@pytest.mark.parametrize("environment", environments(ROOT))
def test_every_overlay_of_the_template_follows_every_rule(environment: str):
    directory = overlay_dir(environment, ROOT)
    assert check_overlay(Overlay(directory, render(directory, root=ROOT))) == []


def _first(overlay: Overlay, kind: str) -> dict:
    return next(o.manifest for o in overlay.objects if o.kind == kind)


def _container(overlay: Overlay) -> dict:
    return _first(overlay, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def _pod(overlay: Overlay) -> dict:
    return _first(overlay, "Deployment")["spec"]["template"]["spec"]


def _env(overlay: Overlay, name: str) -> dict:
    return next(e for e in _container(overlay)["env"] if e["name"] == name)


def _drop(kind: str) -> Callable[[Overlay], None]:
    def change(overlay: Overlay) -> None:
        overlay.objects[:] = [o for o in overlay.objects if o.kind != kind]

    return change


def _add_secret(overlay: Overlay) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak"}, "stringData": {"tokens": "x"}}
    overlay.objects.append(RenderedObject(secret, "deploy/overlays/staging/secret.yaml"))


# rule name -> (what is broken, how, a fragment of the finding)
BREACHES: list[tuple[str, str, Callable[[Overlay], object], str]] = [
    ("probes", "no liveness probe", lambda o: _container(o).pop("livenessProbe"), "no livenessProbe"),
    (
        "probes",
        "readiness on another path",
        lambda o: _container(o)["readinessProbe"]["httpGet"].update(path="/healthz"),
        "readinessProbe is not an httpGet of /readyz",
    ),
    (
        "resources",
        "no memory limit",
        lambda o: _container(o)["resources"]["limits"].pop("memory"),
        "limits lacks memory",
    ),
    ("resources", "no requests", lambda o: _container(o)["resources"].pop("requests"), "requests lacks cpu, memory"),
    ("non-root", "root allowed", lambda o: _pod(o)["securityContext"].pop("runAsNonRoot"), "runAsNonRoot is not true"),
    ("non-root", "uid 0", lambda o: _container(o)["securityContext"].update(runAsUser=0), "runAsUser is 0"),
    (
        "non-root",
        "privilege escalation",
        lambda o: _container(o)["securityContext"].update(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation is not false",
    ),
    (
        "non-root",
        "capabilities kept",
        lambda o: _container(o)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "drop does not include ALL",
    ),
    (
        "non-root",
        "a capability added",
        lambda o: _container(o)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "capabilities.add is not empty",
    ),
    (
        "non-root",
        "privileged",
        lambda o: _container(o)["securityContext"].update(privileged=True),
        "privileged is true",
    ),
    (
        "non-root",
        "writable root",
        lambda o: _container(o)["securityContext"].update(readOnlyRootFilesystem=False),
        "readOnlyRootFilesystem is not true",
    ),
    ("non-root", "no seccomp", lambda o: _pod(o)["securityContext"].pop("seccompProfile"), "no seccompProfile"),
    (
        "pinned-images",
        "latest tag",
        lambda o: _container(o).update(image="ghcr.io/acme/x:latest"),
        "is not pinned by digest",
    ),
    (
        "pinned-images",
        "latest tag beside a digest",
        lambda o: _container(o).update(image=f"ghcr.io/acme/x:latest@sha256:{'a' * 64}"),
        "is not pinned by digest",
    ),
    (
        "pinned-images",
        "another digest than the overlay declares",
        lambda o: _container(o).update(image=_container(o)["image"].split("@")[0] + f"@sha256:{'a' * 64}"),
        "the image the overlay declares",
    ),
    (
        "pinned-images",
        "another model version than the overlay declares",
        lambda o: _first(o, "Deployment")["spec"]["template"]["metadata"]["labels"].update({VERSION_LABEL: "model-v9"}),
        "but the overlay declares",
    ),
    (
        "version-label",
        "version in the Deployment selector",
        lambda o: _first(o, "Deployment")["spec"]["selector"]["matchLabels"].update({VERSION_LABEL: "x"}),
        f"a selector uses {VERSION_LABEL}",
    ),
    (
        "version-label",
        "version in the Service selector",
        lambda o: _first(o, "Service")["spec"]["selector"].update({VERSION_LABEL: "x"}),
        f"a selector uses {VERSION_LABEL}",
    ),
    (
        "version-label",
        "version in a PDB matchExpression",
        lambda o: _first(o, "PodDisruptionBudget")["spec"]["selector"].update(
            matchExpressions=[{"key": VERSION_LABEL, "operator": "Exists"}]
        ),
        f"a selector uses {VERSION_LABEL}",
    ),
    ("network-policy", "no NetworkPolicy", _drop("NetworkPolicy"), "no NetworkPolicy"),
    (
        "network-policy",
        "a NetworkPolicy for other pods",
        lambda o: _first(o, "NetworkPolicy")["spec"]["podSelector"].update(matchLabels={"app": "other"}),
        "no NetworkPolicy",
    ),
    (
        "token-automount",
        "the ServiceAccount mounts its token",
        lambda o: _first(o, "ServiceAccount").update(automountServiceAccountToken=True),
        "does not set automountServiceAccountToken: false",
    ),
    (
        "token-automount",
        "the pod does not opt out",
        lambda o: _pod(o).pop("automountServiceAccountToken"),
        "pod spec does not set automountServiceAccountToken: false",
    ),
    ("token-automount", "a ServiceAccount from elsewhere", _drop("ServiceAccount"), "is not part of the overlay"),
    ("auth", "auth off", lambda o: _env(o, "GITOPS_ML_AUTH").update(value="off"), "env GITOPS_ML_AUTH is not 'on'"),
    (
        "auth",
        "tokens file elsewhere",
        lambda o: _env(o, "GITOPS_ML_TOKENS_FILE").update(value="/tmp/tokens"),
        "env GITOPS_ML_TOKENS_FILE is not",
    ),
    (
        "auth",
        "token hashes in git",
        lambda o: _container(o)["env"].append({"name": "GITOPS_ML_TOKENS", "value": "predict:abc"}),
        "GITOPS_ML_TOKENS has a literal value",
    ),
    (
        "auth",
        "writable tokens mount",
        lambda o: next(m for m in _container(o)["volumeMounts"] if m["name"] == "tokens").update(readOnly=False),
        "is not readOnly",
    ),
    (
        "auth",
        "no tokens Secret",
        lambda o: _pod(o).update(volumes=[v for v in _pod(o)["volumes"] if "secret" not in v]),
        "Secret gitops-ml-tokens is not mounted",
    ),
    (
        "auth",
        "Prometheus without the metrics token",
        lambda o: _first(o, "ServiceMonitor")["spec"]["endpoints"][0].pop("authorization"),
        "does not send the bearer token of Secret gitops-ml-metrics-token",
    ),
    ("scaling", "replicas fixed", lambda o: _first(o, "Deployment")["spec"].update(replicas=3), "sets spec.replicas"),
    ("scaling", "no HPA", _drop("HorizontalPodAutoscaler"), "no HorizontalPodAutoscaler"),
    ("scaling", "no PDB", _drop("PodDisruptionBudget"), "no PodDisruptionBudget"),
    ("ingress-tls", "plain HTTP host", lambda o: _first(o, "Ingress")["spec"].pop("tls"), "has no tls entry"),
    (
        "ingress-tls",
        "a host outside the certificate",
        lambda o: _first(o, "Ingress")["spec"]["rules"].append({"host": "other.example.com"}),
        "host 'other.example.com' has no tls entry",
    ),
    ("secrets", "a committed Secret", _add_secret, "a Secret with data is committed"),
]


@pytest.mark.parametrize(("rule", "breach", "change", "fragment"), BREACHES, ids=[f"{r}: {b}" for r, b, *_ in BREACHES])
def test_each_rule_catches_its_breach(staging: Overlay, rule: str, breach: str, change, fragment: str):
    broken = Overlay(staging.directory, copy.deepcopy(staging.objects))
    change(broken)
    findings = check_overlay(broken)
    assert findings, f"{breach}: no finding"
    assert {f.rule for f in findings} == {rule}, [str(f) for f in findings]
    assert any(fragment in f.problem for f in findings), [str(f) for f in findings]
    assert all(" (deploy/" in f.where or f.where.startswith("deploy/") or str(ROOT) in f.where for f in findings)


def test_every_rule_has_a_breach_test(staging: Overlay):
    caught_by = set()
    for _, _, change, _ in BREACHES:
        broken = Overlay(staging.directory, copy.deepcopy(staging.objects))
        change(broken)
        caught_by |= {rule for rule in RULES if list(rule(broken))}
    assert caught_by == set(RULES)


def test_a_malformed_overlay_file_is_a_finding(staging: Overlay, deploy_project: Path):
    directory = deploy_project / "deploy" / "overlays" / "staging"
    text = (directory / "kustomization.yaml").read_text()
    (directory / "kustomization.yaml").write_text(
        text.replace("digest: sha256:", "newTag: latest\n    digest: sha256:")
    )
    (finding,) = check_overlay(Overlay(directory, copy.deepcopy(staging.objects)))
    assert finding.rule == "pinned-images"
    assert "newTag is set" in finding.problem


@pytest.mark.parametrize(
    ("selector", "selects"),
    [
        ({}, True),
        ({"matchLabels": {"app": "a"}}, True),
        ({"matchLabels": {"app": "b"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["api"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Bogus"}]}, False),
    ],
)
def test_selectors_match_as_kubernetes_matches_them(selector: dict, selects: bool):
    assert _selects(selector, {"app": "a", "tier": "api"}) is selects
